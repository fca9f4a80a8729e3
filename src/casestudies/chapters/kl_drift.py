"""Chapter 7's machinery: keyed-digit task scores read exactly from next-token distributions, the fast weights
(an instruction word chosen by exact reward), the arm runner with its plasticity probes, and the analysis rules
(R² of a predictor of forgetting, the matched-reward checkpoint, plasticity over a probe).

The notebook keeps what defines the experiment (the arms, the SFT labels, the pre-training data mix). Everything
here turns a trained model, or a trajectory of checkpoints, into the numbers the hypotheses test. Chapter 9 uses
the same tasks and may import the task scores (`probabilities`, `right_tokens`, `expected_reward`, `old_scores`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from transformers import TrainerCallback

from casestudies.metrics.drift import entropy, forward_kl, parameter_distance
from casestudies.runs import stream, torch_seed
from casestudies.tasks.keyed_digits import DIGITS, VOCABULARY, correct_mask, correctness_reward, draw, inputs

BATCH = 64  # examples (SFT) or completions (GRPO) per step, every arm and probe


@dataclass(frozen=True)
class Setup:
    """Everything the chapter's runs share: the tasks, the model's size and every training budget."""

    old: tuple[str, ...]  # tasks the base model learns in pre-training (one right answer each)
    new: str  # the task every arm fine-tunes on
    next: str  # the task of the plasticity probes
    width: int
    depth: int
    heads: int
    pretrain_steps: int
    pretrain_lr: float
    check_every: int
    steps: int  # fine-tuning steps per arm
    lr: float  # every arm's and every probe's learning rate
    track_every: int
    prompts_per_step: int
    generations: int
    search_every: int  # the fast weights' search interval, in steps
    probe_steps: int
    probe_every: int
    probe_runs: int  # RL probe runs per probed model
    supervised_runs: int  # supervised probe runs per probed model

    @property
    def instructions(self) -> tuple[str, ...]:
        """The words the fast weights choose among: every old task's key and the new task's own."""
        return (*self.old, self.new)


@lru_cache(maxsize=1)
def tokenizer():
    """The chapter's word-level tokenizer (built once per process, the same in every worker)."""
    from casestudies.models import word_tokenizer

    return word_tokenizer(VOCABULARY)


def digit_ids() -> list[int]:
    """The token ids of the ten digits, in order."""
    from casestudies.generation import token_ids

    return token_ids(tokenizer(), DIGITS)


def build(setup: Setup, seed: int):
    """A fresh model of the chapter's size, initialised from the seed's `model` stream."""
    from casestudies.models import seeded_lm

    return seeded_lm(tokenizer(), setup, seed, max_positions=16)


def probabilities(model, prompts: Sequence[str]) -> np.ndarray:
    """The model's next-token distribution after each prompt, over the whole vocabulary, one row per prompt."""
    from casestudies.generation import next_token_probabilities

    return next_token_probabilities(model, tokenizer(), list(prompts))


def right_tokens(items: Sequence[dict]) -> np.ndarray:
    """Which tokens of the vocabulary are right answers, one boolean row per input."""
    allowed = np.zeros((len(items), len(tokenizer())), dtype=bool)
    allowed[:, digit_ids()] = correct_mask(items)
    return allowed


def expected_reward(p: np.ndarray, items: Sequence[dict]) -> float:
    """The expected correctness reward of distributions `p` (rows over the vocabulary) on `items`: the probability
    given to right answers, averaged over the inputs."""
    return float((np.asarray(p) * right_tokens(items)).sum(axis=1).mean())


def presented(items: Sequence[dict], key: str, instruction: str | None) -> list[str]:
    """The prompts of `items` (task `key`), with `instruction` in place of the task's key when one is given."""
    return [item["prompt"].replace(key, instruction or key, 1) for item in items]


def task_reward(model, key: str, instruction: str | None = None) -> float:
    """The expected reward on all 100 inputs of task `key`, its prompts starting with `instruction` if given."""
    items = inputs(key)
    return expected_reward(probabilities(model, presented(items, key, instruction)), items)


def old_scores(model, keys: Sequence[str]) -> dict[str, float]:
    """Greedy accuracy on every input of each task in `keys` (one right answer each), their mean, and the mean
    probability of the right answer (a continuous measure of the same)."""
    scores, right_probability = {}, []
    for key in keys:
        items = inputs(key)
        p = probabilities(model, [item["prompt"] for item in items])
        right = np.asarray(tokenizer().convert_tokens_to_ids([item["correct"] for item in items]))
        scores[f"{key}_accuracy"] = float(np.mean(p.argmax(axis=1) == right))
        right_probability.append(p[np.arange(len(items)), right])
    return {
        "old_accuracy": float(np.mean(list(scores.values()))),
        **scores,
        "old_probability": float(np.concatenate(right_probability).mean()),
    }


