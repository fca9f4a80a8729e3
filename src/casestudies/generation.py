"""Seeded sampling of short completions for evaluation, shared by the chapters' task evaluators."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase


@torch.no_grad()
def sample(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    max_new_tokens: int,
    seed: int,
    batch_size: int = 256,
) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield (completion text, next-token probabilities at the first completion position) per prompt.

    Plain ancestral sampling at temperature 1 (no top-k/top-p), the distribution RL trained; seeded, so the
    same model, prompts and seed give the same completions. The model is left in training mode afterwards.
    """
    model.eval()
    device = next(model.parameters()).device
    torch.manual_seed(seed)
    for start in range(0, len(prompts), batch_size):
        enc = tokenizer(prompts[start : start + batch_size], return_tensors="pt", padding=True).to(device)
        out = model.generate(
            **enc,
            do_sample=True,
            temperature=1.0,
            top_k=0,
            top_p=1.0,
            max_new_tokens=max_new_tokens,
            return_dict_in_generate=True,
            output_logits=True,
            pad_token_id=tokenizer.pad_token_id,
        )
        first = torch.softmax(out.logits[0].float(), dim=-1).cpu()
        texts = tokenizer.batch_decode(out.sequences[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        yield from zip(texts, first, strict=True)
    model.train()
