"""Chapter 8's runner and measurements: MLPs trained on the teacher task with a symmetric or a cost-weighted loss,
each early-stopped, then scored on decisions and on learning, with every cost and the weighted loss taken in
expectation under the teacher's own probabilities instead of on sampled labels.

The notebook keeps what defines the experiment (the arms, what each trains on); everything here turns a trained
model into the numbers its hypotheses test, and is tested on hand-worked cases.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from casestudies.metrics.calibration import auroc
from casestudies.metrics.decisions import (
    bayes_threshold,
    best_threshold,
    expected_cost_under,
    expected_weighted_log_loss,
    linear_probe_auc,
    weighted_optimum,
)
from casestudies.models import eval_mode
from casestudies.runs import stream, torch_seed
from casestudies.tasks.teacher import teacher_data
from casestudies.training.classifier import (
    cost_weights,
    features,
    mlp,
    predict_proba,
    train_early_stopped,
    weighted_bce,
)

TEACHER = "reference: teacher's p"
ALWAYS_POSITIVE = "reference: always positive"
AUC_STOPPED = "stopped on validation AUC"  # the condition suffix of the stopping-sensitivity rows

Split = tuple[np.ndarray, np.ndarray]
# (arm, ratio, training, validation, rng) -> (training rows, validation rows, per-class weights or None)
Prepare = Callable[[str, int | None, Split, Split, np.random.Generator], tuple[Split, Split, np.ndarray | None]]


@dataclass(frozen=True)
class Setup:
    """Everything the chapter's runs share: cost ratios, model, training budget and data sizes."""

    ratios: tuple[int, ...]
    headline_ratio: int
    hidden: int
    max_steps: int
    every: int
    curve_steps: tuple[int, ...]
    n_train: int
    n_valid: int
    n_test: int


def replicate_data(setup: Setup, seed: int, replicate: int) -> tuple[Split, Split]:
    """One replicate's training and validation sets (x, y), fresh draws from the seed's named streams."""
    train = teacher_data(setup.n_train, seed=torch_seed(seed, f"replicate {replicate}: train"))
    valid = teacher_data(setup.n_valid, seed=torch_seed(seed, f"replicate {replicate}: valid"))
    return train[:2], valid[:2]


def test_data(setup: Setup, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The seed's test set (x, sampled y, the teacher's p), shared by its replicates."""
    return teacher_data(setup.n_test, seed=torch_seed(seed, "test"))


def negatives_gradient_share(model: nn.Sequential, x, y, weights: Sequence[float] | None) -> float:
    """The negatives' share of the gradient the loss (weighted by `weights`, None: symmetric) sends to the first
    layer's weights, where the features start: ‖g₀‖ / (‖g₀‖ + ‖g₁‖), with g_c the gradient of the loss's sum over
    the items of class c. At one half for a model at the loss's optimum, where the two classes' pulls cancel."""
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
    w = torch.ones(2) if weights is None else torch.as_tensor(np.asarray(weights, dtype=np.float32))
    layer = model[0].weight
    norms = []
    with eval_mode(model):
        for c in (0, 1):
            rows = yt == c
            if not bool(rows.any()):
                raise ValueError(f"negatives_gradient_share needs items of both classes, got none of class {c}")
            loss = weighted_bce(model(xt[rows]).squeeze(-1), yt[rows], w) * rows.sum()  # the class's sum
            (grad,) = torch.autograd.grad(loss, layer)
            norms.append(float(grad.norm()))
    return norms[0] / (norms[0] + norms[1])


def decision_metrics(
    p_test, p_true, ratio: int, weights: Sequence[float], at_half: bool, p_valid=None, y_valid=None
) -> dict[str, float]:
    """Cost per test item at `ratio` (c_FP = 1) deciding untuned (at 1/2 when `at_half`, for a model whose output
    stands for q_w; else at the Bayes threshold) and at the threshold tuned on (p_valid, y_valid) (the untuned one
    without them), and the weighted loss (an output p mapped to q_w ex post unless `at_half`): all in expectation
    under the teacher's `p_true`."""
    w0, w1 = weights
    p_test = np.asarray(p_test, dtype=float)
    untuned = 0.5 if at_half else bayes_threshold(1.0, ratio)
    tuned = untuned if p_valid is None else best_threshold(p_valid, y_valid, 1.0, ratio)
    q = p_test if at_half else weighted_optimum(p_test, w1, w0)
    return {
        "cost_untuned": expected_cost_under(p_true, p_test > untuned, 1.0, ratio),
        "cost_tuned": expected_cost_under(p_true, p_test > tuned, 1.0, ratio),
        "weighted_loss": expected_weighted_log_loss(p_true, q, w1, w0),
    }


def references(setup: Setup, seed: int) -> list[dict]:
    """The reference rows of one seed at every ratio: the teacher's own p at the Bayes threshold, and always
    deciding positive (the weights from the seed's first replicate's training labels, as the models')."""
    (_, y_train), _ = replicate_data(setup, seed, 0)
    _, y_test, p_true = test_data(setup, seed)
    rows = []
    for r in setup.ratios:
        condition = f"ratio {r}"
        teacher = decision_metrics(p_true, p_true, r, cost_weights(r, y_train), at_half=False)
        del teacher["cost_tuned"]  # nothing to tune: the Bayes threshold is optimal for the true p
        rows.append({"arm": TEACHER, "seed": seed, "condition": condition, "auc": auroc(p_true, y_test), **teacher})
        rows.append(
            {
                "arm": ALWAYS_POSITIVE,
                "seed": seed,
                "condition": condition,
                "cost_untuned": expected_cost_under(p_true, np.ones_like(p_true, dtype=bool), 1.0, r),
            }
        )
    return rows


