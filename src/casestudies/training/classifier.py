"""A small MLP classifier trained with (optionally class-weighted) cross-entropy, in plain PyTorch.

Chapters about losses rather than language need no language model: a two-layer MLP trains in seconds on a
CPU, so a sweep over cost ratios, budgets and many seeds fits the book's budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from casestudies.generation import eval_mode


def mlp(dim: int, hidden: int, classes: int = 1, seed: int = 0) -> nn.Sequential:
    """Input → hidden (ReLU) → hidden (ReLU) → `classes` logits, seeded; `features` reads the second layer."""
    if dim <= 0 or hidden <= 0 or classes <= 0:
        raise ValueError(f"dim, hidden and classes must be positive, got {dim}, {hidden}, {classes}")
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, classes)
    )


def train_classifier(
    model: nn.Sequential,
    x: np.ndarray,
    y: np.ndarray,
    checkpoints: Sequence[int],
    on_checkpoint: Callable[[int, nn.Sequential], None] = lambda step, model: None,
    class_weights: Sequence[float] | None = None,
    batch_size: int = 128,
    lr: float = 3e-3,
    seed: int = 0,
) -> list[float]:
    """Minibatch Adam on cross-entropy weighted by `class_weights[y]` (None: unweighted), calling
    `on_checkpoint(step, model)` after each step listed in `checkpoints` (the last one ends training).

    Binary models (one logit) use BCE, multi-class ones softmax CE. The weights are normalised to mean 1
    over the training set, so weighting changes the *shape* of the loss, not its overall scale. Returns the
    loss per step.
    """
    stops = sorted(set(int(c) for c in checkpoints))
    if not stops or stops[0] <= 0 or batch_size <= 0:
        raise ValueError(f"checkpoints and batch_size must be positive, got {list(checkpoints)}, {batch_size}")
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    weights = torch.ones(len(yt))
    if class_weights is not None:
        weights = torch.as_tensor(np.asarray(class_weights, dtype=np.float32))[yt]
        weights = weights / weights.mean()
    binary = model[-1].out_features == 1
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    for step in range(1, stops[-1] + 1):
        idx = torch.randint(0, len(yt), (batch_size,), generator=generator)
        logits = model(xt[idx])
        if binary:
            target = yt[idx].float()
            per_item = nn.functional.binary_cross_entropy_with_logits(logits.squeeze(-1), target, reduction="none")
        else:
            per_item = nn.functional.cross_entropy(logits, yt[idx], reduction="none")
        loss = (weights[idx] * per_item).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step in stops:
            on_checkpoint(step, model)
    return losses


@torch.no_grad()
def predict_proba(model: nn.Sequential, x: np.ndarray) -> np.ndarray:
    """P(y = 1) for a binary model, or the class probabilities (n × classes) for a multi-class one."""
    with eval_mode(model):
        logits = model(torch.as_tensor(x, dtype=torch.float32))
    if logits.shape[-1] == 1:
        return torch.sigmoid(logits.squeeze(-1)).numpy()
    return torch.softmax(logits, -1).numpy()


@torch.no_grad()
def features(model: nn.Sequential, x: np.ndarray) -> np.ndarray:
    """The last hidden layer's activations: the representation a linear probe reads."""
    with eval_mode(model):
        h = model[:-1](torch.as_tensor(x, dtype=torch.float32))
    return h.numpy()
