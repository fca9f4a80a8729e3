"""The candidate-set task: generator, parser, rewards and evaluator on crafted completions; the scoring-rule checker."""

import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import chisquare

from casestudies.exercises import ExerciseError, check_scoring_rule
from casestudies.models import tiny_causal_lm, word_tokenizer
from casestudies.tasks import candidate_set as cs
from casestudies.tasks.candidate_set import FORMAT_PENALTY, binary_reward, brier_rule, calibration_reward, log_rule

COMPLETIONS = ["3 of 2 1.0", "3 of 2 0.5", "4 of 2 0.0", "4 of 2 1.0", "3 of two"]
GOLD = ["3", "3", "3", "3", "3"]


def test_items_satisfy_the_task_invariants():
    items = cs.sample_items(500, (1, 2, 5, 10), seed=0)
    for it in items:
        assert len(it["candidates"]) == it["size"] == len(set(it["candidates"]))
        assert it["gold"] in it["candidates"]
        assert list(it["candidates"]) == sorted(it["candidates"])
        assert it["prompt"] == " ".join(["pick", *it["candidates"], ":"])
    assert {it["size"] for it in items} == {1, 2, 5, 10}
    assert cs.sample_items(5, (2,), seed=1) == cs.sample_items(5, (2,), seed=1)
    assert cs.sample_items(5, (2,), seed=1) != cs.sample_items(5, (2,), seed=2)


def test_gold_is_uniform_within_the_set():
    items = cs.sample_items(4000, (2,), seed=0)
    first = np.mean([it["gold"] == it["candidates"][0] for it in items])
    assert first == pytest.approx(0.5, abs=0.03)  # 4 sd of a binomial(4000, .5) share is 0.032


def test_format_and_parse_round_trip():
    text = cs.format_completion("7", 3, 0.3)
    assert text == "7 of 3 0.3"
    assert cs.parse_completion(text) == cs.Completion("7", 3, 0.3)
    assert cs.parse_completion(f"  {text} ").well_formed


@pytest.mark.parametrize(
    "text", ["", "7 of 3", "7 on 3 0.3", "x of 3 0.3", "7 of 11 0.3", "7 of 3 0.35", "7 of 3 0.3 0.3"]
)
def test_malformed_completions_parse_to_nothing(text):
    parsed = cs.parse_completion(text)
    assert not parsed.well_formed and parsed == cs.Completion(None, None, None)


@pytest.mark.parametrize(
    ("args", "match"), [(("a", 3, 0.3), "digit"), (("7", 11, 0.3), "count"), (("7", 3, 0.35), "confidence")]
)
def test_format_rejects_bad_values(args, match):
    with pytest.raises(ValueError, match=match):
        cs.format_completion(*args)


def test_bad_generator_arguments_fail_clearly():
    with pytest.raises(ValueError, match="sizes"):
        cs.sample_items(3, (0, 11), seed=0)
    with pytest.raises(ValueError, match="positive"):
        cs.sample_items(0, (2,), seed=0)
    with pytest.raises(ValueError, match="distinct"):
        cs.make_prompt("337")


def test_warmup_teaches_count_and_gold_with_uninformative_confidence():
    items = cs.warmup_items(2200, range(1, 11), seed=0)
    parsed = [cs.parse_completion(it["completion"]) for it in items]
    assert all(p.answer == it["gold"] and p.count == it["size"] for p, it in zip(parsed, items, strict=True))
    levels = Counter(p.confidence for p in parsed)
    assert set(levels) == set(cs.CONFIDENCE_LEVELS)
    assert chisquare(list(levels.values())).pvalue > 1e-3  # uniform over the eleven levels
    # the stated confidence carries no information about the set size
    small = np.mean([p.confidence for p, it in zip(parsed, items, strict=True) if it["size"] == 1])
    large = np.mean([p.confidence for p, it in zip(parsed, items, strict=True) if it["size"] == 10])
    assert abs(small - large) < 0.1


def test_confident_warmup_states_certainty_at_the_asked_share_whatever_the_size():
    items = cs.warmup_items(4000, range(1, 11), seed=0, certain_share=0.5)
    parsed = [cs.parse_completion(it["completion"]) for it in items]
    stated = np.array([p.confidence for p in parsed])
    # 1.0 with probability 0.5 + 0.5/11, every other level with probability 0.5/11
    assert np.mean(stated == 1.0) == pytest.approx(0.5 + 0.5 / 11, abs=0.025)
    assert set(stated) == set(cs.CONFIDENCE_LEVELS)
    sizes = np.array([it["size"] for it in items])
    assert abs(stated[sizes == 1].mean() - stated[sizes == 10].mean()) < 0.06
    with pytest.raises(ValueError, match="certain_share"):
        cs.warmup_items(3, (2,), seed=0, certain_share=1.5)


