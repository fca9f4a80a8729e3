"""Countdown with three numbers: combine them with +, −, ×, ÷ to reach a target, written as a search trace.

A problem is three small numbers and a target; a step takes two of the numbers left, `a op b = c`, and puts `c`
back (− only as larger minus smaller, ÷ only when exact, no result above 100). Two steps use every number; the
problem is solved when the last number is the target. A trace is steps separated by `,`; `BACK` abandons a
path and starts again from the three numbers; the trace ends with a claim, `SOLVED` or `NONE` (no solution).
Traces are what the models learn from (clean solutions, a wrong path and a retry, a search stream, an honest
search) and what `judge` scores: whether every step is legal and correctly computed, whether the claim is true,
and what became of a first path that was not a sound path to the target. `summarize` turns judged traces into the
shares the chapter reports; `solver` and `always_none` are the reference policies, judged the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import permutations, product

import numpy as np
import pandas as pd

LIMIT = 100
OPS = ("+", "-", "*", "/")
VOCABULARY = (*(str(n) for n in range(LIMIT + 1)), *OPS, "=", ",", "->", ":", "BACK", "SOLVED", "NONE")
STYLES = ("optimal", "retry", "retry_masked", "stream", "honest")
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


def all_problems(targets: tuple[int, int] = (3, 30), largest: int = 6) -> list[Problem]:
    """Every problem: each ordered triple of numbers from 1 to `largest` with each target in `targets` (6,048 with
    the defaults, 2,022 of them solvable)."""
    low, high = targets
    return [Problem(numbers, t) for numbers in product(range(1, largest + 1), repeat=3) for t in range(low, high + 1)]


def held_out(
    exclude: Sequence[Problem],
    n_solvable: int,
    n_unsolvable: int,
    rng: np.random.Generator,
    targets: tuple[int, int] = (3, 30),
    largest: int = 6,
) -> tuple[list[Problem], list[Problem]]:
    """Test problems disjoint from `exclude` (the training problems): `n_solvable` solvable and `n_unsolvable`
    unsolvable ones, drawn at random by `rng` from every problem not excluded, as (solvable, unsolvable)."""
    excluded = set(exclude)
    rest = [p for p in all_problems(targets, largest) if p not in excluded]
    shuffled = [rest[i] for i in rng.permutation(len(rest))]
    solvable = [p for p in shuffled if p.solvable]
    unsolvable = [p for p in shuffled if not p.solvable]
    if n_solvable > len(solvable) or n_unsolvable > len(unsolvable):
        raise ValueError(
            f"asked for {n_solvable} solvable and {n_unsolvable} unsolvable test problems; only {len(solvable)} and "
            f"{len(unsolvable)} are left once the {len(excluded)} excluded problems are set aside"
        )
    return solvable[:n_solvable], unsolvable[:n_unsolvable]


def reorderings(problems: Sequence[Problem], others: Sequence[Problem]) -> list[bool]:
    """For each problem, whether `others` holds it with its numbers in another order (the same problem to a
    solver, though a different prompt)."""
    orders: dict[tuple, set] = {}
    for o in others:
        orders.setdefault((tuple(sorted(o.numbers)), o.target), set()).add(o.numbers)
    return [bool(orders.get((tuple(sorted(p.numbers)), p.target), set()) - {p.numbers}) for p in problems]


def steps(path: Path) -> str:
    """A path as trace text: `3 + 5 = 8 , 8 * 2 = 16`."""
    return " , ".join(f"{a} {op} {b} = {c}" for a, op, b, c in path)


def trace(problem: Problem, style: str, rng: np.random.Generator, max_dead_ends: int = 3) -> tuple[str, str]:
    """A training trace for `problem` as (context, completion), both to follow the prompt. Styles: `optimal` a
    solution; `retry` one dead end, `BACK`, then a solution; `stream` one to `max_dead_ends` dead ends, each
    followed by `BACK`, then a solution; `retry_masked` the retry trace with the dead end moved into the context,
    so a loss on the completion never trains the model to write it; `honest` one or two dead ends before the
    solution, and on a problem with no solution one or two of its paths, each followed by `BACK`, before `NONE`.
    In every other style an unsolvable problem is `NONE`, with an empty context.

    Every style draws the same numbers from `rng` for the same problem (two uniforms, then an order of the wrong
    paths), so arms that share a generator and a problem order write the same solutions."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}: one of {', '.join(STYLES)}")
    found, wrong = problem.solutions(), problem.dead_ends()
    pick, extra = rng.random(2)
    order = rng.permutation(len(wrong))
    count = {"optimal": 0, "retry": 1, "retry_masked": 1, "stream": 1 + int(extra * max_dead_ends)}.get(
        style, 1 + int(extra * 2)
    )
    dead = "".join(f" {steps(wrong[i])} , BACK ," for i in order[:count])
    if not found:
        return ("", dead + " NONE") if style == "honest" else ("", " NONE")
    solution = steps(found[int(pick * len(found))]) + " SOLVED"
    if style == "retry_masked" and dead:
        return dead.removesuffix(" BACK ,"), " BACK , " + solution
    return "", dead + " " + solution


