"""Tokenizers and models: tiny `transformers` models built from a config, or a pretrained one.

Chapters train from scratch on synthetic tasks at `smoke`/`cpu` scale, so nothing is
downloaded; `load_pretrained` is the `gpu`-scale path to a real small model.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import WhitespaceSplit
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

SPECIAL_TOKENS = {"pad_token": "<pad>", "unk_token": "<unk>", "bos_token": "<bos>", "eos_token": "<eos>"}


def word_tokenizer(words: Iterable[str]) -> PreTrainedTokenizerFast:
    """A whitespace word-level tokenizer over `words` (plus pad/unk/bos/eos), as a `PreTrainedTokenizerFast`.

    One token per word keeps synthetic tasks legible: a completion `7 conf 0.3` is exactly three tokens.
    """
    vocab: dict[str, int] = {}
    for word in [*SPECIAL_TOKENS.values(), *words]:
        if any(ch.isspace() for ch in word) or not word:
            raise ValueError(f"vocabulary words must be non-empty and contain no whitespace, got {word!r}")
        vocab.setdefault(word, len(vocab))
    core = Tokenizer(WordLevel(vocab=vocab, unk_token=SPECIAL_TOKENS["unk_token"]))
    core.pre_tokenizer = WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, **SPECIAL_TOKENS)
    tokenizer.padding_side = "left"  # generation appends on the right
    return tokenizer


def tiny_causal_lm(
    tokenizer: PreTrainedTokenizerBase,
    width: int = 64,
    depth: int = 2,
    heads: int = 4,
    max_positions: int = 64,
    seed: int = 0,
) -> LlamaForCausalLM:
    """A randomly initialised Llama-style causal LM sized by `width`/`depth`/`heads`, seeded for reproducibility."""
    if width <= 0 or depth <= 0 or heads <= 0:
        raise ValueError(f"width, depth and heads must be positive, got {width}, {depth}, {heads}")
    if width % heads:
        raise ValueError(f"width ({width}) must be divisible by heads ({heads})")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=width,
        intermediate_size=4 * width,
        num_hidden_layers=depth,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=max_positions,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def load_pretrained(
    name_or_path: str | Path, dtype: torch.dtype | str = "auto", device: str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal LM and its tokenizer from the Hub or a local folder: safetensors only, no remote code.

    Used at `gpu` scale for a real small model; a clear `OSError` says what was not found.
    """
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(
            name_or_path, dtype=dtype, trust_remote_code=False, use_safetensors=True
        )
    except (OSError, ValueError) as err:
        raise OSError(
            f"could not load a pretrained causal LM from {str(name_or_path)!r} (safetensors weights, no remote "
            f"code): {err}. Offline, pass a local folder written by `save_pretrained`."
        ) from err
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if device is not None:
        model = model.to(device)
    return model, tokenizer


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Run the block in eval mode, then put the model back in the train/eval mode it was in (also on error)."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)
