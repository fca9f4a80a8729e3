"""The calculator tool task (chapter 10): problems, the calculator and its environment, the teacher, the scoring."""

import numpy as np
import pytest

from casestudies.tasks import calculator as calc


def test_steps_do_products_first_then_sums_left_to_right():
    problem = calc.parse("Q 12 + 8 * 9 + 11")
    assert problem.steps() == [(8, "*", 9, 72), (12, "+", 72, 84), (84, "+", 11, 95)]
    assert calc.parse("Q 3 * 4 + 5 * 6").steps() == [(3, "*", 4, 12), (5, "*", 6, 30), (12, "+", 30, 42)]
    assert problem.budget == 4 and problem.prompt == "Q 12 + 8 * 9 + 11"


@pytest.mark.parametrize("operations", [2, 3])
def test_problems_evaluate_as_python_does_and_round_trip_through_the_prompt(operations):
    for problem in calc.problems(300, operations, seed=1):
        expression = problem.prompt.removeprefix("Q ")
        assert problem.value == eval(expression)  # an independent reference: Python's own precedence
        assert calc.parse(problem.prompt) == problem
        assert len(problem.operators) == operations and 0 < problem.value <= calc.MAX_VALUE
        assert all(calc.LOW <= x <= calc.HIGH for x in problem.operands)
    assert calc.problems(5, operations, seed=3) == calc.problems(5, operations, seed=3)


@pytest.mark.parametrize("bad", ["Q 3 *", "3 * 4 + 5", "Q 3 * x + 5", "Q 3 - 4 + 5", "Q 3 * 4 * 5"])
def test_bad_prompts_are_refused_with_a_message(bad):
    with pytest.raises(ValueError):
        calc.parse(bad)


def test_the_calculator_answers_well_formed_calls_only():
    assert calc.calculator(["7", "*", "8"]) == "56"
    assert calc.calculator(["7", "+", "8"]) == "15"
    for call in (["7", "*"], ["7", "8"], ["7", "*", "+"], ["ANS", "*", "8"], [], ["20", "*", "20"]):
        assert calc.calculator(call) == calc.ERROR, call


def test_the_environment_replies_after_a_call_and_ends_the_episode_past_the_budget():
    problem = calc.parse("Q 7 * 8 + 3")

    def reply(completion):
        return calc.environment(problem, completion.split())

    assert reply("CALL 7 *") == ([], False)
    assert reply("CALL 7 * 8 ;") == (["->", "56"], False)
    assert reply("CALL 7 * 8 ; -> 56 CALL 56 ;") == (["->", "ERR"], False)
    assert reply("CALL 7 * 8 ; -> 56 ;") == (["->", "ERR"], False)  # no call to run
    assert reply("CALL 7 ; -> ERR CALL 7 8 ; -> ERR CALL 7 * 8 ; -> 56 CALL 56 + 3 ;") == ([], True)


@pytest.mark.parametrize("operations", [2, 3])
def test_teacher_demonstrations_replay_through_the_environment_and_score_as_right(operations):
    rng = np.random.default_rng(0)
    problems = calc.problems(400, operations, seed=2)
    scores = []
    for problem in problems:
        completion = calc.teacher(problem, 0.5, rng)
        words, replayed, i = completion.split(), [], 0
        while i < len(words):  # the model's words in order; the environment must reply as the teacher wrote
            if words[i] == "->":
                i += 2
                continue
            replayed.append(words[i])
            i += 1
            reply, stop = calc.environment(problem, replayed)
            assert not stop
            replayed += reply
        assert replayed == words
        scores.append(calc.score(problem, completion))
    scores = {k: np.array([s[k] for s in scores]) for k in scores[0]}
    assert scores["correct"].all() and not scores["p_format"].any() and not scores["exhausted"].any()
    assert set(scores["errors"]) == {0, 1}
    assert abs(scores["errors"].mean() - 0.5) < 4 * np.sqrt(0.25 / len(problems))
    assert (scores["calls"] == operations + scores["errors"]).all()


