"""Time one GRPO step: TRL's `GRPOTrainer` against a minimal hand-written, KV-cached GRPO step.

Same model (2-layer, width-64 Llama), same task (candidate sets of size 5), 64 completions per step
(8 prompts x 8 generations), binary reward, no KL, one optimizer step per generation batch. Reports the
median step time over several steps (after warm-up steps) at 1 and 2 threads, and the ratio TRL / hand.

    python benchmarks/grpo_engine.py [--steps 30]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from transformers import TrainerCallback

from casestudies.models import tiny_causal_lm, word_tokenizer
from casestudies.tasks import candidate_set as cs
from casestudies.tasks.candidate_set import binary_reward
from casestudies.training import grpo

PROMPTS, GENERATIONS, WARMUP = 8, 8, 5


def hand_step(model, tokenizer, optimizer, items: list[dict]) -> None:
    """One on-policy GRPO step written out: sample with a KV cache, score, group-centre, policy gradient."""
    prompt_ids = tokenizer([it["prompt"] for it in items], return_tensors="pt").input_ids  # equal lengths
    ids = prompt_ids.repeat_interleave(GENERATIONS, dim=0)
    model.eval()
    with torch.no_grad():
        out = model(input_ids=ids, use_cache=True)
        new_tokens = []
        for _ in range(cs.COMPLETION_TOKENS):
            token = torch.multinomial(torch.softmax(out.logits[:, -1].float(), -1), 1)
            new_tokens.append(token)
            out = model(input_ids=token, cache=out.cache, use_cache=True)
    completion = torch.cat(new_tokens, dim=1)
    is_eos = completion == tokenizer.eos_token_id
    after_eos = (is_eos.cumsum(1) - is_eos.int()) > 0
    mask = (~after_eos).float()
    texts = tokenizer.batch_decode(completion.masked_fill(after_eos, tokenizer.pad_token_id), skip_special_tokens=True)
    gold = [it["gold"] for it in items for _ in range(GENERATIONS)]
    rewards = torch.tensor(binary_reward(texts, gold)).view(-1, GENERATIONS)
    advantages = (rewards - rewards.mean(1, keepdim=True)).view(-1, 1)
    model.train()
    logits = model(input_ids=torch.cat([ids, completion], 1)).logits[:, ids.shape[1] - 1 : -1]
    logp = torch.log_softmax(logits.float(), -1).gather(-1, completion.unsqueeze(-1)).squeeze(-1)
    loss = -(advantages * logp * mask).sum() / mask.sum()
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()


def time_hand(tokenizer, steps: int) -> float:
    model = tiny_causal_lm(tokenizer, width=64, depth=2, heads=4, seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    items = cs.sample_items(PROMPTS * (steps + WARMUP), (5,), seed=0)
    times = []
    for step in range(steps + WARMUP):
        start = time.perf_counter()
        hand_step(model, tokenizer, optimizer, items[step * PROMPTS : (step + 1) * PROMPTS])
        times.append(time.perf_counter() - start)
    return statistics.median(times[WARMUP:])


class StepTimer(TrainerCallback):
    """Wall time of each whole optimizer step (generation, scoring, backward, optimizer), as `hand_step` is timed."""

    def __init__(self):
        self.times, self.start = [], 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self.start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self.start)


def time_trl(tokenizer, steps: int) -> float:
    model = tiny_causal_lm(tokenizer, width=64, depth=2, heads=4, seed=0)
    items = cs.sample_items(PROMPTS * (steps + WARMUP), (5,), seed=0)
    history = grpo(
        model,
        tokenizer,
        items,
        binary_reward,
        steps=steps + WARMUP,
        prompts_per_step=PROMPTS,
        generations=GENERATIONS,
        max_completion_length=cs.COMPLETION_TOKENS,
        lr=1e-3,
        desc="TRL",
    )
    return statistics.median(history["step_time"].iloc[WARMUP:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per engine (after 5 warm-up steps)")
    args = parser.parse_args()
    tokenizer = word_tokenizer(cs.VOCABULARY)
    print(f"GRPO step, 2-layer width-64 Llama, {PROMPTS * GENERATIONS} completions/step, median of {args.steps}")
    print(f"{'threads':>7}  {'hand (s)':>9}  {'TRL (s)':>8}  {'TRL/hand':>8}")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        hand, trl = time_hand(tokenizer, args.steps), time_trl(tokenizer, args.steps)
        print(f"{threads:>7}  {hand:>9.4f}  {trl:>8.4f}  {trl / hand:>8.2f}")


if __name__ == "__main__":
    main()
