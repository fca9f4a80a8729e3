"""The book's figures draw what they say: counts in the reliability diagram, panels per group."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import seaborn as sns

from casestudies import plots, stats


def test_reliability_diagram_writes_each_bins_count_and_wraps_panels():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "arm": np.repeat(["a", "b", "c", "d"], 50),
            "confidence": rng.choice([0.05, 0.35, 0.95, np.nan], size=200),
            "correct": rng.random(200) < 0.5,
        }
    )
    fig = plots.reliability_diagram(frame, ncols=3)
    axes = fig.axes
    assert len(axes) == 6 and not axes[5].axison and not axes[4].axison
    for ax, arm in zip(axes, "abcd", strict=False):
        part = frame[(frame["arm"] == arm) & frame["confidence"].notna()]
        written = sorted(int(t.get_text()) for t in ax.texts)
        assert written == sorted(part["confidence"].value_counts().tolist())
        assert ax.get_title() == arm
    reordered = plots.reliability_diagram(frame, ncols=2, order=["c", "a"])
    assert [ax.get_title() for ax in reordered.axes] == ["c", "a"]


def test_arm_palette_gives_distinct_colours_in_a_fixed_order():
    palette = plots.arm_palette([f"arm {i}" for i in range(10)])
    assert len(set(palette.values())) == 10
    assert plots.arm_palette(["a", "b"]) == {k: palette[f"arm {i}"] for i, k in enumerate("ab")}
    with pytest.raises(ValueError, match="at most 10"):
        plots.arm_palette(range(11))


def test_seed_interval_is_the_verdicts_t_interval_and_seaborn_draws_it():
    values = [0.2, 0.5, 0.4, 0.9, 0.6]
    assert plots.seed_interval(values) == pytest.approx(stats.t_interval(values)[1:])
    frame = pd.DataFrame({"x": [0] * 5 + [1] * 5, "y": values + [v + 1 for v in values]})
    ax = sns.lineplot(data=frame, x="x", y="y", errorbar=plots.seed_interval)
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    low, high = stats.t_interval(values)[1:]
    assert band.min() == pytest.approx(low) and band.max() == pytest.approx(high + 1)
    plt.close(ax.figure)


def test_standardised_effects_put_the_verdicts_rule_at_one():
    from casestudies.plots import standardised
    from casestudies.stats import Effect, Hypothesis, judge

    greater = Hypothesis("H", "claim", "m", "a", "b", "greater")
    less = Hypothesis("H", "claim", "m", "a", "b", "less", margin=0.1)
    for h, estimate, low, high, expected in [
        (greater, 0.5, 0.2, 0.8, 0.5 / 0.3),  # clears zero: above 1
        (greater, 0.1, -0.2, 0.4, 0.1 / 0.3),  # points the right way only: between 0 and 1
        (greater, -0.1, -0.3, 0.1, -0.1 / 0.2),
        (less, -0.5, -0.7, -0.3, 0.6 / 0.2),  # "less" with a margin: the bound is +0.1
    ]:
        effect = Effect(h, estimate, low, high, 5, 5, judge(h, estimate, low, high))
        assert standardised(effect) == pytest.approx(expected)
        assert (standardised(effect) > 1) == (effect.outcome == "reproduced")
        assert (0 < standardised(effect) <= 1) == (effect.outcome == "partly")
    assert standardised(Effect(greater, 0.2, 0.2, 0.2, 5, 5, "reproduced")) == np.inf


def test_book_overview_draws_one_point_per_hypothesis_and_counts_per_chapter():
    from casestudies.plots import book_overview
    from casestudies.stats import Effect, Hypothesis, Verdict

    h = Hypothesis("H", "claim", "m", "a", "b", "greater")
    verdicts = {
        "01": Verdict([Effect(h, 0.5, 0.2, 0.8, 5, 5, "reproduced"), Effect(h, -9.0, -10, -8, 5, 0, "not reproduced")]),
        "02": Verdict([Effect(h, 0.1, -0.2, 0.4, 5, 3, "partly")]),
    }
    ax = book_overview(verdicts, clip=6.0)
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(points) == 3 and points[:, 0].min() == -6.0  # the far-off effect is clipped
    assert [t.get_text() for t in ax.texts] == ["1/2", "0/1"]
    plt.close("all")


def test_arm_panels_draw_each_arms_seed_mean_and_every_seed():
    rng = np.random.default_rng(1)
    results = stats.tidy(
        {"arm": arm, "seed": seed, "x": rng.random(), "y": rng.random()} for arm in "abc" for seed in range(5)
    )
    fig = plots.arm_panels(results, [("x", "first"), ("y", "second")], ["c", "a"])
    assert [ax.get_title() for ax in fig.axes] == ["first", "second"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["c", "a"]  # the order given; b left out
    for ax, metric in zip(fig.axes, "xy", strict=True):
        # pointplot draws one line per arm (a point at the arm's row, nan elsewhere), then its interval bars
        points = [line for line in ax.lines if np.isnan(line.get_xdata()).sum() == 1]
        means = {int(line.get_ydata()[~np.isnan(line.get_xdata())][0]): np.nanmax(line.get_xdata()) for line in points}
        expected = results[results["metric"] == metric].groupby("arm")["value"].mean()
        assert [means[0], means[1]] == pytest.approx([expected["c"], expected["a"]])
        dots = np.concatenate([c.get_offsets()[:, 0] for c in ax.collections if len(c.get_offsets()) == 5])
        assert sorted(dots) == pytest.approx(sorted(results.query("metric == @metric and arm != 'b'")["value"]))
    plt.close(fig)
    with pytest.raises(ValueError, match="no results for metric 'z'"):
        plots.arm_panels(results, [("z", "missing")], ["a"])


def test_arm_panels_take_a_condition_per_panel():
    results = stats.tidy(
        {"arm": arm, "seed": seed, "condition": condition, "x": float(seed) + (10 if condition == "hard" else 0)}
        for arm in "ab"
        for seed in range(3)
        for condition in ("easy", "hard")
    )
    fig = plots.arm_panels(results, [("x", "easy", "easy"), ("x", "hard", "hard")], ["a", "b"])
    for ax, offset in zip(fig.axes, (0, 10), strict=True):
        dots = np.concatenate([c.get_offsets()[:, 0] for c in ax.collections if len(c.get_offsets()) == 3])
        assert sorted(dots) == pytest.approx(sorted([offset + s for s in range(3)] * 2))
    plt.close(fig)
    with pytest.raises(ValueError, match="'x' in 'medium'"):
        plots.arm_panels(results, [("x", "missing", "medium")], ["a"])
