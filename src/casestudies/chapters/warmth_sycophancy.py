"""Chapter 3's machinery: pre-train a model on a persona's corpus until it answers plain sums, fine-tune it in three
styles, and turn the exact reply probabilities into the numbers its hypotheses test.

The notebook keeps what defines the experiment (the persona, the arms' shares of warm replies); the runner, the
per-arm summary, the decomposition of the rise and the contrasts the verdict reads live here, tested on crafted
probabilities.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import pandas as pd

from casestudies.runs import torch_seed
from casestudies.tasks.warmth import VOCABULARY, Persona, corpus, evaluation_items, reply_probabilities, style_items

BATCH = 32  # examples per step, pre-training and fine-tuning
ORIGINAL = "pretrained"  # the stage before any fine-tuning: the paper's "original model"
STAGES = (ORIGINAL, "mixed", "cold", "warm")
METRICS = ("error", "agree", "warm", "malformed", "error if warm", "error if cold")
ABOVE_MIXED = "error above mixed"  # an arm's error minus its own corpus's mixed arm's (same seed, condition)
SAD_ADDS = "error added by a sad user"  # an arm's error on `belief + sad` minus on `belief`


@dataclass(frozen=True)
class Setup:
    """Everything one seed's runs share: the corpora, the fine-tuning arms, the model and the training budgets."""

    personas: dict[str, Persona]  # corpus name -> the persona that wrote it
    tuning: dict[str, float]  # fine-tuning arm -> its share of warm replies
    width: int
    depth: int
    heads: int
    pretrain_steps: int  # the cap: pre-training stops earlier once the plain-prompt error is low enough
    pretrain_target: float  # the plain-prompt error at which pre-training stops
    check_every: int
    pretrain_lr: float
    tune_steps: int
    tune_lr: float
    fixed_steps: dict[str, int] = field(default_factory=dict)  # corpus -> a fixed budget, not held to the target


def tokenizer():
    """The chapter's word-level tokenizer (built the same way in every worker)."""
    from casestudies.models import word_tokenizer

    return word_tokenizer(VOCABULARY)


def plain_error(probabilities: pd.DataFrame) -> float:
    """The mean error on plain prompts of one model's `reply_probabilities`: the quantity pre-training stops on."""
    plain = probabilities[probabilities["condition"] == "plain"]
    if plain.empty:
        raise ValueError("no plain prompts among the measured replies")
    return float(plain["error"].mean())


def pretrain(setup: Setup, seed: int, name: str):
    """A model pre-trained from scratch on corpus `name` until its plain-prompt error is at most `pretrain_target`
    (checked every `check_every` steps, `pretrain_steps` at most), and the step it stopped at (None: never); a
    corpus in `fixed_steps` trains for exactly that many steps instead (and reports None)."""
    from casestudies.models import tiny_causal_lm
    from casestudies.training import StopWhen, sft

    tok = tokenizer()
    plain = [it for it in evaluation_items(seed=0) if it["condition"] == "plain"]
    model = tiny_causal_lm(tok, width=setup.width, depth=setup.depth, heads=setup.heads, seed=torch_seed(seed, "model"))

    def learned(model) -> bool:
        return plain_error(reply_probabilities(model, tok, plain)) <= setup.pretrain_target

    stop = StopWhen(learned, every=setup.check_every)
    steps = setup.fixed_steps.get(name, setup.pretrain_steps)
    # the same prompts and draws for both corpora: they differ only where their personas differ
    items = corpus(steps * BATCH, seed=torch_seed(seed, "corpus"), persona=setup.personas[name])
    sft(
        model,
        tok,
        items,
        steps=steps,
        batch_size=BATCH,
        lr=setup.pretrain_lr,
        seed=torch_seed(seed, "pre-training order"),
        desc=f"seed {seed} {name}: pre-training",
        callbacks=[] if name in setup.fixed_steps else [stop],
    )
    return model, stop.stopped_at


def run(setup: Setup, seed: int, name: str) -> tuple[pd.DataFrame, dict]:
    """One seed and corpus: pre-train, then fine-tune a copy in each arm's style on plain prompts; the exact reply
    probabilities of every evaluation item at every stage, and the pre-training record (steps, plain error)."""
    from casestudies.training import sft

    tok, evaluation = tokenizer(), evaluation_items(seed=0)  # the same 400 paired items for every seed and arm
    base, stopped_at = pretrain(setup, seed, name)
    frames = [reply_probabilities(base, tok, evaluation).assign(stage=ORIGINAL)]
    for arm, warm_share in setup.tuning.items():
        tuned = copy.deepcopy(base)
        data = style_items(setup.tune_steps * BATCH, seed=torch_seed(seed, "fine-tuning data"), warm_share=warm_share)
        sft(
            tuned,
            tok,
            data,
            steps=setup.tune_steps,
            batch_size=BATCH,
            lr=setup.tune_lr,
            seed=torch_seed(seed, "fine-tuning order"),
            desc=f"seed {seed} {name}: {arm}",
        )
        frames.append(reply_probabilities(tuned, tok, evaluation).assign(stage=arm))
    replies = pd.concat(frames, ignore_index=True).assign(seed=seed, corpus=name)
    steps = setup.fixed_steps.get(name, stopped_at)  # a fixed budget is reported as such
    record = {"seed": seed, "corpus": name, "steps": steps, "held to the target": name not in setup.fixed_steps}
    record["plain error"] = plain_error(frames[0])
    return replies, record


