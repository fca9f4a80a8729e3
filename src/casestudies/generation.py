"""Seeded sampling of short completions for evaluation, shared by the chapters' task evaluators."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from casestudies.models import eval_mode


@torch.no_grad()
def _generate(model, tokenizer, prompts: list[str], batch_size: int, **options) -> Iterator[tuple[list[str], object]]:
    """Yield, batch by batch, the completions' texts and `generate`'s output, each batch left-padded and run in
    eval mode (between batches, and afterwards, the model is in whichever mode it was in before)."""
    device = next(model.parameters()).device
    for start in range(0, len(prompts), batch_size):
        enc = tokenizer(prompts[start : start + batch_size], return_tensors="pt", padding=True).to(device)
        with eval_mode(model):
            out = model.generate(**enc, return_dict_in_generate=True, pad_token_id=tokenizer.pad_token_id, **options)
        texts = tokenizer.batch_decode(out.sequences[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        yield texts, out


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
    same model, prompts and seed give the same completions. Each batch runs in eval mode; between batches (and
    afterwards) the model is in whichever train/eval mode it was in before.
    """
    torch.manual_seed(seed)
    options = dict(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, output_logits=True)
    for texts, out in _generate(model, tokenizer, prompts, batch_size, max_new_tokens=max_new_tokens, **options):
        yield from zip(texts, torch.softmax(out.logits[0].float(), dim=-1).cpu(), strict=True)


def greedy(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    max_new_tokens: int,
    batch_size: int = 256,
) -> list[str]:
    """The greedy completion of each prompt (the most likely token at every step), at most `max_new_tokens`.

    What a model does when it is not sampled: the usual way to read off a capability, free of sampling noise.
    """
    batches = _generate(model, tokenizer, prompts, batch_size, max_new_tokens=max_new_tokens, do_sample=False)
    return [text for texts, _ in batches for text in texts]


def _positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids that start at 0 on each row's first real token, so left padding does not shift them."""
    return (attention_mask.cumsum(-1) - 1).clamp(min=0)


@torch.no_grad()
def _last_logits(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: list[str], batch_size: int):
    """Yield the next-token logits after each batch of prompts (left-padded, positions counted from the prompt)."""
    device = next(model.parameters()).device
    with eval_mode(model):
        for start in range(0, len(prompts), batch_size):
            enc = tokenizer(prompts[start : start + batch_size], return_tensors="pt", padding=True).to(device)
            yield model(**enc, position_ids=_positions(enc["attention_mask"])).logits[:, -1, :].float()


def next_token_probabilities(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    batch_size: int = 256,
) -> np.ndarray:
    """The model's next-token distribution after each prompt, over the whole vocabulary: one row per prompt.

    At temperature 1 this is exactly what sampling draws the next token from; prompts may differ in length.
    """
    rows = [torch.softmax(logits, dim=-1).cpu() for logits in _last_logits(model, tokenizer, prompts, batch_size)]
    return torch.cat(rows).numpy()


def token_ids(tokenizer: PreTrainedTokenizerBase, words: tuple[str, ...]) -> list[int]:
    """The token id of each word; raises unless each is one distinct token for this tokenizer."""
    ids = [tokenizer(w, add_special_tokens=False).input_ids for w in words]
    if any(len(i) != 1 for i in ids) or len({i[0] for i in ids}) != len(ids):
        raise ValueError(
            f"each choice must be one distinct token for this tokenizer, got {dict(zip(words, ids, strict=True))}"
        )
    return [i[0] for i in ids]


def choice_distribution(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    choices: tuple[str, ...],
    batch_size: int = 256,
) -> np.ndarray:
    """The model's next-token distribution over `choices`, renormalised: one row per prompt.

    For a one-token answer this *is* the distribution sampling draws from (at temperature 1), so replications
    can be drawn from it exactly without calling `generate` once per sample. Each choice must be a single,
    distinct token for this tokenizer; prompts may differ in length.
    """
    ids = torch.tensor(token_ids(tokenizer, choices))
    rows = [
        torch.softmax(logits[:, ids.to(logits.device)], dim=-1).cpu()
        for logits in _last_logits(model, tokenizer, prompts, batch_size)
    ]
    return torch.cat(rows).numpy()


