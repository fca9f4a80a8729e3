"""One seaborn theme and the book's standard figures: training curves, reliability diagrams, forest plots."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from casestudies.metrics import reliability_bins
from casestudies.stats import REPRODUCED, Effect, Verdict, t_interval

OUTCOME_COLOURS = {REPRODUCED: "#1b7837", "partly": "#dfa800", "not reproduced": "#b2182b"}


def set_theme() -> None:
    """The book's look: whitegrid, colour-blind palette, modest figure size at a resolution that reads well in the
    book while keeping notebooks small."""
    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind")
    plt.rcParams.update({"figure.figsize": (7.0, 3.6), "figure.dpi": 110, "savefig.dpi": 110})


# The colour-blind palette reordered so that neighbouring arms differ most (its orange and vermillion, and its
# two pinks, are hard to tell apart side by side); grey comes late, since reference lines are grey.
_ARM_ORDER = (0, 1, 2, 4, 9, 5, 8, 3, 6, 7)


def arm_palette(arms) -> dict:
    """A fixed colour per arm, in the given order, so every figure of a chapter colours an arm the same way."""
    arms = list(arms)
    if len(arms) > len(_ARM_ORDER):
        raise ValueError(f"at most {len(_ARM_ORDER)} arms get distinct colours, got {len(arms)}")
    colours = sns.color_palette("colorblind", len(_ARM_ORDER))
    return {arm: colours[i] for arm, i in zip(arms, _ARM_ORDER, strict=False)}


def seed_interval(values) -> tuple[float, float]:
    """A seaborn `errorbar=` callable: the Student-t 95% interval of the mean, the verdict's own rule. Give it one
    value per seed (aggregate within each seed first), or the band would count correlated samples as seeds."""
    _, low, high = t_interval(values)
    return low, high


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
    ncols: int = 3,
    order=None,
):
    """One panel per `by` value (`ncols` to a row, in `order` or as they first appear): accuracy against mean
    confidence in equal-width bins, bar width ∝ share, the number of answers in each bin written above its bar."""
    groups = list(order) if order is not None else list(dict.fromkeys(predictions[by]))
    nrows = -(-len(groups) // ncols)
    fig, axes = plt.subplots(
        nrows,
        min(ncols, len(groups)),
        figsize=(2.4 * min(ncols, len(groups)), 2.5 * nrows),
        sharey=True,
        squeeze=False,
    )
    for ax in axes.flat[len(groups) :]:
        ax.set_axis_off()
    for ax, name in zip(axes.flat, groups, strict=False):
        part = predictions[(predictions[by] == name) & predictions[confidence].notna()]
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
        if len(part):
            bins = reliability_bins(part[confidence], part[correct], n_bins).query("count > 0")
            share = bins["count"] / bins["count"].sum()
            ax.bar(bins["confidence"], bins["accuracy"], width=0.02 + 0.15 * share, alpha=0.8)
            for _, row in bins.iterrows():
                ax.annotate(
                    f"{int(row['count'])}",
                    (row["confidence"], row["accuracy"]),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    fontsize=6,
                )
        ax.set(title=str(name), xlim=(0, 1), ylim=(0, 1.08), xlabel="stated confidence")
    for row in axes:
        row[0].set_ylabel("accuracy")
    fig.tight_layout()
    return fig


def arm_panels(results: pd.DataFrame, panels: list[tuple], order: list[str], width: float = 3.5):
    """One panel per `(metric, title)` or `(metric, title, condition)`: each arm's mean over seeds with the seed
    interval, and every seed as a dot.

    `results` is the chapter's tidy table (arm, seed, metric, value and, with a condition, condition); arms outside
    `order` are left out, and `order` fixes their colours (`arm_palette`).
    """
    palette = arm_palette(order)
    fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), 0.45 * len(order) + 1.2), sharey=True)
    for ax, (metric, title, *condition) in zip(np.atleast_1d(axes), panels, strict=True):
        part = results[(results["metric"] == metric) & results["arm"].isin(order)]
        if condition:
            part = part[part["condition"] == condition[0]]
        if part.empty:
            raise ValueError(
                f"no results for metric {metric!r}{f' in {condition[0]!r}' if condition else ''} in the arms {order}"
            )
        sns.pointplot(
            data=part,
            y="arm",
            x="value",
            hue="arm",
            order=order,
            palette=palette,
            linestyle="none",
            errorbar=seed_interval,
            ax=ax,
        )
        sns.stripplot(data=part, y="arm", x="value", order=order, color="0.3", size=3, alpha=0.5, ax=ax)
        ax.set(title=title, xlabel="", ylabel="")
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
        f"{e.hypothesis.name}: {e.hypothesis.measured}\n{e.hypothesis.contrast} ({e.n_agree}/{e.n_seeds} seeds agree)"
        for e in verdict.effects
    ]
    ax.set_yticks(ys, labels, fontsize=8)
    ax.axvline(0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("mean paired difference over seeds (95% t-interval); tick = bound to clear")
    return ax


def standardised(effect: Effect) -> float:
    """A hypothesis' effect in units of its own 95% half-width, measured from the bound it had to clear and signed
    so that the claimed direction is positive: above 1 the interval clears the bound (reproduced), between 0 and 1
    only the estimate does (partly). ±inf when every seed gave the same difference; NaN when undefined."""
    h = effect.hypothesis
    gap = (effect.estimate - h.bound) * (1.0 if h.direction == "greater" else -1.0)
    half = (effect.ci_high - effect.ci_low) / 2
    if np.isnan(gap) or np.isnan(half):
        return float("nan")
    return gap / half if half > 0 else float(np.copysign(np.inf, gap)) if gap else 0.0


def book_overview(verdicts: dict[str, Verdict], clip: float = 6.0, ax=None):
    """Every hypothesis of every chapter on one scale (`standardised`: its effect over its own half-width,
    clipped to ±`clip`), one row per chapter, coloured by outcome, with the chapter's count of reproduced ones."""
    names = list(verdicts)
    ax = ax or plt.figure(figsize=(8.0, 0.8 + 0.45 * len(names))).gca()
    for row, name in enumerate(names):
        effects = [e for e in verdicts[name].effects if not np.isnan(standardised(e))]
        x = np.clip([standardised(e) for e in effects], -clip, clip)
        y = row + np.linspace(-0.25, 0.25, len(effects)) if len(effects) > 1 else np.full(len(effects), row)
        ax.scatter(x, y, c=[OUTCOME_COLOURS[e.outcome] for e in effects], s=22, zorder=3)
        shown = sum(e.outcome == REPRODUCED for e in verdicts[name].effects)
        ax.text(clip * 1.05, row, f"{shown}/{len(verdicts[name].effects)}", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    for x, style in [(0, ":"), (1, "--")]:
        ax.axvline(x, color="grey", lw=0.8, ls=style)
    ax.set_xlim(-clip * 1.05, clip * 1.15)
    ax.set_xlabel("effect in units of its 95% half-width, claimed direction positive (dashed: reproduced beyond)")
    return ax
