"""Chapter 4's machinery: the labels each judge learns from, training a judge until it has learned the task, and
the confidences its verdicts come with.

The notebook keeps what defines the experiment (which labels each judge learns from, the temperatures, the vote
sizes); everything here turns a judge's verdict distribution into the numbers its hypotheses test, and is tested
on crafted distributions whose ECE, Brier score and AUROC are worked out by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from casestudies.metrics import calibration_summary
from casestudies.metrics.agreement import category_counts, fleiss_kappa, modal
from casestudies.runs import stream
from casestudies.tasks.judge import LETTERS, SCORES

GREEDY, OWN, ONE_SAMPLE = "greedy", "greedy+p", "one sample"


def mode_of(replications: int) -> str:
    """The name of the modal verdict of `replications` samples at temperature 1, e.g. `mode of 100`."""
    return f"mode of {replications}"


def vote_of(k: int) -> str:
    """The name of a majority vote over the first `k` samples, e.g. `vote@25`."""
    return f"vote@{k}"


def shuffled_labels(items: Sequence[dict], seed: int) -> list[dict]:
    """The same items with their labels permuted within each task (the seed's `shuffled labels` stream): how often
    each verdict is given survives, any link between an item and its label does not."""
    rng = stream(seed, "shuffled labels")
    out = [dict(it) for it in items]
    for task in ("best", "rate"):
        index = [i for i, it in enumerate(items) if it["task"] == task]
        for i, j in zip(index, rng.permutation(index), strict=True):
            out[i]["completion"] = items[j]["completion"]
    return out


def majority_labels(items: Sequence[dict]) -> list[dict]:
    """The same items labelled with the annotators' majority verdict, the most likely label of their distribution
    (`annotator`), instead of one annotator's draw: hard labels. With this task's annotators it is the correct
    verdict (the truly best candidate, the true band)."""
    out = []
    for it in items:
        choices = LETTERS if it["task"] == "best" else SCORES
        out.append({**it, "completion": " " + choices[int(np.argmax(it["annotator"]))]})
    return out


def validation_accuracy(model, tokenizer, items: Sequence[dict]) -> float:
    """Greedy pick-the-best accuracy: the share of `best` items whose most probable letter is the correct one."""
    from casestudies.generation import choice_distribution

    probs = choice_distribution(model, tokenizer, [it["prompt"] for it in items], LETTERS)
    return float((probs.argmax(axis=1) == np.array([it["gold"] for it in items])).mean())


def train_judge(
    model,
    tokenizer,
    items: list[dict],
    steps: int,
    validation: Sequence[dict],
    target: float | None = None,
    max_steps: int | None = None,
    check_every: int = 250,
    lr: float = 3e-3,
    seed: int = 0,
    desc: str = "judge",
) -> dict:
    """Train `model` in place on `items` (batches of 32) for `steps` steps; with a `target`, then on until its greedy
    accuracy on `validation` reaches it, asked every `check_every` steps, up to `max_steps` in all. Returns the
    steps taken, the last training loss, the validation accuracy at the end and whether it reached the target
    (None without one)."""
    from casestudies.training import StopWhen, sft

    ceiling = steps if target is None else max(steps, max_steps or steps)
    callbacks = []
    if target is not None:
        callbacks.append(
            StopWhen(lambda m: validation_accuracy(m, tokenizer, validation) >= target, check_every, start=steps)
        )
    history = sft(model, tokenizer, items, steps=ceiling, lr=lr, seed=seed, desc=desc, callbacks=callbacks)
    accuracy = validation_accuracy(model, tokenizer, validation)
    return {
        "steps": int(history["step"].max()),
        "final training loss": float(history["loss"].dropna().iloc[-1]),
        "validation accuracy": accuracy,
        "reached target": None if target is None else bool(accuracy >= target),
    }


def confidences(probs: np.ndarray, samples: np.ndarray, gold: np.ndarray, vote_ks: Sequence[int] = ()) -> pd.DataFrame:
    """Per item, a judge's verdict, the confidence it comes with and whether it is right, four ways (one row each):

    - `greedy`: the most probable verdict, with its repeat agreement as confidence (1: greedy repeats itself);
    - `greedy+p`: the same verdict, with the probability the judge gives it (read off the same forward pass);
    - `mode of R`: the most common of the R samples at temperature 1 (`samples`, items × R), with its share;
    - `vote@k`: the most common of the first k samples, with its share, for each k of `vote_ks`.

    Ties among samples go to the lowest verdict, as in `metrics.agreement.modal`.
    """
    p, drawn, gold = np.asarray(probs, dtype=float), np.asarray(samples), np.asarray(gold)
    if p.ndim != 2 or drawn.ndim != 2 or len(p) != len(drawn) or len(p) != len(gold):
        raise ValueError(
            f"need probs (items × verdicts), samples (items × R) and gold for the same items, got "
            f"{p.shape}, {drawn.shape}, {gold.shape}"
        )
    if any(not 1 <= k <= drawn.shape[1] for k in vote_ks):
        raise ValueError(f"vote sizes must lie in 1..{drawn.shape[1]}, got {list(vote_ks)}")
    greedy = p.argmax(axis=1)
    ways = {GREEDY: (greedy, np.ones(len(p))), OWN: (greedy, p[np.arange(len(p)), greedy])}
    ways[mode_of(drawn.shape[1])] = modal(drawn)
    for k in vote_ks:
        ways[vote_of(k)] = modal(drawn[:, :k])
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "way": way,
                    "item": np.arange(len(p)),
                    "verdict": verdict,
                    "confidence": confidence,
                    "correct": verdict == gold,
                }
            )
            for way, (verdict, confidence) in ways.items()
        ],
        ignore_index=True,
    )


def judge_scores(probs: np.ndarray, samples: np.ndarray, gold: np.ndarray, vote_ks: Sequence[int] = ()) -> pd.DataFrame:
    """One row per way of `confidences`: accuracy, ECE (10 equal-width bins), Brier score and AUROC of its
    confidence; and a `one sample` row: the exact accuracy of one sample at temperature 1 (the mean probability of
    the correct verdict) and Fleiss' kappa of the R samples (how far two samples agree beyond chance).

    Given the annotators' label distribution as `probs` (and samples drawn from it), this is the oracle: a judge
    that learned the annotators perfectly."""
    p, gold = np.asarray(probs, dtype=float), np.asarray(gold)
    frame = confidences(p, samples, gold, vote_ks)
    rows = {
        way: {"accuracy": float(part["correct"].mean()), **calibration_summary(part["confidence"], part["correct"])}
        for way, part in frame.groupby("way", sort=False)
    }
    rows[ONE_SAMPLE] = {
        "accuracy": float(p[np.arange(len(p)), gold].mean()),
        "kappa": fleiss_kappa(category_counts(np.asarray(samples), p.shape[1])),
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("way")
