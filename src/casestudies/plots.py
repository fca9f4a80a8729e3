"""One seaborn theme and the book's standard figures: training curves, reliability diagrams, forest plots."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from casestudies.metrics import reliability_bins
from casestudies.stats import REPRODUCED, Verdict

OUTCOME_COLOURS = {REPRODUCED: "#1b7837", "partly": "#dfa800", "not reproduced": "#b2182b"}


def set_theme() -> None:
    """The book's look: whitegrid, colour-blind palette, modest figure size and resolution (small notebooks)."""
    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind")
    plt.rcParams.update({"figure.figsize": (7.0, 3.6), "figure.dpi": 80, "savefig.dpi": 80})


def arm_palette(arms) -> dict:
    """A fixed colour per arm, in the given order, so every figure of a chapter colours an arm the same way."""
    arms = list(arms)
    return dict(zip(arms, sns.color_palette("colorblind", len(arms)), strict=True))


def training_curves(
    history: pd.DataFrame, y: str, x: str = "step", hue: str = "arm", smooth: int = 1, palette=None, ax=None
):
    """Mean of `y` over seeds by arm with a 95% CI band; `smooth` is a rolling-mean window within each run.

    `palette` (from `arm_palette`) fixes the arms' colours and order.
    """
    data = history.copy()
    if smooth > 1:
        data[y] = data.groupby([hue, "seed"])[y].transform(lambda s: s.rolling(smooth, min_periods=1).mean())
    ax = ax or plt.gca()
    order = [arm for arm in palette if arm in set(data[hue])] if palette else None
    sns.lineplot(data=data, x=x, y=y, hue=hue, hue_order=order, palette=palette, errorbar=("ci", 95), ax=ax)
    return ax


def reliability_diagram(
    predictions: pd.DataFrame,
    by: str = "arm",
    confidence: str = "confidence",
    correct: str = "correct",
    n_bins: int = 10,
):
    """One panel per `by` value: accuracy against mean confidence in equal-width bins, bar width ∝ share."""
    groups = list(dict.fromkeys(predictions[by]))
    fig, axes = plt.subplots(1, len(groups), figsize=(2.6 * len(groups), 2.8), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], groups, strict=True):
        part = predictions[(predictions[by] == name) & predictions[confidence].notna()]
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
        if len(part):
            bins = reliability_bins(part[confidence], part[correct], n_bins).query("count > 0")
            share = bins["count"] / bins["count"].sum()
            ax.bar(bins["confidence"], bins["accuracy"], width=0.02 + 0.15 * share, alpha=0.8)
        ax.set(title=str(name), xlim=(0, 1), ylim=(0, 1), xlabel="stated confidence")
    axes[0][0].set_ylabel("accuracy")
    fig.tight_layout()
    return fig


def forest_plot(verdict: Verdict, ax=None):
    """Each hypothesis' paired difference with its 95% CI and the seeds that agree, coloured by outcome, with the
    bound it had to clear."""
    n = len(verdict.effects)
    ax = ax or plt.figure(figsize=(7.0, 0.5 + 0.5 * n)).gca()
    ys = np.arange(n)[::-1]
    for y, effect in zip(ys, verdict.effects, strict=True):
        colour = OUTCOME_COLOURS[effect.outcome]
        ax.errorbar(
            effect.estimate,
            y,
            xerr=None
            if np.isnan(effect.ci_low)
            else [[effect.estimate - effect.ci_low], [effect.ci_high - effect.estimate]],
            fmt="o",
            color=colour,
            capsize=3,
        )
        ax.plot([effect.hypothesis.bound] * 2, [y - 0.3, y + 0.3], color="black", lw=1)
    labels = [
        f"{e.hypothesis.name}: {e.hypothesis.metric}{f' [{e.hypothesis.condition}]' if e.hypothesis.condition else ''}"
        f"\n{e.hypothesis.arm} − {e.hypothesis.baseline} ({e.n_agree}/{e.n_seeds} seeds agree)"
        for e in verdict.effects
    ]
    ax.set_yticks(ys, labels, fontsize=8)
    ax.axvline(0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("mean paired difference over seeds (95% t-interval); tick = bound to clear")
    return ax
