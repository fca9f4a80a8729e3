"""Tokenizers and models: tiny `transformers` models built from a config, or a pretrained one.

Chapters train from scratch on synthetic tasks at `smoke`/`cpu` scale, so nothing is
downloaded; `load_pretrained` is the `gpu`-scale path to a real small model.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders
from tokenizers.models import BPE, WordLevel
from tokenizers.pre_tokenizers import ByteLevel, WhitespaceSplit
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

from casestudies import __version__
from casestudies.runs import torch_seed
from casestudies.scale import dry_run

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


def seeded_lm(tokenizer: PreTrainedTokenizerBase, size, seed: int, max_positions: int = 64) -> LlamaForCausalLM:
    """A fresh `tiny_causal_lm` with `size`'s width, depth and heads (any object with those attributes, e.g. a
    chapter's set-up), initialised from the seed's `model` stream (`runs.torch_seed`)."""
    return tiny_causal_lm(
        tokenizer,
        width=size.width,
        depth=size.depth,
        heads=size.heads,
        max_positions=max_positions,
        seed=torch_seed(seed, "model"),
    )


CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def byte_level_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with a ChatML chat template, shaped like a real instruct model's (Qwen's): any
    text round-trips, and a space plus one printable character (" A", " 7") is one token, as one-token answer
    choices need. The stand-in for a pretrained model's tokenizer in dry runs and tests."""
    alphabet = sorted(ByteLevel.alphabet())
    space = "\u0120"  # byte-level's character for " "
    merges = [(space, chr(c)) for c in range(33, 127)]
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = {token: i for i, token in enumerate([*alphabet, *(a + b for a, b in merges), *specials])}
    core = Tokenizer(BPE(vocab=vocab, merges=merges))
    core.pre_tokenizer = ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=specials[1:2],
    )
    tokenizer.chat_template = CHATML
    return tokenizer


def stand_in_folder() -> Path:
    """A tiny causal LM with `byte_level_tokenizer`, saved once with `save_pretrained` to a temporary folder named
    by what it is built from: what a dry run loads in place of a Hub model, through the same `from_pretrained`
    calls."""
    tokenizer = byte_level_tokenizer()
    recipe = json.dumps([__version__, CHATML, sorted(tokenizer.get_vocab().items())])
    folder = Path(tempfile.gettempdir()) / f"casestudies-stand-in-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"
    if not (folder / "config.json").is_file():
        building = Path(tempfile.mkdtemp(prefix="casestudies-stand-in-"))
        tiny_causal_lm(tokenizer, width=32, depth=1, heads=2, max_positions=1024).save_pretrained(building)
        tokenizer.save_pretrained(building)
        try:
            os.replace(building, folder)
        except OSError:  # another process saved it first
            shutil.rmtree(building, ignore_errors=True)
    return folder


def load_pretrained(
    name_or_path: str | Path, dtype: torch.dtype | str = "auto", device: str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal LM and its tokenizer from the Hub or a local folder: safetensors only, no remote code.

    Used at `gpu` scale for a real small model; a clear `OSError` says what was not found. In a dry run
    (`$CASESTUDIES_DRY`) a name that is not a local folder loads `stand_in_folder()` instead.
    """
    if dry_run() and not Path(name_or_path).is_dir():
        print(f"dry run: a tiny local model (saved with save_pretrained) stands in for {name_or_path}")
        name_or_path = stand_in_folder()
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
