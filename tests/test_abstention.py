"""The abstention task: generator invariants, parsing, the ternary reward and the evaluator on crafted completions."""

import numpy as np
import pandas as pd
import pytest

from casestudies.models import tiny_causal_lm, word_tokenizer
from casestudies.tasks import abstention as ab


def test_items_mix_answerable_and_unanswerable_in_the_stated_share():
    items = ab.sample_items(3000, (1, 2, 5), 0.25, seed=0)
    unanswerable = [it for it in items if it["size"] == 0]
    assert len(unanswerable) / len(items) == pytest.approx(0.25, abs=0.03)
    assert all(it["prompt"] == "pick :" and it["gold"] == "" for it in unanswerable)
    assert all(it["gold"] in it["candidates"] for it in items if it["size"] > 0)
    assert ab.sample_items(50, (2,), 0.5, seed=3) == ab.sample_items(50, (2,), 0.5, seed=3)
    assert all(it["size"] == 0 for it in ab.sample_items(20, (2,), 1.0, seed=0))
    assert all(it["size"] > 0 for it in ab.sample_items(20, (2,), 0.0, seed=0))


def test_warmup_abstains_on_empty_evidence_and_at_random_otherwise():
    items = ab.warmup_items(4000, (1, 10), 0.2, 0.3, seed=0)
    parsed = [ab.parse_response(it["completion"]) for it in items]
    assert all(p.count == it["size"] for p, it in zip(parsed, items, strict=True))
    assert all(p.abstained for p, it in zip(parsed, items, strict=True) if it["size"] == 0)
    rates = {
        size: np.mean([p.abstained for p, it in zip(parsed, items, strict=True) if it["size"] == size])
        for size in (1, 10)
    }
    assert rates[1] == pytest.approx(0.3, abs=0.04) and rates[10] == pytest.approx(0.3, abs=0.04)
    answered = [(p, it) for p, it in zip(parsed, items, strict=True) if it["size"] and not p.abstained]
    assert all(p.answer == it["gold"] for p, it in answered)


def test_parse_and_format():
    assert ab.format_response(3, "7") == "of 3 7"
    assert ab.parse_response("of 0 idk") == ab.Response(0, "idk")
    assert ab.parse_response("of 0 idk").abstained
    for bad in ("", "of 3", "of 3 7 7", "on 3 7", "of 11 7", "of 3 x"):
        assert not ab.parse_response(bad).well_formed
    with pytest.raises(ValueError):
        ab.format_response(3, "maybe")


def test_ternary_reward_hand_worked():
    reward = ab.ternary_reward(1.5)
    completions = ["of 2 3", "of 2 4", "of 2 idk", "of 0 idk", "of 0 5", "of two 3"]
    gold = ["3", "3", "3", "", "", "3"]
    assert reward(completions, gold) == pytest.approx([1.0, -1.5, 0.0, 0.0, -1.5, -2.5])
    assert ab.ternary_reward(0.0)(["of 0 5"], [""]) == [0.0]  # lambda = 0: guessing on empty evidence is free
    with pytest.raises(ValueError):
        ab.ternary_reward(-1)


@pytest.mark.parametrize("lam", [0.0, 0.4, 2 / 3, 1.5, 9.0])
def test_expected_reward_prefers_answering_exactly_above_the_threshold(lam):
    reward = ab.ternary_reward(lam)
    threshold = lam / (1 + lam)
    for size in range(1, 11):
        p = 1 / size
        answer = p * reward(["of 1 3"], ["3"])[0] + (1 - p) * reward(["of 1 4"], ["3"])[0]
        abstain = reward(["of 1 idk"], ["3"])[0]
        if p > threshold + 1e-9:
            assert answer > abstain
        elif p < threshold - 1e-9:
            assert answer < abstain


def test_evaluate_counts_right_wrong_and_abstentions(monkeypatch):
    answerable = {"prompt": "pick 3 7 :", "candidates": "37", "size": 2, "gold": "7"}
    unanswerable = {"prompt": "pick :", "candidates": "", "size": 0, "gold": ""}
    cases = [  # (item, completion, answer, count, well_formed, abstained, correct, wrong, in_set), by hand
        (answerable, "of 2 7", "7", 2, True, False, True, False, True),  # right
        (answerable, "of 2 3", "3", 2, True, False, False, True, True),  # wrong, inside the set
        (answerable, "of 5 9", "9", 5, True, False, False, True, False),  # wrong, outside the set
        (answerable, "of 2 idk", "idk", 2, True, True, False, False, False),  # abstained
        (answerable, "of 2", None, None, False, False, False, False, False),  # malformed
        (unanswerable, "of 0 idk", "idk", 0, True, True, False, False, False),  # abstained, as it should
        (unanswerable, "of 0 4", "4", 0, True, False, False, True, False),  # guessed on empty evidence
        (unanswerable, "idk", None, None, False, False, False, False, False),  # malformed
    ]
    items = [case[0] for case in cases]

    def fake_sample(model, tokenizer, prompts, max_new_tokens, seed, batch_size):
        assert prompts == [it["prompt"] for it in items] and max_new_tokens == ab.COMPLETION_TOKENS
        return [(case[1], None) for case in cases]

    monkeypatch.setattr(ab, "sample", fake_sample)
    frame = ab.evaluate(None, None, items, seed=0)
    columns = ["answer", "count", "well_formed", "abstained", "correct", "wrong", "in_set"]
    assert list(frame.columns) == ["size", "answerable", *columns]
    assert frame["size"].tolist() == [2, 2, 2, 2, 2, 0, 0, 0]
    assert frame["answerable"].tolist() == [True] * 5 + [False] * 3
    for row, case in zip(frame.itertuples(), cases, strict=True):
        for column, want in zip(columns, case[2:], strict=True):
            got = getattr(row, column)
            assert pd.isna(got) if want is None else got == want, (case[1], column)


def test_evaluate_on_a_model_is_seeded():
    tokenizer = word_tokenizer(ab.VOCABULARY)
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    items = ab.sample_items(30, (1, 3), 0.3, seed=0)
    frame = ab.evaluate(model, tokenizer, items, seed=0)
    assert len(frame) == 30 and frame.equals(ab.evaluate(model, tokenizer, items, seed=0))


def test_decision_regret_hand_worked():
    frame = pd.DataFrame(
        {
            "size": [1, 2, 2, 4, 0],
            "answerable": [True, True, True, True, False],
            "abstained": [False, True, False, False, True],
            "in_set": [True, False, True, False, False],
        }
    )
    # lambda = 1.5: optimum answers |S| = 1 (value 1) and abstains at |S| = 2, 4 (answering is worth
    # 0.5 - 0.75 = -0.25 and 0.25 - 1.125 = -0.875). Regrets: 0, 0, 0.25, 1.5 (answered outside the set).
    assert ab.decision_regret(frame, 1.5) == pytest.approx((0 + 0 + 0.25 + 1.5) / 4)
    # lambda = 0: answering is always optimal; abstaining at |S| = 2 loses 0.5, answering outside the set 0.25
    assert ab.decision_regret(frame, 0.0) == pytest.approx((0 + 0.5 + 0 + 0.25) / 4)