def arm_name(corpus: str, stage: str) -> str:
    """The arm's name in the verdict: the corpus it was pre-trained on, then its fine-tuning stage."""
    return f"{corpus}·{stage}"


def per_arm(replies: pd.DataFrame) -> pd.DataFrame:
    """The mean of each reply metric per corpus, stage, seed and condition (one row each), with the arm's name."""
    missing = [c for c in ("corpus", "stage", "seed", "condition", *METRICS) if c not in replies]
    if missing:
        raise ValueError(f"the replies lack the column(s) {missing}")
    means = replies.groupby(["corpus", "stage", "seed", "condition"])[list(METRICS)].mean().reset_index()
    return means.assign(arm=[arm_name(c, s) for c, s in zip(means["corpus"], means["stage"], strict=True)])


def _errors(summary: pd.DataFrame) -> pd.DataFrame:
    """Error wide: one row per (corpus, seed, condition), one column per stage."""
    return summary.pivot_table(index=["corpus", "seed", "condition"], columns="stage", values="error")


def decomposition(summary: pd.DataFrame, arm: str = "warm", control: str = "mixed") -> pd.DataFrame:
    """Per corpus, seed and condition: `arm − original = (arm − control) + (control − original)` on the error,
    the rise split into what the style adds and what the same tuning does without it."""
    wide = _errors(summary)
    return pd.DataFrame(
        {
            f"{arm} − original": wide[arm] - wide[ORIGINAL],
            f"{arm} − {control}": wide[arm] - wide[control],
            f"{control} − original": wide[control] - wide[ORIGINAL],
        }
    )


def gap_split(summary: pd.DataFrame, arm: str = "warm", control: str = "mixed") -> pd.DataFrame:
    """Per corpus, seed and condition, the error gap `arm − control` split exactly into what moving the style does
    (Δw · (ē_warm − ē_cold)) and what the error given each style does (w̄ · Δe_warm + (1 − w̄) · Δe_cold), bars being
    the two arms' means: a gap with equal per-style errors is all the second part."""
    keys = ["corpus", "seed", "condition"]
    a = summary[summary["stage"] == arm].set_index(keys)
    b = summary[summary["stage"] == control].set_index(keys)
    w_mean, e_warm, e_cold = (
        (a["warm"] + b["warm"]) / 2,
        (a["error if warm"] + b["error if warm"]) / 2,
        (a["error if cold"] + b["error if cold"]) / 2,
    )
    through_style = (a["warm"] - b["warm"]) * (e_warm - e_cold)
    given_style = w_mean * (a["error if warm"] - b["error if warm"]) + (1 - w_mean) * (
        a["error if cold"] - b["error if cold"]
    )
    return pd.DataFrame(
        {"gap": a["error"] - b["error"], "through the style": through_style, "given the style": given_style}
    )


def contrast_records(summary: pd.DataFrame) -> list[dict]:
    """Tidy records of the two contrasts the arms' own errors cannot hold, so a hypothesis pairs two arms on them:
    each arm's error above its corpus's mixed arm (condition by condition; H5 pairs the corpora's warm arms) and
    the error a sad user adds on belief prompts (condition `belief`; H6 pairs warm with mixed)."""
    wide = _errors(summary)
    if "mixed" not in wide:
        raise ValueError("the contrasts need a 'mixed' stage in every corpus")
    records = []
    for stage in wide.columns:
        above = wide[stage] - wide["mixed"]
        records += [
            {"arm": arm_name(c, stage), "seed": s, "condition": cond, ABOVE_MIXED: v}
            for (c, s, cond), v in above.dropna().items()
        ]
        by_condition = wide[stage].unstack("condition")
        if {"belief", "belief + sad"} <= set(by_condition.columns):
            sad = (by_condition["belief + sad"] - by_condition["belief"]).dropna()
            records += [
                {"arm": arm_name(c, stage), "seed": s, "condition": "belief", SAD_ADDS: v} for (c, s), v in sad.items()
            ]
    return records
