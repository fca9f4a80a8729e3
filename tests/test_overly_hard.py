"""Chapter 6's measurements on crafted completions: accuracy, skips, missing answers, repetition, the onset step."""

import math

import numpy as np
import pandas as pd
import pytest

from casestudies.chapters.overly_hard import (
    Setup,
    completions_log,
    first_step_reaching,
    hard_with_room,
    held_out,
    summarise,
)
from casestudies.tasks.running_sums import problems, score, worked_solution

SETUP = Setup(
    levels={"easy": [2, 3], "medium": [4, 5], "hard": [7, 8]},
    budget=15,
    room=24,
    n_eval=5,
    width=8,
    depth=1,
    heads=1,
    pretrain_lengths=[2, 3, 4, 5, 6, 7, 8],
    direct_share=0.1,
    pretrain_steps=1,
    pretrain_target=0.95,
    pretrain_lr=1e-3,
    check_every=1,
    rl_steps=4,
    rl_lr=1e-3,
    prompts_per_step=2,
    generations=2,
)


def test_summarise_counts_right_skipped_missing_and_repeated_answers_by_hand():
    easy, medium = problems(2, seed=1, lengths=[3]), problems(2, seed=2, lengths=[5])
    wrong = str((int(medium[1]["gold"]) + 1) % 10)
    completions = [
        worked_solution(easy[0]),  # right, worked
        f"ans {easy[1]['gold']}",  # right, but skipped every step
        "b 1 2 c",  # cut off: no answer
        f"b 3 4 ans {wrong}",  # wrong, after one step of four needed: skipped
    ]
    rows = score(completions, easy + medium)
    got = summarise(rows, easy=[2, 3])
    assert got["solvable_accuracy"] == 0.5
    assert got["easy_accuracy"] == 1.0 and got["medium_accuracy"] == 0.0
    assert got["skips"] == 0.5 and got["skips_among_answered"] == pytest.approx(2 / 3)
    assert got["unanswered"] == 0.25
    answers = [easy[0]["gold"], easy[1]["gold"], wrong]
    assert got["modal_answer_share"] == pytest.approx(max(answers.count(a) for a in answers) / 3)


def test_summarise_leaves_undefined_shares_undefined_and_sees_a_repeated_answer():
    cut_off = score(["b 1 2", "b 1"], problems(2, seed=3, lengths=[3]))
    got = summarise(cut_off, easy=[3])
    assert (
        got["unanswered"] == 1.0 and math.isnan(got["skips_among_answered"]) and math.isnan(got["modal_answer_share"])
    )
    repeated = score(["ans 7"] * 4, problems(4, seed=4, lengths=[2]))
    got = summarise(repeated, easy=[2])
    assert got["modal_answer_share"] == 1.0 and got["answer_entropy"] == 0.0 and math.isnan(got["medium_accuracy"])
    with pytest.raises(ValueError, match="at least one"):
        summarise([], easy=[2])


def test_hard_with_room_reports_the_chain_written():
    hard = problems(2, seed=5, lengths=[7])
    rows = score([worked_solution(hard[0]), "b 1 2 c 3 4 ans 1"], hard)
    got = hard_with_room(rows)
    assert got["hard_accuracy_with_room"] == 0.5 and got["hard_skips_with_room"] == 0.5
    assert got["hard_steps_with_room"] == pytest.approx((6 + 2) / 2)


def test_the_onset_step_is_the_first_step_at_half_and_a_run_that_never_gets_there_counts_as_later():
    log = pd.DataFrame(
        {
            "arm": ["a"] * 6 + ["b"] * 6,
            "seed": 0,
            "step": [0, 0, 1, 1, 2, 2] * 2,
            "skipped": [0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0],  # a reaches half at step 1; b never
        }
    )
    onset = first_step_reaching(log, "skipped", 0.5, steps=3)
    assert onset.loc[("a", 0)] == 1.0 and onset.loc[("b", 0)] == 4.0


def test_completions_log_scores_each_sampled_completion():
    p = problems(1, seed=6, lengths=[3])[0]
    frame = pd.DataFrame(
        {"step": [0, 0], "prompt": [p["prompt"]] * 2, "reward": [1.0, 0.0], "completion": [worked_solution(p), "ans x"]}
    )
    log = completions_log(frame, {p["prompt"]: p["gold"]}, "RL", 7)
    assert log["correct"].tolist() == [True, False] and log["answered"].tolist() == [True, False]
    assert (log["k"] == 3).all() and set(log["arm"]) == {"RL"} and set(log["seed"]) == {7}


def test_held_out_problems_are_fixed_by_the_seed_and_differ_between_seeds_and_levels():
    first, again, other = held_out(SETUP, 20), held_out(SETUP, 20), held_out(SETUP, 21)
    assert first == again and first != other
    assert [p["k"] in (7, 8) for p in first["hard"]] == [True] * 5
    assert SETUP.solvable == [2, 3, 4, 5]
    prompts = [p["prompt"] for ps in first.values() for p in ps]
    assert len(set(prompts)) > len(prompts) * 0.8 and np.isfinite(len(prompts))
