"""Evaluation-time generation helpers: they leave the model's train/eval mode alone and ignore left padding."""

import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from casestudies.generation import choice_distribution, completion_logprobs, greedy, perplexity, sample
from casestudies.models import tiny_causal_lm, word_tokenizer
from casestudies.tasks import candidate_set as cs

PROMPTS = ["pick 3 :", "pick 1 2 4 5 6 8 :", "pick 7 9 :", "pick 0 1 2 3 4 5 6 7 8 9 :"]  # 3, 8, 4 and 12 tokens


@pytest.fixture(scope="module")
def tokenizer():
    tok = word_tokenizer(cs.VOCABULARY)
    assert tok.padding_side == "left"  # the case the position ids must correct for
    return tok


@pytest.fixture
def model(tokenizer):
    return tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)


def tiny_gpt2(tokenizer):
    """Learned absolute positions (unlike Llama's rotary ones, which only see offsets): left padding shifts them
    unless the helpers pass position ids that start at each row's first real token."""
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=1, n_head=2, n_positions=64)
    return GPT2LMHeadModel(config).eval()


@pytest.fixture(params=["llama", "gpt2"])
def any_model(request, tokenizer):
    if request.param == "llama":
        return tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    return tiny_gpt2(tokenizer)


def run_sample(model, tokenizer):
    return list(sample(model, tokenizer, PROMPTS, max_new_tokens=2, seed=0, batch_size=3))


def run_choices(model, tokenizer):
    return choice_distribution(model, tokenizer, PROMPTS, cs.DIGITS, batch_size=3)


def run_logprobs(model, tokenizer):
    return completion_logprobs(model, tokenizer, PROMPTS, ["3 of 1 1.0"] * len(PROMPTS), batch_size=3)


HELPERS = [run_sample, run_choices, run_logprobs]


@pytest.mark.parametrize("helper", HELPERS)
@pytest.mark.parametrize("training", [True, False])
def test_helpers_restore_the_train_or_eval_mode(model, tokenizer, helper, training):
    model.train(training)
    helper(model, tokenizer)
    assert model.training is training
    assert all(m.training is training for m in model.modules())


@pytest.mark.parametrize("helper", HELPERS)
def test_helpers_restore_the_mode_when_the_model_fails(model, tokenizer, helper, monkeypatch):
    def broken(*args, **kwargs):
        assert not model.training  # the helpers do run in eval mode
        raise RuntimeError("broken model")

    monkeypatch.setattr(model, "generate" if helper is run_sample else "forward", broken)
    model.train()
    with pytest.raises(RuntimeError, match="broken model"):
        helper(model, tokenizer)
    assert model.training


def test_sample_is_in_the_callers_mode_between_batches(model, tokenizer):
    model.train()
    for _ in sample(model, tokenizer, PROMPTS, max_new_tokens=2, seed=0, batch_size=1):
        assert model.training


def test_choice_distribution_rows_do_not_depend_on_the_batch(any_model, tokenizer):
    model = any_model
    batched = choice_distribution(model, tokenizer, PROMPTS, cs.DIGITS)
    chunked = choice_distribution(model, tokenizer, PROMPTS, cs.DIGITS, batch_size=3)
    alone = np.concatenate([choice_distribution(model, tokenizer, [p], cs.DIGITS) for p in PROMPTS])
    np.testing.assert_allclose(batched, alone, atol=1e-5)
    np.testing.assert_allclose(chunked, alone, atol=1e-5)
    # by hand for the shortest prompt, which is padded the most in the batch: softmax over the digits' logits
    ids = tokenizer(PROMPTS[0]).input_ids
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, -1]
    digits = logits[tokenizer.convert_tokens_to_ids(list(cs.DIGITS))]
    np.testing.assert_allclose(batched[0], torch.softmax(digits, -1).numpy(), atol=1e-5)
    assert not np.allclose(batched[0], batched[1], atol=1e-3)  # the rows do differ between prompts


def test_completion_logprobs_rows_do_not_depend_on_the_batch(any_model, tokenizer):
    model = any_model
    completions = ["3 of 1 1.0", "8 of 6 0.2", "9", "0 of 10 0.1"]
    batched = completion_logprobs(model, tokenizer, PROMPTS, completions, batch_size=3)
    for prompt, completion, got in zip(PROMPTS, completions, batched, strict=True):
        p_ids, c_ids = tokenizer(prompt).input_ids, tokenizer(completion).input_ids
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([p_ids + c_ids])).logits[0], dim=-1)
        expected = sum(logp[len(p_ids) - 1 + j, t].item() for j, t in enumerate(c_ids))
        assert got.item() == pytest.approx(expected, abs=1e-4)


def test_greedy_takes_the_most_likely_token_at_every_step(any_model, tokenizer):
    texts = greedy(any_model, tokenizer, PROMPTS, max_new_tokens=3, batch_size=3)
    for prompt, text in zip(PROMPTS, texts, strict=True):
        ids = tokenizer(prompt).input_ids
        for _ in range(3):  # by hand, one prompt at a time, without padding
            with torch.no_grad():
                ids.append(int(any_model(torch.tensor([ids])).logits[0, -1].argmax()))
            if ids[-1] == tokenizer.eos_token_id:
                break
        expected = tokenizer.decode(ids[len(tokenizer(prompt).input_ids) :], skip_special_tokens=True)
        assert text == expected


def test_perplexity_matches_torchmetrics_on_the_completion_tokens(any_model, tokenizer):
    from torchmetrics.text import Perplexity

    completions = ["3 of 1 1.0", "8 of 6", "9", "0 of 10 0.1"]
    got = perplexity(any_model, tokenizer, PROMPTS, completions, batch_size=3)
    for prompt, completion, value in zip(PROMPTS, completions, got, strict=True):
        p_ids, c_ids = tokenizer(prompt).input_ids, tokenizer(completion).input_ids
        with torch.no_grad():
            logits = any_model(torch.tensor([p_ids + c_ids])).logits[:, len(p_ids) - 1 : -1]
        assert value.item() == pytest.approx(Perplexity()(logits, torch.tensor([c_ids])).item(), rel=1e-4)
    with pytest.raises(ValueError, match="at least one token"):
        perplexity(any_model, tokenizer, PROMPTS[:1], [""])