def test_evaluate_scores_crafted_completions(monkeypatch):
    tokenizer = word_tokenizer(cs.VOCABULARY)
    items = [
        {"prompt": "pick 3 7 :", "candidates": "37", "size": 2, "gold": "7"},
        {"prompt": "pick 3 7 :", "candidates": "37", "size": 2, "gold": "7"},
        {"prompt": "pick 1 5 9 :", "candidates": "159", "size": 3, "gold": "1"},
        {"prompt": "pick 4 :", "candidates": "4", "size": 1, "gold": "4"},
    ]
    texts = ["7 of 2 0.5", "3 of 3 1.0", "2 of 3 0.3", "4 of one 1.0"]  # right; wrong in the set; outside; malformed
    probs = torch.zeros(len(items), len(tokenizer))  # first-token probabilities, by token id
    for row, digit_probs in enumerate(
        [{"3": 0.25, "7": 0.5, "0": 0.25}, {"3": 0.4, "7": 0.1, "8": 0.5}, {"1": 0.2, "2": 0.3, "9": 0.1}, {"4": 0.9}]
    ):
        for digit, p in digit_probs.items():
            probs[row, tokenizer.convert_tokens_to_ids(digit)] = p
    probs[:, tokenizer.convert_tokens_to_ids("of")] = 1 - probs.sum(dim=1)  # the rest on a non-digit token

    def fake_sample(model, tok, prompts, max_new_tokens, seed, batch_size):
        assert prompts == [it["prompt"] for it in items] and max_new_tokens == cs.COMPLETION_TOKENS
        return zip(texts, probs, strict=True)

    monkeypatch.setattr(cs, "sample", fake_sample)
    frame = cs.evaluate(None, tokenizer, items, seed=0)
    nan = float("nan")  # missing: None or NaN, as pandas stores it
    expected = {
        "size": [2, 2, 3, 1],
        "gold": ["7", "7", "1", "4"],
        "answer": ["7", "3", "2", None],
        "count": [2, 3, 3, None],
        "confidence": [0.5, 1.0, 0.3, None],
        "well_formed": [True, True, True, False],
        "correct": [True, False, False, False],
        "in_set": [True, True, False, False],
        "answer_prob": [0.5, 0.4, 0.3, nan],  # the probability of the answer's own digit
        "candidate_mass": [0.75, 0.5, 0.3, 0.9],  # 3+7; 3+7; 1+5+9; 4
    }
    assert list(frame.columns) == list(expected)
    for column, values in expected.items():
        for got, want in zip(frame[column].tolist(), values, strict=True):
            assert pd.isna(got) if want is None or want != want else got == pytest.approx(want, abs=1e-6), column


def test_evaluate_on_a_model_is_seeded():
    tokenizer = word_tokenizer(cs.VOCABULARY)
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    items = cs.sample_items(40, (1, 3), seed=0)
    frame = cs.evaluate(model, tokenizer, items, seed=0, batch_size=16)
    assert len(frame) == 40 and frame["candidate_mass"].between(0, 1).all()
    assert frame.equals(cs.evaluate(model, tokenizer, items, seed=0, batch_size=16))


def test_binary_reward_ignores_confidence():
    assert binary_reward(COMPLETIONS, GOLD) == [1.0, 1.0, 0.0, 0.0, FORMAT_PENALTY]


def test_brier_reward_hand_worked():
    reward = calibration_reward(brier_rule, "rlcr")
    assert reward.__name__ == "rlcr"
    assert reward(COMPLETIONS, GOLD) == pytest.approx([1.0, 0.75, 0.0, -1.0, FORMAT_PENALTY])


def test_log_reward_hand_worked_with_clipping():
    reward = calibration_reward(log_rule, "log")
    # a malformed completion earns the log score's worst case, not −1: breaking the format never pays
    expected = [1 + math.log(0.99), 1 + math.log(0.5), math.log(0.99), math.log(0.01), math.log(0.01)]
    assert reward(COMPLETIONS, GOLD) == pytest.approx(expected)


def test_scaled_reward_keeps_its_order_and_divides_its_range():
    scale = 2 / cs.reward_range(log_rule)
    plain, scaled = calibration_reward(log_rule, "log"), calibration_reward(log_rule, "log_scaled", scale=scale)
    assert scaled(COMPLETIONS, GOLD) == pytest.approx([scale * r for r in plain(COMPLETIONS, GOLD)])
    assert cs.reward_range(brier_rule) == pytest.approx(2.0)
    assert cs.reward_range(log_rule) == pytest.approx(1 + math.log(0.99) - math.log(0.01))
    with pytest.raises(ValueError, match="scale"):
        calibration_reward(log_rule, "bad", scale=0)


def spherical(q, correct):
    return (q if correct else 1 - q) / math.sqrt(q**2 + (1 - q) ** 2) - 1


def test_checker_accepts_bounded_proper_rules():
    assert check_scoring_rule(brier_rule).startswith("ok")
    assert check_scoring_rule(spherical).startswith("ok")


@pytest.mark.parametrize(
    ("rule", "bound", "match"),
    [
        (log_rule, 10, "predictably wrong"),
        (lambda q, c: 2 * brier_rule(q, c), 2, "predictably wrong"),  # bounded and proper, but wider than the bonus
        (log_rule, 1, "spans"),
        (lambda q, c: -abs(q - float(c)), 1, "not proper"),
        (lambda q, c: 0.0, 1, "not proper"),
        (lambda q, c: 1 / 0, 1, "ZeroDivisionError"),
        (lambda q, c: float("nan"), 1, "finite"),
    ],
)
def test_checker_explains_wrong_rules(rule, bound, match):
    with pytest.raises(ExerciseError, match=match):
        check_scoring_rule(rule, bounded_by=bound)


def test_checker_says_so_when_a_rule_returns_nothing():
    with pytest.raises(ExerciseError, match="returned None: return a number"):
        check_scoring_rule(lambda q, correct: None)
