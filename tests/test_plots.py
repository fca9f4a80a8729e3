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


def test_headline_forest_draws_each_headline_signed_to_its_claim_with_its_sesoi_band():
    from casestudies.plots import OUTCOME_COLOURS, headline_forest

    def hypothesis(name, direction, estimate, low, high, outcome, role="headline"):
        return {
            "name": name,
            "role": role,
            "direction": direction,
            "estimate": estimate,
            "ci_low": low,
            "ci_high": high,
            "sesoi": 0.05,
            "n_agree": 5,
            "n_seeds": 6,
            "outcome": outcome,
        }

    records = [
        {
            "chapter": "01-a",
            "hypotheses": [
                hypothesis("H1", "less", -0.3, -0.4, -0.2, "reproduced"),
                hypothesis("H2", "greater", 9.0, 8.0, 10.0, "reproduced", "secondary"),
            ],
        },
        {"chapter": "02-b", "hypotheses": [hypothesis("H3", "greater", -0.2, -0.3, -0.1, "reversed")]},
    ]
    ax = headline_forest(records)
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "01 H1, 5/6 seeds\nsesoi 0.05",
        "02 H3, 5/6 seeds\nsesoi 0.05",
    ]
    markers = [line for line in ax.lines if line.get_marker() == "o"]
    # in sesoi units, "less" flipped to the right: 0.3 / 0.05 and -0.2 / 0.05
    assert [float(m.get_xdata()[0]) for m in markers] == pytest.approx([6.0, -4.0])
    assert markers[1].get_color() == OUTCOME_COLOURS["reversed"]
    bands = [line for line in ax.lines if line.get_linewidth() == 9]
    assert [tuple(b.get_xdata()) for b in bands] == [(-1.0, 1.0)] * 2
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"reproduced", "reversed", "inconclusive", "absent"}
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


def test_forest_panels_put_each_metric_on_its_own_axis():
    from casestudies.plots import OUTCOME_COLOURS, forest_panels

    results = stats.tidy(
        {"arm": arm, "seed": seed, "bits": base + seed * 0.01, "slope": 10 * base - seed}
        for arm, base in (("a", 1.0), ("b", 0.5))
        for seed in range(4)
    )
    hypotheses = [
        stats.Hypothesis("H1", "less bits", "bits", "b", "a", "less", role="headline", sesoi=0.1, why="w"),
        stats.Hypothesis("H2", "steeper", "slope", "b", "a", "greater", role="secondary", sesoi=1.0, why="w"),
        stats.Hypothesis("H3", "no more bits", "bits", "b", "a", "less", margin=0.1, role="check"),
    ]
    fig = forest_panels(stats.evaluate(results, hypotheses))
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["bits", "slope"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "H1: b − a (4/4 seeds agree)",
        "H3: b − a (4/4 seeds agree)",
    ]
    estimates = [[float(line.get_xdata()[0]) for line in ax.lines if line.get_marker() == "o"] for ax in fig.axes]
    assert estimates == [pytest.approx([-0.5, -0.5]), pytest.approx([-5.0])]
    reversed_marker = next(line for line in fig.axes[1].lines if line.get_marker() == "o")
    assert reversed_marker.get_color() == OUTCOME_COLOURS["reversed"]
    # panels chosen by hand, in the order given, each titled by its unit
    fig = forest_panels(stats.evaluate(results, hypotheses), panels={"slopes": ["H2"], "bits": ["H3", "H1"]})
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["slopes", "bits"]
    assert [t.get_text().split(":")[0] for t in fig.axes[1].get_yticklabels()] == ["H3", "H1"]
    with pytest.raises(ValueError, match="H9"):
        forest_panels(stats.evaluate(results, hypotheses), panels={"bits": ["H9"]})
    plt.close("all")
