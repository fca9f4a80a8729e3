"""Chapter 6's machinery: pre-train a running-sums model until it solves the task, run GRPO arms from it, and
measure what each arm did to problems it could already solve.

The notebook keeps what defines the experiment (the arms, the RL data mix); everything here turns a trained model
into the numbers its hypotheses test, and is tested on crafted completions.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from casestudies.runs import stream, torch_seed
from casestudies.tasks.running_sums import (
    VOCABULARY,
    answer_entropy,
    correctness_reward,
    pretraining_items,
    problems,
    score,
)

BATCH = 64  # pre-training examples per step


@dataclass(frozen=True)
class Setup:
    """Everything the chapter's runs share: lengths, budgets, model size and the training budgets."""

    levels: dict[str, list[int]]  # difficulty -> digits per problem; "hard" does not fit `budget`
    budget: int
    room: int  # enough tokens for the longest worked solution
    n_eval: int  # held-out problems per difficulty
    width: int
    depth: int
    heads: int
    pretrain_lengths: list[int]
    direct_share: float
    pretrain_steps: int
    pretrain_target: float
    pretrain_lr: float
    check_every: int
    rl_steps: int
    rl_lr: float
    prompts_per_step: int
    generations: int

    @property
    def solvable(self) -> list[int]:
        """The lengths that fit the budget: every level but `hard`."""
        return [k for level, ks in self.levels.items() if level != "hard" for k in ks]


def tokenizer():
    """The chapter's word-level tokenizer (built the same way in every worker)."""
    from casestudies.models import word_tokenizer

    return word_tokenizer(VOCABULARY)


def build(setup: Setup, seed: int):
    """A fresh model of the chapter's size, initialised from the seed's `model` stream."""
    from casestudies.models import seeded_lm

    return seeded_lm(tokenizer(), setup, seed, max_positions=64)


def held_out(setup: Setup, seed: int) -> dict[str, list[dict]]:
    """The held-out problems of one seed, `n_eval` per difficulty, from streams no training data is drawn from."""
    return {
        level: problems(setup.n_eval, seed=torch_seed(seed, f"held-out {level}"), lengths=ks)
        for level, ks in setup.levels.items()
    }


def summarise(rows: Sequence[dict], easy: Sequence[int]) -> dict:
    """Greedy behaviour on solvable problems from `score`'s rows: accuracy (all, easy, the rest), skipped steps
    (over all problems and among the answered ones), missing answers, and answer repetition across problems (the
    most common answer's share and the answers' entropy). Undefined shares are NaN."""
    frame = pd.DataFrame(list(rows))
    if frame.empty:
        raise ValueError("summarise needs at least one scored completion")
    easy_rows = frame["k"].isin(list(easy))
    answered = int(frame["answered"].sum())
    given = frame.loc[frame["answered"], "answer"]
    return {
        "solvable_accuracy": float(frame["correct"].mean()),
        "easy_accuracy": float(frame.loc[easy_rows, "correct"].mean()) if easy_rows.any() else np.nan,
        "medium_accuracy": float(frame.loc[~easy_rows, "correct"].mean()) if (~easy_rows).any() else np.nan,
        "skips": float(frame["skipped"].mean()),
        "skips_among_answered": float(frame["skipped"].sum() / answered) if answered else np.nan,
        "unanswered": float(1 - frame["answered"].mean()),
        "modal_answer_share": float(given.value_counts(normalize=True).iloc[0]) if answered else np.nan,
        "answer_entropy": answer_entropy(frame["answer"].tolist()),
    }


def hard_with_room(rows: Sequence[dict]) -> dict:
    """Greedy behaviour on hard problems given room for the whole chain: accuracy, skips and the mean number of
    steps written before `ans` (the chain a model still writes when it is allowed to)."""
    frame = pd.DataFrame(list(rows))
    return {
        "hard_accuracy_with_room": float(frame["correct"].mean()),
        "hard_skips_with_room": float(frame["skipped"].mean()),
        "hard_steps_with_room": float(frame["steps"].mean()),
    }


def measure(model, reference, tests: dict[str, list[dict]], setup: Setup, seed: int) -> dict:
    """Everything the chapter reports about one trained model: greedy behaviour on solvable problems
    (`summarise`), on hard problems with and without room, sampled pass@1 on solvable problems (four samples
    each, from the seed's `samples` stream) and the KL to `reference` on those samples (nats per completion)."""
    from casestudies.generation import completion_logprobs, greedy, sample

    tok = tokenizer()
    solvable = [p for level, ps in tests.items() if level != "hard" for p in ps]
    rows = score(greedy(model, tok, [p["prompt"] for p in solvable], setup.budget), solvable)
    hard = tests["hard"]
    room_rows = score(greedy(model, tok, [p["prompt"] for p in hard], setup.room), hard)
    on_budget = pd.DataFrame(score(greedy(model, tok, [p["prompt"] for p in hard], setup.budget), hard))
    prompts = [p["prompt"] for p in solvable for _ in range(4)]
    texts = [t for t, _ in sample(model, tok, prompts, setup.budget, seed=torch_seed(seed, "samples"))]
    sampled = score(texts, [p for p in solvable for _ in range(4)])
    kl = (completion_logprobs(model, tok, prompts, texts) - completion_logprobs(reference, tok, prompts, texts)).mean()
    return {
        **summarise(rows, setup.levels["easy"]),
        "hard_accuracy_on_budget": float(on_budget["correct"].mean()),
        "hard_skips_on_budget": float(on_budget["skipped"].mean()),
        **hard_with_room(room_rows),
        "solvable_pass@1": float(np.mean([r["correct"] for r in sampled])),
        "kl": float(kl.item()),
    }


