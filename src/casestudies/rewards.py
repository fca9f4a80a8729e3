"""Verifiable rewards for the candidate-set task: binary correctness, plus a scoring rule on stated confidence.

RLCR (Damani et al., 2025) rewards R = 1[correct] + S(q, correct) with S the (negative) Brier score; any
bounded proper scoring rule keeps "answer as well as you can, then say how sure you are" optimal. The log
score is proper but unbounded and breaks that guarantee (see the chapter's worked example).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from casestudies.tasks.candidate_set import parse_completion

ScoringRule = Callable[[float, bool], float]
FORMAT_PENALTY = -1.0  # a malformed completion earns this in every arm
LOG_FLOOR = 0.01  # the log score clips q to [0.01, 0.99] so a stated 0.0 or 1.0 is not -infinity


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


def calibration_reward(rule: ScoringRule, name: str) -> Callable[..., list[float]]:
    """A TRL reward function 1[correct] + rule(q, correct), named `name` (TRL logs rewards by function name)."""

    def reward(completions: list[str], gold: list[str], **_) -> list[float]:
        rewards = []
        for text, answer in zip(completions, gold, strict=True):
            parsed = parse_completion(text)
            if not parsed.well_formed:
                rewards.append(FORMAT_PENALTY)
                continue
            correct = parsed.answer == answer
            rewards.append(float(correct) + rule(parsed.confidence, correct))
        return rewards

    reward.__name__ = name
    return reward
