"""Seeds per minute: one process with two torch threads, one with one thread, and `stats.map_seeds` with one
single-thread worker per core.

The per-seed work is a chapter's in miniature at `cpu` sizes (2-layer, width-64 Llama): a supervised warm-up
on the candidate-set task, then a GRPO arm with 64 completions per step. Each configuration runs the same
seeds `--repeats` times; the medians and the throughput ratio against the serial two-thread run are printed.
The parallel timings include starting the workers (about what a chapter pays once).

    python benchmarks/seeds.py [--seeds 5] [--repeats 3] [--sft-steps 300] [--rl-steps 120]
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

import torch

from casestudies.models import tiny_causal_lm, word_tokenizer
from casestudies.scale import PILOT_SEEDS_FROM
from casestudies.stats import map_seeds, usable_cores
from casestudies.tasks import candidate_set as cs
from casestudies.training import grpo, sft


def one_seed(seed: int, sft_steps: int, rl_steps: int) -> float:
    """A warm-up and one RL arm for one seed; returns the final mean reward (so the work cannot be skipped)."""
    tokenizer = word_tokenizer(cs.VOCABULARY)
    model = tiny_causal_lm(tokenizer, width=64, depth=2, heads=4, seed=seed)
    sft(model, tokenizer, cs.warmup_items(32 * sft_steps, range(1, 11), seed), steps=sft_steps, seed=seed)
    items = cs.sample_items(8 * rl_steps, [1, 2, 5, 10], seed=seed + 1)
    history = grpo(
        model,
        tokenizer,
        items,
        cs.binary_reward,
        steps=rl_steps,
        prompts_per_step=8,
        generations=8,
        max_completion_length=cs.COMPLETION_TOKENS,
        seed=seed,
    )
    return float(history["reward"].iloc[-1])


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)  # the book reports five seeds at cpu scale
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sft-steps", type=int, default=300)
    parser.add_argument("--rl-steps", type=int, default=120)
    args = parser.parse_args()
    seeds = list(range(PILOT_SEEDS_FROM, PILOT_SEEDS_FROM + args.seeds))  # benchmark seeds, never a reported one
    work = partial(one_seed, sft_steps=args.sft_steps, rl_steps=args.rl_steps)

    def serial(threads: int) -> None:
        torch.set_num_threads(threads)
        map_seeds(work, seeds, parallel=False)

    configurations = {
        "serial, 2 threads": partial(serial, 2),
        "serial, 1 thread": partial(serial, 1),
        f"map_seeds, {min(usable_cores(), len(seeds))} workers x 1 thread": partial(map_seeds, work, seeds),
    }
    times: dict[str, list[float]] = {name: [] for name in configurations}
    for _ in range(args.repeats):  # interleaved, so a slow spell on the machine hits every configuration
        for name, run in configurations.items():
            times[name].append(timed(run))
    reference = statistics.median(times["serial, 2 threads"])
    print(f"{len(seeds)} seeds, {args.sft_steps} warm-up + {args.rl_steps} GRPO steps each, {usable_cores()} cores")
    print(f"{'configuration':<34} {'median s':>9} {'seeds/min':>10} {'throughput vs serial 2 threads':>31}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<34} {median:>9.1f} {60 * len(seeds) / median:>10.2f} {reference / median:>30.2f}x")


if __name__ == "__main__":
    main()
