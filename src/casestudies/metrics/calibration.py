"""Calibration of stated confidence: ECE with equal-width bins, Brier score, reliability bins, AUROC.

Report Brier and AUROC beside ECE, never ECE alone: a constant confidence equal to the base rate scores
ECE = 0 while telling right from wrong answers not at all (AUROC = 0.5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_BINS = 10


def _validate(confidence, correct) -> tuple[np.ndarray, np.ndarray]:
    conf = np.asarray(confidence, dtype=float).ravel()
    hit = np.asarray(correct, dtype=float).ravel()
    if conf.shape != hit.shape:
        raise ValueError(f"confidence and correct must have the same length, got {conf.size} and {hit.size}")
    if conf.size == 0:
        raise ValueError("calibration metrics need at least one prediction")
    if np.isnan(conf).any() or (conf < 0).any() or (conf > 1).any():
        raise ValueError("confidence must lie in [0, 1] with no NaN")
    if not np.isin(hit, (0.0, 1.0)).all():
        raise ValueError("correct must be 0/1 or boolean")
    return conf, hit


def reliability_bins(confidence, correct, n_bins: int = DEFAULT_BINS) -> pd.DataFrame:
    """Equal-width bins over [0, 1] (right-closed, the first also holds 0): count, mean confidence, accuracy.

    Empty bins are kept with count 0 and NaN means, so a diagram shows where the model never speaks.
    """
    conf, hit = _validate(confidence, correct)
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        inside = index == b
        count = int(inside.sum())
        rows.append(
            {
                "bin": b,
                "lower": edges[b],
                "upper": edges[b + 1],
                "count": count,
                "confidence": conf[inside].mean() if count else np.nan,
                "accuracy": hit[inside].mean() if count else np.nan,
            }
        )
    return pd.DataFrame(rows)


def expected_calibration_error(confidence, correct, n_bins: int = DEFAULT_BINS) -> float:
    """ECE: the count-weighted mean |accuracy − confidence| over `n_bins` equal-width bins (empty bins weigh 0)."""
    bins = reliability_bins(confidence, correct, n_bins).query("count > 0")
    weights = bins["count"] / bins["count"].sum()
    return float((weights * (bins["accuracy"] - bins["confidence"]).abs()).sum())


def brier_score(confidence, correct) -> float:
    """Mean squared error between stated confidence and the 0/1 outcome (0 is perfect, 0.25 is a coin at 0.5)."""
    conf, hit = _validate(confidence, correct)
    return float(np.mean((conf - hit) ** 2))


def auroc(confidence, correct) -> float:
    """Probability that a random right answer gets higher confidence than a random wrong one (ties count half).

    Returns NaN when all answers are right or all are wrong: discrimination is then undefined.
    """
    conf, hit = _validate(confidence, correct)
    pos, neg = conf[hit == 1], conf[hit == 0]
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    ranks = pd.Series(np.concatenate([pos, neg])).rank(method="average").to_numpy()
    rank_sum = ranks[: pos.size].sum()
    return float((rank_sum - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


def calibration_summary(confidence, correct, n_bins: int = DEFAULT_BINS) -> dict[str, float]:
    """ECE, Brier and AUROC together, the way every chapter reports calibration (never ECE alone)."""
    return {
        "ece": expected_calibration_error(confidence, correct, n_bins),
        "brier": brier_score(confidence, correct),
        "auroc": auroc(confidence, correct),
    }
