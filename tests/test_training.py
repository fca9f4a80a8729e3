"""The TRL wrappers: supervised training learns, GRPO follows its reward, trained models copy safely."""

import copy

import pytest
import torch

from casestudies.models import tiny_causal_lm, word_tokenizer
from casestudies.tasks import candidate_set as cs
from casestudies.training import grpo, sft


@pytest.fixture(scope="module")
def tokenizer():
    return word_tokenizer(cs.VOCABULARY)


def prob_of(model, tokenizer, prompt: str, token: str) -> float:
    with torch.no_grad():
        logits = model(**tokenizer([prompt], return_tensors="pt")).logits[0, -1]
    return float(torch.softmax(logits, -1)[tokenizer.convert_tokens_to_ids(token)])


def test_sft_lowers_the_loss(tokenizer):
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    history = sft(model, tokenizer, cs.warmup_items(40 * 16, (1, 2), seed=0), steps=40, batch_size=16, lr=3e-3)
    assert history["loss"].iloc[-5:].mean() < 0.5 * history["loss"].iloc[:5].mean()


@pytest.mark.parametrize("beta", [0.0, 0.05])
def test_grpo_moves_the_policy_towards_its_reward(tokenizer, beta):
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    prompt = cs.make_prompt("37")
    before = prob_of(model, tokenizer, prompt, "7")

    def likes_seven(completions, **_):
        return [1.0 if c.split()[:1] == ["7"] else 0.0 for c in completions]

    items = [{"prompt": prompt, "gold": "7"}] * 4 * 30
    history = grpo(
        model,
        tokenizer,
        items,
        likes_seven,
        steps=30,
        prompts_per_step=4,
        generations=8,
        max_completion_length=2,
        lr=1e-2,
        beta=beta,
    )
    assert len(history) == 30 and "reward" in history
    assert prob_of(model, tokenizer, prompt, "7") > max(0.5, 3 * before)
    assert model.config._name_or_path == ""  # no dangling reference to a deleted temporary folder


def test_trained_model_deep_copies_into_independent_arms(tokenizer):
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    sft(model, tokenizer, cs.warmup_items(5 * 8, (2,), seed=0), steps=5, batch_size=8)
    twin = copy.deepcopy(model)
    x = tokenizer(["pick 3 7 :"], return_tensors="pt")
    before = model(**x).logits.detach().clone()
    with torch.no_grad():
        for p in twin.parameters():
            p.add_(0.1)
    assert not torch.allclose(twin(**x).logits, before)  # the copy runs its own weights
    torch.testing.assert_close(model(**x).logits, before)  # and leaves the original alone


def test_grpo_needs_a_group(tokenizer):
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2)
    with pytest.raises(ValueError, match="at least 2 generations"):
        grpo(
            model,
            tokenizer,
            [{"prompt": "pick 1 :"}],
            lambda completions, **_: [0.0],
            steps=1,
            prompts_per_step=1,
            generations=1,
            max_completion_length=2,
        )
