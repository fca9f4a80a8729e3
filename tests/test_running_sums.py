"""The running-sums task: generator invariants, the worked solution's length against the budget, and the reward
and the shortcut labels on crafted completions."""

import math

import numpy as np
import pytest

from casestudies.models import word_tokenizer
from casestudies.tasks import running_sums as rs


def test_problems_are_seeded_and_their_answers_are_sums_modulo_ten():
    first = rs.problems(200, seed=3, lengths=[2, 5, 8])
    assert first == rs.problems(200, seed=3, lengths=[2, 5, 8])
    assert first != rs.problems(200, seed=4, lengths=[2, 5, 8])
    assert {p["k"] for p in first} == {2, 5, 8}
    for p in first:
        words = p["prompt"].split()
        assert len(words) == 2 * p["k"] + 1 and words[-1] == "="
        assert words[0::2][: p["k"]] == list(rs.PLACES[: p["k"]])
        assert [int(w) for w in words[1::2]] == p["digits"]
        assert p["gold"] == str(sum(p["digits"]) % 10)


@pytest.mark.parametrize("lengths", [[], [1], [rs.MAX_DIGITS + 1]])
def test_problems_refuse_lengths_out_of_range(lengths):
    with pytest.raises(ValueError, match="lengths"):
        rs.problems(5, seed=0, lengths=lengths)


def test_worked_solution_by_hand_and_its_length_in_tokens():
    problem = {"digits": [8, 6, 5, 2], "k": 4, "gold": "1"}
    assert rs.worked_solution(problem) == "b 6 4 c 5 9 d 2 1 ans 1"
    tokenizer = word_tokenizer(rs.VOCABULARY)
    for p in rs.problems(50, seed=0, lengths=range(2, rs.MAX_DIGITS + 1)):
        ids = tokenizer(rs.worked_solution(p), add_special_tokens=False).input_ids
        assert tokenizer.unk_token_id not in ids
        assert len(ids) + 1 == rs.honest_tokens(p["k"])  # plus the end of sequence


@pytest.mark.parametrize(
    ("completion", "answer", "expected"),
    [
        ("b 6 4 c 5 9 d 2 1 ans 1", "1", {"answered": True, "steps": 3, "skipped": False, "direct": False}),
        ("b 6 4 ans 1", "1", {"answered": True, "steps": 1, "skipped": True, "direct": False}),
        ("ans 7", "7", {"answered": True, "steps": 0, "skipped": True, "direct": True}),
        ("b 6 4 c 5 9 d 2", None, {"answered": False, "steps": 3, "skipped": False, "direct": False}),  # cut off
        ("b 6 4 c 5 9 ans", None, {"answered": False, "steps": 2, "skipped": False, "direct": False}),
        ("ans c", "c", {"answered": False, "steps": 0, "skipped": False, "direct": False}),
    ],
)
def test_describe_tells_skipped_from_cut_off_and_malformed(completion, answer, expected):
    assert rs.parse(completion)[1] == answer
    assert rs.describe(completion, k=4) == expected


def test_the_reward_reads_only_the_answer():
    completions = ["b 6 4 c 5 9 d 2 1 ans 1", "ans 1", "b 6 4 c 5 9 d 2 1 ans 2", "b 6 4 c 5 9 d 2 1", ""]
    assert rs.correctness_reward(completions, ["1"] * 5) == [1.0, 1.0, 0.0, 0.0, 0.0]
    rows = rs.score(completions[:2], [{"k": 4, "gold": "1"}] * 2)
    assert [r["correct"] for r in rows] == [True, True] and [r["skipped"] for r in rows] == [False, True]


def test_pretraining_items_mix_worked_and_direct_answers():
    items = rs.pretraining_items(2000, seed=0, lengths=[3, 6], direct_share=0.1)
    direct = [it["completion"] == f" ans {it['gold']}" for it in items]
    assert 0.08 < np.mean(direct) < 0.12
    assert all(d or it["completion"] == " " + rs.worked_solution(it) for d, it in zip(direct, items, strict=True))
    assert not any(it["completion"].startswith(" ans") for it in rs.pretraining_items(200, 0, [3], 0.0))
    with pytest.raises(ValueError, match="direct_share"):
        rs.pretraining_items(10, seed=0, lengths=[3], direct_share=1.5)


def test_answer_entropy_by_hand():
    assert rs.answer_entropy(list("0123456789")) == pytest.approx(math.log2(10))
    assert rs.answer_entropy(["3"] * 5 + [None]) == 0.0
    assert rs.answer_entropy(["1", "1", "2", "2"]) == pytest.approx(1.0)
    assert math.isnan(rs.answer_entropy([None, None]))