def test_a_teacher_without_malformed_calls_makes_none():
    rng = np.random.default_rng(0)
    for problem in calc.problems(50, 2, seed=4):
        s = calc.score(problem, calc.teacher(problem, 0.0, rng))
        assert s["errors"] == 0 and s["p_err"] == 0 and s["calls"] == 2
    with pytest.raises(ValueError):
        calc.teacher(problem, 1.5, rng)


def test_score_on_crafted_completions():
    problem = calc.parse("Q 7 * 8 + 3")
    clean = calc.score(problem, "CALL 7 * 8 ; -> 56 CALL 56 + 3 ; -> 59 ANS 59")
    assert clean == {
        "correct": 1.0,
        "calls": 2,
        "errors": 0,
        "p_err": 0.0,
        "p_format": 0.0,
        "exhausted": 0.0,
        "length": 12,
        "wasted": 0,
    }
    retried = calc.score(problem, "CALL 7 * ; -> ERR CALL 7 * 8 ; -> 56 CALL 56 + 3 ; -> 59 ANS 59")
    assert retried["correct"] == 1 and retried["errors"] == 1 and retried["p_err"] == pytest.approx(1 / 3)
    assert retried["wasted"] == 4 and retried["length"] == 16  # 'CALL 7 * ;' wasted four words
    late = calc.score(problem, "CALL 7 * 8 ; -> 56 CALL 56 + 3 3 ; -> ERR CALL 56 + 3 ; -> 59 ANS 59")
    assert late["wasted"] == 6 and late["errors"] == 1
    assert calc.score(problem, "ANS 59")["p_err"] == 0.5  # no call at all, as in rStar2-Agent
    assert calc.score(problem, "CALL 7 * 8 ; -> 56 ANS 57")["correct"] == 0
    twice = calc.score(problem, "CALL 7 * 8 ; -> 56 ANS 56 ANS 59")
    assert twice["correct"] == 0 and twice["p_format"] == 1
    unanswered = calc.score(problem, "CALL 7 * 8 ; -> 56 CALL 56 + 3 ; -> 59")
    assert unanswered["correct"] == 0 and unanswered["p_format"] == 1
    forged = calc.score(problem, "CALL 7 * 8 ; -> 56 -> ERR CALL 56 + 3 ; -> 59 ANS 59")  # the model wrote '-> ERR'
    assert forged["calls"] == 2 and forged["errors"] == 0 and forged["length"] == 14
    spent = calc.score(problem, "CALL 7 ; -> ERR CALL 7 8 ; -> ERR CALL 7 * 8 ; -> 56 CALL 56 + 3 ;")
    assert spent["exhausted"] == 1 and spent["errors"] == 2 and spent["correct"] == 0


def test_the_forced_prefix_is_one_malformed_first_call_already_refused():
    rng = np.random.default_rng(0)
    for problem in calc.problems(50, 2, seed=5):
        prefix = calc.forced_error(problem, rng)
        x, op, y, _ = problem.steps()[0]
        assert prefix in (f"CALL {x} {op} ; -> ERR", f"CALL {x} {y} ; -> ERR")
        words = prefix.split()
        assert calc.environment(problem, words[:-2]) == (["->", calc.ERROR], False)


def test_warmup_items_start_with_a_space_and_are_seeded():
    problems = calc.problems(20, 2, seed=6)
    items = calc.warmup_items(problems, 0.4, seed=1)
    assert all(item["completion"].startswith(" CALL") for item in items)
    assert items == calc.warmup_items(problems, 0.4, seed=1)
    assert [item["prompt"] for item in items] == [p.prompt for p in problems]


def test_all_problems_is_the_whole_space_the_generator_draws_from():
    two = calc.all_problems(2)
    assert len(two) == len(set(two)) == 11**3 * 2 == 2662
    assert set(calc.problems(3000, 2, seed=8)) <= set(two)
    assert len(calc.all_problems(3)) == 11**4 * 4
    with pytest.raises(ValueError, match="operations"):
        calc.all_problems(4)


def test_held_out_leaves_out_exactly_the_seen_problems():
    seen = calc.problems(800, 2, seed=9)
    rest = calc.held_out(seen)
    assert not set(rest) & set(seen)
    assert len(rest) == 2662 - len(set(seen))
    assert rest == [p for p in calc.all_problems(2) if p in set(rest)]  # the fixed order
    assert calc.held_out([]) == calc.all_problems(2)


