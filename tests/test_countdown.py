"""Countdown with three numbers (chapter 11): the rules, the generator, the traces and the judge."""

import itertools

import numpy as np
import pytest

from casestudies.tasks import countdown as cd


def test_apply_follows_the_games_rules():
    assert cd.apply(7, "+", 5) == 12 and cd.apply(7, "-", 5) == 2 and cd.apply(7, "*", 5) == 35
    assert cd.apply(12, "/", 4) == 3
    assert cd.apply(5, "-", 7) is None and cd.apply(7, "/", 2) is None and cd.apply(7, "/", 0) is None
    assert cd.apply(20, "*", 6) is None  # above the limit
    with pytest.raises(ValueError):
        cd.apply(2, "^", 3)


def brute_force_values(numbers):
    """Every value two steps can reach, by an independent enumeration over orders and operations."""
    values = set()
    for i, j, k in itertools.permutations(range(3)):
        for op1, op2 in itertools.product(cd.OPS, repeat=2):
            first = cd.apply(numbers[i], op1, numbers[j])
            if first is None:
                continue
            for a, b in ((first, numbers[k]), (numbers[k], first)):
                second = cd.apply(a, op2, b)
                if second is not None:
                    values.add(second)
    return values


@pytest.mark.parametrize("numbers", [(1, 2, 3), (6, 6, 2), (5, 1, 4), (3, 3, 3)])
def test_paths_reach_exactly_the_values_an_independent_enumeration_reaches(numbers):
    assert {p[-1][3] for p in cd.paths(numbers)} == brute_force_values(numbers)


def test_problems_are_distinct_seeded_and_labelled_right():
    ps = cd.problems(300, seed=1, unsolvable_share=0.3)
    assert len(set(ps)) == 300 and ps == cd.problems(300, seed=1, unsolvable_share=0.3)
    unsolvable = np.array([not p.solvable for p in ps])
    assert 0.2 < unsolvable.mean() < 0.4
    assert abs(unsolvable[:150].mean() - unsolvable[150:].mean()) < 0.15  # the share holds along the list
    for p in ps:
        assert (p.target in brute_force_values(p.numbers)) == p.solvable
        assert 3 <= p.target <= 30 and all(1 <= x <= 6 for x in p.numbers)
    with pytest.raises(ValueError, match="no new"):
        cd.problems(50, seed=0, targets=(3, 4), largest=2)


@pytest.mark.parametrize("style", cd.STYLES)
def test_every_training_trace_is_judged_right_and_its_dead_ends_are_real(style):
    rng = np.random.default_rng(0)
    for p in cd.problems(200, seed=2, unsolvable_share=0.2):
        context, completion = cd.trace(p, style, rng)
        verdict = cd.judge(p, context + completion)
        assert verdict["right"] and not verdict["miscalculated"] and not verdict["illegal"]
        if not p.solvable:
            assert (context, completion) == ("", " NONE")
            continue
        backs = {"optimal": 0, "retry": 1, "retry_masked": 1}.get(style)
        assert verdict["backs"] == backs if backs is not None else 1 <= verdict["backs"] <= 3
        assert verdict["recovered"] == (verdict["backs"] > 0)
        if style == "retry_masked":
            assert "BACK" not in context and completion.startswith(" BACK , ")
    with pytest.raises(ValueError):
        cd.trace(p, "best", rng)


def test_judge_on_crafted_completions():
    p = cd.Problem((3, 5, 2), 16)
    assert cd.judge(p, "3 + 5 = 8 , 8 * 2 = 16 SOLVED")["outcome"] == "solved"
    fabricated = cd.judge(p, "3 + 5 = 8 , 8 + 2 = 16 SOLVED")
    assert fabricated["outcome"] == "false claim" and fabricated["miscalculated"] and not fabricated["illegal"]
    wrong_end = cd.judge(p, "3 * 5 = 15 , 15 - 2 = 13 SOLVED")
    assert wrong_end["outcome"] == "false claim" and not wrong_end["miscalculated"] and wrong_end["first_dead"]
    reused = cd.judge(p, "3 + 5 = 8 , 8 * 2 = 16 , 16 * 1 = 16 SOLVED")
    assert reused["illegal"] and reused["outcome"] == "false claim"
    sloppy_dead_end = cd.judge(p, "3 * 5 = 16 , BACK , 3 + 5 = 8 , 8 * 2 = 16 SOLVED")  # only the claimed path counts
    assert sloppy_dead_end["outcome"] == "solved" and not sloppy_dead_end["miscalculated"]
    assert wrong_end["wrong_end"] and not fabricated["wrong_end"] and not reused["wrong_end"]
    recovered = cd.judge(p, "3 * 5 = 15 , 15 - 2 = 13 , BACK , 3 + 5 = 8 , 8 * 2 = 16 SOLVED")
    assert recovered["recovered"] and recovered["backs"] == 1 and recovered["outcome"] == "solved"
    assert cd.judge(p, "NONE")["outcome"] == "none" and not cd.judge(p, "NONE")["right"]
    assert cd.judge(cd.Problem((1, 1, 1), 29), "NONE")["right"]
    assert cd.judge(p, "3 + 5 = 8 , 8 *")["outcome"] == "malformed"
    assert cd.judge(p, "3 + = 8 SOLVED")["outcome"] == "malformed"


def test_check_path_verifier_accepts_the_judge_and_names_the_case_a_wrong_verifier_misses():
    from casestudies.exercises import ExerciseError, check_path_verifier

    def by_judge(numbers, target, path):
        text = cd.steps(path) + " SOLVED"
        return cd.judge(cd.Problem(tuple(numbers), target), text)["outcome"] == "solved"

    def ends_on_target(numbers, target, path):  # trusts the arithmetic it is shown
        return path[-1][3] == target

    assert check_path_verifier(by_judge).startswith("ok")
    with pytest.raises(ExerciseError, match="wrong arithmetic"):
        check_path_verifier(ends_on_target)
    with pytest.raises(ExerciseError, match="return True or False"):
        check_path_verifier(lambda n, t, p: "yes")
