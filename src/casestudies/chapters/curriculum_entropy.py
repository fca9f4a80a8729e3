"""Chapter 9's machinery: each domain's score and entropy read exactly from next-token distributions, the noisy
teacher that warms the model up, the runner that trains schedules of RL stages (sharing the stages they have in
common), and the two-stage transfer table (R, BWT, normalised scores, forward transfer) the order hypotheses read.

The notebook keeps what defines the experiment (the hybrid reward, the schedules, the habits); everything here
turns distributions or scores into the numbers its hypotheses test, and is tested on crafted inputs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from casestudies.metrics.drift import entropy, parameter_distance
from casestudies.metrics.transfer import backward_transfer, expected_distinct
from casestudies.runs import stream
from casestudies.tasks.keyed_digits import DIGITS, correct_mask, draw, inputs

HABITS = ("smallest", "uniform")


def coverage(p: np.ndarray, right: np.ndarray, k: int) -> float:
    """Mean over rows of the expected number of distinct right answers in `k` samples, over the most possible
    (`k`, or the row's number of right answers if fewer): 1 for a model that finds every right answer."""
    right = np.asarray(right, dtype=bool)
    return float((expected_distinct(p, right, k) / np.minimum(k, right.sum(axis=1))).mean())


def measure_domain(p: np.ndarray, right: np.ndarray, answer_columns: Sequence[int], domain: str, k: int) -> dict:
    """One domain's exact measures from next-token distributions `p` (inputs × vocabulary) and the right answers
    `right` (a boolean array of the same shape): structured, the probability of the right answer (accuracy
    sampled at temperature 1) and greedy accuracy; open, coverage in `k` samples and validity (the probability of
    a right answer); both, the mean entropy and the probability of a token outside `answer_columns` (malformed)."""
    p = np.asarray(p, dtype=float)
    right = np.asarray(right, dtype=bool)
    if p.shape != right.shape:
        raise ValueError(f"p has shape {p.shape}, right {right.shape}")
    if domain not in ("structured", "open"):
        raise ValueError(f'domain must be "structured" or "open", got {domain!r}')
    right_mass = float((p * right).sum(axis=1).mean())
    if domain == "structured":
        row = {
            "structured_score": right_mass,
            "structured_greedy": float(right[np.arange(len(p)), p.argmax(axis=1)].mean()),
        }
    else:
        row = {"open_coverage": coverage(p, right, k), "open_validity": right_mass}
    row[f"{domain}_entropy"] = float(entropy(p).mean())
    row[f"{domain}_malformed"] = float(1 - p[:, list(answer_columns)].sum(axis=1).mean())
    return row


def warmup_items(keys: Sequence[str], n: int, seed: int, signal: float, habit: str) -> list[dict]:
    """The noisy teacher's `n` examples over tasks `keys`: a right answer with probability `signal`, otherwise a
    random digit. A task with several right answers gets its smallest (habit "smallest") or any one, uniformly
    (habit "uniform"). Prompts come from `draw(keys, n, seed)`, the teacher's coin from the seed's own stream."""
    if habit not in HABITS:
        raise ValueError(f"habit must be one of {HABITS}, got {habit!r}")
    if not 0 < signal <= 1:
        raise ValueError(f"signal must lie in (0, 1], got {signal}")
    rng = stream(seed, f"warm-up teacher {habit}")
    items = []
    for item in draw(keys, n, seed):
        if rng.random() < signal:
            answer = item["correct"][0] if habit == "smallest" else str(rng.choice(list(item["correct"])))
        else:
            answer = str(rng.choice(DIGITS))
        items.append({"prompt": item["prompt"], "completion": " " + answer})
    return items


def chance_anchored(score: float, chance: float) -> float:
    """A score rescaled so that chance (a random answer) gets 0 and a perfect score 1: (s − chance)/(1 − chance)."""
    if not chance < 1:
        raise ValueError(f"chance must be below 1, got {chance}")
    return (score - chance) / (1 - chance)


def normalised_average(final: Sequence[float], own: Sequence[float]) -> tuple[list[float], float]:
    """Each domain's final score over its score after its own RL stage from the warm-up model, and their mean
    (the chapter's version of Omni-Thinker's normalised average)."""
    if len(final) != len(own) or not len(final):
        raise ValueError(f"need one own-stage score per domain, got {len(final)} and {len(own)}")
    if any(o == 0 for o in own):
        raise ValueError("an own-stage score of 0 cannot normalise")
    normalised = [f / o for f, o in zip(final, own, strict=True)]
    return normalised, float(np.mean(normalised))


def two_stage_transfer(r: Sequence[Sequence[float]], own: Sequence[float], start: Sequence[float]) -> dict:
    """The transfer table of a two-stage schedule: `r[i][j]` the score on domain j after stage i, domains in the
    order trained; `own` each domain's score after its own stage from the warm-up model; `start` the warm-up's.

    Returns BWT (`r[1][0] − r[0][0]`), its share of the first stage's score (`bwt_normalised`) and of its gain
    over the warm-up (`bwt_gain_share`), both domains' normalised scores and their mean, and forward transfer:
    the second domain's normalised score − 1 (how much the first stage helped, > 0, or hurt the second stage).
    When the first stage is the first domain's own stage (`r[0][0] == own[0]`), first_normalised is
    1 + bwt_normalised, so normalised_average = 1 + (bwt_normalised + forward_transfer) / 2."""
    r = np.asarray(r, dtype=float)
    if r.shape != (2, 2) or len(own) != 2 or len(start) != 2:
        raise ValueError(f"need a 2 × 2 R and two own and start scores, got R of shape {r.shape}")
    bwt = backward_transfer(r)
    normalised, average = normalised_average([r[1, 0], r[1, 1]], own)
    gain = r[0, 0] - start[0]
    return {
        "bwt": bwt,
        "bwt_normalised": bwt / r[0, 0],
        "bwt_gain_share": bwt / gain if gain != 0 else float("nan"),
        "first_normalised": normalised[0],
        "second_normalised": normalised[1],
        "normalised_average": average,
        "forward_transfer": normalised[1] - 1,
    }


def measure_tasks(
    probs: dict[str, np.ndarray], structured: Sequence[str], open_: Sequence[str], digit_ids: Sequence[int], k: int
) -> dict:
    """Both domains' measures (`measure_domain`) from each task's next-token distributions on all its inputs
    (`probs[key]`, in `inputs(key)`'s order), and, per open task, the mean probability of its smallest right answer
    (`<key>_habit`) and of each structured task's answer to the same two digits (`<key>_<other>_answer`)."""
    row: dict = {}
    digit_ids = list(digit_ids)
    for domain, keys in [("structured", structured), ("open", open_)]:
        p = np.concatenate([probs[key] for key in keys])
        right = np.zeros_like(p, dtype=bool)
        right[:, digit_ids] = np.concatenate([correct_mask(inputs(key)) for key in keys])
        row |= measure_domain(p, right, digit_ids, domain, k)
    for key in open_:
        rows = np.arange(len(probs[key]))
        for name, source in [("habit", key), *((f"{other}_answer", other) for other in structured)]:
            answer = [digit_ids[int(item["correct"][0])] for item in inputs(source)]
            row[f"{key}_{name}"] = float(probs[key][rows, answer].mean())
    return row


def run_schedules(
    base: torch.nn.Module,
    names: Sequence[str],
    schedules: dict[str, list[tuple[Sequence[str], bool]]],
    train_stage: Callable,
    measure: Callable[[torch.nn.Module], dict],
    stage_steps: int,
) -> pd.DataFrame:
    """The curves of schedules `names` from model `base` (a schedule: its stages, `(tasks, shuffled)`), one row per
    measurement with its `schedule` and `step` (from the schedule's start). A stage path an earlier schedule
    trained is reused, so a shuffled stage must follow its real one. `train_stage(model, keys, index, name,
    replay)` trains a copy in place and returns its curve (steps from 0) and rewards step by step; `replay` is the
    real stage's rewards for a shuffled stage, else None. A stage's last row holds its `parameter_distance`."""
    trained = {(): (base, None, [pd.DataFrame([{"step": 0, **measure(base)}])])}  # path → model, rewards, curve
    curves = [trained[()][2][0].assign(schedule="warm-up")]
    for name in names:
        path: tuple = ()
        for index, (keys, shuffled) in enumerate(schedules[name]):
            before, path = path, (*path, (tuple(keys), shuffled))
            if path in trained:
                continue
            if shuffled and (*before, (tuple(keys), False)) not in trained:
                raise ValueError(f"{name}: a shuffled stage needs its real stage trained first, in an earlier schedule")
            model = copy.deepcopy(trained[before][0])
            start = copy.deepcopy(model.state_dict())
            replay = trained[(*before, (tuple(keys), False))][1] if shuffled else None
            part, earned = train_stage(model, keys, index, name, replay)
            part = part.assign(step=part["step"] + index * stage_steps)
            part.loc[part.index[-1], "parameter_distance"] = parameter_distance(model, start)
            trained[path] = (model, earned, [*trained[before][2], part[part["step"] > index * stage_steps]])
        curves += [part.assign(schedule=name) for part in trained[path][2]]
    return pd.concat(curves, ignore_index=True)