def test_environment_and_max_words_take_the_prompt_itself():
    problem = calc.parse("Q 7 * 8 + 3")
    for words in (["CALL", "7", "*", "8", ";"], ["CALL", "7", ";"], ["CALL", "7"]):
        assert calc.environment(problem.prompt, words) == calc.environment(problem, words)
    assert calc.max_words(problem.prompt) == calc.max_words(problem) == 24


CRAFTED = [  # (completion, for "Q 7 * 8 + 3" = 59)
    "CALL 7 * 8 ; -> 56 CALL 56 + 3 ; -> 59 ANS 59",  # right, clean: 12 words
    "CALL 7 * ; -> ERR CALL 7 * 8 ; -> 56 CALL 56 + 3 ; -> 59 ANS 59",  # right, one refused call of 4 words
    "CALL 7 8 ; -> ERR CALL 7 * 8 ; -> 56 CALL 56 + 3 ; -> 59 ANS 60",  # wrong, one refused call
    "CALL 7 * 8 ; -> 56 CALL 56 + 3 ; -> 59 ANS 58",  # wrong, clean
    "CALL 7 ; -> ERR CALL 7 8 ; -> ERR CALL 7 * 8 ; -> 56 CALL 56 + 3 ;",  # budget exhausted, no answer
]


def test_summarize_on_a_crafted_score_table_counted_by_hand():
    problem = calc.parse("Q 7 * 8 + 3")
    scores = calc.score_table([problem] * 5, CRAFTED)
    assert list(scores.columns) == list(calc.SCORE_FIELDS) and len(scores) == 5
    s = calc.summarize(scores)
    assert s["accuracy"] == pytest.approx(2 / 5)
    # calls the calculator answered: 2, 3, 3, 2, 3 = 13; refused: 0, 1, 1, 0, 2 = 4
    assert s["error_rate"] == pytest.approx(4 / 13)
    assert s["errors_in_successes"] == pytest.approx(1 / 2)
    assert s["call_errors_in_successes"] == pytest.approx(1 / 5)  # 1 refused of the 2 + 3 calls in right answers
    assert s["lost_to_errors"] == pytest.approx(2 / 5)  # episodes 3 and 5: a refused call, and wrong
    assert s["wrong_without_error"] == pytest.approx(1 / 5)  # episode 4
    assert s["natural_recovery"] == pytest.approx(1 / 3)  # of the three with a refused call, one ends right
    assert s["exhausted"] == pytest.approx(1 / 5) and s["malformed_answer"] == pytest.approx(1 / 5)
    # words the model wrote: 12, 16, 16, 12, 17 (its last call got no reply); in refused calls: 0, 4, 4, 0, 3 + 4
    assert s["length"] == pytest.approx((12 + 16 + 16 + 12 + 17) / 5)
    assert s["length_without_errors"] == pytest.approx((12 + 12 + 12 + 12 + 10) / 5)


def test_summarize_leaves_undefined_shares_undefined():
    problem = calc.parse("Q 7 * 8 + 3")
    clean_wrong = calc.summarize(calc.score_table([problem], [CRAFTED[3]]))
    assert np.isnan(clean_wrong["natural_recovery"]) and np.isnan(clean_wrong["errors_in_successes"])
    assert clean_wrong["lost_to_errors"] == 0 and clean_wrong["wrong_without_error"] == 1
    with pytest.raises(ValueError, match="no episodes"):
        calc.summarize(calc.score_table([], []))


def test_recovery_compares_the_same_problems_with_and_without_the_forced_error():
    problem = calc.parse("Q 7 * 8 + 3")
    unforced = calc.score_table([problem] * 4, [CRAFTED[0], CRAFTED[0], CRAFTED[1], CRAFTED[3]])  # 3 of 4 right
    forced = calc.score_table([problem] * 4, [CRAFTED[1], CRAFTED[2], CRAFTED[4], CRAFTED[1]])  # 2 of 4 right
    assert calc.recovery(unforced, forced) == pytest.approx({"recovery": 0.5, "recovery_gap": -0.25})
    with pytest.raises(ValueError, match="same problems"):
        calc.recovery(unforced, forced.iloc[:3])
