"""Decisions under asymmetric costs: the Bayes threshold, realised cost, threshold tuning, linear probes.

With a false negative costing c_FN and a false positive c_FP, predicting positive pays iff
p > c_FP / (c_FP + c_FN). Class-weighted cross-entropy (w1 = c_FN, w0 = c_FP) has optimum
q_w = w1 p / (w1 p + w0 (1 − p)), and q_w > 1/2 exactly when p > c_FP / (c_FP + c_FN): the same rule.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def bayes_threshold(c_fp: float, c_fn: float) -> float:
    """The probability above which predicting positive minimises expected cost: c_FP / (c_FP + c_FN)."""
    if c_fp <= 0 or c_fn <= 0:
        raise ValueError(f"costs must be positive, got c_fp={c_fp}, c_fn={c_fn}")
    return c_fp / (c_fp + c_fn)


def weighted_optimum(p, w1: float, w0: float) -> np.ndarray:
    """The minimiser of class-weighted cross-entropy when P(y=1) = p: w1 p / (w1 p + w0 (1 − p))."""
    p = np.asarray(p, dtype=float)
    return w1 * p / (w1 * p + w0 * (1 - p))


def weighted_log_loss(p, y, w1: float, w0: float, eps: float = 1e-7) -> float:
    """Class-weighted cross-entropy of probabilities `p` for labels `y`: mean of w1 · (−log p) over positives and
    w0 · (−log(1 − p)) over negatives, per item; `p` is clipped to [eps, 1 − eps]."""
    p = np.clip(np.asarray(p, dtype=float), eps, 1 - eps)
    y = np.asarray(y).astype(bool)
    if p.shape != y.shape:
        raise ValueError(f"p and y must have the same shape, got {p.shape} and {y.shape}")
    return float(np.mean(np.where(y, -w1 * np.log(p), -w0 * np.log1p(-p))))


def expected_cost(y, decide_positive, c_fp: float, c_fn: float) -> float:
    """Mean cost per item of 0/1 decisions: c_FN per missed positive, c_FP per false alarm."""
    y = np.asarray(y).astype(bool)
    d = np.asarray(decide_positive).astype(bool)
    if y.shape != d.shape:
        raise ValueError(f"y and decisions must have the same shape, got {y.shape} and {d.shape}")
    return float((c_fn * np.sum(y & ~d) + c_fp * np.sum(~y & d)) / y.size)


def expected_cost_under(p, decisions, c_fp: float, c_fn: float) -> float:
    """Mean cost per item of 0/1 decisions in expectation over labels drawn with P(y = 1) = `p`: an item decided
    positive costs c_FP · (1 − p), one decided negative c_FN · p. `expected_cost` on sampled labels estimates it."""
    p = np.asarray(p, dtype=float)
    d = np.asarray(decisions).astype(bool)
    if p.shape != d.shape:
        raise ValueError(f"p and decisions must have the same shape, got {p.shape} and {d.shape}")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("p must hold probabilities in [0, 1]")
    return float(np.mean(np.where(d, c_fp * (1 - p), c_fn * p)))


def expected_weighted_log_loss(p, q, w1: float, w0: float, eps: float = 1e-7) -> float:
    """Class-weighted cross-entropy of outputs `q` in expectation over labels drawn with P(y = 1) = `p`: the mean
    of w1 · p · (−log q) + w0 · (1 − p) · (−log(1 − q)); `weighted_log_loss` on sampled labels estimates it."""
    p = np.asarray(p, dtype=float)
    q = np.clip(np.asarray(q, dtype=float), eps, 1 - eps)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("p must hold probabilities in [0, 1]")
    return float(np.mean(-w1 * p * np.log(q) - w0 * (1 - p) * np.log1p(-q)))


def best_threshold(scores, y, c_fp: float, c_fn: float) -> float:
    """The score threshold (decide positive iff score > t) with the lowest realised cost on (scores, y).

    Candidates are the midpoints between sorted distinct scores, plus one below and one above them all.
    """
    s = np.asarray(scores, dtype=float)
    y = np.asarray(y).astype(bool)
    order = np.argsort(s, kind="stable")
    s, y = s[order], y[order]
    distinct = np.unique(s)
    candidates = np.concatenate([[distinct[0] - 1], (distinct[:-1] + distinct[1:]) / 2, [distinct[-1] + 1]])
    at_or_below = np.searchsorted(s, candidates, side="right")
    positives_below = np.concatenate([[0], np.cumsum(y)])[at_or_below]
    negatives_above = (~y).sum() - np.concatenate([[0], np.cumsum(~y)])[at_or_below]
    cost = c_fn * positives_below + c_fp * negatives_above
    return float(candidates[int(np.argmin(cost))])


def linear_probe_auc(train_features, y_train, test_features, y_test) -> float:
    """AUC on the test set of a logistic regression fitted on frozen training features (standardised).

    Measures how linearly separable a representation makes the task, apart from the head trained on it.
    """
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probe.fit(train_features, y_train)
    return float(roc_auc_score(y_test, probe.predict_proba(test_features)[:, 1]))
