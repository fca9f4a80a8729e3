"""Chapter 5's measurements on crafted completions, share tables and points with a known slope."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy as scipy_entropy
from scipy.stats import spearmanr

from casestudies.chapters import format_collapse as fc


def test_solution_summary_on_crafted_completions():
    # two problems, two samples each: answers 5 and 7
    texts = ["so 3 + 4 = 7 then 7 - 2 = 5 ans 5", "ans 4", "x = 1 + 6 ; ans 7", "gets gets"]
    golds = ["5", "5", "7", "7"]
    out = fc.solution_summary(texts, golds, samples=2)
    assert out["pass@1"] == pytest.approx(0.5)
    assert out["pass@2"] == pytest.approx(1.0)  # each problem has one right answer in two
    assert out["headroom"] == pytest.approx(0.5)
    assert out["share_steps"] == out["share_code"] == out["share_direct"] == out["share_other"] == 0.25
    assert out["format_entropy"] == pytest.approx(math.log2(3))  # the malformed one is left out


def test_solution_summary_collapsed_and_all_malformed():
    out = fc.solution_summary(["ans 1", "ans 2"], ["1", "1"], samples=2)
    assert out["format_entropy"] == 0.0 and out["share_direct"] == 1.0 and out["pass@1"] == 0.5
    assert math.isnan(fc.solution_summary(["+", "+"], ["1", "1"], samples=1)["format_entropy"])
    with pytest.raises(ValueError, match="multiple"):
        fc.solution_summary(["ans 1"] * 3, ["1"] * 3, samples=2)


def shares(steps, code, direct, other=0.0):
    return {"share_steps": steps, "share_code": code, "share_direct": direct, "share_other": other}


def test_format_kl_against_scipy():
    p, q = shares(0.6, 0.3, 0.1), shares(1 / 3, 1 / 3, 1 / 3)
    assert fc.format_kl(p, q) == pytest.approx(scipy_entropy([0.6, 0.3, 0.1], [1 / 3] * 3))
    # malformed solutions are left out and the rest renormalised
    assert fc.format_kl(shares(0.3, 0.15, 0.05, 0.5), q) == pytest.approx(fc.format_kl(p, q))
    assert fc.format_kl(q, q) == 0.0
    assert fc.format_kl(shares(0.5, 0.5, 0.0), shares(1.0, 0.0, 0.0)) == math.inf
    assert math.isnan(fc.format_kl(shares(0, 0, 0, 1), q))


def crafted_run(slope_rl: float):
    """One size and seed whose RL share changes are exactly slope_rl × (a_f − ā) and whose control's are not."""
    forced = pd.DataFrame([{"size": "large", "seed": 0, "steps": 0.6, "code": 0.4, "direct": 0.2}])
    start = np.full(3, 1 / 3)  # an even start: the gaps sum to zero, so the moved shares still sum to one
    gap = np.array([0.6, 0.4, 0.2]) - start @ np.array([0.6, 0.4, 0.2])
    rl, control = start + slope_rl * gap, start + np.array([0.1, -0.2, 0.1])  # the control: unrelated to the gap
    rows = [
        {"size": "large", "seed": 0, "stage": stage, **dict(zip(fc.SHARES, s, strict=True))}
        for stage, s in (("pretrained", start), ("RL", rl), ("shuffled reward", control))
    ]
    return forced, pd.DataFrame(rows)


def test_selection_recovers_a_known_slope():
    forced, table = crafted_run(0.5)
    points = fc.selection_points(forced, table, ["RL", "shuffled reward"])
    assert len(points) == 6
    assert points.loc[points["arm"] == "RL", "a_f − ā"].to_numpy() == pytest.approx([0.2, 0.0, -0.2])
    fits = fc.selection_table(points).set_index("arm")
    assert fits.loc["RL", "replicator_slope"] == pytest.approx(0.5)
    assert fits.loc["RL", "rank correlation"] == pytest.approx(1.0)
    assert fits.loc["shuffled reward", "replicator_slope"] == pytest.approx(0.0)
    assert fits.loc["shuffled reward", "rank correlation"] == pytest.approx(0.0)


def test_selection_rank_correlation_matches_scipy():
    rng = np.random.default_rng(0)
    points = pd.DataFrame({"arm": "RL", "seed": 0, "a_f − ā": rng.normal(size=6), "Δshare": rng.normal(size=6)})
    fit = fc.selection_table(points).iloc[0]
    assert fit["rank correlation"] == pytest.approx(spearmanr(points["a_f − ā"], points["Δshare"]).statistic)
    assert fit["replicator_slope"] == pytest.approx(np.polyfit(points["a_f − ā"], points["Δshare"], 1)[0])


def test_winners_and_margins():
    forced, table = crafted_run(0.5)
    out = fc.winners(forced, table, ["RL"]).iloc[0]
    assert out["most accurate before RL"] == "steps" and out["winner after RL"] == "steps"
    assert out["its share (RL)"] == pytest.approx(1 / 3 + 0.1)
    margins = fc.winner_margins(table, n_solutions=1600, stage="RL")
    # 0.433 against 0.333: far more than two standard errors apart with 1600 solutions
    assert bool(margins.iloc[0])
    tied = table.assign(share_steps=0.4, share_code=0.39, share_direct=0.21)
    assert not bool(fc.winner_margins(tied, n_solutions=1600, stage="RL").iloc[0])


def test_across_sizes_means_only_arms_both_sizes_ran():
    records = [
        {"arm": "RL", "seed": 1, "condition": "small", "format_entropy": 1.0},
        {"arm": "RL", "seed": 1, "condition": "large", "format_entropy": 0.5},
        {"arm": "RL+KL", "seed": 1, "condition": "large", "format_entropy": 1.2},
    ]
    assert fc.across_sizes(records, ["format_entropy"]) == [
        {"arm": "RL", "seed": 1, "condition": fc.BOTH, "format_entropy": 0.75}
    ]


def test_reference_rows():
    rows = fc.reference_rows([3], {3: ["5", "5", "7", "2"]}, ["small"])
    assert rows == [
        {"arm": "reference·even mix", "seed": 3, "condition": "small", "format_entropy": math.log2(3)},
        {"arm": "reference·most common answer", "seed": 3, "condition": "small", "pass@1": 0.5},
    ]
