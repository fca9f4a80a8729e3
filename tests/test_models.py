"""Tokenizer, tiny model factory, and the offline pretrained-loading path."""

import pytest
import torch
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from casestudies.generation import token_ids
from casestudies.models import (
    byte_level_tokenizer,
    load_pretrained,
    seeded_lm,
    stand_in_folder,
    tiny_causal_lm,
    word_tokenizer,
)


@pytest.fixture(scope="module")
def tokenizer():
    return word_tokenizer(["pick", ":", "1", "2", "3", "0.5"])


def test_word_tokenizer_round_trips_and_knows_its_specials(tokenizer):
    assert isinstance(tokenizer, PreTrainedTokenizerFast)
    ids = tokenizer("pick 1 3 :").input_ids
    assert len(ids) == 4  # one token per word, no added specials
    assert tokenizer.decode(ids) == "pick 1 3 :"
    assert tokenizer.convert_ids_to_tokens(tokenizer("banana").input_ids) == ["<unk>"]
    assert {tokenizer.pad_token, tokenizer.eos_token, tokenizer.bos_token} == {"<pad>", "<eos>", "<bos>"}
    assert tokenizer.padding_side == "left"


def test_word_tokenizer_rejects_words_with_spaces():
    with pytest.raises(ValueError, match="whitespace"):
        word_tokenizer(["two words"])


def test_tiny_causal_lm_is_a_seeded_llama(tokenizer):
    a = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=3)
    b = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=3)
    assert isinstance(a, LlamaForCausalLM)
    assert a.config.vocab_size == len(tokenizer)
    x = tokenizer(["pick 1 :"], return_tensors="pt")
    logits = a(**x).logits
    assert logits.shape == (1, 3, len(tokenizer))
    torch.testing.assert_close(logits, b(**x).logits)


@pytest.mark.parametrize(("width", "heads"), [(30, 4), (0, 1), (32, 0)])
def test_tiny_causal_lm_rejects_bad_shapes(tokenizer, width, heads):
    with pytest.raises(ValueError):
        tiny_causal_lm(tokenizer, width=width, depth=1, heads=heads)


def test_load_pretrained_round_trips_a_local_model(tokenizer, tmp_path):
    model = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, seed=0)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    loaded, loaded_tokenizer = load_pretrained(tmp_path, dtype=torch.float32)
    x = loaded_tokenizer(["pick 2 :"], return_tensors="pt")
    torch.testing.assert_close(loaded(**x).logits, model(**x).logits)


def test_load_pretrained_explains_a_missing_model(tmp_path):
    with pytest.raises(OSError, match="save_pretrained"):
        load_pretrained(tmp_path / "nothing-here")


def test_the_byte_level_tokenizer_round_trips_any_text_and_has_one_token_choices():
    tok = byte_level_tokenizer()
    for text in ("plain words", " 12 + 3 = 15.", "héllo wörld 😀\n\ttabs"):
        assert tok.decode(tok(text)["input_ids"]) == text
    assert len(set(token_ids(tok, (" A", " B", " 1", " 5")))) == 4  # one distinct token each
    chat = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert chat == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tok.convert_tokens_to_ids("<|im_end|>") == tok.eos_token_id != tok.pad_token_id


def test_a_dry_run_loads_the_local_stand_in_for_a_model_it_does_not_have(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("CASESTUDIES_DRY", "1")
    model, tok = load_pretrained(tmp_path / "no-such-model")
    assert "stands in for" in capsys.readouterr().out
    assert (stand_in_folder() / "model.safetensors").is_file() and model.config.hidden_size == 32
    assert tok.chat_template and tok.decode(tok(" 7")["input_ids"]) == " 7"
    monkeypatch.setenv("CASESTUDIES_DRY", "0")
    with pytest.raises(OSError, match="save_pretrained"):
        load_pretrained(tmp_path / "no-such-model")


def test_seeded_lm_is_the_tiny_model_of_a_set_ups_size_from_the_seeds_model_stream(tokenizer):
    from types import SimpleNamespace

    from casestudies.runs import torch_seed

    size = SimpleNamespace(width=32, depth=1, heads=2)
    model = seeded_lm(tokenizer, size, seed=7, max_positions=16)
    same = tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, max_positions=16, seed=torch_seed(7, "model"))
    other = seeded_lm(tokenizer, size, seed=8, max_positions=16)
    weights = model.model.embed_tokens.weight
    assert torch.equal(weights, same.model.embed_tokens.weight)
    assert not torch.equal(weights, other.model.embed_tokens.weight)
    assert model.config.max_position_embeddings == 16 and model.config.hidden_size == 32
