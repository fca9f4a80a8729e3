"""Cost-sensitive decisions: the weighted-loss identity, realised cost, threshold tuning, teacher data, MLP."""

import numpy as np
import pytest

from casestudies.metrics.decisions import (
    bayes_threshold,
    best_threshold,
    expected_cost,
    linear_probe_auc,
    weighted_optimum,
)
from casestudies.tasks.teacher import teacher_data
from casestudies.training.classifier import features, mlp, predict_proba, train_classifier


@pytest.mark.parametrize("ratio", [1, 3, 10, 30, 100])
def test_weighted_optimum_at_one_half_is_the_bayes_rule(ratio):
    p = np.linspace(0.001, 0.999, 999)
    q = weighted_optimum(p, w1=ratio, w0=1.0)
    np.testing.assert_array_equal(q > 0.5, p > bayes_threshold(1.0, ratio))


def test_weighted_optimum_minimises_weighted_cross_entropy():
    p, w1, w0 = 0.2, 10.0, 1.0
    grid = np.linspace(0.001, 0.999, 9999)
    loss = -(w1 * p * np.log(grid) + w0 * (1 - p) * np.log(1 - grid))
    assert grid[np.argmin(loss)] == pytest.approx(float(weighted_optimum(p, w1, w0)), abs=1e-3)


def test_expected_cost_hand_worked():
    y = [1, 1, 0, 0, 0]
    decisions = [1, 0, 1, 0, 0]  # one miss (cost 30), one false alarm (cost 1)
    assert expected_cost(y, decisions, c_fp=1.0, c_fn=30.0) == pytest.approx(31 / 5)


def test_best_threshold_matches_brute_force():
    rng = np.random.default_rng(0)
    scores, y = rng.random(300), rng.random(300) < 0.3
    t = best_threshold(scores, y, 1.0, 5.0)
    brute = min(expected_cost(y, scores > c, 1.0, 5.0) for c in np.concatenate([[-1.0], scores, [2.0]]))
    assert expected_cost(y, scores > t, 1.0, 5.0) == pytest.approx(brute)


def test_teacher_data_has_the_stated_base_rate_and_true_probabilities():
    x, y, p = teacher_data(20_000, base_rate=0.25, seed=0)
    assert x.shape == (20_000, 20) and set(np.unique(y)) == {0, 1}
    assert p.mean() == pytest.approx(0.25, abs=0.01)
    assert y.mean() == pytest.approx(p.mean(), abs=0.01)
    x2, _, _ = teacher_data(5, seed=0)
    np.testing.assert_array_equal(x[:5], x2)  # same seed, same sample
    with pytest.raises(ValueError):
        teacher_data(10, base_rate=1.5)


def test_mlp_learns_and_weighting_raises_predicted_probabilities():
    x, y, p = teacher_data(3000, seed=1)
    seen = []
    plain, weighted = mlp(20, 32, seed=0), mlp(20, 32, seed=0)
    losses = train_classifier(plain, x, y, checkpoints=[50, 300], on_checkpoint=lambda s, m: seen.append(s))
    train_classifier(weighted, x, y, checkpoints=[300], class_weights=[1.0, 10.0])
    assert seen == [50, 300] and len(losses) == 300
    assert np.mean(losses[-30:]) < np.mean(losses[:30])
    assert np.corrcoef(predict_proba(plain, x), p)[0, 1] > 0.6
    assert predict_proba(weighted, x).mean() > predict_proba(plain, x).mean() + 0.1
    h = features(plain, x)
    assert h.shape == (3000, 32)
    assert linear_probe_auc(h[:2000], y[:2000], h[2000:], y[2000:]) > 0.7


def test_predicting_and_reading_features_leave_the_train_or_eval_mode_as_it_was():
    x = np.random.default_rng(0).normal(size=(8, 5)).astype(np.float32)
    for training in (True, False):
        model = mlp(5, 4, seed=0).train(training)
        predict_proba(model, x)
        features(model, x)
        assert model.training is training
