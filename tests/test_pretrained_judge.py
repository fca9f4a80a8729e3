"""Chapter 4's `gpu`-scale path: a pretrained judge loaded from disk joins the analysis, end to end."""

import pytest

from casestudies.tasks.judge import LETTERS, SCORES, instruct_prompt, judge_items


@pytest.mark.slow
def test_chapter_4_runs_with_a_local_pretrained_judge(run_with_local_model):
    words = {w for it in judge_items(400, seed=0) for w in instruct_prompt(it).split()} | set(LETTERS) | set(SCORES)
    printed, tables = run_with_local_model("04", words, "JUDGE_MODEL", SEEDS=[0])
    reliability = [t for t in tables if "ICC(1)" in t]
    assert "judges: ['trained', 'hard-label', 'weak', 'shuffled', 'pretrained']" in printed
    assert len(reliability) == 1 and "pretrained" in reliability[0]  # the reliability table has its rows
