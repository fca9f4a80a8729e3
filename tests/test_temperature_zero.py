"""Chapter 4's measurements: the four confidences and the oracle on a crafted distribution whose ECE, Brier score
and AUROC are worked out by hand; the hard and shuffled labels; training until a validation target."""

from collections import Counter

import numpy as np
import pytest

from casestudies.chapters import temperature_zero as tz
from casestudies.models import tiny_causal_lm, word_tokenizer
from casestudies.tasks.judge import LETTERS, SCORES, VOCABULARY, annotator_best, judge_items, sample_verdicts

# Four items, three verdicts. Greedy says 0 everywhere: right on items 0 and 2.
PROBS = np.array([[0.7, 0.2, 0.1], [0.5, 0.4, 0.1], [0.4, 0.35, 0.25], [0.9, 0.05, 0.05]])
GOLD = np.array([0, 1, 0, 2])
SAMPLES = np.array([[0, 0, 1, 0], [1, 1, 0, 2], [1, 0, 1, 1], [0, 0, 0, 0]])  # four samples per item


def test_the_four_confidences_on_a_crafted_distribution():
    frame = tz.confidences(PROBS, SAMPLES, GOLD, vote_ks=[2])
    by_way = {way: part.reset_index(drop=True) for way, part in frame.groupby("way", sort=False)}
    assert list(by_way) == ["greedy", "greedy+p", "mode of 4", "vote@2"]
    np.testing.assert_allclose(by_way["greedy"]["confidence"], [1, 1, 1, 1])
    np.testing.assert_allclose(by_way["greedy+p"]["confidence"], [0.7, 0.5, 0.4, 0.9])
    assert by_way["greedy"]["correct"].tolist() == by_way["greedy+p"]["correct"].tolist() == [1, 0, 1, 0]
    # modes of the four samples: 0 (3 of 4), 1 (2 of 4), 1 (3 of 4), 0 (4 of 4)
    assert by_way["mode of 4"]["verdict"].tolist() == [0, 1, 1, 0]
    np.testing.assert_allclose(by_way["mode of 4"]["confidence"], [0.75, 0.5, 0.75, 1.0])
    # the first two samples: 0 0, 1 1, a tie 1 0 (to the lower verdict, 0), 0 0
    assert by_way["vote@2"]["verdict"].tolist() == [0, 1, 0, 0]
    np.testing.assert_allclose(by_way["vote@2"]["confidence"], [1, 1, 0.5, 1])


def test_judge_scores_match_the_hand_worked_values():
    scores = tz.judge_scores(PROBS, SAMPLES, GOLD, vote_ks=[2])
    expected = {
        # repeat agreement: confidence 1 on every item, so ECE = Brier = 1 − accuracy and AUROC is all ties
        "greedy": dict(accuracy=0.5, ece=0.5, brier=0.5, auroc=0.5),
        # each confidence alone in its bin: (0.3 + 0.5 + 0.6 + 0.9) / 4; Brier (0.09 + 0.25 + 0.36 + 0.81) / 4;
        # right answers 0.7, 0.4 against wrong ones 0.5, 0.9: one pair of four ranked right
        "greedy+p": dict(accuracy=0.5, ece=0.575, brier=0.3775, auroc=0.25),
        # bins: 0.75 (items 0 and 2: accuracy 0.5), 0.5 (right), 1.0 (wrong): 0.5·0.25 + 0.25·0.5 + 0.25·1;
        # Brier (0.0625 + 0.25 + 0.5625 + 1) / 4; right 0.75, 0.5 against wrong 0.75, 1.0: one tie of four pairs
        "mode of 4": dict(accuracy=0.5, ece=0.5, brier=0.46875, auroc=0.125),
        # bins: 1.0 (items 0, 1, 3: accuracy 2/3), 0.5 (right): 0.75·(1/3) + 0.25·0.5; Brier (0.25 + 1) / 4;
        # right 1, 1, 0.5 against wrong 1: two ties of three pairs
        "vote@2": dict(accuracy=0.75, ece=0.375, brier=0.3125, auroc=1 / 3),
    }
    for way, values in expected.items():
        for metric, value in values.items():
            assert scores.loc[way, metric] == pytest.approx(value), (way, metric)
    # one sample at T = 1 is right with the probability of the correct verdict: (0.7 + 0.4 + 0.4 + 0.05) / 4
    assert scores.loc["one sample", "accuracy"] == pytest.approx(0.3875)
    # Fleiss' kappa of the samples: counts (3,1,0), (1,2,1), (1,3,0), (4,0,0); agreement 13/24, chance 118/256
    assert scores.loc["one sample", "kappa"] == pytest.approx(31 / 207)
    assert np.isnan(scores.loc["one sample", "ece"]) and np.isnan(scores.loc["greedy", "kappa"])


