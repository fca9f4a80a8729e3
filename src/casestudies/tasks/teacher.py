"""Synthetic classification data from a random two-layer "teacher" network, with label noise.

A label depends on the input only through non-linear features (the teacher's hidden units), so a student
that learns good features learns the task; the teacher's own probability p(y=1 | x) is known, which gives
the best achievable scores to compare against.
"""

from __future__ import annotations

import numpy as np


def teacher_data(
    n: int,
    dim: int = 20,
    hidden: int = 16,
    base_rate: float = 0.25,
    sharpness: float = 3.0,
    seed: int = 0,
    teacher_seed: int = 1234,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` samples (x, y, p): x ~ N(0, I); p = sigmoid(sharpness · z + b) with z = v·tanh(Wx) standardised and
    b set so that the mean of p is `base_rate`; y ~ Bernoulli(p).

    `teacher_seed` fixes the task (the same teacher for every seed); `seed` draws the sample.
    """
    if n <= 0 or dim <= 0 or hidden <= 0:
        raise ValueError(f"n, dim and hidden must be positive, got {n}, {dim}, {hidden}")
    if not 0 < base_rate < 1:
        raise ValueError(f"base_rate must lie in (0, 1), got {base_rate}")
    task = np.random.default_rng(teacher_seed)
    w = task.normal(0, 2 / np.sqrt(dim), size=(hidden, dim))
    v = task.normal(0, 1 / np.sqrt(hidden), size=hidden)
    reference = np.tanh(task.normal(size=(20_000, dim)) @ w.T) @ v
    scale = sharpness / reference.std()
    bias = _bias_for_rate(reference * scale, base_rate)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim))
    p = 1 / (1 + np.exp(-((np.tanh(x @ w.T) @ v) * scale + bias)))
    y = (rng.random(n) < p).astype(np.int64)
    return x.astype(np.float32), y, p


def _bias_for_rate(scores: np.ndarray, rate: float) -> float:
    """The bias b with mean(sigmoid(scores + b)) = rate, by bisection (the mean increases with b)."""
    low, high = -30.0, 30.0
    for _ in range(60):
        mid = (low + high) / 2
        if np.mean(1 / (1 + np.exp(-(scores + mid)))) < rate:
            low = mid
        else:
            high = mid
    return (low + high) / 2
