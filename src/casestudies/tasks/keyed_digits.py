"""Keyed digit tasks: a key word names an operation on two digits, and one digit answers (`sum 3 4 =` → `7`).

Every task shares the vocabulary and the prompt form `key a b =`, so one small model can hold several tasks
and a later task can overwrite an earlier one. Some keys have one right answer (`sum`, `dif`, `max`), others
many: `par` accepts any digit with the parity of a + b (five right answers), `tri` any digit congruent to
2a + b modulo 3 (three or four; an old task's answer meets it barely more often than a random digit does).
A task has only 100 inputs, so it is measured exactly, on all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DIGITS = tuple(str(d) for d in range(10))
RULES = {
    "sum": lambda a, b: ((a + b) % 10,),
    "dif": lambda a, b: ((a - b) % 10,),
    "max": lambda a, b: (max(a, b),),
    "par": lambda a, b: tuple(d for d in range(10) if d % 2 == (a + b) % 2),
    "tri": lambda a, b: tuple(d for d in range(10) if d % 3 == (2 * a + b) % 3),
}
KEYS = tuple(RULES)
VOCABULARY = (*DIGITS, *KEYS, "=")


def answers(key: str, a: int, b: int) -> tuple[int, ...]:
    """Every right answer of task `key` on digits a and b."""
    if key not in RULES:
        raise ValueError(f"unknown task {key!r}; the tasks are {', '.join(KEYS)}")
    if not (0 <= a <= 9 and 0 <= b <= 9):
        raise ValueError(f"a and b must be digits, got {a} and {b}")
    return RULES[key](a, b)


def prompt(key: str, a: int, b: int) -> str:
    """The prompt of task `key` on digits a and b (`sum 3 4 =`)."""
    return f"{key} {a} {b} ="


def inputs(key: str) -> list[dict]:
    """All 100 inputs of task `key`, in order: fields `key`, `a`, `b`, `prompt` and `correct` (the right answers
    as one string of digits, e.g. `"02468"`, which is how the reward receives them)."""
    return [
        {"key": key, "a": a, "b": b, "prompt": prompt(key, a, b), "correct": "".join(map(str, answers(key, a, b)))}
        for a in range(10)
        for b in range(10)
    ]


def draw(keys: Sequence[str], n: int, seed: int) -> list[dict]:
    """`n` inputs drawn with replacement, the task uniformly from `keys` and the digits uniformly (seeded)."""
    if n <= 0 or not keys:
        raise ValueError(f"need a positive n and at least one task, got n={n}, keys={list(keys)}")
    table = {key: inputs(key) for key in keys}
    rng = np.random.default_rng(seed)
    return [table[keys[k]][i] for k, i in zip(rng.integers(0, len(keys), n), rng.integers(0, 100, n), strict=True)]


def parse(completion: str) -> int | None:
    """The answer digit: the completion's first word if it is a digit, else None (a malformed answer)."""
    words = completion.split()
    return int(words[0]) if words and words[0] in DIGITS else None


def correctness_reward(completions: list[str], correct: list[str], **_) -> list[float]:
    """1 for a completion whose answer is one of its input's right answers, else 0 (malformed answers too)."""
    return [float(parse(c) is not None and str(parse(c)) in ok) for c, ok in zip(completions, correct, strict=True)]


def novelty_reward(completions: list[str], correct: list[str], group_size: int, **_) -> list[float]:
    """A rule-based judge for tasks with many right answers: a right answer given m times in its group earns
    1/m, a wrong or malformed one 0, so a group earns one point per distinct right answer it found.

    Completions arrive in GRPO's order, one group of `group_size` completions of the same prompt after another.
    """
    if group_size < 1 or len(completions) % group_size or len(correct) != len(completions):
        raise ValueError(
            f"{len(completions)} completions (and {len(correct)} answer sets) do not split into groups of {group_size}"
        )
    answers = [parse(c) for c in completions]
    rewards = []
    for start in range(0, len(completions), group_size):
        group = range(start, start + group_size)
        right = [answers[i] if answers[i] is not None and str(answers[i]) in correct[i] else None for i in group]
        rewards += [0.0 if a is None else 1.0 / right.count(a) for a in right]
    return rewards


def correct_mask(items: Sequence[dict]) -> np.ndarray:
    """A boolean matrix, one row per input and one column per digit 0–9: which digits are right answers."""
    mask = np.zeros((len(items), 10), dtype=bool)
    for row, item in enumerate(items):
        mask[row, [int(d) for d in item["correct"]]] = True
    return mask