def _attempt() -> dict:
    return {"results": [], "miscalculated": False, "illegal": False, "written": False, "reached": False}


def judge(problem: Problem, completion: str) -> dict:
    """Score a completion (the words after the prompt). `outcome`: "solved" (claims SOLVED after a legal,
    correctly computed path to the target), "false claim" (claims SOLVED otherwise), "none" (claims NONE) or
    "malformed" (no claim, or a step that does not parse). The claimed path is the last one (after the last
    `BACK`); a path abandoned with `BACK` may be wrong without making the claim false. About the claimed path:
    `miscalculated` whether a step's result is wrong arithmetic (`a op b = c` with c ≠ a op b), `illegal`
    whether a step uses a number it does not have or an operation the rules forbid, `wrong_end` whether it is
    legal and correctly computed but does not use every number and end on the target. `right` whether the claim
    is true; `backs` the number of BACKs.

    The first path is the first one written (before any `BACK` or claim; a bare `BACK` with no step before it
    starts none). `first_failed`: it is not a sound path to the target (two legal, correctly computed steps ending
    on it), whatever the trace does next, so fabricated arithmetic that writes the target counts as failed;
    `noticed`: such a path is followed by `BACK` or the claim `NONE`; `recovered`: such a trace still ends solved.
    """
    words = completion.split()
    claim = next((w for w in words if w in ("SOLVED", "NONE")), None)
    body = words[: words.index(claim)] if claim else words
    attempts: list[dict] = []
    current = _attempt()
    malformed = claim is None
    state = list(problem.numbers)
    for chunk in " ".join(body).split(","):
        tokens = chunk.split()
        if not tokens:
            continue
        if tokens == ["BACK"]:
            attempts.append(current)
            current, state = _attempt(), list(problem.numbers)
            continue
        current["written"] = True
        if len(tokens) != 5 or tokens[1] not in OPS or tokens[3] != "=" or not all(t.isdigit() for t in tokens[::2]):
            malformed = True
            current["illegal"] = True  # a step that does not parse is not a sound step
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
        current["reached"] = state == [problem.target]
    attempts.append(current)
    for attempt in attempts:
        sound = not (attempt["illegal"] or attempt["miscalculated"])
        attempt["reached"] = sound and len(attempt["results"]) == 2 and attempt["reached"]
    last = attempts[-1]
    written = [i for i, attempt in enumerate(attempts) if attempt["written"]]
    first = written[0] if written else None
    first_failed = first is not None and not attempts[first]["reached"]
    followed = first is not None and (first < len(attempts) - 1 or (claim == "NONE" and not malformed))
    if malformed:
        outcome = "malformed"
    elif claim == "NONE":
        outcome = "none"
    else:
        outcome = "solved" if last["reached"] else "false claim"
    return {
        "outcome": outcome,
        "right": outcome == "solved" or (outcome == "none" and not problem.solvable),
        "miscalculated": last["miscalculated"],
        "illegal": last["illegal"],
        "wrong_end": not (last["illegal"] or last["miscalculated"]) and not last["reached"],
        "backs": len(attempts) - 1,
        "first_failed": first_failed,
        "noticed": first_failed and followed,
        "recovered": first_failed and outcome == "solved",
    }