def test_the_oracle_is_the_annotator_distribution_scored_as_a_judge():
    annotator = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])  # mode = GOLD
    oracle = tz.judge_scores(annotator, SAMPLES, GOLD).loc["greedy+p"]
    assert oracle["accuracy"] == 1.0
    assert oracle["ece"] == pytest.approx(1 - annotator.max(axis=1).mean())  # underconfident by 1 − mean probability
    assert oracle["brier"] == pytest.approx((0.16 + 0.09 + 0.25 + 0.04) / 4)
    assert np.isnan(oracle["auroc"])  # never wrong: nothing to rank


def test_soft_label_annotators_are_underconfident_about_the_truth():
    """The oracle of the chapter's own annotators: always right, with a mean verdict probability well below 1."""
    items = judge_items(2000, seed=3, task="best")
    annotator = annotator_best(np.array([it["values"] for it in items]), tau=5.0)
    gold = np.array([it["gold"] for it in items])
    scores = tz.judge_scores(annotator, sample_verdicts(annotator, 20, 1.0, seed=0), gold)
    assert scores.loc["greedy+p", "accuracy"] == 1.0
    assert 0.1 < scores.loc["greedy+p", "ece"] < 0.25


def test_confidences_reject_mismatched_shapes_and_votes_larger_than_the_samples():
    with pytest.raises(ValueError, match="same items"):
        tz.confidences(PROBS, SAMPLES[:3], GOLD)
    with pytest.raises(ValueError, match="vote sizes"):
        tz.confidences(PROBS, SAMPLES, GOLD, vote_ks=[5])


def test_majority_labels_are_the_correct_verdicts_for_these_annotators():
    items = judge_items(600, seed=1)
    hard = tz.majority_labels(items)
    assert [it["prompt"] for it in hard] == [it["prompt"] for it in items]
    for it in hard:
        choices = LETTERS if it["task"] == "best" else SCORES
        assert it["completion"] == " " + choices[it["gold"]]
    soft_hits = np.mean([it["completion"] == h["completion"] for it, h in zip(items, hard, strict=True)])
    assert 0.5 < soft_hits < 0.95  # one annotator's draw often differs from the majority


def test_shuffled_labels_keep_each_tasks_label_shares_and_lose_the_items():
    items = judge_items(2000, seed=2)
    shuffled = tz.shuffled_labels(items, seed=7)
    assert [it["prompt"] for it in shuffled] == [it["prompt"] for it in items]
    for task in ("best", "rate"):
        assert Counter(it["completion"] for it in items if it["task"] == task) == Counter(
            it["completion"] for it in shuffled if it["task"] == task
        )
    best = [(it, s) for it, s in zip(items, shuffled, strict=True) if it["task"] == "best"]
    right = np.mean([LETTERS.index(s["completion"].strip()) == it["gold"] for it, s in best])
    assert right < 0.3  # about one in five, chance among five letters, against about 0.75 for the real labels
    assert tz.shuffled_labels(items, seed=7) == shuffled and tz.shuffled_labels(items, seed=8) != shuffled
    assert items[0]["completion"] == judge_items(2000, seed=2)[0]["completion"]  # the input is left as it was


@pytest.fixture(scope="module")
def tokenizer():
    return word_tokenizer(VOCABULARY)


def test_train_judge_stops_at_its_steps_when_the_target_is_met_and_runs_to_the_cap_when_not(tokenizer):
    items = judge_items(12 * 32, seed=0)
    validation = judge_items(40, seed=1, task="best")

    def judge():
        return tiny_causal_lm(tokenizer, width=16, depth=1, heads=2, max_positions=16, seed=0)

    met = tz.train_judge(
        judge(), tokenizer, items, steps=4, validation=validation, target=0.0, max_steps=12, check_every=4
    )
    assert met["steps"] == 4 and met["reached target"] is True
    missed = tz.train_judge(
        judge(), tokenizer, items, steps=4, validation=validation, target=1.01, max_steps=12, check_every=4
    )
    assert missed["steps"] == 12 and missed["reached target"] is False
    fixed = tz.train_judge(judge(), tokenizer, items, steps=6, validation=validation)
    assert fixed["steps"] == 6 and fixed["reached target"] is None
    assert 0 <= fixed["validation accuracy"] <= 1 and fixed["final training loss"] > 0
