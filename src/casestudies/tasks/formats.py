"""Arithmetic word problems whose solutions come in three formats, for studying what RL does to a format mix.

A problem is a start value and two events (`has 3 gets 4 loses 2 :`); the answer is 5. Larger operands make
the arithmetic harder, and harder in one step than in two. A solution is written
in one of three formats, told apart by its first word (a string check, as in the paper):

- `steps`:  `so 3 + 4 = 7 then 7 - 2 = 5 ans 5`, one operation per step, the longest;
- `code`:   `x = 3 + 4 - 2 ; ans 5`, the expression written out, then the answer in one go;
- `direct`: `ans 5`, the answer with no working.

The reward reads only the final `ans N`, whatever the format.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

FORMATS = ("steps", "code", "direct")
OTHER = "other"
MAX_OPERAND = 33  # the largest start or amount `problems` accepts: answers stay within the vocabulary
NUMBERS = tuple(str(n) for n in range(3 * MAX_OPERAND + 1))
WORDS = ("has", "gets", "loses", ":", "so", "then", "x", "=", "+", "-", ";", "ans")
VOCABULARY = (*WORDS, *NUMBERS)
MAX_COMPLETION_TOKENS = 15  # the steps format (14 words), plus end of sequence
FIRST_WORDS = {"steps": "so", "code": "x", "direct": "ans"}  # a format is recognised by its first word


def problems(n: int, seed: int, max_operand: int = 9) -> list[dict]:
    """`n` random problems: start and two amounts in 1..max_operand, never below zero. Fields `prompt`,
    `numbers`, `ops` (+1 gets, −1 loses) and `gold` (the answer as a string)."""
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if not 1 <= max_operand <= MAX_OPERAND:
        raise ValueError(f"max_operand must lie in 1..{MAX_OPERAND}, got {max_operand}")
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        a, b, c = (int(v) for v in rng.integers(1, max_operand + 1, size=3))
        ops = [int(v) for v in rng.choice([1, -1], size=2)]
        middle = a + ops[0] * b
        answer = middle + ops[1] * c
        if middle < 0 or answer < 0:
            continue
        words = ["gets" if o > 0 else "loses" for o in ops]
        prompt = f"has {a} {words[0]} {b} {words[1]} {c} :"
        out.append({"prompt": prompt, "numbers": [a, b, c], "ops": ops, "gold": str(answer)})
    return out


def solution(problem: dict, fmt: str) -> str:
    """The correct solution of `problem` in format `fmt` (no leading space)."""
    a, b, c = problem["numbers"]
    s1, s2 = ("+" if o > 0 else "-" for o in problem["ops"])
    middle = a + problem["ops"][0] * b
    answer = problem["gold"]
    if fmt == "steps":
        return f"so {a} {s1} {b} = {middle} then {middle} {s2} {c} = {answer} ans {answer}"
    if fmt == "code":
        return f"x = {a} {s1} {b} {s2} {c} ; ans {answer}"
    if fmt == "direct":
        return f"ans {answer}"
    raise ValueError(f"unknown format {fmt!r}; formats are {FORMATS}")


def pretraining_items(n: int, seed: int, mix: dict[str, float], max_operand: int = 9) -> list[dict]:
    """Prompt/completion pairs whose solution formats are drawn with probabilities `mix` (summing to 1)."""
    if set(mix) - set(FORMATS) or not math.isclose(sum(mix.values()), 1.0) or min(mix.values()) < 0:
        raise ValueError(f"mix must give non-negative shares of {FORMATS} summing to 1, got {mix}")
    rng = np.random.default_rng(seed + 1)
    names = list(mix)
    chosen = rng.choice(len(names), size=n, p=[mix[f] for f in names])
    return [
        {**p, "format": names[k], "completion": " " + solution(p, names[k])}
        for p, k in zip(problems(n, seed, max_operand), chosen, strict=True)
    ]


def format_of(completion: str) -> str:
    """The format of a completion by its first word; `other` when it starts with anything else."""
    words = completion.split()
    by_word = {word: fmt for fmt, word in FIRST_WORDS.items()}
    return by_word.get(words[0], OTHER) if words else OTHER


def final_answer(completion: str) -> str | None:
    """The number after the last `ans`, or None when there is none."""
    words = completion.split()
    for i in range(len(words) - 2, -1, -1):
        if words[i] == "ans":
            return words[i + 1]
    return None


def correctness_reward(completions: list[str], gold: list[str], **_) -> list[float]:
    """The binary reward: 1 when the final `ans N` is the right answer, in any format, else 0."""
    return [float(final_answer(c) == g) for c, g in zip(completions, gold, strict=True)]


def format_entropy(formats: list[str]) -> float:
    """Shannon entropy (bits) of the format shares: log2(3) ≈ 1.58 for an even three-way mix, 0 when collapsed."""
    counts = np.array(list(Counter(formats).values()), dtype=float)
    if counts.sum() == 0:
        raise ValueError("no formats to measure")
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al., 2021): 1 − C(n−c, k)/C(n, k)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 ≤ c ≤ n and 1 ≤ k ≤ n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - math.comb(n - c, k) / math.comb(n, k))


def _gaps(shares, accuracies) -> tuple[np.ndarray, np.ndarray]:
    s, a = np.asarray(shares, dtype=float), np.asarray(accuracies, dtype=float)
    if s.shape != a.shape or s.ndim != 1 or np.any(s < 0) or not math.isclose(s.sum(), 1.0):
        raise ValueError(f"need shares summing to 1 and one accuracy per share, got {shares} and {accuracies}")
    return s, a - s @ a


def replicator_change(shares, accuracies) -> np.ndarray:
    """The replicator prediction of each format's change in share, s_f (a_f − ā) with ā = Σ s_g a_g.

    Exact, up to the factor 1/ā, for one round of expert iteration (keep the correct samples, refit)."""
    s, gap = _gaps(shares, accuracies)
    return s * gap


def softmax_pg_change(shares, accuracies) -> np.ndarray:
    """The first-order change in share under a policy gradient on the format logits of a softmax policy,
    s_f [s_f (a_f − ā) − Σ_g s_g² (a_g − ā)] (per unit step): the logits move by s_g (a_g − ā), and a common
    format's logit moves further, which favours formats that are already common."""
    s, gap = _gaps(shares, accuracies)
    return s * (s * gap - np.sum(s**2 * gap))
