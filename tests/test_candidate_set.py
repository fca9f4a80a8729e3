"""The candidate-set task generator, parser and evaluator."""

from collections import Counter

import numpy as np
import pytest
from scipy.stats import chisquare

from casestudies.models import tiny_causal_lm, word_tokenizer
from casestudies.tasks import candidate_set as cs


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


def test_evaluate_scores_its_own_samples():
    tokenizer = word_tokenizer(cs.VOCABULARY)
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    items = cs.sample_items(40, (1, 3), seed=0)
    frame = cs.evaluate(model, tokenizer, items, seed=0, batch_size=16)
    assert len(frame) == 40
    assert (frame["correct"] == (frame["answer"] == frame["gold"])).all()
    assert frame["candidate_mass"].between(0, 1).all()
    answered = frame[frame["well_formed"]]
    assert answered["answer_prob"].between(0, 1).all()
    again = cs.evaluate(model, tokenizer, items, seed=0, batch_size=16)
    assert frame.equals(again)  # seeded sampling