@torch.no_grad()
def completion_logprobs(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    completions: list[str],
    batch_size: int = 256,
) -> torch.Tensor:
    """Log-probability under `model` of each completion's tokens given its prompt (end of sequence not included).

    The difference between a policy's and a reference's log-probabilities, averaged over the policy's own samples,
    estimates KL(policy ‖ reference).
    """
    if len(prompts) != len(completions):
        raise ValueError(f"got {len(prompts)} prompts but {len(completions)} completions")
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id
    encoded = [
        (tokenizer(p, add_special_tokens=False).input_ids, tokenizer(c, add_special_tokens=False).input_ids)
        for p, c in zip(prompts, completions, strict=True)
    ]
    totals = []
    with eval_mode(model):
        for start in range(0, len(encoded), batch_size):
            pairs = encoded[start : start + batch_size]
            width = max(len(p) + len(c) for p, c in pairs)
            ids = torch.full((len(pairs), width), pad, dtype=torch.long)
            mask = torch.zeros_like(ids)
            scored = torch.zeros_like(ids, dtype=torch.bool)
            for row, (p, c) in enumerate(pairs):
                offset = width - len(p) - len(c)  # left padding
                ids[row, offset:] = torch.tensor(p + c)
                mask[row, offset:] = 1
                scored[row, offset + len(p) :] = True
            ids, mask, scored = ids.to(device), mask.to(device), scored.to(device)
            logits = model(input_ids=ids, attention_mask=mask, position_ids=_positions(mask)).logits.float()
            logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
            totals.append((logp * scored[:, 1:]).sum(dim=1).cpu())
    return torch.cat(totals)


def perplexity(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    completions: list[str],
    batch_size: int = 256,
) -> torch.Tensor:
    """Per-token perplexity of each completion given its prompt: exp of the mean negative log-probability.

    The statistics that let a student rate data by its own profile are ratios of these: IFD compares a response's
    perplexity with and without its question, r-IFD a question's with and without the response.
    """
    lengths = torch.tensor([len(tokenizer(c, add_special_tokens=False).input_ids) for c in completions])
    if (lengths == 0).any():
        raise ValueError("every completion needs at least one token to have a perplexity")
    return torch.exp(-completion_logprobs(model, tokenizer, prompts, completions, batch_size) / lengths)


Environment = Callable[[str, list[str]], tuple[list[str], bool]]
"""An environment's turn: given the prompt and the completion's words so far (its own replies included), the
words it appends and whether the episode ends (e.g. `casestudies.tasks.calculator.environment`)."""


@torch.no_grad()
def sample_episodes(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    environment: Environment,
    max_words: Callable[[str], int],
    generator: torch.Generator,
    prefixes: list[str] | None = None,
    batch_size: int = 512,
) -> list[dict]:
    """Sample one multi-turn episode per prompt at temperature 1, letting `environment` reply between the model's
    tokens; an episode ends at the end-of-sequence token, when the environment ends it, or at `max_words(prompt)`.

    Returns, per prompt: `completion_ids` (the model's tokens and the environment's, in order), `logprobs` (0 for
    the environment's tokens), `env_mask` (1 on the model's tokens, 0 on the environment's: what TRL's
    `rollout_func` expects) and `text`. `prefixes` start a completion with words the model did not write (they
    count as the environment's). Seeded through `generator` (on the model's device): the same seed and batch
    size give the same episodes.
    """
    if prefixes is not None and len(prefixes) != len(prompts):
        raise ValueError(f"got {len(prompts)} prompts but {len(prefixes)} prefixes")
    device = next(model.parameters()).device
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    episodes = []
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start : start + batch_size]
        heads = [tokenizer(p, add_special_tokens=False).input_ids for p in batch]
        eps = [{"completion_ids": [], "logprobs": [], "env_mask": [], "words": []} for _ in batch]
        for i, ep in enumerate(eps):
            _append_environment(ep, (prefixes[start + i] if prefixes else "").split(), tokenizer)
        active = list(range(len(batch)))
        with eval_mode(model):
            while active:
                rows = [heads[i] + eps[i]["completion_ids"] for i in active]
                width = max(map(len, rows))
                ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=device)
                mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
                logits = model(input_ids=ids, attention_mask=mask, position_ids=_positions(mask)).logits[:, -1]
                logp = torch.log_softmax(logits.float(), dim=-1)
                tokens = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(1)
                chosen = logp.gather(1, tokens[:, None]).squeeze(1)
                still = []
                for i, token, lp in zip(active, tokens.tolist(), chosen.tolist(), strict=True):
                    ep = eps[i]
                    ep["completion_ids"].append(token)
                    ep["logprobs"].append(lp)
                    ep["env_mask"].append(1)
                    if token == eos:
                        continue
                    ep["words"].append(tokenizer.convert_ids_to_tokens(token))
                    reply, stop = environment(batch[i], ep["words"])
                    _append_environment(ep, reply, tokenizer)
                    if not stop and len(ep["words"]) < max_words(batch[i]):
                        still.append(i)
                active = still
        for ep in eps:
            ep["text"] = " ".join(ep.pop("words"))
        episodes += eps
    return episodes


def _append_environment(episode: dict, words: list[str], tokenizer: PreTrainedTokenizerBase) -> None:
    """Add words the model did not write to an episode: in its tokens, masked out (env_mask 0, logprob 0)."""
    episode["completion_ids"] += tokenizer.convert_tokens_to_ids(words)
    episode["logprobs"] += [0.0] * len(words)
    episode["env_mask"] += [0] * len(words)
    episode["words"] += words
