"""Running sums modulo 10: a task whose chain of thought is needed, with a fixed budget for writing it.

A problem is a list of k digits, each after a letter that names its place (`a 3 b 5 c 1 d 7 =`); the answer
is their sum modulo 10 (6). The worked solution names each further place, copies the digit there and writes
the running sum, then the answer: `b 5 8 c 1 9 d 7 6 ans 6` (k − 1 steps). Each step is one lookup and one
small addition; the answer in one go is a k-digit sum, which a small model cannot do for long lists. A
worked solution takes 3k tokens (with `ans`, the answer and the end of sequence), so a fixed generation
budget splits problems into those an honest solution fits and those where it is cut off before the answer:
there only a guess, or a chain cut short, can ever be rewarded.

The reward reads only the final `ans N` (an outcome reward). `describe` tells apart the ways a completion
can go wrong: no answer at all (malformed), an answer after a chain cut short (skipped computation), or a
full chain with a slip.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

DIGITS = tuple(str(d) for d in range(10))
PLACES = tuple("abcdefghijklmn")  # the letter before each digit of a problem
MAX_DIGITS = len(PLACES)
VOCABULARY = (*DIGITS, *PLACES, "=", "ans")


def honest_tokens(k: int) -> int:
    """Tokens a worked solution of a k-digit problem takes: k − 1 steps of three words, `ans`, the answer, and
    the end of sequence."""
    return 3 * k


def problems(n: int, seed: int, lengths: Sequence[int]) -> list[dict]:
    """`n` random problems, the number of digits drawn uniformly from `lengths`. Fields `prompt`, `digits`,
    `k` and `gold` (the answer as a string)."""
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    lengths = [int(k) for k in lengths]
    if not lengths or min(lengths) < 2 or max(lengths) > MAX_DIGITS:
        raise ValueError(f"lengths must lie in 2..{MAX_DIGITS}, got {lengths}")
    rng = np.random.default_rng(seed)
    out = []
    for k in rng.choice(lengths, size=n):
        digits = [int(d) for d in rng.integers(0, 10, size=int(k))]
        prompt = " ".join(f"{place} {d}" for place, d in zip(PLACES, digits, strict=False)) + " ="
        out.append({"prompt": prompt, "digits": digits, "k": int(k), "gold": str(sum(digits) % 10)})
    return out


def worked_solution(problem: dict) -> str:
    """The step-by-step solution (no leading space): each further place, its digit and the running sum modulo 10
    there, then `ans` and the answer."""
    digits = problem["digits"]
    sums = np.cumsum(digits)[1:] % 10
    steps = [f"{place} {d} {s}" for place, d, s in zip(PLACES[1:], digits[1:], sums, strict=False)]
    return " ".join([*steps, "ans", problem["gold"]])


def pretraining_items(n: int, seed: int, lengths: Sequence[int], direct_share: float) -> list[dict]:
    """Prompt/completion pairs: worked solutions, except a share `direct_share` answered at once (`ans N`)."""
    if not 0 <= direct_share <= 1:
        raise ValueError(f"direct_share must lie in [0, 1], got {direct_share}")
    rng = np.random.default_rng([seed, 1])
    direct = rng.random(n) < direct_share
    return [
        {**p, "completion": " " + (f"ans {p['gold']}" if d else worked_solution(p))}
        for p, d in zip(problems(n, seed, lengths), direct, strict=True)
    ]


def parse(completion: str) -> tuple[list[str], str | None]:
    """The words written before the first `ans`, and the answer after it (None if there is no `ans N`)."""
    words = completion.split()
    if "ans" not in words:
        return words, None
    at = words.index("ans")
    return words[:at], words[at + 1] if at + 1 < len(words) else None


def correctness_reward(completions: list[str], gold: list[str], **_) -> list[float]:
    """The binary outcome reward: 1 when the answer after `ans` is right, however it was reached, else 0."""
    return [float(parse(c)[1] == g) for c, g in zip(completions, gold, strict=True)]


def describe(completion: str, k: int) -> dict:
    """What a completion of a k-digit problem did: `answered` (an `ans N` with a digit), `steps` written (places
    named before `ans`), `skipped` (answered after fewer than k − 1 steps) and `direct` (answered with no steps
    at all)."""
    words, answer = parse(completion)
    answered = answer in DIGITS
    steps = sum(w in PLACES for w in words)
    return {
        "answered": answered,
        "steps": steps,
        "skipped": answered and steps < k - 1,
        "direct": answered and not words,
    }


def score(completions: Sequence[str], problems: Sequence[dict]) -> list[dict]:
    """One row per completion: the problem's `k`, the `answer` given, whether it is `correct`, and `describe`'s
    fields."""
    return [
        {"k": p["k"], "answer": parse(c)[1], "correct": parse(c)[1] == p["gold"], **describe(c, p["k"])}
        for c, p in zip(completions, problems, strict=True)
    ]


def answer_entropy(answers: Sequence[str | None]) -> float:
    """Shannon entropy (bits) of the answers given across problems (missing ones left out): log2(10) ≈ 3.32
    when every digit is as common, 0 when one answer is repeated for every problem."""
    counts = np.array(list(Counter(a for a in answers if a is not None).values()), dtype=float)
    if counts.sum() == 0:
        return math.nan
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())
