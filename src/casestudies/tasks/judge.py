"""The judge task: pick the best of five candidates, or rate one on a 1–5 scale, learned from noisy annotators.

Each candidate is a number from 10 to 99 standing for a response's hidden quality. Annotators are noisy in a way
that depends on difficulty: they pick among close candidates almost at random and rate values near a scale
boundary inconsistently. A judge trained on their labels therefore *should* be unsure on hard items, which is
what makes sampling it several times informative.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

LETTERS = ("A", "B", "C", "D", "E")
SCORES = ("1", "2", "3", "4", "5")
VALUES = tuple(range(10, 100))
BAND = 18  # values per rating band: 10–27 is a 1, ..., 82–99 a 5
BEST_WORD, RATE_WORD, END_WORD = "best", "rate", "->"
VOCABULARY = (BEST_WORD, RATE_WORD, END_WORD, *(str(v) for v in VALUES), *LETTERS, *SCORES)


def true_score(value: int | np.ndarray) -> np.ndarray:
    """The correct 1–5 rating of a quality value in 10..99: five equal bands of 18 values."""
    return 1 + (np.asarray(value) - VALUES[0]) // BAND


def best_prompt(values) -> str:
    """The pick-the-best prompt for five candidate values, e.g. `best 23 41 38 12 40 ->`."""
    values = [int(v) for v in values]
    if len(values) != len(LETTERS) or len(set(values)) != len(values) or not all(v in VALUES for v in values):
        raise ValueError(f"need {len(LETTERS)} distinct values in 10..99, got {values}")
    return " ".join([BEST_WORD, *map(str, values), END_WORD])


def rate_prompt(value: int) -> str:
    """The rating prompt for one candidate value, e.g. `rate 41 ->`."""
    if int(value) not in VALUES:
        raise ValueError(f"value must lie in 10..99, got {value}")
    return f"{RATE_WORD} {int(value)} {END_WORD}"


def annotator_best(values: np.ndarray, tau: float) -> np.ndarray:
    """Each annotator picks a candidate with probability softmax(value / tau): close calls are coin flips."""
    z = np.asarray(values, dtype=float) / tau
    z -= z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


def annotator_rate(values: np.ndarray, sigma: float) -> np.ndarray:
    """Distribution of an annotator's 1–5 rating: the true band of value + N(0, sigma²), clipped to 10..99."""
    values = np.asarray(values, dtype=float)
    edges = VALUES[0] + BAND * np.arange(1, len(SCORES)) - 0.5  # band boundaries between integer values
    below = norm.cdf((edges[None, :] - values[:, None]) / sigma)  # P(noisy value < edge)
    cumulative = np.concatenate([np.zeros((len(values), 1)), below, np.ones((len(values), 1))], axis=1)
    return np.diff(cumulative, axis=1)


def judge_items(n: int, seed: int, tau: float = 5.0, sigma: float = 8.0, task: str = "mixed") -> list[dict]:
    """Items for training or evaluating the judge, each with a label drawn from the noisy annotator.

    Fields: `prompt`, `completion` (the annotator's label, after a space), `task` ("best" or "rate"), `gold`
    (the correct verdict's index), `values`, `annotator` (the label distribution). `task="mixed"` alternates.
    """
    if n <= 0 or tau <= 0 or sigma <= 0:
        raise ValueError(f"n, tau and sigma must be positive, got {n}, {tau}, {sigma}")
    if task not in ("best", "rate", "mixed"):
        raise ValueError(f"task must be 'best', 'rate' or 'mixed', got {task!r}")
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        kind = task if task != "mixed" else ("best", "rate")[i % 2]
        if kind == "best":
            values = rng.choice(np.array(VALUES), size=len(LETTERS), replace=False)
            dist = annotator_best(values, tau)
            items.append(
                {
                    "prompt": best_prompt(values),
                    "task": "best",
                    "gold": int(np.argmax(values)),
                    "values": values.tolist(),
                }
            )
        else:
            value = int(rng.choice(np.array(VALUES)))
            dist = annotator_rate(np.array([value]), sigma)[0]
            items.append(
                {"prompt": rate_prompt(value), "task": "rate", "gold": int(true_score(value)) - 1, "values": [value]}
            )
        label = int(rng.choice(len(dist), p=dist))
        items[-1].update(completion=" " + (LETTERS if kind == "best" else SCORES)[label], annotator=dist.tolist())
    return items


def sample_verdicts(probs: np.ndarray, replications: int, temperature: float, seed: int) -> np.ndarray:
    """Draw (items × replications) verdict indices from per-item distributions at a temperature.

    Temperature 0 is greedy decoding: the most probable verdict, every time. Otherwise probabilities are
    sharpened (T < 1) or flattened (T > 1) as p^(1/T), exactly what scaling the logits by 1/T does.
    """
    p = np.asarray(probs, dtype=float)
    if temperature < 0 or replications < 1:
        raise ValueError(f"temperature must be ≥ 0 and replications ≥ 1, got {temperature}, {replications}")
    if temperature == 0:
        return np.repeat(p.argmax(axis=1)[:, None], replications, axis=1)
    logp = np.log(np.clip(p, 1e-300, None)) / temperature
    logp -= logp.max(axis=1, keepdims=True)
    q = np.exp(logp)
    q /= q.sum(axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    u = rng.random((p.shape[0], replications, 1))
    return (u > np.cumsum(q, axis=1)[:, None, :]).sum(axis=2).clip(max=p.shape[1] - 1)


def instruct_prompt(item: dict) -> str:
    """The same item in plain English, for a pretrained instruct model judging zero-shot (`gpu` scale)."""
    if item["task"] == "best":
        options = ", ".join(f"{letter}: {v}" for letter, v in zip(LETTERS, item["values"], strict=True))
        return (
            f"Five responses have these quality scores: {options}. Which response is best? "
            f"Answer with one letter. Answer:"
        )
    lows = [VALUES[0] + i * BAND for i in range(len(SCORES))]
    bands = ", ".join(f"{score} = {low}-{low + BAND - 1}" for score, low in zip(SCORES, lows, strict=True))
    return (
        f"A response has quality score {item['values'][0]}. Rate it from {SCORES[0]} to {SCORES[-1]} ({bands}). "
        f"Answer with one digit. Answer:"
    )
