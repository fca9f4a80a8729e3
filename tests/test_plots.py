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
