"""Multi-turn rollouts with a tool in the loop, for TRL's `GRPOTrainer(rollout_func=...)`, and the ways a group
of oversampled rollouts is cut back to the group GRPO trains on: at random, or Resample-on-Correct (GRPO-RoC,
rStar2-Agent), which keeps the cleanest successes and a uniform sample of the failures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from casestudies.generation import Environment, sample_episodes

Judge = Callable[[str, str], tuple[float, float]]  # (prompt, completion text) -> (reward, penalty)

__all__ = ["ToolRollout", "keep_counts", "random_downsample", "resample_on_correct"]


def keep_counts(rewards: Sequence[float], keep: int) -> tuple[int, int]:
    """How many successes (reward > 0) and failures to keep when `keep` of a group's rollouts survive: their
    shares as in the whole group (rounded half up), with at least one of each when the group has both, so a
    group that had a learning signal keeps it."""
    r = np.asarray(rewards, dtype=float)
    if not 0 < keep <= r.size:
        raise ValueError(f"keep must be between 1 and the group size {r.size}, got {keep}")
    positives = int((r > 0).sum())
    kept = int(np.floor(positives * keep / r.size + 0.5))
    if 0 < positives < r.size:
        kept = min(max(kept, 1), keep - 1)
    kept = min(kept, positives)
    return kept, keep - kept


def random_downsample(rewards: Sequence[float], keep: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of `keep` rollouts drawn at random within successes and within failures, in `keep_counts`'s
    numbers: the control for Resample-on-Correct (same counts, no preference among successes)."""
    r = np.asarray(rewards, dtype=float)
    n_pos, n_neg = keep_counts(r, keep)
    pos, neg = np.flatnonzero(r > 0), np.flatnonzero(r <= 0)
    return np.sort(np.concatenate([rng.choice(pos, n_pos, replace=False), rng.choice(neg, n_neg, replace=False)]))


def resample_on_correct(
    rewards: Sequence[float],
    penalties: Sequence[float],
    keep: int,
    rng: np.random.Generator,
    failures: str = "uniform",
) -> np.ndarray:
    """Resample-on-Correct: indices of `keep` rollouts, the successes with the lowest `penalties` (ties broken at
    random) and the failures drawn uniformly, in `keep_counts`'s numbers. `failures="lowest"` keeps the
    lowest-penalty failures too, as the released rStar2-Agent code does."""
    r, p = np.asarray(rewards, dtype=float), np.asarray(penalties, dtype=float)
    if r.shape != p.shape:
        raise ValueError(f"got {r.size} rewards but {p.size} penalties")
    if failures not in ("uniform", "lowest"):
        raise ValueError(f"failures must be 'uniform' or 'lowest', got {failures!r}")
    n_pos, n_neg = keep_counts(r, keep)

    def cleanest(indices: np.ndarray, n: int) -> np.ndarray:
        shuffled = rng.permutation(indices)
        return shuffled[np.argsort(p[shuffled], kind="stable")][:n]

    pos, neg = np.flatnonzero(r > 0), np.flatnonzero(r <= 0)
    chosen_neg = cleanest(neg, n_neg) if failures == "lowest" else rng.choice(neg, n_neg, replace=False)
    return np.sort(np.concatenate([cleanest(pos, n_pos), chosen_neg]))


SELECTIONS = ("all", "random", "roc")


class ToolRollout:
    """A TRL `rollout_func`: each group's rollouts are episodes with `environment` replying (masked out of the
    loss), sampled `oversample` times over and cut back to the group size by `selection`.

    `selection` is "all" (no oversampling), "random" (`random_downsample`) or "roc" (`resample_on_correct`,
    with its `failures`: "uniform" as the paper describes, "lowest" as its released code does);
    `judge(prompt, completion)` gives the reward and penalty the selection reads. `frame()` has one row per
    sampled rollout and step: its reward, penalty and whether it was kept; `success_curve()` sums it up by step.
    """

    def __init__(
        self,
        tokenizer,
        environment: Environment,
        max_words: Callable[[str], int],
        judge: Judge,
        selection: str = "all",
        oversample: int = 1,
        seed: int = 0,
        failures: str = "uniform",
    ):
        if selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
        if oversample < 1 or (selection == "all") != (oversample == 1):
            raise ValueError(f"'all' samples once, the others oversample (> 1): got {selection}, {oversample}")
        if failures not in ("uniform", "lowest") or (failures != "uniform" and selection != "roc"):
            raise ValueError(f"failures is 'uniform' or, with selection 'roc' only, 'lowest': got {failures!r}")
        self.tokenizer, self.environment, self.max_words, self.judge = tokenizer, environment, max_words, judge
        self.selection, self.oversample, self.seed, self.failures = selection, oversample, seed, failures
        self.rng, self.generator, self.rows = np.random.default_rng(seed), None, []

    def __call__(self, prompts: list[str], trainer) -> dict:
        """Sample, cut back and return the batch in TRL's format (prompts arrive once per group member)."""
        model, size = trainer.model, trainer.num_generations
        if self.generator is None:
            device = next(model.parameters()).device
            self.generator = torch.Generator(device=device).manual_seed(self.seed)
        groups = [prompts[i : i + size] for i in range(0, len(prompts), size)]
        if any(len(set(group)) != 1 for group in groups):
            raise ValueError(f"expected each prompt {size} times in a row (TRL's grouping), got {prompts[: 2 * size]}")
        expanded = [p for group in groups for p in group for _ in range(self.oversample)]
        episodes = sample_episodes(model, self.tokenizer, expanded, self.environment, self.max_words, self.generator)
        out = {"prompt_ids": [], "completion_ids": [], "logprobs": [], "env_mask": []}
        step = trainer.state.global_step
        for g, group in enumerate(groups):
            members = episodes[g * size * self.oversample : (g + 1) * size * self.oversample]
            judged = [self.judge(group[0], ep["text"]) for ep in members]
            rewards, penalties = [r for r, _ in judged], [p for _, p in judged]
            if self.selection == "roc":
                kept = resample_on_correct(rewards, penalties, size, self.rng, failures=self.failures)
            elif self.selection == "random":
                kept = random_downsample(rewards, size, self.rng)
            else:
                kept = np.arange(size)
            ids = self.tokenizer(group[0], add_special_tokens=False).input_ids
            for i, (reward, penalty) in enumerate(judged):
                self.rows.append({"step": step, "group": g, "reward": reward, "penalty": penalty, "kept": i in kept})
            for i in kept:
                out["prompt_ids"].append(ids)
                for key in ("completion_ids", "logprobs", "env_mask"):
                    out[key].append(members[i][key])
        return out

    def frame(self) -> pd.DataFrame:
        """Every sampled rollout so far: step, group, reward, penalty, kept."""
        return pd.DataFrame(self.rows, columns=["step", "group", "reward", "penalty", "kept"])

    def success_curve(self) -> pd.DataFrame:
        """Per step: among the successes (reward > 0) sampled, the share with a positive penalty (`sampled`), and
        the same share among the successes kept for training (`trained`); NaN at a step without any."""
        log = self.frame()
        steps = pd.Index(sorted(log["step"].unique()), name="step")
        successes = log[log["reward"] > 0].assign(penalized=lambda d: (d["penalty"] > 0).astype(float))
        sampled = successes.groupby("step")["penalized"].mean().reindex(steps)
        trained = successes[successes["kept"]].groupby("step")["penalized"].mean().reindex(steps)
        return pd.DataFrame({"sampled": sampled, "trained": trained}).reset_index()
