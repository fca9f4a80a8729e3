"""The candidate-set task: the prompt shows a set S of digits and the gold answer is uniform within S.

The best achievable probability of being right is exactly 1/|S|, so a calibrated model must say 1/|S|:
a verifiable task with a known ground-truth confidence, which is what chapters on calibration and
abstention need. A completion is an answer digit, the word `of`, the candidate count and one of eleven
confidence levels.

Its rewards: binary correctness (RLVR), or correctness plus a scoring rule on the stated confidence (RLCR,
Damani et al., 2025: R = 1[correct] + S(q, correct) with S the negative Brier score). A proper scoring rule
whose range is at most the correctness bonus keeps "answer as well as you can, then say how sure you are"
optimal; the log score (proper, unbounded) breaks that guarantee, and so does a bounded rule with too wide a
range, such as twice the Brier score (see chapter 1's worked example and `exercises.check_scoring_rule`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from casestudies.generation import sample

DIGITS = tuple(str(d) for d in range(10))
CONFIDENCE_LEVELS = tuple(round(i / 10, 1) for i in range(11))
CONFIDENCE_TOKENS = tuple(f"{c:.1f}" for c in CONFIDENCE_LEVELS)
COUNT_TOKENS = tuple(str(n) for n in range(1, 11))
PROMPT_WORD, END_WORD, OF_WORD = "pick", ":", "of"
VOCABULARY = tuple(dict.fromkeys((*DIGITS, *COUNT_TOKENS, PROMPT_WORD, END_WORD, OF_WORD, *CONFIDENCE_TOKENS)))
COMPLETION_TOKENS = 5  # answer, of, count, level, end of sequence
FORMAT_PENALTY = -1.0  # a malformed completion earns this under every reward
LOG_FLOOR = 0.01  # the log score clips q to [0.01, 0.99] so a stated 0.0 or 1.0 is not -infinity

ScoringRule = Callable[[float, bool], float]


@dataclass(frozen=True)
class Completion:
    """A parsed completion: answer digit, stated candidate count and confidence; all `None` when malformed."""

    answer: str | None
    count: int | None
    confidence: float | None

    @property
    def well_formed(self) -> bool:
        """True when both an answer digit and a confidence level were read."""
        return self.answer is not None


def make_prompt(candidates: str) -> str:
    """The prompt for a candidate set given as a string of distinct digits, e.g. `pick 3 7 9 :`."""
    if not candidates or len(set(candidates)) != len(candidates) or not set(candidates) <= set(DIGITS):
        raise ValueError(f"candidates must be distinct digits, got {candidates!r}")
    return " ".join([PROMPT_WORD, *candidates, END_WORD])


def format_completion(answer: str, count: int, confidence: float) -> str:
    """The completion text for an answer, a candidate count and a confidence on the grid, e.g. `7 of 3 0.3`."""
    if answer not in DIGITS:
        raise ValueError(f"answer must be a digit, got {answer!r}")
    if str(count) not in COUNT_TOKENS:
        raise ValueError(f"count must be 1..10, got {count!r}")
    level = round(float(confidence), 1)
    if not math.isclose(level, confidence, abs_tol=1e-9) or not 0.0 <= level <= 1.0:
        raise ValueError(f"confidence must be one of {CONFIDENCE_TOKENS}, got {confidence!r}")
    return f"{answer} {OF_WORD} {count} {level:.1f}"


def parse_completion(text: str) -> Completion:
    """Read `answer of count level` from generated text (special tokens stripped); lenient on whitespace."""
    words = text.split()
    malformed = Completion(None, None, None)
    if len(words) != 4 or words[1] != OF_WORD:
        return malformed
    answer, count, level = words[0], words[2], words[3]
    if answer not in DIGITS or count not in COUNT_TOKENS or level not in CONFIDENCE_TOKENS:
        return malformed
    return Completion(answer, int(count), float(level))


def brier_rule(q: float, correct: bool) -> float:
    """Negative Brier score: −(q − 1[correct])², bounded in [−1, 0]."""
    return -((q - float(correct)) ** 2)


def log_rule(q: float, correct: bool) -> float:
    """Log score of the stated confidence, q clipped to [0.01, 0.99]: log q if right, log(1 − q) if wrong."""
    q = min(max(q, LOG_FLOOR), 1 - LOG_FLOOR)
    return math.log(q if correct else 1 - q)


def binary_reward(completions: list[str], gold: list[str], **_) -> list[float]:
    """RLVR: 1 for a right answer, 0 for a wrong one; the stated confidence is ignored."""
    rewards = []
    for text, answer in zip(completions, gold, strict=True):
        parsed = parse_completion(text)
        rewards.append(float(parsed.answer == answer) if parsed.well_formed else FORMAT_PENALTY)
    return rewards


def _reward_values(rule: ScoringRule) -> list[float]:
    """1[correct] + rule(q, correct) at every confidence level, right and wrong: what a well-formed answer can earn."""
    return [float(correct) + rule(q, correct) for q in CONFIDENCE_LEVELS for correct in (False, True)]


def calibration_reward(rule: ScoringRule, name: str, scale: float = 1.0) -> Callable[..., list[float]]:
    """A TRL reward function scale · (1[correct] + rule(q, correct)), named `name` (TRL logs rewards by function
    name). A malformed completion earns the format penalty or the rule's worst case, whichever is lower, so
    breaking the format never pays. `scale` multiplies the whole reward, the penalty included: the optimum stays
    where it was; what changes is the reward's weight against a KL term with a fixed β (Adam makes the update
    itself nearly independent of a constant factor)."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    malformed = min(FORMAT_PENALTY, *_reward_values(rule))

    def reward(completions: list[str], gold: list[str], **_) -> list[float]:
        rewards = []
        for text, answer in zip(completions, gold, strict=True):
            parsed = parse_completion(text)
            if not parsed.well_formed:
                rewards.append(scale * malformed)
                continue
            correct = parsed.answer == answer
            rewards.append(scale * (float(correct) + rule(parsed.confidence, correct)))
        return rewards

    reward.__name__ = name
    return reward


