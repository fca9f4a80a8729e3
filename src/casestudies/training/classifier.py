"""A small MLP classifier trained with (optionally class-weighted) cross-entropy, in plain PyTorch.

Chapters about losses rather than language need no language model: a two-layer MLP trains in seconds on a
CPU, so a sweep over cost ratios, budgets and many seeds fits the book's budget.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from casestudies.models import eval_mode


def mlp(dim: int, hidden: int, classes: int = 1, seed: int = 0) -> nn.Sequential:
    """Input → hidden (ReLU) → hidden (ReLU) → `classes` logits, seeded; `features` reads the second layer."""
    if dim <= 0 or hidden <= 0 or classes <= 0:
        raise ValueError(f"dim, hidden and classes must be positive, got {dim}, {hidden}, {classes}")
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, classes)
    )


def cost_weights(ratio: float, y: np.ndarray) -> np.ndarray:
    """Per-class weights (w0, w1) in the ratio 1 : `ratio` (c_FP : c_FN), normalised so that the mean weight over
    the labels `y` is 1: weighting then changes how the loss is shared between the classes, not its scale."""
    if ratio <= 0:
        raise ValueError(f"the cost ratio must be positive, got {ratio}")
    raw = np.array([1.0, float(ratio)])
    return raw / raw[np.asarray(y, dtype=np.int64)].mean()


def _per_class(class_weights: Sequence[float] | None, classes: int) -> torch.Tensor:
    """The per-class weights as a tensor, as given (all ones when None): `cost_weights` is where they are made."""
    if class_weights is None:
        return torch.ones(classes)
    per_class = torch.as_tensor(np.asarray(class_weights, dtype=np.float32))
    if per_class.shape != (classes,) or not bool(torch.all(per_class > 0)):
        raise ValueError(f"class_weights must be {classes} positive numbers, got {list(class_weights)}")
    return per_class


def weighted_bce(logits: torch.Tensor, y: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Class-weighted binary cross-entropy: the mean over items of w[y] · BCE(logit, y), for per-class `weights`
    (w0, w1). With w1 > w0 a missed positive costs w1 / w0 times a false alarm of the same confidence."""
    per_item = nn.functional.binary_cross_entropy_with_logits(logits, y.float(), reduction="none")
    return (weights[y] * per_item).mean()


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

    Binary models (one logit) use `weighted_bce`, multi-class ones softmax CE. The weights are used as given:
    `cost_weights` makes them with mean 1 over the training labels, so that weighting changes the *shape* of the
    loss, not its overall scale. Returns the loss per step.
    """
    stops = sorted(set(int(c) for c in checkpoints))
    if not stops or stops[0] <= 0 or batch_size <= 0:
        raise ValueError(f"checkpoints and batch_size must be positive, got {list(checkpoints)}, {batch_size}")
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    per_class = _per_class(class_weights, classes=max(2, model[-1].out_features))
    binary = model[-1].out_features == 1
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    for step in range(1, stops[-1] + 1):
        idx = torch.randint(0, len(yt), (batch_size,), generator=generator)
        logits = model(xt[idx])
        if binary:
            loss = weighted_bce(logits.squeeze(-1), yt[idx], per_class)
        else:
            loss = (per_class[yt[idx]] * nn.functional.cross_entropy(logits, yt[idx], reduction="none")).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step in stops:
            on_checkpoint(step, model)
    return losses


def train_early_stopped(
    model: nn.Sequential,
    train: tuple[np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray],
    max_steps: int,
    every: int,
    class_weights: Sequence[float] | None = None,
    lr: float = 3e-3,
    seed: int = 0,
    on_checkpoint: Callable[[int, nn.Sequential], None] = lambda step, model: None,
) -> tuple[int, list[tuple[int, float]]]:
    """Train a binary model for up to `max_steps`, measure its validation loss every `every` steps (the loss it
    is trained on: weighted by `class_weights` if given, as in training), and leave it at the
    checkpoint where that loss was lowest: ordinary early stopping. `on_checkpoint` sees every checkpoint
    before the rewind. Returns the best step and the (step, validation loss) history.
    """
    if every <= 0 or max_steps < every:
        raise ValueError(f"need 0 < every <= max_steps, got every={every}, max_steps={max_steps}")
    x_va, y_va = valid
    yt = torch.as_tensor(y_va, dtype=torch.long)
    weights = _per_class(class_weights, classes=2)
    history: list[tuple[int, float]] = []
    best: dict = {}

    def checkpoint(step: int, model: nn.Sequential) -> None:
        on_checkpoint(step, model)
        with torch.no_grad(), eval_mode(model):
            loss = weighted_bce(model(torch.as_tensor(x_va, dtype=torch.float32)).squeeze(-1), yt, weights).item()
        history.append((step, loss))
        if not best or loss < best["loss"]:
            best.update(step=step, loss=loss, state=copy.deepcopy(model.state_dict()))

    train_classifier(model, *train, range(every, max_steps + 1, every), checkpoint, class_weights, lr=lr, seed=seed)
    model.load_state_dict(best["state"])
    return best["step"], history


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
