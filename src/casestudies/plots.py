"""One seaborn theme and the book's standard figures: training curves, reliability diagrams, forest plots."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from casestudies.metrics import reliability_bins
from casestudies.verdict import (
    ABSENT,
    FAILS,
    HEADLINE,
    HOLDS,
    INCONCLUSIVE,
    MIXED,
    NO_INTERVAL,
    NOT_REPRODUCED,
    REPRODUCED,
    REVERSED,
    UNDEFINED,
    Verdict,
    t_interval,
)

OUTCOME_COLOURS = {
    REPRODUCED: "#1b7837",
    HOLDS: "#1b7837",
    INCONCLUSIVE: "#999999",
    ABSENT: "#2166ac",
    NOT_REPRODUCED: "#2166ac",
    REVERSED: "#b2182b",
    FAILS: "#b2182b",
    MIXED: "#dfa800",
    NO_INTERVAL: "#999999",
    UNDEFINED: "#999999",
}


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
    """Mean of `y` over seeds by arm with the seeds' Student-t 95% band (`seed_interval`: one row per arm, seed and
    `x`); `smooth` is a rolling-mean window within each run.

    `palette` (from `arm_palette`) fixes the arms' colours and order.
    """
    data = history.copy()
    if smooth > 1:
        data[y] = data.groupby([hue, "seed"])[y].transform(lambda s: s.rolling(smooth, min_periods=1).mean())
    ax = ax or plt.gca()
    order = [arm for arm in palette if arm in set(data[hue])] if palette else None
    sns.lineplot(data=data, x=x, y=y, hue=hue, hue_order=order, palette=palette, errorbar=seed_interval, ax=ax)
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
    _forest(verdict.effects, ax, with_metric=True)
    ax.set_xlabel("mean paired difference over seeds (95% t-interval); tick = bound to clear")
    return ax


def forest_panels(verdict: Verdict, panels: dict[str, Sequence[str]] | None = None, width: float = 7.0):
    """The forest plot in panels, each on its own axis, so that differences in bits, shares and slopes never share
    a scale: `panels` maps a panel's title (its unit) to the hypotheses it draws, in order; by default one panel
    per measured metric, titled by it."""
    by_name = {e.hypothesis.name: e for e in verdict.effects}
    if panels is None:
        groups: dict[str, list] = {}
        for effect in verdict.effects:
            groups.setdefault(effect.hypothesis.measured, []).append(effect)
    else:
        unknown = [n for names in panels.values() for n in names if n not in by_name]
        if unknown or not all(panels.values()):
            raise ValueError(f"every panel needs hypotheses of the verdict; unknown {unknown}, panels {panels}")
        groups = {title: [by_name[n] for n in names] for title, names in panels.items()}
    sizes = [len(g) for g in groups.values()]
    fig, axes = plt.subplots(
        len(groups),
        1,
        figsize=(width, 0.55 * len(groups) + 0.45 * sum(sizes)),
        gridspec_kw={"height_ratios": sizes},
        squeeze=False,
    )
    for ax, (title, effects) in zip(axes[:, 0], groups.items(), strict=True):
        _forest(effects, ax, with_metric=panels is not None)
        ax.set_title(title, fontsize=9, loc="left")
        ax.set_ylim(-0.6, len(effects) - 0.4)
        ax.xaxis.set_major_locator(plt.MaxNLocator(5))
    axes[-1, 0].set_xlabel("mean paired difference over seeds (95% t-interval); tick = bound to clear")
    fig.tight_layout()
    return fig


def _forest(effects, ax, with_metric: bool) -> None:
    """Draw `effects` top to bottom on `ax`: estimate, interval, the bound's tick and a label per row."""
    ys = np.arange(len(effects))[::-1]
    for y, effect in zip(ys, effects, strict=True):
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
        (f"{e.hypothesis.name}: {e.hypothesis.measured}\n" if with_metric else f"{e.hypothesis.name}: ")
        + f"{e.hypothesis.contrast} ({e.n_agree}/{e.n_seeds} seeds agree)"
        for e in effects
    ]
    ax.set_yticks(ys, labels, fontsize=8)
    ax.axvline(0, color="grey", lw=0.8, ls=":")


def headline_forest(records: list[dict], ax=None):
    """One row per headline hypothesis: its paired difference in units of its own smallest effect of interest
    (so chapters measured in bits, nats and shares compare), signed so that the source's claimed direction points
    right, with the 95% interval, the ±sesoi band (grey, always ±1) and the outcome's colour.

    Drawn narrow (5.2 in) with 10-point labels and the legend above, so that shrunk to a phone's column (about
    370 px) its text still reads at 9 px or more."""
    rows = [(r, h) for r in records for h in r["hypotheses"] if h["role"] == HEADLINE]
    ax = ax or plt.figure(figsize=(5.2, 1.4 + 0.4 * len(rows))).gca()
    for y, (_, h) in enumerate(rows):
        sign = (1.0 if h["direction"] == "greater" else -1.0) / h["sesoi"]
        estimate = np.nan if h["estimate"] is None else sign * h["estimate"]
        low, high = (np.nan, np.nan) if h["ci_low"] is None else sorted((sign * h["ci_low"], sign * h["ci_high"]))
        ax.plot([-1.0, 1.0], [y, y], color="0.85", lw=9, solid_capstyle="butt", zorder=1)
        ax.errorbar(
            estimate,
            y,
            xerr=None if np.isnan(low) else [[estimate - low], [high - estimate]],
            fmt="o",
            color=OUTCOME_COLOURS.get(h["outcome"], "black"),
            capsize=3,
            zorder=3,
        )
    labels = [
        f"{r['chapter'][:2]} {h['name']}, {h['n_agree']}/{h['n_seeds']} seeds\nsesoi {h['sesoi']:g}" for r, h in rows
    ]
    ax.set_yticks(range(len(rows)), labels, fontsize=10)
    ax.tick_params(axis="x", labelsize=10)
    ax.invert_yaxis()
    ax.axvline(0, color="grey", lw=0.8, ls=":")
    handles = [
        plt.Line2D([], [], marker="o", ls="", color=OUTCOME_COLOURS[o], label=o)
        for o in (REPRODUCED, INCONCLUSIVE, ABSENT, REVERSED)
    ]
    handles.append(plt.Line2D([], [], lw=6, color="0.85", label="±sesoi"))
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3, fontsize=10, frameon=False)
    ax.set_xlabel(
        "headline effect in units of its sesoi\n(the source's direction to the right; 95% t-interval)", fontsize=10
    )
    return ax
