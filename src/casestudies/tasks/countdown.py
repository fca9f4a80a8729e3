"""Countdown with three numbers: combine them with +, −, ×, ÷ to reach a target, written as a search trace.

A problem is three small numbers and a target; a step takes two of the numbers left, `a op b = c`, and puts `c`
back (− only as larger minus smaller, ÷ only when exact, no result above 100). Two steps use every number; the
problem is solved when the last number is the target. A trace is steps separated by `,`; `BACK` abandons a
path and starts again from the three numbers; the trace ends with a claim, `SOLVED` or `NONE` (no solution).
Traces are what the models learn from (clean solutions, a wrong path and a retry, a search stream) and what
`judge` scores: whether every step is legal and correctly computed, whether the claim is true, and whether a
wrong first path was recovered from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import permutations

import numpy as np

LIMIT = 100
OPS = ("+", "-", "*", "/")
VOCABULARY = (*(str(n) for n in range(LIMIT + 1)), *OPS, "=", ",", "->", ":", "BACK", "SOLVED", "NONE")
STYLES = ("optimal", "retry", "retry_masked", "stream")
Path = list[tuple[int, str, int, int]]


def apply(a: int, op: str, b: int) -> int | None:
    """`a op b`, or None when the game forbids it (negative or fractional results, results above 100)."""
    if op not in OPS:
        raise ValueError(f"unknown operation {op!r}; the operations are {' '.join(OPS)}")
    c = {"+": a + b, "-": a - b if a >= b else None, "*": a * b, "/": a // b if b and a % b == 0 else None}[op]
    return c if c is not None and c <= LIMIT else None


def moves(numbers: Sequence[int]) -> list[tuple[int, str, int, int, tuple[int, ...]]]:
    """Every legal step from `numbers`: (a, op, b, result, the numbers left after it); + and × once per pair."""
    out = []
    for i, j in permutations(range(len(numbers)), 2):
        for op in OPS:
            c = apply(numbers[i], op, numbers[j])
            if c is not None and (op in "-/" or i < j):
                rest = tuple(n for k, n in enumerate(numbers) if k not in (i, j))
                out.append((numbers[i], op, numbers[j], c, (*rest, c)))
    return out


def paths(numbers: Sequence[int]) -> list[Path]:
    """Every complete path (two steps) from three numbers, as lists of (a, op, b, result)."""
    if len(numbers) != 3:
        raise ValueError(f"a problem has three numbers, got {list(numbers)}")
    return [list(path) for path in _paths(tuple(numbers))]


@cache
def _paths(numbers: tuple[int, ...]) -> tuple[tuple[tuple[int, str, int, int], ...], ...]:
    """`paths`, computed once per triple of numbers (the generator and the judge ask for the same few hundred)."""
    return tuple((first[:4], second[:4]) for first in moves(numbers) for second in moves(first[4]))


@dataclass(frozen=True)
class Problem:
    """Three numbers and a target."""

    numbers: tuple[int, int, int]
    target: int

    @property
    def prompt(self) -> str:
        """The prompt the model sees: `3 5 2 -> 13 :`."""
        return f"{' '.join(map(str, self.numbers))} -> {self.target} :"

    def solutions(self) -> list[Path]:
        """The complete paths that end on the target."""
        return [p for p in paths(self.numbers) if p[-1][3] == self.target]

    def dead_ends(self) -> list[Path]:
        """The complete paths that end anywhere else (the wrong paths a search can take)."""
        return [p for p in paths(self.numbers) if p[-1][3] != self.target]

    @property
    def solvable(self) -> bool:
        return bool(self.solutions())


def problems(
    n: int, seed: int, unsolvable_share: float = 0.0, targets: tuple[int, int] = (3, 30), largest: int = 6
) -> list[Problem]:
    """`n` distinct problems (seeded): three numbers from 1 to `largest` and a target in `targets`. Each problem is
    first chosen to have no solution with probability `unsolvable_share`, then drawn until it is new, so the share
    holds all along the list (a split of it keeps the share). A solvable target is drawn uniformly from those the
    numbers reach, an unsolvable one from the rest."""
    if not 0 <= unsolvable_share <= 1 or n <= 0:
        raise ValueError(f"need n > 0 and unsolvable_share in [0, 1], got {n} and {unsolvable_share}")
    rng = np.random.default_rng(seed)
    low, high = targets
    seen: set[Problem] = set()
    out: list[Problem] = []
    while len(out) < n:
        want_none = rng.random() < unsolvable_share
        for _ in range(10_000):
            numbers = tuple(int(x) for x in rng.integers(1, largest + 1, 3))
            reachable = {p[-1][3] for p in _paths(numbers)} & set(range(low, high + 1))
            pool = sorted(set(range(low, high + 1)) - reachable) if want_none else sorted(reachable)
            problem = Problem(numbers, int(rng.choice(pool))) if pool else None
            if problem is not None and problem not in seen:
                seen.add(problem)
                out.append(problem)
                break
        else:
            kind = "unsolvable" if want_none else "solvable"
            raise ValueError(f"found only {len(out)} distinct problems, then no new {kind} one; asked for {n}")
    return out


def steps(path: Path) -> str:
    """A path as trace text: `3 + 5 = 8 , 8 * 2 = 16`."""
    return " , ".join(f"{a} {op} {b} = {c}" for a, op, b, c in path)


def trace(problem: Problem, style: str, rng: np.random.Generator, max_dead_ends: int = 3) -> tuple[str, str]:
    """A training trace for `problem` as (context, completion), both to follow the prompt. Styles: `optimal` a
    solution; `retry` one dead end, `BACK`, then a solution; `stream` one to `max_dead_ends` dead ends, each
    followed by `BACK`, then a solution; `retry_masked` the retry trace with the dead end moved into the context,
    so a loss on the completion never trains the model to write it. An unsolvable problem is `NONE` in every
    style, with an empty context."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}: one of {', '.join(STYLES)}")
    found = problem.solutions()
    if not found:
        return "", " NONE"
    solution = steps(found[rng.integers(len(found))]) + " SOLVED"
    wrong = problem.dead_ends()
    count = {"optimal": 0, "retry": 1, "retry_masked": 1, "stream": int(rng.integers(1, max_dead_ends + 1))}[style]
    dead = "".join(f" {steps(wrong[i])} , BACK ," for i in rng.permutation(len(wrong))[:count])
    if style == "retry_masked" and dead:
        return dead.removesuffix(" BACK ,"), " BACK , " + solution
    return "", dead + " " + solution


