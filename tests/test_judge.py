"""The judge task: annotator noise, prompts, the verdict distribution and temperature sampling."""

import re

import numpy as np
import pytest
import torch

from casestudies.generation import choice_distribution, sample
from casestudies.models import load_pretrained, tiny_causal_lm, word_tokenizer
from casestudies.tasks import judge
from casestudies.tasks.judge import (
    LETTERS,
    SCORES,
    VOCABULARY,
    annotator_best,
    annotator_rate,
    best_prompt,
    instruct_prompt,
    judge_items,
    sample_verdicts,
    true_score,
)


@pytest.fixture(scope="module")
def tokenizer():
    return word_tokenizer(VOCABULARY)


def test_true_score_bands():
    assert true_score(np.array([10, 27, 28, 45, 46, 81, 82, 99])).tolist() == [1, 1, 2, 2, 3, 4, 5, 5]


def test_annotators_are_noisier_on_hard_items():
    easy, hard = annotator_best(np.array([[90, 20, 30, 40, 50], [50, 49, 20, 30, 40]]), tau=5.0)
    assert easy.argmax() == 0 and easy[0] > 0.99
    weights = np.exp((np.array([50, 49, 20, 30, 40]) - 50) / 5.0)  # worked: softmax(value / tau)
    assert hard[0] == pytest.approx(weights[0] / weights.sum()) and hard[0] < 0.55  # nearly a coin flip
    rate = annotator_rate(np.array([54, 45, 46]), sigma=8.0)  # mid-band vs either side of the 45|46 edge
    np.testing.assert_allclose(rate.sum(axis=1), 1.0)
    assert rate[0].max() > 0.6 and rate[1].max() < 0.6 and rate[2].max() < 0.6
    assert rate[1].argmax() == 1 and rate[2].argmax() == 2


def test_judge_items_fields_and_label_frequencies():
    items = judge_items(4000, seed=0)
    assert {it["task"] for it in items[:2]} == {"best", "rate"}
    best = [it for it in items if it["task"] == "best"]
    assert all(it["completion"].strip() in LETTERS and it["completion"].startswith(" ") for it in best)
    assert all(it["gold"] == int(np.argmax(it["values"])) for it in best)
    # labels are drawn from the annotator: the share matching gold is the mean annotator probability of gold
    hits = np.mean([LETTERS.index(it["completion"].strip()) == it["gold"] for it in best])
    assert hits == pytest.approx(np.mean([it["annotator"][it["gold"]] for it in best]), abs=0.03)
    assert judge_items(5, seed=1) == judge_items(5, seed=1)
    with pytest.raises(ValueError, match="task"):
        judge_items(5, seed=0, task="vote")
    with pytest.raises(ValueError, match="distinct"):
        best_prompt([10, 10, 11, 12, 13])


def test_choice_distribution_is_what_generate_samples_from(tokenizer):
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    items = judge_items(6, seed=2, task="best")
    prompts = [it["prompt"] for it in items]
    probs = choice_distribution(model, tokenizer, prompts, LETTERS)
    assert probs.shape == (6, 5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    letter_ids = tokenizer.convert_tokens_to_ids(list(LETTERS))
    first = torch.stack([p for _, p in sample(model, tokenizer, prompts, max_new_tokens=1, seed=0)])[:, letter_ids]
    np.testing.assert_allclose(probs, (first / first.sum(1, keepdim=True)).numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="one distinct token"):
        choice_distribution(model, tokenizer, prompts, ("A", "A"))


def test_instruct_rating_prompt_states_the_bands_true_score_uses():
    prompt = instruct_prompt({"task": "rate", "values": [41]})
    bands = [tuple(map(int, b)) for b in re.findall(r"(\d) = (\d+)-(\d+)", prompt)]
    assert bands == [(1, 10, 27), (2, 28, 45), (3, 46, 63), (4, 64, 81), (5, 82, 99)]  # BAND = 18, by hand
    for score, low, high in bands:  # each stated band is exactly the values true_score rates `score`
        assert true_score(low) == true_score(high) == score and true_score(low - 1) == score - 1
    assert "41" in prompt and "from 1 to 5" in prompt


def test_instruct_rating_prompt_follows_the_band_constant(monkeypatch):
    monkeypatch.setattr(judge, "BAND", 15)  # a different width: the stated edges must move with it
    prompt = instruct_prompt({"task": "rate", "values": [41]})
    assert "(1 = 10-24, 2 = 25-39, 3 = 40-54, 4 = 55-69, 5 = 70-84)" in prompt


def test_sample_verdicts_greedy_temperature_and_frequencies():
    probs = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    assert (sample_verdicts(probs, 7, 0.0, seed=0) == np.array([[0], [2]])).all()
    draws = sample_verdicts(probs, 20_000, 1.0, seed=0)
    np.testing.assert_allclose([np.bincount(row, minlength=3) / 20_000 for row in draws], probs, atol=0.015)
    sharp = sample_verdicts(probs, 20_000, 0.5, seed=0)  # p^2 renormalised: 0.36/0.46 for the first item
    assert (sharp[0] == 0).mean() == pytest.approx(0.36 / 0.46, abs=0.015)
    assert (sample_verdicts(probs, 50, 1.0, seed=3) == sample_verdicts(probs, 50, 1.0, seed=3)).all()


def test_pretrained_judge_path_on_a_local_model(tmp_path):
    items = judge_items(4, seed=3)
    words = {w for it in items for w in instruct_prompt(it).split()} | set(LETTERS) | set(SCORES)
    tokenizer = word_tokenizer(sorted(words))
    tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, max_positions=64, seed=0).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    model, loaded = load_pretrained(tmp_path, dtype=torch.float32)
    best = [instruct_prompt(it) for it in items if it["task"] == "best"]
    probs = choice_distribution(model, loaded, best, tuple(" " + c for c in LETTERS))
    # against the loaded model's own next-token logits, restricted to the letters, one prompt at a time
    ids = [loaded(" " + c, add_special_tokens=False)["input_ids"][0] for c in LETTERS]
    for row, prompt in zip(probs, best, strict=True):
        with torch.no_grad():
            logits = model(**loaded(prompt, return_tensors="pt")).logits[0, -1, ids]
        np.testing.assert_allclose(row, torch.softmax(logits, -1).numpy(), atol=1e-5)
