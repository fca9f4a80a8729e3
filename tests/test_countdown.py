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
            if style == "honest":  # searched before NONE: one or two wrong paths, each noticed
                assert completion.endswith(" BACK , NONE") and 1 <= verdict["backs"] <= 2 and verdict["noticed"]
            else:
                assert (context, completion) == ("", " NONE")
            continue
        backs = {"optimal": 0, "retry": 1, "retry_masked": 1}.get(style)
        limit = 2 if style == "honest" else 3
        assert verdict["backs"] == backs if backs is not None else 1 <= verdict["backs"] <= limit
        assert verdict["recovered"] == verdict["first_failed"] == (verdict["backs"] > 0)
        if style == "retry_masked":
            assert "BACK" not in context and completion.startswith(" BACK , ")
    with pytest.raises(ValueError):
        cd.trace(p, "best", rng)


def test_every_style_draws_the_same_numbers_so_arms_write_the_same_solutions():
    for p in cd.problems(40, seed=3, unsolvable_share=0.3):
        states, solutions = set(), set()
        for style in cd.STYLES:
            rng = np.random.default_rng(5)
            _, completion = cd.trace(p, style, rng)
            states.add(rng.random())  # the generator's next draw: the same after every style
            solutions.add(completion.split("BACK ,")[-1])
        assert len(states) == 1 and len(solutions) == 1


def test_judge_on_crafted_completions():
    p = cd.Problem((3, 5, 2), 16)
    assert cd.judge(p, "3 + 5 = 8 , 8 * 2 = 16 SOLVED")["outcome"] == "solved"
    fabricated = cd.judge(p, "3 + 5 = 8 , 8 + 2 = 16 SOLVED")
    assert fabricated["outcome"] == "false claim" and fabricated["miscalculated"] and not fabricated["illegal"]
    wrong_end = cd.judge(p, "3 * 5 = 15 , 15 - 2 = 13 SOLVED")
    assert wrong_end["outcome"] == "false claim" and not wrong_end["miscalculated"] and wrong_end["first_failed"]
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


# Hand-written traces for (3, 5, 2) -> 16 (solvable: 3 + 5 = 8, 8 * 2 = 16) and (1, 1, 1) -> 29 (no solution).
P, NO = cd.Problem((3, 5, 2), 16), cd.Problem((1, 1, 1), 29)
TRACES = [
    (P, "3 + 5 = 8 , 8 + 2 = 16 SOLVED"),  # fabricated: the target written over wrong arithmetic
    (P, "3 * 5 = 15 , 15 - 2 = 13 , BACK , 3 * 5 = 15 , 15 + 2 = 17 SOLVED"),  # a wrong end claimed after BACK
    (P, "3 * 5 = 15 , 15 - 2 = 13 , BACK , 3 + 5 = 8 , 8 * 2 = 16 SOLVED"),  # a dead end, recovered
    (NO, "NONE"),  # NONE on a problem with no solution
    (P, "3 * 5 = 15 , 15 - 2 = 13 SOLVED"),  # a wrong end claimed with no BACK
    (P, "3 + 5 = 8 , 8 * 2 = 16 SOLVED"),  # a clean solution
    (NO, "1 + 1 = 2 , 2 + 1 = 29 SOLVED"),  # an invented solution
    (P, "BACK , 3 + 5 = 8 , 8 * 2 = 16 SOLVED"),  # a bare BACK starts no path: no failed first path
]


def test_the_first_path_judge_on_hand_written_traces():
    fabricated, back_then_wrong, recovered, none, wrong_end, clean, invented, bare_back = (
        cd.judge(p, t) for p, t in TRACES
    )
    # a fabricated claim ends on the target, and its first path failed all the same, unnoticed
    assert fabricated["first_failed"] and not fabricated["noticed"] and not fabricated["recovered"]
    assert fabricated["outcome"] == "false claim" and fabricated["miscalculated"] and fabricated["backs"] == 0
    # a wrong-end claim after BACK: the first failure was noticed, the claimed path is sound but misses
    assert back_then_wrong["first_failed"] and back_then_wrong["noticed"] and not back_then_wrong["recovered"]
    assert (
        back_then_wrong["outcome"] == "false claim" and back_then_wrong["wrong_end"] and back_then_wrong["backs"] == 1
    )
    # a recovered dead end
    assert recovered["first_failed"] and recovered["noticed"] and recovered["recovered"]
    # NONE on an unsolvable problem: right, and no path written, so no failed first path
    assert none["right"] and none["outcome"] == "none" and not none["first_failed"] and none["backs"] == 0
    assert wrong_end["first_failed"] and not wrong_end["noticed"] and wrong_end["wrong_end"]
    assert not clean["first_failed"] and not bare_back["first_failed"] and bare_back["outcome"] == "solved"
    assert invented["outcome"] == "false claim" and not invented["right"]
    # a failed path followed by the claim NONE was noticed (given up on, not claimed)
    assert cd.judge(P, "3 * 5 = 15 , 15 - 2 = 13 NONE")["noticed"]