def measure(model, base, base_state: dict, setup: Setup, instruction: str, cache: dict | None = None) -> dict:
    """One checkpoint: the old tasks' scores, and on the new task (its prompts as this learner presents them, with
    `instruction` in place of the key) the expected reward, the forward KL from `base`, the entropy, the share of
    probability off the digits (malformed), how the right answers' probability is shared (`top_right_share`: the
    favourite's part), the KL on the plain prompts, and the distance the weights moved from `base_state`. `cache`
    (a dict) keeps the base's distributions between checkpoints of one run."""
    items = inputs(setup.new)
    plain = presented(items, setup.new, None)
    shown = presented(items, setup.new, instruction)
    cache = {} if cache is None else cache
    for prompts in (shown, plain):
        if tuple(prompts) not in cache:
            cache[tuple(prompts)] = probabilities(base, prompts)
    p, p0 = probabilities(model, shown), cache[tuple(shown)]
    p_plain = probabilities(model, plain) if instruction != setup.new else p
    right = p * right_tokens(items)
    share = right / right.sum(axis=1, keepdims=True)
    return {
        **old_scores(model, setup.old),
        "new_reward": float(right.sum(axis=1).mean()),
        "kl": float(forward_kl(p0, p).mean()),
        "entropy": float(entropy(p).mean()),
        "kl_plain_prompts": float(forward_kl(cache[tuple(plain)], p_plain).mean()),
        "malformed": float(1 - p[:, digit_ids()].sum(axis=1).mean()),
        "top_right_share": float(share.max(axis=1).mean()),
        "weight_distance": parameter_distance(model, base_state),
        "instruction": instruction,
    }


class FastWeights(TrainerCallback):
    """The fast weights: every `every` steps (and once at the start), the instruction word the task's prompts start
    with becomes the one of `words` with the highest expected reward on `task` under the current weights (the
    first such word on a tie). With `search=False` the instruction stays the task's own key."""

    def __init__(self, model, task: str, words: Sequence[str], every: int, search: bool):
        if every < 1:
            raise ValueError(f"every must be a positive number of steps, got {every}")
        self.task, self.words, self.every, self.search = task, tuple(words), every, search
        self.instruction = task
        if search:
            self.choose(model)

    def choose(self, model) -> str:
        """Set and return the word whose prompts earn the highest expected reward on the task now."""
        self.instruction = max(self.words, key=lambda word: task_reward(model, self.task, word))
        return self.instruction

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self.search and state.global_step % self.every == 0:
            self.choose(model)