def judge_all(problems: Sequence[Problem], completions: Sequence[str]) -> pd.DataFrame:
    """`judge` on each (problem, completion) pair, one row each, with the problem's `solvable` beside it."""
    rows = [judge(p, c) for p, c in zip(problems, completions, strict=True)]
    return pd.DataFrame(rows).assign(solvable=[p.solvable for p in problems])


def _share(mask: pd.Series) -> float:
    """The mean of a boolean column, NaN when it is empty (a share of nothing is undefined, not 0)."""
    return float(mask.mean()) if len(mask) else float("nan")


def summarize(judged: pd.DataFrame, solvable: Sequence[bool]) -> dict[str, float]:
    """The shares the chapter reports, from judged traces (`judge_all`) and whether each problem has a solution.

    On solvable problems: `solve_rate`, `false_claims`, `none_on_solvable`. On unsolvable ones: `invented`
    (claims SOLVED). Over all: `malformed`, `claim_precision` (SOLVED claims that are true). Of the false claims
    on solvable problems: `fabricated_share` (a wrong result), `illegal_share` (a number it does not have or a
    forbidden operation), `wrong_end_share` (a sound path that misses the target), `false_after_back` (written
    after at least one BACK) and `wrong_end_no_back` (a sound path that misses the target, claimed with no BACK
    written). The first path on solvable problems: `first_failed` (not a sound path to the target, as a share of
    the problems) and, of those failed paths, `noticed` (BACK or NONE after it), `natural_recovery` (still ends
    solved) and `failed_false_claim` (ends in a false claim)."""
    mask = np.asarray(solvable, dtype=bool)
    if len(mask) != len(judged):
        raise ValueError(f"need one solvable flag per judged trace, got {len(mask)} for {len(judged)}")
    outcome = judged["outcome"]
    on, off = judged[mask], judged[~mask]
    claims = judged[outcome.isin(["solved", "false claim"])]
    false = on[on["outcome"] == "false claim"]
    failed = on[on["first_failed"]]
    return {
        "solve_rate": _share(on["outcome"] == "solved"),
        "false_claims": _share(on["outcome"] == "false claim"),
        "none_on_solvable": _share(on["outcome"] == "none"),
        "invented": _share(off["outcome"].isin(["solved", "false claim"])),
        "malformed": _share(outcome == "malformed"),
        "claim_precision": _share(claims["outcome"] == "solved"),
        "fabricated_share": _share(false["miscalculated"]),
        "illegal_share": _share(false["illegal"]),
        "wrong_end_share": _share(false["wrong_end"]),
        "false_after_back": _share(false["backs"] > 0),
        "wrong_end_no_back": _share(false["wrong_end"] & (false["backs"] == 0)),
        "first_failed": _share(on["first_failed"]),
        "noticed": _share(failed["noticed"]),
        "natural_recovery": _share(failed["recovered"]),
        "failed_false_claim": _share(failed["outcome"] == "false claim"),
    }


def solver(problem: Problem) -> str:
    """The exhaustive solver's completion: the first solution path and SOLVED, or NONE (always right)."""
    found = problem.solutions()
    return f"{steps(found[0])} SOLVED" if found else "NONE"


def always_none(problem: Problem) -> str:
    """A policy that never tries: it never invents a solution and never finds one."""
    return "NONE"
