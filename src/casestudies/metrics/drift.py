"""Drift from a base model: the forward KL between next-token distributions, their entropy, and how far the
weights moved. The forward KL on the new task's inputs is the quantity that predicts forgetting in RL's Razor."""

from __future__ import annotations

import numpy as np
import torch


def _rows(p) -> np.ndarray:
    p = np.atleast_2d(np.asarray(p, dtype=float))
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("each row must be a probability distribution (non-negative, summing to 1)")
    return p


def forward_kl(base, model) -> np.ndarray:
    """KL(base ‖ model) in nats for each row of two arrays of distributions over the same outcomes: the
    expected log-ratio under the base's own distribution. Outcomes the base never produces add nothing."""
    p, q = _rows(base), _rows(model)
    if p.shape != q.shape:
        raise ValueError(f"the two sets of distributions differ in shape: {p.shape} and {q.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
    return terms.sum(axis=1)


def entropy(p) -> np.ndarray:
    """The entropy in nats of each row of an array of distributions."""
    p = _rows(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)


def parameter_distance(model: torch.nn.Module, reference: dict[str, torch.Tensor]) -> float:
    """The Euclidean norm of the change in all of `model`'s parameters since `reference` (a state dict)."""
    total = 0.0
    with torch.no_grad():
        for name, value in model.named_parameters():
            if name not in reference:
                raise KeyError(f"the reference state has no parameter {name!r}")
            total += float(((value.detach().cpu() - reference[name].cpu()) ** 2).sum())
    return total**0.5


def restricted(p, allowed) -> np.ndarray:
    """The distribution closest to `p` among those that give only allowed outcomes: `p` set to 0 outside
    `allowed` (a boolean array of the same shape) and renormalised, row by row. It minimises KL(q ‖ p) over
    every q on the allowed outcomes (the minimum is −log of p's allowed mass, row by row): the nearest a model
    that is always right can stay to p, in that direction of the KL."""
    p = _rows(p)
    allowed = np.atleast_2d(np.asarray(allowed, dtype=bool))
    if allowed.shape != p.shape:
        raise ValueError(f"allowed has shape {allowed.shape}, the distributions {p.shape}")
    mass = (p * allowed).sum(axis=1, keepdims=True)
    if (mass <= 0).any():
        raise ValueError("a row gives no probability to any allowed outcome, so it cannot be restricted")
    return p * allowed / mass