def test_summarize_counts_the_hand_written_traces():
    problems, texts = zip(*TRACES, strict=True)
    judged = cd.judge_all(problems, texts)
    got = cd.summarize(judged, judged["solvable"])
    # six solvable problems: two solved (recovered, clean, bare BACK: three), three false claims, no NONE
    assert got["solve_rate"] == pytest.approx(3 / 6) and got["false_claims"] == pytest.approx(3 / 6)
    assert got["none_on_solvable"] == 0 and got["malformed"] == 0
    assert got["invented"] == pytest.approx(1 / 2)  # of the two unsolvable problems, one claimed SOLVED
    assert got["claim_precision"] == pytest.approx(3 / 7)  # seven SOLVED claims, three true
    # the three false claims on solvable problems: fabricated; wrong end after BACK; wrong end with no BACK
    assert got["fabricated_share"] == pytest.approx(1 / 3) and got["wrong_end_share"] == pytest.approx(2 / 3)
    assert got["illegal_share"] == 0
    assert got["false_after_back"] == pytest.approx(1 / 3) and got["wrong_end_no_back"] == pytest.approx(1 / 3)
    # failed first paths on solvable problems: fabricated, back-then-wrong, recovered, wrong end: four of six
    assert got["first_failed"] == pytest.approx(4 / 6)
    assert got["noticed"] == pytest.approx(2 / 4) and got["natural_recovery"] == pytest.approx(1 / 4)
    assert got["failed_false_claim"] == pytest.approx(3 / 4)
    empty = cd.summarize(judged[:0], [])
    assert all(np.isnan(v) for v in empty.values())  # a share of nothing is undefined, not zero
    with pytest.raises(ValueError, match="one solvable flag"):
        cd.summarize(judged, [True])


def test_the_reference_policies_are_judged_as_their_definitions_say():
    ps = cd.problems(60, seed=4, unsolvable_share=0.3)
    for policy, solve, invented in ((cd.solver, 1.0, 0.0), (cd.always_none, 0.0, 0.0)):
        judged = cd.judge_all(ps, [policy(p) for p in ps])
        got = cd.summarize(judged, judged["solvable"])
        assert got["solve_rate"] == solve and got["invented"] == invented and got["first_failed"] == 0
    assert cd.judge_all(ps, [cd.solver(p) for p in ps])["right"].all()


def test_all_problems_and_held_out_problems_are_disjoint_from_training():
    everything = cd.all_problems()
    assert len(everything) == len(set(everything)) == 6 * 6 * 6 * 28
    assert sum(p.solvable for p in everything) == sum(p.target in brute_force_values(p.numbers) for p in everything)
    train = cd.problems(300, seed=7, unsolvable_share=0.2)
    solvable, unsolvable = cd.held_out(train, 100, 30, np.random.default_rng(1))
    assert len(solvable) == 100 and len(unsolvable) == 30
    assert all(p.solvable for p in solvable) and not any(p.solvable for p in unsolvable)
    assert not set(solvable + unsolvable) & set(train) and len(set(solvable + unsolvable)) == 130
    again, _ = cd.held_out(train, 100, 30, np.random.default_rng(1))
    other, _ = cd.held_out(train, 100, 30, np.random.default_rng(2))
    assert again == solvable and other != solvable
    with pytest.raises(ValueError, match="only"):
        cd.held_out(train, 5000, 0, np.random.default_rng(1))
    seen = [cd.Problem((1, 2, 3), 6), cd.Problem((2, 1, 3), 7)]
    asked = [cd.Problem((2, 1, 3), 6), cd.Problem((1, 2, 3), 6), cd.Problem((1, 2, 3), 7), cd.Problem((1, 2, 4), 6)]
    assert cd.reorderings(asked, seen) == [True, False, True, False]  # the same order is not a reordering


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