def run_models(
    setup: Setup, seed: int, replicate: int, models: Iterable[tuple[str, int | None, float]], prepare: Prepare
) -> dict[str, list[dict]]:
    """Train `models` (arm, the ratio it is trained for or None for symmetric, learning rate) on one replicate of
    a seed, every one from the same initialisation and minibatch stream, early-stopped on its own validation loss
    (and, for the stopping-sensitivity rows, also kept at its best validation AUC), and measure it.

    Returns `rows` (one per model and ratio it is scored at; a symmetric model at every ratio), `curve` (test
    AUC, weighted loss and the negatives' gradient share at step 0 and `setup.curve_steps`, for the models of the
    headline ratio and the symmetric ones) and `models` (one per model: its test AUC and early-stopping step).
    """
    train, valid = replicate_data(setup, seed, replicate)
    x_test, y_test, p_true = test_data(setup, seed)
    head = setup.headline_ratio
    w_head = cost_weights(head, train[1])
    rows, curve, trained = [], [], []
    for arm, ratio, lr in models:
        tr, va, weights = prepare(arm, ratio, train, valid, stream(seed, f"replicate {replicate}: {arm} rows"))
        model = mlp(x_test.shape[1], setup.hidden, seed=torch_seed(seed, f"replicate {replicate}: init"))
        by_auc: dict = {}

        def trace(step, model, arm=arm, ratio=ratio, tr=tr, weights=weights):
            p = predict_proba(model, x_test)
            q = p if ratio else weighted_optimum(p, w_head[1], w_head[0])  # the weighted loss as in H5
            curve.append(
                {
                    "arm": arm,
                    "seed": seed,
                    "replicate": replicate,
                    "step": step,
                    "auc": auroc(p, y_test),
                    "weighted_loss": expected_weighted_log_loss(p_true, q, w_head[1], w_head[0]),
                    "negatives_gradient_share": negatives_gradient_share(model, *tr, weights),
                }
            )

        def watch(step, model, ratio=ratio, va=va, by_auc=by_auc, trace=trace):
            auc_valid = auroc(predict_proba(model, va[0]), va[1])
            if not by_auc or auc_valid > by_auc["auc"]:
                by_auc.update(auc=auc_valid, step=step, state=copy.deepcopy(model.state_dict()))
            if step in setup.curve_steps and ratio in (None, head):
                trace(step, model)

        if ratio in (None, head):
            trace(0, model)  # before any training: the gradient shares the weights alone set
        best_step, _ = train_early_stopped(
            model,
            tr,
            va,
            setup.max_steps,
            setup.every,
            weights,
            lr=lr,
            seed=torch_seed(seed, f"replicate {replicate}: batches"),
            on_checkpoint=watch,
        )
        p_valid, p_test = predict_proba(model, valid[0]), predict_proba(model, x_test)
        learned = {
            "auc": auroc(p_test, y_test),
            "best_step": best_step,
            "probe_auc": linear_probe_auc(features(model, train[0]), train[1], features(model, x_test), y_test),
        }
        ids = {"arm": arm, "seed": seed, "replicate": replicate}
        trained.append({**ids, "ratio": ratio, "auc": learned["auc"], "best_step": best_step})
        for r in setup.ratios if ratio is None else [ratio]:  # a symmetric model serves every ratio
            rows.append(
                {
                    **ids,
                    "condition": f"ratio {r}",
                    **learned,
                    **decision_metrics(
                        p_test, p_true, r, cost_weights(r, train[1]), ratio is not None, p_valid, valid[1]
                    ),
                }
            )
        if ratio in (None, head):
            model.load_state_dict(by_auc["state"])
            p_test = predict_proba(model, x_test)
            decided = decision_metrics(p_test, p_true, head, w_head, ratio is not None)
            del decided["cost_tuned"]  # no tuning here: the untuned cost alone
            rows.append(
                {
                    **ids,
                    "condition": f"ratio {head}, {AUC_STOPPED}",
                    "auc": auroc(p_test, y_test),
                    "best_step": by_auc["step"],
                    **decided,
                }
            )
    return {"rows": rows, "curve": curve, "models": trained}


def replicate_means(records: Iterable[dict], keys: Sequence[str] = ("arm", "seed", "condition")) -> list[dict]:
    """Per-replicate records averaged over the replicates of each `keys` group: a seed's value is the mean of its
    replicates. A metric a record lacks is left out of its group's mean, and out of the group when none has it."""
    frame = pd.DataFrame(list(records))
    if "replicate" not in frame:
        raise ValueError("the records need a 'replicate' column")
    means = frame.drop(columns="replicate").groupby(list(keys), sort=False).mean().reset_index()
    return [{k: v for k, v in row.items() if k in keys or not pd.isna(v)} for row in means.to_dict("records")]
