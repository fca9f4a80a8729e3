"""Column addition in several styles (chapter 12): the generator, the teacher's styles and the judge."""

import math

import pytest

from casestudies.tasks import addition as ad


def test_problems_are_distinct_seeded_sized_and_respect_the_exclusions():
    train = ad.problems(500, 3, seed=0)
    assert train == ad.problems(500, 3, seed=0) and train != ad.problems(500, 3, seed=1)
    assert len(set(train)) == 500 and all(100 <= p.a <= 999 and 100 <= p.b <= 999 for p in train)
    test = ad.problems(200, 3, seed=1, exclude=set(train))
    assert not set(test) & set(train)
    assert all(p.digits == 4 for p in ad.problems(50, 4, seed=2))
    with pytest.raises(ValueError, match="only 81"):
        ad.problems(82, 1, seed=0)


def test_the_styles_are_written_as_documented():
    p = ad.Problem(347, 589)
    assert p.prompt == "Q 3 4 7 + 5 8 9 ="
    assert ad.response(p, "answer") == "A 9 3 6"
    assert ad.response(p, "rl") == "7 + 9 = 1 6 , 4 + 8 + 1 = 1 3 , 3 + 5 + 1 = 9 , A 9 3 6"
    assert ad.response(p, "rl_check") == "7 + 9 = 1 6 , 4 + 8 + 1 = 1 3 , 3 + 5 + 1 = 9 , check 5 4 0 ok , A 9 3 6"
    assert ad.response(p, "lr") == "3 + 5 + 1 = 9 , 4 + 8 + 1 = 3 , 7 + 9 = 6 , A 9 3 6"
    assert ad.response(ad.Problem(947, 589), "lr") == "1 , 9 + 5 + 1 = 5 , 4 + 8 + 1 = 3 , 7 + 9 = 6 , A 1 5 3 6"
    with pytest.raises(ValueError, match="unknown style"):
        ad.response(p, "ltr")


@pytest.mark.parametrize("digits", [1, 2, 3, 4])
def test_every_teacher_response_is_judged_correct_valid_and_consistent(digits):
    for p in ad.problems(60, digits, seed=digits):
        for style in ad.STYLES:
            text = ad.response(p, style)
            judged = ad.judge(p, text)
            assert judged["correct"] and judged["columns_valid"] in (True, None), (p, style, judged)
            assert judged["check_valid"] is (True if style == "rl_check" else None)
            assert judged["consistent"] in (True, None)
            # a no-carry problem with mirrored digits reads the same either way: then the texts are identical
            assert judged["style"] == style or text == ad.response(p, judged["style"])


P = ad.Problem(347, 589)


@pytest.mark.parametrize(
    ("text", "style", "correct", "valid", "consistent", "check"),
    [
        ("A 9 3 7", "answer", False, None, None, None),
        # right steps, wrong final answer: the answer does not follow from the steps
        ("7 + 9 = 1 6 , 4 + 8 + 1 = 1 3 , 3 + 5 + 1 = 9 , A 9 3 7", "rl", False, True, False, None),
        # a dropped carry: the steps are wrong and imply 926, so the right answer does not follow from them
        ("7 + 9 = 1 6 , 4 + 8 = 1 2 , 3 + 5 + 1 = 9 , A 9 3 6", "rl", True, False, False, None),
        # a miscopied digit (4 + 7 for 4 + 8) with a sum that is right for the miscopied digits
        ("7 + 9 = 1 6 , 4 + 7 + 1 = 1 2 , 3 + 5 + 1 = 9 , A 9 2 6", "rl", False, False, True, None),
        # left to right without looking ahead: no carries at all, a consistent but wrong answer
        ("3 + 5 = 8 , 4 + 8 = 2 , 7 + 9 = 6 , A 8 2 6", "lr", False, False, True, None),
        # a check with a wrong residue: the columns stay valid, the check does not
        (
            "7 + 9 = 1 6 , 4 + 8 + 1 = 1 3 , 3 + 5 + 1 = 9 , check 5 4 1 ok , A 9 3 6",
            "rl_check",
            True,
            True,
            True,
            False,
        ),
        # a right check after a wrong column: the check stays valid, the columns do not
        ("7 + 9 = 1 6 , 4 + 8 = 1 2 , 3 + 5 + 1 = 9 , check 5 4 0 ok , A 9 2 6", "rl_check", False, False, True, True),
        # a leading 1 that the sum does not have
        ("1 , 3 + 5 + 1 = 9 , 4 + 8 + 1 = 3 , 7 + 9 = 6 , A 1 9 3 6", "lr", False, False, True, None),
        # a leading 1 belongs to the left-to-right style only; a check does not make it valid
        (
            "1 , 7 + 9 = 1 6 , 4 + 8 + 1 = 1 3 , 3 + 5 + 1 = 9 , check 5 4 0 ok , A 9 3 6",
            "rl_check",
            True,
            False,
            True,
            True,
        ),
        # left to right writes one digit per column, and no number is written with a leading zero
        ("0 9 , 4 + 8 + 1 = 0 3 , 7 + 9 = 0 6 , A 9 3 6", "malformed", False, None, None, None),
        ("3 + 5 + 1 = 0 9 , 4 + 8 + 1 = 3 , 7 + 9 = 6 , A 9 3 6", "lr", True, False, True, None),
        ("7 + 9 = 1 6 , 4 + 8 + 1 = 1 3 , 3 + 5 + 1 = 0 9 , A 9 3 6", "rl", True, False, True, None),
        ("7 + 9 = 1 6 , 4 + 8", "malformed", False, None, None, None),
        ("7 + 9 = 1 6 4 + 8 + 1 = 1 3 , A 9 3 6", "malformed", False, None, None, None),
        ("A", "malformed", False, None, None, None),
        ("A 0 9", "malformed", False, None, None, None),
    ],
)
def test_judge_on_crafted_responses(text, style, correct, valid, consistent, check):
    assert ad.judge(P, text) == {
        "style": style,
        "correct": correct,
        "columns_valid": valid,
        "check_valid": check,
        "consistent": consistent,
    }


