"""Paired effects, bootstrap CIs, the verdict rule and the results file."""

import json

import numpy as np
import pandas as pd
import pytest

from casestudies.scale import get_scale
from casestudies.stats import (
    NOT_REPRODUCED,
    PARTLY,
    REPRODUCED,
    Hypothesis,
    bootstrap_ci,
    conclude,
    evaluate,
    judge,
    paired_differences,
    read_results,
    tidy,
)


def results_with(effect_by_seed: dict[int, float]) -> pd.DataFrame:
    rows = []
    for seed, effect in effect_by_seed.items():
        rows.append({"arm": "base", "seed": seed, "brier": 0.30, "acc": 0.5})
        rows.append({"arm": "treat", "seed": seed, "brier": 0.30 + effect, "acc": 0.5})
    return tidy(rows)


LOWER_BRIER = Hypothesis("H1", "treatment lowers Brier", "brier", "treat", "base", "less")


def test_tidy_is_long_and_paired_differences_pair_by_seed():
    results = results_with({0: -0.1, 1: -0.2, 2: -0.3})
    assert set(results.columns) == {"arm", "seed", "metric", "value"}
    assert len(results) == 3 * 2 * 2
    diffs = paired_differences(results, "brier", "treat", "base")
    np.testing.assert_allclose(diffs.sort_index().to_numpy(), [-0.1, -0.2, -0.3])


def test_bootstrap_ci_brackets_the_mean_and_shrinks_with_more_seeds():
    rng = np.random.default_rng(1)
    few, many = rng.normal(1, 1, 5), rng.normal(1, 1, 500)
    m, lo, hi = bootstrap_ci(few)
    assert lo < m < hi
    _, lo2, hi2 = bootstrap_ci(many)
    assert hi2 - lo2 < hi - lo
    # the percentile CI of a mean of n iid normals is close to mean ± 1.96 sd / sqrt(n)
    assert hi2 - lo2 == pytest.approx(2 * 1.96 * many.std() / np.sqrt(many.size), rel=0.1)


def test_verdict_rule_on_all_three_outcomes():
    assert evaluate(results_with({0: -0.1, 1: -0.12, 2: -0.09}), [LOWER_BRIER]).outcome == REPRODUCED
    assert evaluate(results_with({0: -0.3, 1: 0.05, 2: -0.2}), [LOWER_BRIER]).outcome == PARTLY
    assert evaluate(results_with({0: 0.1, 1: 0.12, 2: 0.09}), [LOWER_BRIER]).outcome == NOT_REPRODUCED


def test_non_inferiority_margin():
    h = Hypothesis("H2", "no accuracy cost", "acc", "treat", "base", "greater", margin=0.02)
    assert judge(h, -0.01, -0.015, -0.005) == REPRODUCED  # worse, but within the margin
    assert judge(h, -0.01, -0.03, 0.01) == PARTLY
    assert judge(h, -0.05, -0.06, -0.04) == NOT_REPRODUCED


def test_mixed_hypotheses_give_partly_overall():
    results = results_with({0: -0.1, 1: -0.12, 2: -0.09})
    wrong_way = Hypothesis("H3", "treatment raises Brier", "brier", "treat", "base", "greater")
    assert evaluate(results, [LOWER_BRIER, wrong_way]).outcome == PARTLY


def test_bad_declarations_fail_clearly():
    with pytest.raises(ValueError, match="direction"):
        Hypothesis("H", "c", "m", "a", "b", "up")
    with pytest.raises(ValueError, match="differ"):
        Hypothesis("H", "c", "m", "a", "a", "less")
    with pytest.raises(ValueError, match="no arm"):
        paired_differences(results_with({0: 0.1}), "brier", "nope", "base")


def test_conclude_prints_and_writes_the_same_verdict(tmp_path, capsys):
    results = results_with({0: -0.1, 1: -0.12, 2: -0.09})
    verdict = conclude("00-test", "a test", results, [LOWER_BRIER], get_scale("smoke"), 1.5, directory=tmp_path)
    printed = capsys.readouterr().out
    assert "VERDICT: REPRODUCED" in printed and "smoke scale" in printed
    record = json.loads((tmp_path / "00-test.json").read_text())
    assert record["verdict"] == verdict.outcome == REPRODUCED
    assert record["hypotheses"][0]["outcome"] == REPRODUCED
    assert record["scale"] == "smoke" and record["seeds"] == [0, 1, 2]
    assert len(record["results"]) == len(results)
    assert read_results(tmp_path)[0]["chapter"] == "00-test"


def test_results_go_to_the_book_root_and_smoke_runs_stay_apart(tmp_path, monkeypatch, capsys):
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    monkeypatch.delenv("CASESTUDIES_RESULTS_DIR", raising=False)
    results = results_with({0: -0.1, 1: -0.12, 2: -0.09})
    conclude("00-test", "a test", results, [LOWER_BRIER], get_scale("cpu"), 1.0)
    conclude("00-test", "a test", results, [LOWER_BRIER], get_scale("smoke"), 1.0)
    assert (tmp_path / "results" / "00-test.json").exists()
    assert (tmp_path / "results" / "smoke" / "00-test.json").exists()
    assert [r["scale"] for r in read_results(tmp_path / "results")] == ["cpu"]


def test_summary_table_orders_arms_and_formats_mean_and_sd():
    from casestudies.stats import summary_table

    results = results_with({0: -0.1, 1: -0.2, 2: -0.3})
    means, text = summary_table(results, ["brier", "acc"], arms=["treat", "base"])
    assert list(means.index) == ["treat", "base"] and list(means.columns) == ["brier", "acc"]
    assert means.loc["treat", "brier"] == pytest.approx(0.10)
    assert text.loc["treat", "brier"] == "0.100 ± 0.100"
    assert text.loc["base", "acc"] == "0.500 ± 0.000"
    with pytest.raises(ValueError, match="no metric"):
        summary_table(results, ["nope"])