def judge(problem: Problem, completion: str) -> dict:
    """Score a completion (the words after the prompt). `outcome`: "solved" (claims SOLVED after a legal,
    correctly computed path to the target), "false claim" (claims SOLVED otherwise), "none" (claims NONE) or
    "malformed" (no claim, or a step that does not parse). The claimed path is the last one (after the last
    `BACK`); a path abandoned with `BACK` may be wrong without making the claim false. About the claimed path:
    `miscalculated` whether a step's result is wrong arithmetic (`a op b = c` with c ≠ a op b), `illegal`
    whether a step uses a number it does not have or a forbidden operation, `wrong_end` whether it is legal and
    correctly computed but does not use every number and end on the target. `right` whether the claim is true;
    `backs` the number of BACKs; `first_dead` whether the first path was abandoned or ended away from the target;
    `recovered` whether such a trace still ended solved."""
    words = completion.split()
    claim = next((w for w in words if w in ("SOLVED", "NONE")), None)
    body = words[: words.index(claim)] if claim else words
    attempts: list[dict] = []
    current = {"results": [], "miscalculated": False, "illegal": False}
    malformed = claim is None
    state = list(problem.numbers)
    for chunk in " ".join(body).split(","):
        tokens = chunk.split()
        if not tokens:
            continue
        if tokens == ["BACK"]:
            attempts.append(current)
            current, state = {"results": [], "miscalculated": False, "illegal": False}, list(problem.numbers)
            continue
        if len(tokens) != 5 or tokens[1] not in OPS or tokens[3] != "=" or not all(t.isdigit() for t in tokens[::2]):
            malformed = True
            break
        a, op, b, c = int(tokens[0]), tokens[1], int(tokens[2]), int(tokens[4])
        available = a in state and b in state and (a != b or state.count(a) > 1)
        result = apply(a, op, b)
        current["illegal"] |= not available or result is None
        current["miscalculated"] |= result is not None and result != c
        if available:
            state.remove(a)
            state.remove(b)
        state.append(c)
        current["results"].append(c)
    attempts.append(current)
    last, first = attempts[-1], attempts[0]["results"]
    sound = not (last["illegal"] or last["miscalculated"])
    reached = sound and len(last["results"]) == 2 and state == [problem.target]
    first_dead = len(attempts) > 1 or (len(first) == 2 and first[-1] != problem.target)
    if malformed:
        outcome = "malformed"
    elif claim == "NONE":
        outcome = "none"
    else:
        outcome = "solved" if reached else "false claim"
    return {
        "outcome": outcome,
        "right": outcome == "solved" or (outcome == "none" and not problem.solvable),
        "miscalculated": last["miscalculated"],
        "illegal": last["illegal"],
        "wrong_end": sound and not reached,
        "backs": len(attempts) - 1,
        "first_dead": first_dead,
        "recovered": first_dead and outcome == "solved",
    }