def test_summarise_on_crafted_judged_responses():
    texts = [
        "A 9 3 6",  # answer only, right
        "7 + 9 = 1 6 , 4 + 8 + 1 = 1 3 , 3 + 5 + 1 = 9 , check 5 4 1 ok , A 9 3 6",  # wrong check, right columns
        "7 + 9 = 1 6 , 4 + 8 + 1 = 1 3 , 3 + 5 + 1 = 9 , check 5 4 0 ok , A 9 3 6",  # all right
        "7 + 9 = 1 6 , 4 + 8 = 1 2 , 3 + 5 + 1 = 9 , A 9 2 6",  # dropped carry, consistent, wrong
        "7 + 9 = 1 6 , 4 + 8",  # malformed
    ]
    summary = ad.summarise([ad.judge(P, t) for t in texts])
    assert summary["exact"] == pytest.approx(3 / 5)
    assert summary["malformed"] == pytest.approx(1 / 5)
    assert summary["shows_steps"] == pytest.approx(3 / 5)
    assert summary["columns_valid"] == pytest.approx(2 / 3)
    assert summary["check_valid"] == pytest.approx(1 / 2)  # among the two responses with a check
    assert summary["steps_valid"] == pytest.approx(1 / 3)  # columns and check both right: only the third
    assert summary["consistent"] == pytest.approx(1.0)
    assert [summary[f"wrote_{s}"] for s in ad.STYLES] == pytest.approx([1 / 5, 1 / 5, 2 / 5, 0])
    answers_only = ad.summarise([ad.judge(P, "A 9 3 6"), ad.judge(P, "A 9 3 7")])
    assert answers_only["exact"] == 0.5 and answers_only["shows_steps"] == 0
    assert math.isnan(answers_only["columns_valid"]) and math.isnan(answers_only["check_valid"])
    with pytest.raises(ValueError, match="at least one"):
        ad.summarise([])


def test_residues_are_the_casting_out_nines_check():
    for p in ad.problems(100, 3, seed=5):
        a, b, s = ad.residues(p)
        assert (a + b) % 9 == s and a == sum(map(int, str(p.a))) % 9


def test_check_lookahead_carries_accepts_a_right_answer_and_names_the_case_a_wrong_one_misses():
    from casestudies.exercises import ExerciseError, check_lookahead_carries

    def ripple(a, b):
        out, carry = [], 0
        for x, y in zip(reversed(str(a)), reversed(str(b)), strict=True):
            out.append(carry)
            carry = (int(x) + int(y) + carry) // 10
        return out[::-1]

    def next_column_only(a, b):  # looks one column ahead: misses carries passed on by a 9
        pairs = list(zip(str(a), str(b), strict=True))
        return [int(int(x) + int(y) >= 10) for x, y in pairs[1:]] + [0]

    assert check_lookahead_carries(ripple).startswith("ok")
    with pytest.raises(ExerciseError, match="ripples through a column"):
        check_lookahead_carries(next_column_only)
    with pytest.raises(ExerciseError, match="return a list"):
        check_lookahead_carries(lambda a, b: "carry")
    with pytest.raises(ExerciseError, match="expected"):
        check_lookahead_carries(lambda a, b: ripple(a, b)[::-1])