def pretrain(setup: Setup, seed: int) -> tuple[dict, dict]:
    """Pre-train one seed's model from scratch until it solves the task (greedy accuracy `pretrain_target` on a
    validation set of every length, given room), checked every `check_every` steps; return its weights and its
    measurements (with the steps it took, NaN when it never got there)."""
    from casestudies.generation import greedy
    from casestudies.training import StopWhen, sft

    model, tok = build(setup, seed), tokenizer()
    validation = problems(setup.n_eval, seed=torch_seed(seed, "validation"), lengths=setup.pretrain_lengths)

    def learned(model) -> bool:
        texts = greedy(model, tok, [p["prompt"] for p in validation], setup.room)
        return np.mean([r["correct"] for r in score(texts, validation)]) >= setup.pretrain_target

    stop = StopWhen(learned, every=setup.check_every)
    items = pretraining_items(
        setup.pretrain_steps * BATCH, torch_seed(seed, "pre-training"), setup.pretrain_lengths, setup.direct_share
    )
    sft(
        model,
        tok,
        items,
        steps=setup.pretrain_steps,
        batch_size=BATCH,
        lr=setup.pretrain_lr,
        seed=torch_seed(seed, "pre-training order"),
        desc=f"seed {seed}: pre-training",
        callbacks=[stop],
    )
    record = {
        "arm": "pretrained",
        "seed": seed,
        "pretraining_steps": stop.stopped_at or np.nan,
        **measure(model, model, held_out(setup, seed), setup, seed),
    }
    return model.state_dict(), record


def completions_log(frame: pd.DataFrame, gold: dict[str, str], arm: str, seed: int) -> pd.DataFrame:
    """A `RewardLog` frame (step, prompt, completion, reward) scored per completion: the problem's length, whether
    it was right, skipped steps or gave an answer."""
    problem = [{"k": len(p.split()) // 2, "gold": gold[p]} for p in frame["prompt"]]
    scored = pd.DataFrame(score(frame["completion"].tolist(), problem))
    return scored.assign(arm=arm, seed=seed, step=frame["step"].to_numpy(), reward=frame["reward"].to_numpy())[
        ["arm", "seed", "step", "k", "reward", "correct", "skipped", "answered"]
    ]


def train(
    setup: Setup,
    arms: dict[str, dict],
    rl_items: Callable[[int, float], list[dict]],
    seed: int,
    names: Sequence[str],
    weights: dict,
    replayed: str | None = None,
) -> dict:
    """The RL arms `names` of one seed, each from the seed's pre-trained `weights`, in order. An arm with
    `shuffled=True` replays, through `ShuffledReward`, the rewards the arm `replayed` earned earlier in the same
    job. Returns each arm's measurements (with the share of GRPO groups whose rewards differed) and the scored log
    of every completion sampled during RL."""
    from casestudies.training import RewardLog, ShuffledReward, grpo

    base = build(setup, seed)
    base.load_state_dict(weights)
    tests, records, logs, earned = held_out(setup, seed), [], [], None
    for name in names:
        arm = arms[name]
        items = rl_items(seed, arm["hard"])
        gold = {item["prompt"]: item["gold"] for item in items}
        if arm.get("shuffled"):
            if earned is None:
                raise ValueError(f"{name} replays {replayed!r}, which must run before it in the same job")
            reward = ShuffledReward(earned, group_size=setup.generations, seed=torch_seed(seed, "shuffle"))
        else:
            reward = correctness_reward
        log = RewardLog(reward)
        policy = copy.deepcopy(base)
        grpo(
            policy,
            tokenizer(),
            items,
            log,
            steps=setup.rl_steps,
            prompts_per_step=setup.prompts_per_step,
            generations=setup.generations,
            max_completion_length=arm.get("budget", setup.budget),
            lr=setup.rl_lr,
            beta=arm.get("beta", 0.0),
            scale_rewards=arm.get("scale", "group"),
            mask_truncated=arm.get("mask", False),
            seed=torch_seed(seed, f"rl {name}"),
            desc=f"seed {seed}: {name}",
        )
        frame = log.frame()
        if name == replayed:
            earned = [step["reward"].tolist() for _, step in frame.groupby("step")]
        logs.append(completions_log(frame, gold, name, seed))
        signal = frame.groupby(["step", "prompt"])["reward"].nunique() > 1  # a group whose rewards differ
        records.append(
            {
                "arm": name,
                "seed": seed,
                **measure(policy, base, tests, setup, seed),
                "groups_with_signal": signal.mean(),
            }
        )
    return {"records": records, "log": pd.concat(logs, ignore_index=True)}


def first_step_reaching(log: pd.DataFrame, column: str, threshold: float, steps: int) -> pd.Series:
    """Per (arm, seed) of a completions log, the first step at which the mean of `column` over that step's
    completions reaches `threshold`; `steps + 1` when it never does within the run, so a run that never gets there
    counts as later than any that does."""
    per_step = log.groupby(["arm", "seed", "step"])[column].mean()
    reached = per_step[per_step >= threshold].reset_index().groupby(["arm", "seed"])["step"].min()
    runs = per_step.reset_index()[["arm", "seed"]].drop_duplicates().set_index(["arm", "seed"]).index
    return reached.reindex(runs).fillna(steps + 1).astype(float).rename("step")


def rl_order(seed: int, n: int) -> np.ndarray:
    """The seeded order in which one seed's RL problems are shown (the same for every arm of the seed)."""
    return stream(seed, "rl order").permutation(n)