def reward_range(rule: ScoringRule) -> float:
    """The span of 1[correct] + rule(q, correct) over the confidence grid: 2 for the Brier rule, about 5.6 for
    the clipped log score. Scaling rewards to one range gives them one exchange rate against a KL anchor."""
    values = _reward_values(rule)
    return max(values) - min(values)


def sample_items(n: int, sizes: tuple[int, ...] | list[int], seed: int) -> list[dict]:
    """`n` items with set sizes drawn uniformly from `sizes`; each has a prompt, the set, its size and a gold digit.

    The gold digit is drawn uniformly from the set, so P(any fixed answer in S is right) = 1/|S| exactly.
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    bad = [s for s in sizes if not 1 <= int(s) <= len(DIGITS)]
    if not sizes or bad:
        raise ValueError(f"set sizes must lie in 1..{len(DIGITS)}, got {list(sizes)}")
    rng = np.random.default_rng(seed)
    items = []
    for _ in range(n):
        size = int(rng.choice(sizes))
        candidates = "".join(sorted(rng.choice(list(DIGITS), size=size, replace=False)))
        items.append(
            {
                "prompt": make_prompt(candidates),
                "candidates": candidates,
                "size": size,
                "gold": str(rng.choice(list(candidates))),
            }
        )
    return items


def warmup_items(n: int, sizes: tuple[int, ...] | list[int], seed: int, certain_share: float = 0.0) -> list[dict]:
    """Supervised warm-up data: the gold answer, the true candidate count, and a confidence that does not depend on
    the item: 1.0 with probability `certain_share`, otherwise drawn uniformly from the grid.

    The warm-up teaches the format, the candidate set and how to count it, but nothing about *which*
    confidence is right: whether a calibrated confidence appears later is up to the RL objective. With
    `certain_share` > 0 the model starts overconfident, as the models RL is applied to in practice do.
    """
    if not 0.0 <= certain_share <= 1.0:
        raise ValueError(f"certain_share must lie in [0, 1], got {certain_share}")
    rng = np.random.default_rng(seed + 1_000_003)
    items = sample_items(n, sizes, seed)
    for item in items:
        certain = rng.random() < certain_share
        confidence = 1.0 if certain else CONFIDENCE_LEVELS[int(rng.integers(len(CONFIDENCE_LEVELS)))]
        item["completion"] = " " + format_completion(item["gold"], item["size"], confidence)
    return items


def evaluate(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, items: list[dict], seed: int, batch_size: int = 256
) -> pd.DataFrame:
    """Sample one completion per item (temperature 1) and score it; one row per item.

    Columns: `size`, `gold`, `answer`, `count` (stated), `confidence` (stated), `well_formed`, `correct`,
    `in_set` (the answer is one of the candidates), `answer_prob` (the probability the model gave its own
    answer token: an implicit confidence) and `candidate_mass` (its total probability on the set's digits).
    """
    digit_ids = tokenizer.convert_tokens_to_ids(list(DIGITS))
    samples = sample(model, tokenizer, [it["prompt"] for it in items], COMPLETION_TOKENS, seed, batch_size)
    rows = []
    for it, (text, probs) in zip(items, samples, strict=True):
        parsed = parse_completion(text)
        in_set = [digit_ids[DIGITS.index(d)] for d in it["candidates"]]
        answer_id = tokenizer.convert_tokens_to_ids(parsed.answer) if parsed.answer else None
        rows.append(
            {
                "size": it["size"],
                "gold": it["gold"],
                "answer": parsed.answer,
                "count": parsed.count,
                "confidence": parsed.confidence,
                "well_formed": parsed.well_formed,
                "correct": parsed.answer == it["gold"],
                "in_set": parsed.answer is not None and parsed.answer in it["candidates"],
                "answer_prob": float(probs[answer_id]) if answer_id is not None else float("nan"),
                "candidate_mass": float(probs[in_set].sum()),
            }
        )
    return pd.DataFrame(rows)
