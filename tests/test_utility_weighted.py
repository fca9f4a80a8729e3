"""Chapter 8's measurements: exact decision metrics, the gradient shares, replicate means and the runner."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from casestudies.chapters import utility_weighted as uw
from casestudies.metrics.decisions import weighted_optimum
from casestudies.training.classifier import cost_weights


def linear(weight: float, bias: float = 0.0) -> nn.Sequential:
    """A one-input logistic model: model[0] is the layer whose gradient the share reads."""
    model = nn.Sequential(nn.Linear(1, 1))
    with torch.no_grad():
        model[0].weight.fill_(weight)
        model[0].bias.fill_(bias)
    return model


def test_gradient_share_at_one_half_by_hand():
    # q = 1/2 everywhere; the first-layer gradient of a class's summed loss is Σ w_y (q − y) x:
    # negatives 3 items at x = 1: 1.5 w0; the positive at x = 2: −w1
    x, y = np.array([[1.0], [1.0], [1.0], [2.0]]), np.array([0, 0, 0, 1])
    assert uw.negatives_gradient_share(linear(0.0), x, y, [1.0, 30.0]) == pytest.approx(1.5 / 31.5)
    assert uw.negatives_gradient_share(linear(0.0), x, y, None) == pytest.approx(1.5 / 2.5)


@pytest.mark.parametrize("weights", [None, [1.0, 30.0], [0.121, 3.636]])
def test_gradient_share_is_one_half_at_the_losses_optimum(weights):
    x, y = np.ones((4, 1)), np.array([0, 0, 0, 1])  # p = 1/4 at the one input
    w0, w1 = (1.0, 1.0) if weights is None else weights
    q = float(weighted_optimum(0.25, w1, w0))
    model = linear(float(np.log(q / (1 - q))))
    assert uw.negatives_gradient_share(model, x, y, weights) == pytest.approx(0.5, abs=1e-6)
    with pytest.raises(ValueError, match="both classes"):
        uw.negatives_gradient_share(model, x, np.zeros(4, dtype=int), weights)


def test_decision_metrics_by_hand():
    p_true = np.array([0.1, 0.5, 0.02])
    p_test = np.array([0.2, 0.01, 0.04])
    w = [0.5, 2.0]
    # symmetric at the Bayes threshold 1/31: items 0 and 2 positive, item 1 missed
    symmetric = uw.decision_metrics(p_test, p_true, 30, w, at_half=False)
    assert symmetric["cost_untuned"] == pytest.approx((0.9 + 15 + 0.98) / 3)
    assert symmetric["cost_tuned"] == symmetric["cost_untuned"]  # no validation set: nothing tuned
    q = weighted_optimum(p_test, 2.0, 0.5)
    by_hand = np.mean(-2.0 * p_true * np.log(q) - 0.5 * (1 - p_true) * np.log(1 - q))
    assert symmetric["weighted_loss"] == pytest.approx(by_hand)
    # read as a weighted model's output: decided at 1/2 (all negative), the output scored as it is
    weighted = uw.decision_metrics(p_test, p_true, 30, w, at_half=True)
    assert weighted["cost_untuned"] == pytest.approx(30 * p_true.mean())
    by_hand = np.mean(-2.0 * p_true * np.log(p_test) - 0.5 * (1 - p_true) * np.log(1 - p_test))
    assert weighted["weighted_loss"] == pytest.approx(by_hand)
    # tuned on a validation set where every item is a positive: deciding all positive is best
    tuned = uw.decision_metrics(p_test, p_true, 30, w, at_half=True, p_valid=[0.1, 0.3], y_valid=[1, 1])
    assert tuned["cost_tuned"] == pytest.approx(np.mean(1 - p_true))


def test_replicate_means_average_within_arm_seed_and_condition():
    records = [
        {"arm": "a", "seed": 1, "replicate": 0, "condition": "c", "m": 1.0, "n": 5.0},
        {"arm": "a", "seed": 1, "replicate": 1, "condition": "c", "m": 3.0},
        {"arm": "a", "seed": 2, "replicate": 0, "condition": "c", "m": 10.0},
        {"arm": "b", "seed": 1, "replicate": 0, "condition": "c", "m": 7.0},
    ]
    means = {(r["arm"], r["seed"]): r for r in uw.replicate_means(records)}
    assert means[("a", 1)] == {"arm": "a", "seed": 1, "condition": "c", "m": 2.0, "n": 5.0}  # n: one value
    assert means[("a", 2)] == {"arm": "a", "seed": 2, "condition": "c", "m": 10.0}  # no n at all: no n
    assert means[("b", 1)]["m"] == 7.0 and len(means) == 3
    with pytest.raises(ValueError, match="replicate"):
        uw.replicate_means([{"arm": "a", "seed": 1, "condition": "c", "m": 1.0}])


TINY = uw.Setup(
    ratios=(3, 30),
    headline_ratio=30,
    hidden=8,
    max_steps=20,
    every=10,
    curve_steps=(10, 20),
    n_train=400,
    n_valid=200,
    n_test=500,
)


def as_given(arm, ratio, train, valid, rng):
    return train, valid, None if ratio is None else cost_weights(ratio, train[1])


def test_run_models_pairs_the_arms_and_writes_every_row():
    out = uw.run_models(
        TINY, 7, 1, [("symmetric", None, 3e-3), ("weighted", 30, 3e-3), ("weighted", 3, 3e-3)], as_given
    )
    rows = pd.DataFrame(out["rows"])
    assert sorted(rows.loc[rows["arm"] == "symmetric", "condition"]) == [
        "ratio 3",
        "ratio 30",
        "ratio 30, stopped on validation AUC",
    ]
    assert sorted(rows.loc[rows["arm"] == "weighted", "condition"]) == [
        "ratio 3",
        "ratio 30",
        "ratio 30, stopped on validation AUC",
    ]
    assert set(rows["replicate"]) == {1} and set(rows["seed"]) == {7}
    assert [(m["arm"], m["ratio"]) for m in out["models"]] == [("symmetric", None), ("weighted", 30), ("weighted", 3)]
    assert rows["cost_untuned"].between(0, 30).all() and rows["auc"].between(0, 1).all()
    assert rows["best_step"].isin([10, 20]).all()
    curve = pd.DataFrame(out["curve"])
    assert sorted(set(curve["step"])) == [0, 10, 20] and set(curve["arm"]) == {"symmetric", "weighted"}
    start = curve[curve["step"] == 0].set_index("arm")
    assert start.loc["symmetric", "auc"] == start.loc["weighted", "auc"]  # the same initialisation
    assert start.loc["weighted", "negatives_gradient_share"] < 0.3 < start.loc["symmetric", "negatives_gradient_share"]
    again = uw.run_models(TINY, 7, 1, [("symmetric", None, 3e-3)], as_given)
    assert again["rows"][0] == out["rows"][0]  # a replicate is reproducible from its seed's streams
    other = uw.run_models(TINY, 7, 2, [("symmetric", None, 3e-3)], as_given)
    assert other["rows"][0]["auc"] != out["rows"][0]["auc"]  # another replicate: other data and initialisation


def test_references_are_the_teacher_and_always_positive():
    rows = pd.DataFrame(uw.references(TINY, 7)).set_index(["arm", "condition"])
    _, _, p = uw.test_data(TINY, 7)
    assert rows.loc[(uw.ALWAYS_POSITIVE, "ratio 30"), "cost_untuned"] == pytest.approx(np.mean(1 - p))
    teacher = rows.loc[(uw.TEACHER, "ratio 30")]
    assert teacher["cost_untuned"] < rows.loc[(uw.ALWAYS_POSITIVE, "ratio 30"), "cost_untuned"]
    assert "cost_tuned" not in rows or np.isnan(teacher["cost_tuned"])
