"""Training through TRL: supervised (warm-up / pre-training) and RL with verifiable rewards (GRPO).

Thin wrappers that fix the settings every chapter shares (no checkpoints, no reporting, CPU-friendly
batch shapes, one progress bar) so a chapter's cells show only what differs: the data and the reward.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from datasets import Dataset, disable_progress_bars
from tqdm import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase, PrinterCallback, TrainerCallback
from transformers.utils import logging as hf_logging
from trl import GRPOConfig, GRPOTrainer, SFTConfig, SFTTrainer

from casestudies.training.rollouts import ToolRollout, keep_counts, random_downsample, resample_on_correct

RewardFunction = Callable[..., list[float]]

__all__ = [
    "ProgressBar",
    "RewardLog",
    "ShuffledReward",
    "StopWhen",
    "ToolRollout",
    "Track",
    "difficulty_bias",
    "group_advantages",
    "grpo",
    "keep_counts",
    "random_downsample",
    "resample_on_correct",
    "sft",
]

_LOGGED = ("step", "prompt", "completion", "reward")  # RewardLog's own columns


class ProgressBar(TrainerCallback):
    """A plain-text tqdm bar over optimizer steps showing the latest logged values (no widgets needed)."""

    def __init__(self, desc: str, keys: Sequence[str] = ("loss", "reward")):
        self.desc, self.keys, self.bar = desc, tuple(keys), None

    def on_train_begin(self, args, state, control, **kwargs):
        self.bar = tqdm(total=state.max_steps, desc=self.desc, mininterval=2.0)

    def on_step_end(self, args, state, control, **kwargs):
        self.bar.update(1)

    def on_log(self, args, state, control, logs=None, **kwargs):
        shown = {k: f"{logs[k]:.3f}" for k in self.keys if logs and k in logs}
        if shown:
            self.bar.set_postfix(shown, refresh=False)

    def on_train_end(self, args, state, control, **kwargs):
        self.bar.close()


class StopWhen(TrainerCallback):
    """Stop training once `done(model)` is true, asking every `every` optimizer steps from step `start` on ("train
    at least `start` steps, then until the model has learned the task"), with the step count as a ceiling.
    `stopped_at` is the step it stopped at (None if it never did). `done` should put the model back in training
    mode if it changes it (the generation helpers do).
    """

    def __init__(self, done: Callable[[PreTrainedModel], bool], every: int, start: int = 0):
        if every < 1:
            raise ValueError(f"every must be a positive number of steps, got {every}")
        if start < 0:
            raise ValueError(f"start must be a step count of 0 or more, got {start}")
        self.done, self.every, self.start, self.stopped_at = done, every, start, None

    def on_step_end(self, args, state, control, model=None, **kwargs):
        step = state.global_step
        if step >= self.start and (step - self.start) % self.every == 0 and self.done(model):
            self.stopped_at = state.global_step
            control.should_training_stop = True


class Track(TrainerCallback):
    """Record `measure(model)` (a dict of numbers) before the first step (unless `at_start` is false), every
    `every` optimizer steps and after the last, as rows with the `step`: a checkpoint's trajectory without saving
    checkpoints, always ending on the final model. `measure` should put the model back in training mode if it
    changes it (the generation helpers do)."""

    def __init__(self, measure: Callable[[PreTrainedModel], Mapping[str, float]], every: int, at_start: bool = True):
        if every < 1:
            raise ValueError(f"every must be a positive number of steps, got {every}")
        self.measure, self.every, self.at_start, self.rows = measure, every, at_start, []

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if self.at_start:
            self.rows.append({"step": 0, **self.measure(model)})

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.every == 0:
            self.rows.append({"step": state.global_step, **self.measure(model)})

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if not self.rows or self.rows[-1]["step"] != state.global_step:
            self.rows.append({"step": state.global_step, **self.measure(model)})

    def frame(self) -> pd.DataFrame:
        """The measurements so far, one row per checkpoint."""
        return pd.DataFrame(self.rows)


class RewardLog:
    """A reward function that records each completion it scores: pass it to `grpo` in place of `reward`.

    One row per completion: the fixed `labels` (bound now, so a loop variable cannot change them later), the
    optimizer `step` it was sampled at (TRL's `trainer_state.global_step`, counted from 0; `None` outside a
    trainer), `prompt`, `completion`, `reward`, then the fields `describe(completion)` returns. TRL logs the
    rewards under the wrapped function's name.
    """

    def __init__(
        self,
        reward: RewardFunction,
        describe: Callable[[str], Mapping[str, Any]] | None = None,
        labels: Mapping[str, Any] | None = None,
    ):
        self.labels = dict(labels or {})
        clash = set(self.labels) & set(_LOGGED)
        if clash:
            raise ValueError(f"labels may not be named {sorted(clash)}: RewardLog fills those columns itself")
        self.reward, self.describe = reward, describe
        self.__name__ = getattr(reward, "__name__", type(reward).__name__)
        self.rows: list[dict[str, Any]] = []

    def __call__(self, completions: list[str], **kwargs) -> list[float]:
        """Score `completions` with the wrapped function (same keyword arguments), log them, return the rewards."""
        rewards = list(self.reward(completions=completions, **kwargs))
        state = kwargs.get("trainer_state")
        step = state.global_step if state is not None else None
        prompts = kwargs.get("prompts") or [None] * len(completions)
        for prompt, completion, reward in zip(prompts, completions, rewards, strict=True):
            extra = dict(self.describe(completion)) if self.describe else {}
            clash = set(extra) & (set(_LOGGED) | set(self.labels))
            if clash:
                raise ValueError(f"describe() returned {sorted(clash)}, which are already columns of the log")
            self.rows.append(
                {**self.labels, "step": step, "prompt": prompt, "completion": completion, "reward": reward, **extra}
            )
        return rewards

    def frame(self) -> pd.DataFrame:
        """The log so far as a DataFrame, one row per scored completion."""
        return pd.DataFrame(self.rows, columns=None if self.rows else [*self.labels, *_LOGGED])


class ShuffledReward:
    """A control reward that ignores the completion: at each optimizer step it pays out another run's rewards
    of that step, with GRPO's groups shuffled among themselves and each group's rewards among its members.

    Given the rewards an RL run earned, step by step (`rewards[step]`, in TRL's order: one group of
    `group_size` completions per prompt, one after another), a run under this reward sees the same rewards at
    every step, so the same reward rate, the same groups with and without a learning signal and the same
    sizes of advantage, with no information about which completion earned them. Draws depend only on `seed`
    and the step, so a run is reproducible.
    """

    __name__ = "shuffled_reward"

    def __init__(self, rewards: Sequence[Sequence[float]], group_size: int, seed: int):
        if group_size < 1 or not rewards:
            raise ValueError(f"need a positive group size and at least one step of rewards, got {group_size}")
        self.rewards = [np.asarray(step, dtype=float) for step in rewards]
        uneven = [i for i, step in enumerate(self.rewards) if step.ndim != 1 or step.size % group_size]
        if uneven:
            raise ValueError(f"the rewards of step(s) {uneven[:5]} do not split into groups of {group_size}")
        self.group_size, self.seed = group_size, int(seed)

    def __call__(self, completions: list[str], **kwargs) -> list[float]:
        """The rewards of the current step (`trainer_state.global_step`), shuffled; one per completion."""
        state = kwargs.get("trainer_state")
        step = state.global_step if state is not None else 0
        if step >= len(self.rewards) or self.rewards[step].size != len(completions):
            raise ValueError(
                f"step {step} with {len(completions)} completions: the shuffled run has "
                f"{len(self.rewards)} steps of {self.rewards[0].size} rewards; train the same steps and batch"
            )
        rng = np.random.default_rng([self.seed, step])
        groups = rng.permutation(self.rewards[step].reshape(-1, self.group_size), axis=0)
        return [float(x) for x in rng.permuted(groups, axis=1).ravel()]


def _quiet() -> None:
    """Silence library chatter that would bury a chapter's own output: info logs, progress bars, and warnings
    the libraries raise about their own internals (TRL calling deprecated transformers APIs, say).

    A warning attributed to this package's code (our call of a deprecated API) still shows, in tests too.
    """
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    disable_progress_bars()
    logging.getLogger("trl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"(trl|transformers|accelerate)\..*")


def _common(seed: int, steps: int, lr: float, batch_size: int) -> dict:
    if steps <= 0 or batch_size <= 0 or lr <= 0:
        raise ValueError(f"steps, batch size and learning rate must be positive, got {steps}, {batch_size}, {lr}")
    return dict(
        output_dir=tempfile.gettempdir(),  # nothing is saved there: save_strategy="no", report_to="none"
        max_steps=steps,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=seed,
        data_seed=seed,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        bf16=False,  # tiny models train in float32 on CPU and GPU alike
    )


def _trainer_arguments(model, tokenizer, config, data, desc: str, callbacks: Sequence[TrainerCallback]) -> dict:
    """What every TRL trainer here is built with: the model, its config and data, and a progress bar first."""
    return dict(
        model=model,
        args=config,
        train_dataset=data,
        processing_class=tokenizer,
        callbacks=[ProgressBar(desc), *callbacks],
    )


def _train(trainer) -> pd.DataFrame:
    """Train, then restore the model's own `forward` so it can be deep-copied and reused as a plain module.

    TRL replaces `model.forward` with a closure over the original module (a fused LM head for the loss); a
    `copy.deepcopy` of the trained model would keep calling the *original's* weights through that closure.
    """
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    for attribute in ("forward", "_original_forward"):
        trainer.model.__dict__.pop(attribute, None)
    rows = [row for row in trainer.state.log_history if "step" in row and "train_runtime" not in row]
    return pd.DataFrame(rows)


def sft(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    items: list[dict],
    steps: int,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    desc: str = "supervised",
    callbacks: Sequence[TrainerCallback] = (),
    lora_rank: int | None = None,
) -> pd.DataFrame:
    """Supervised fine-tuning on prompt/completion items (loss on the completion only); returns the log history.

    The model is trained in place; `items` need `prompt` and `completion` fields. With `lora_rank`, only
    low-rank adapters on every linear layer train (peft's LoRA, alpha = 2 × rank), as when a real pretrained
    model is fine-tuned, and they are merged into the weights afterwards, so the result is a plain model.
    """
    if not items:
        raise ValueError("sft needs at least one prompt/completion item to train on, got none")
    _quiet()
    data = Dataset.from_list([{"prompt": it["prompt"], "completion": it["completion"]} for it in items])
    config = SFTConfig(**_common(seed, steps, lr, batch_size), completion_only_loss=True, max_length=None)
    if lora_rank is None:
        return _train(SFTTrainer(**_trainer_arguments(model, tokenizer, config, data, desc, callbacks)))
    if lora_rank < 1:
        raise ValueError(f"lora_rank must be a positive integer, got {lora_rank}")
    from peft import LoraConfig

    lora = LoraConfig(r=lora_rank, lora_alpha=2 * lora_rank, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = SFTTrainer(**_trainer_arguments(model, tokenizer, config, data, desc, callbacks), peft_config=lora)
    history = _train(trainer)
    trainer.model.merge_and_unload()  # the adapters' update, folded into `model`'s own weights
    return history


def grpo(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    items: list[dict],
    reward_funcs: RewardFunction | list[RewardFunction],
    steps: int,
    prompts_per_step: int,
    generations: int,
    max_completion_length: int,
    lr: float = 1e-3,
    beta: float = 0.0,
    scale_rewards: str = "none",
    mask_truncated: bool = False,
    temperature: float = 1.0,
    seed: int = 0,
    desc: str = "GRPO",
    callbacks: Sequence[TrainerCallback] = (),
    context: Callable[[], str] | None = None,
    rollout: Callable[[list[str], GRPOTrainer], dict] | None = None,
) -> pd.DataFrame:
    """GRPO with custom reward functions via TRL's `GRPOTrainer`; trains `model` in place, returns the log history.

    Each step samples `generations` completions for each of `prompts_per_step` prompts, one optimizer step
    per generation batch (on-policy). Extra item fields (e.g. `gold`) reach the reward functions as keyword
    arguments (wrap a reward in `RewardLog` to record every completion). `beta > 0` adds a KL penalty to the
    policy as it was when this call started. Rewards are not std-scaled by default (Dr. GRPO; the RLCR paper).
    With `mask_truncated`, completions cut off at `max_completion_length` are left out of the loss.
    With `context`, each prompt's `{context}` field is filled in with `context()` as its batch is drawn, so a
    callback can change the prompt during training (it takes effect one step later: a batch is drawn ahead).
    With `rollout` (TRL's `rollout_func`, e.g. a `ToolRollout`), it samples the groups instead of `generate`:
    multi-turn episodes with an environment, whose tokens it masks out of the loss.
    """
    _quiet()
    if generations < 2:
        raise ValueError(f"GRPO needs at least 2 generations per prompt to form a group, got {generations}")
    data = Dataset.from_list(items)
    if context is not None:
        if not all("{context}" in item["prompt"] for item in items):
            raise ValueError("with a context, every prompt needs a '{context}' field to fill in")

        def fill(batch: dict) -> dict:
            return {**batch, "prompt": [p.format(context=context()) for p in batch["prompt"]]}

        data = data.with_transform(fill)
    config = GRPOConfig(
        **_common(seed, steps, lr, prompts_per_step * generations),
        num_generations=generations,
        max_completion_length=max_completion_length,
        beta=beta,
        scale_rewards=scale_rewards,
        mask_truncated_completions=mask_truncated,
        temperature=temperature,
        steps_per_generation=1,
        num_iterations=1,
        log_completions=False,
        shuffle_dataset=True,
    )
    name_or_path = model.config._name_or_path
    try:
        with tempfile.TemporaryDirectory(prefix="casestudies-ref-") as reference:
            if beta > 0:
                # TRL builds the frozen reference policy by reloading the model from `config._name_or_path`:
                # save the model as it is now, so the KL anchor is exactly the policy RL starts from.
                model.save_pretrained(reference)
                model.config._name_or_path = reference
            arguments = _trainer_arguments(model, tokenizer, config, data, desc, callbacks)
            if rollout is not None:
                os.environ["TRL_EXPERIMENTAL_SILENCE"] = "1"  # rollout_func is marked experimental in TRL 1.x
            return _train(GRPOTrainer(reward_funcs=reward_funcs, rollout_func=rollout, **arguments))
    finally:
        model.config._name_or_path = name_or_path  # the model's own name, not the deleted reference folder


def group_advantages(rewards: Sequence[float], scale: bool) -> np.ndarray:
    """GRPO's advantages for one group of rewards: r − mean, divided by the group's standard deviation (with
    Bessel's correction, plus 1e-4, as in TRL) when `scale` is true (TRL's `scale_rewards="group"`)."""
    r = np.asarray(rewards, dtype=float)
    if r.ndim != 1 or r.size < 2:
        raise ValueError(f"a group needs at least two rewards, got {list(rewards)}")
    centred = r - r.mean()
    return centred / (r.std(ddof=1) + 1e-4) if scale else centred


def difficulty_bias(group_size: int) -> list[dict]:
    """For each number of successes c in a group of binary rewards: the advantage of a success and of a
    failure, and the group's total squared advantage, with and without std scaling. With scaling, every
    group with any variance carries the same total (G − 1), however rare its successes."""
    rows = []
    for c in range(1, group_size):
        rewards = [1.0] * c + [0.0] * (group_size - c)
        row = {"successes": c, "success rate": c / group_size}
        for name, scale in (("scaled", True), ("unscaled", False)):
            a = group_advantages(rewards, scale)
            row |= {f"success ({name})": a[0], f"failure ({name})": a[-1], f"Σ A² ({name})": float(a @ a)}
        rows.append(row)
    return rows
