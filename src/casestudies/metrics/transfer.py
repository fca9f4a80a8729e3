"""Multi-task measures: how much of what a sequence of training stages taught survives the later stages
(backward transfer), and how many distinct right answers a model finds in k samples."""

from __future__ import annotations

import numpy as np


def backward_transfer(scores) -> float:
    """Lopez-Paz and Ranzato's (2017) BWT for T stages: with R[i, j] the score on task j after stage i,
    the mean of R[T, i] − R[i, i] over the first T − 1 tasks. Negative: later stages erased earlier ones."""
    r = np.asarray(scores, dtype=float)
    if r.ndim != 2 or r.shape[0] != r.shape[1] or r.shape[0] < 2:
        raise ValueError(f"scores must be a square T × T matrix with T ≥ 2 (stage × task), got shape {r.shape}")
    return float(np.mean(r[-1, :-1] - np.diag(r)[:-1]))


def expected_distinct(p, allowed, k: int) -> np.ndarray:
    """The expected number of distinct allowed outcomes among k independent draws from each row of `p`:
    Σ over allowed outcomes of 1 − (1 − p)^k (each outcome counts once if drawn at least once)."""
    p = np.atleast_2d(np.asarray(p, dtype=float))
    allowed = np.atleast_2d(np.asarray(allowed, dtype=bool))
    if p.shape != allowed.shape or (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("p must hold distributions (rows summing to 1) and allowed a boolean array of its shape")
    if k < 1:
        raise ValueError(f"k must be a positive number of draws, got {k}")
    return np.where(allowed, 1.0 - (1.0 - p) ** k, 0.0).sum(axis=1)