def r2(x, y) -> float:
    """Share of the variance of y that a straight line in x explains (0 when either does not vary)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return float(np.corrcoef(x, y)[0, 1] ** 2) if np.std(x) > 0 and np.std(y) > 0 else 0.0


def rank_r2(x, y) -> float:
    """The same on ranks (Spearman's ρ²): any monotone relation, curved or not, scores 1."""
    return r2(pd.Series(np.asarray(x)).rank(), pd.Series(np.asarray(y)).rank())


def predictor_scores(
    curves: pd.DataFrame, predictors: dict[str, str], arms: Sequence[str], left_out: str | None = None
) -> list[dict]:
    """Per seed and predictor, how well it explains forgetting over every checkpoint of `arms` pooled: R², R²
    without the arm `left_out`, and ρ², as tidy records with arm `predictor·<name>`."""
    records = []
    for seed, points in curves[curves["arm"].isin(list(arms))].groupby("seed"):
        without = points[points["arm"] != left_out]
        for name, column in predictors.items():
            records.append(
                {
                    "arm": f"predictor·{name}",
                    "seed": seed,
                    "forgetting_r2": r2(points[column], points["forgetting"]),
                    "forgetting_r2_without_fixed": r2(without[column], without["forgetting"]),
                    "forgetting_rank_r2": rank_r2(points[column], points["forgetting"]),
                }
            )
    return records


def matched_point(curves: pd.DataFrame, threshold: float, columns: Sequence[str]) -> pd.DataFrame:
    """Each (arm, seed)'s first checkpoint whose new-task expected reward reaches `threshold`: `columns` with the
    suffix `_matched`; a run that never reaches it has no row."""
    reached = curves[curves["new_reward"] >= threshold].sort_values("step").groupby(["arm", "seed"]).head(1)
    return reached.set_index(["arm", "seed"])[list(columns)].add_suffix("_matched")


def plasticity(probes: pd.DataFrame, suffix: str = "") -> pd.DataFrame:
    """Per (arm, seed), from probe curves (`step`, `reward`, `entropy`, one curve per `run`): the mean expected
    reward over the probe's checkpoints after the start, averaged over runs (`plasticity`), where it started
    (`next_task_start`), the entropy it started from (`next_task_entropy`) and the gain over the start; each name
    with `suffix` appended."""
    after = probes[probes["step"] > 0].groupby(["arm", "seed"])["reward"].mean().rename("plasticity")
    start = probes[probes["step"] == 0].groupby(["arm", "seed"])[["reward", "entropy"]].mean()
    table = after.to_frame().join(start.rename(columns={"reward": "next_task_start", "entropy": "next_task_entropy"}))
    table["plasticity_gain"] = table["plasticity"] - table["next_task_start"]
    return table.add_suffix(suffix)


def next_task_tracker(setup: Setup):
    """A `Track` of the next task's expected reward and answer entropy every `probe_every` steps."""
    from casestudies.training import Track

    prompts = [item["prompt"] for item in inputs(setup.next)]

    def score(model) -> dict:
        p = probabilities(model, prompts)
        return {"reward": expected_reward(p, inputs(setup.next)), "entropy": float(entropy(p).mean())}

    return Track(score, every=setup.probe_every)


def rl_probe(model, setup: Setup, seed: int, run: int, desc: str = "probe") -> pd.DataFrame:
    """Plasticity under RL: GRPO on the next task from a copy of `model`, its expected reward tracked. Run `run`
    of a seed draws the same prompts and order whatever the model, so probes pair across arms."""
    from casestudies.training import grpo

    policy, track = copy.deepcopy(model), next_task_tracker(setup)
    items = draw([setup.next], setup.probe_steps * setup.prompts_per_step, seed=torch_seed(seed, f"probe {run}"))
    grpo(
        policy,
        tokenizer(),
        [{"prompt": it["prompt"], "correct": it["correct"]} for it in items],
        correctness_reward,
        steps=setup.probe_steps,
        prompts_per_step=setup.prompts_per_step,
        generations=setup.generations,
        max_completion_length=2,
        lr=setup.lr,
        seed=torch_seed(seed, f"probe {run} order"),
        desc=f"seed {seed}: {desc} {run}",
        callbacks=[track],
    )
    return track.frame().assign(run=run, probe="rl")


def one_right_answer(items: Sequence[dict], rng: np.random.Generator) -> dict[tuple[int, int], str]:
    """One right answer per input of a task, drawn uniformly among its right answers: `{(a, b): digit}`."""
    return {(it["a"], it["b"]): str(rng.choice(list(it["correct"]))) for it in items}


def supervised_probe(model, setup: Setup, seed: int, run: int, desc: str = "supervised probe") -> pd.DataFrame:
    """Plasticity without exploration: SFT on the next task from a copy of `model`, one right answer per input
    (drawn once per run), the RL probe's steps and batch size, its expected reward tracked."""
    from casestudies.training import sft

    policy, track = copy.deepcopy(model), next_task_tracker(setup)
    answer = one_right_answer(inputs(setup.next), stream(seed, f"supervised probe {run} labels"))
    items = draw([setup.next], setup.probe_steps * BATCH, seed=torch_seed(seed, f"supervised probe {run}"))
    sft(
        policy,
        tokenizer(),
        [{"prompt": it["prompt"], "completion": " " + answer[it["a"], it["b"]]} for it in items],
        steps=setup.probe_steps,
        batch_size=BATCH,
        lr=setup.lr,
        seed=torch_seed(seed, f"supervised probe {run} order"),
        desc=f"seed {seed}: {desc} {run}",
        callbacks=[track],
    )
    return track.frame().assign(run=run, probe="supervised")


def pretrain(setup: Setup, seed: int, items: Callable[[int, int], list[dict]]) -> tuple[dict, int | None]:
    """Pre-train one seed's base model on `items(n, seed)` until it answers every input of every old task right
    (greedy), checked every `check_every` steps; return its weights and the step it stopped at (None: never)."""
    from casestudies.training import StopWhen, sft

    model = build(setup, seed)
    stop = StopWhen(lambda m: old_scores(m, setup.old)["old_accuracy"] == 1.0, every=setup.check_every)
    sft(
        model,
        tokenizer(),
        items(setup.pretrain_steps * BATCH, seed),
        steps=setup.pretrain_steps,
        batch_size=BATCH,
        lr=setup.pretrain_lr,
        seed=torch_seed(seed, "pre-training order"),
        desc=f"seed {seed}: pre-training",
        callbacks=[stop],
    )
    return model.state_dict(), stop.stopped_at


def uniform_digit_kl(p: np.ndarray) -> float:
    """KL(p's digits, renormalised ‖ a uniformly random digit), averaged over rows: the drift of the reference that
    answers a random digit, measured as the chapter measures every model's."""
    digits = np.asarray(p)[:, digit_ids()]
    digits = digits / digits.sum(axis=1, keepdims=True)
    return float(forward_kl(digits, np.full_like(digits, 0.1)).mean())


def signal_share(log: pd.DataFrame) -> float:
    """The share of GRPO groups (a step's completions of one prompt) whose rewards differ: those with a signal."""
    return float((log.groupby(["step", "prompt"])["reward"].nunique() > 1).mean())


def train(
    setup: Setup,
    arms: dict[str, dict],
    labels: Callable[[str, list[dict], np.ndarray, np.random.Generator], list[str]],
    seed: int,
    names: Sequence[str],
    base_state: dict,
    probed: Sequence[str],
) -> list[dict]:
    """The arms `names` of one seed, in order, each from the base model: fine-tune on the new task (`arms[name]`:
    `kind` "sft", "rl" or "none"; `beta`, `fast`, `shuffled`), tracking every checkpoint, then probe the final
    model if the arm is in `probed` (an arm not in `arms`, "base", only probes the base). SFT answers come from
    `labels(name, items, p0, rng)` (p0: the base's distributions on the new task's inputs, in `inputs` order). A
    `shuffled` arm replays the rewards of the arm "RL", which must run before it in the same job."""
    from casestudies.training import RewardLog, ShuffledReward, Track, grpo, sft

    base = build(setup, seed)
    base.load_state_dict(base_state)
    p0 = probabilities(base, [item["prompt"] for item in inputs(setup.new)])
    items = draw([setup.new], setup.steps * BATCH, seed=torch_seed(seed, "new task"))
    out, earned, cache = [], None, {}
    for name in names:
        arm = arms.get(name, {"kind": "none"})
        model = base if arm["kind"] == "none" else copy.deepcopy(base)
        fast = FastWeights(model, setup.new, setup.instructions, setup.search_every, search=arm.get("fast", False))
        track = Track(
            lambda m, fast=fast: measure(m, base, base_state, setup, fast.instruction, cache), setup.track_every
        )
        signal = np.nan
        if arm["kind"] == "none":
            curve = pd.DataFrame([{"step": 0, **measure(model, base, base_state, setup, fast.instruction, cache)}])
            curve["random_digit_kl"] = uniform_digit_kl(p0)
        elif arm["kind"] == "sft":
            answers = labels(name, items, p0, stream(seed, f"labels {name}"))
            data = [{"prompt": it["prompt"], "completion": " " + a} for it, a in zip(items, answers, strict=True)]
            sft(
                model,
                tokenizer(),
                data,
                steps=setup.steps,
                batch_size=BATCH,
                lr=setup.lr,
                seed=torch_seed(seed, f"order {name}"),
                desc=f"seed {seed}: {name}",
                callbacks=[track, fast],
            )
            curve = track.frame()
        else:
            if arm.get("shuffled") and earned is None:
                raise ValueError(f"{name} replays the rewards of 'RL', which must run before it in the same job")
            reward = (
                ShuffledReward(earned, group_size=setup.generations, seed=torch_seed(seed, "shuffle"))
                if arm.get("shuffled")
                else correctness_reward
            )
            log = RewardLog(reward)
            rl_items = [
                {"prompt": "{context}" + it["prompt"][len(setup.new) :], "correct": it["correct"]}
                for it in items[: setup.steps * setup.prompts_per_step]
            ]
            grpo(
                model,
                tokenizer(),
                rl_items,
                log,
                steps=setup.steps,
                prompts_per_step=setup.prompts_per_step,
                generations=setup.generations,
                max_completion_length=2,
                lr=setup.lr,
                beta=arm.get("beta", 0.0),
                seed=torch_seed(seed, f"order {name}"),
                desc=f"seed {seed}: {name}",
                callbacks=[track, fast],
                context=lambda fast=fast: fast.instruction,
            )
            frame = log.frame()
            if name == "RL":
                earned = [step["reward"].tolist() for _, step in frame.groupby("step")]
            signal, curve = signal_share(frame), track.frame()
        result = {"curve": curve.assign(arm=name, seed=seed, groups_with_signal=signal)}
        if name in probed:
            runs = [rl_probe(model, setup, seed, run) for run in range(setup.probe_runs)]
            runs += [supervised_probe(model, setup, seed, run) for run in range(setup.supervised_runs)]
            result["probe"] = pd.concat(runs, ignore_index=True).assign(arm=name, seed=seed)
        out.append(result)
    return out
