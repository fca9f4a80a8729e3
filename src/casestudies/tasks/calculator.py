"""A calculator tool task: arithmetic a tiny model cannot do in its head, solved by calling a calculator.

The prompt is an expression (`Q 7 * 8 + 3`). The model writes a call (`CALL 7 * 8 ;`), the environment appends
the calculator's reply (`-> 56`, or `-> ERR` for a malformed call), and the model goes on until it writes
`ANS 59` and stops. A problem with k operations needs k calls and allows k + 1: one malformed call can be
retried, a second one exhausts the budget and the episode ends unanswered. The words the environment writes
are not the model's, so training masks them out of the loss.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

OPERATORS = ("+", "*")
MAX_VALUE = 300  # products of two operands and sums of two products stay below this
LOW, HIGH = 2, 12  # operands are drawn from LOW..HIGH
VOCABULARY = (*(str(n) for n in range(MAX_VALUE + 1)), "Q", *OPERATORS, "CALL", ";", "->", "ERR", "ANS")
ERROR = "ERR"


@dataclass(frozen=True)
class Problem:
    """An expression over small integers with + and * (usual precedence, no chained products)."""

    operands: tuple[int, ...]
    operators: tuple[str, ...]

    def __post_init__(self):
        if len(self.operands) != len(self.operators) + 1 or not self.operators:
            raise ValueError(f"need one more operand than operators, got {self.operands} and {self.operators}")
        if any(op not in OPERATORS for op in self.operators):
            raise ValueError(f"operators must be among {OPERATORS}, got {self.operators}")
        if any(a == b == "*" for a, b in itertools.pairwise(self.operators)):
            raise ValueError("chained products (a * b * c) are not part of the task")

    @property
    def prompt(self) -> str:
        """The prompt the model sees: `Q 7 * 8 + 3`."""
        words = [str(self.operands[0])]
        for op, x in zip(self.operators, self.operands[1:], strict=True):
            words += [op, str(x)]
        return "Q " + " ".join(words)

    @property
    def budget(self) -> int:
        """Calls allowed: one per operation plus one retry."""
        return len(self.operators) + 1

    def steps(self) -> list[tuple[int, str, int, int]]:
        """The calls that solve it, in the order a careful solver makes them: products first (left to right),
        then sums left to right; each as (x, operator, y, result)."""
        values, ops, calls = list(self.operands), list(self.operators), []
        while ops:
            i = ops.index("*") if "*" in ops else 0
            x, op, y = values[i], ops.pop(i), values[i + 1]
            result = x * y if op == "*" else x + y
            calls.append((x, op, y, result))
            values[i : i + 2] = [result]
        return calls

    @property
    def value(self) -> int:
        """The expression's value."""
        return self.steps()[-1][3]


@functools.lru_cache(maxsize=65536)
def parse(prompt: str) -> Problem:
    """The problem a prompt states (the inverse of `Problem.prompt`); cached, since the environment reads the
    prompt at every token of an episode."""
    words = prompt.split()
    if len(words) < 4 or words[0] != "Q" or len(words) % 2:
        raise ValueError(f"not a calculator prompt: {prompt!r}")
    try:
        operands = tuple(int(w) for w in words[1::2])
    except ValueError:
        raise ValueError(f"not a calculator prompt: {prompt!r}") from None
    return Problem(operands, tuple(words[2::2]))


FORMS = {  # operator patterns by number of operations
    2: (("*", "+"), ("+", "*")),
    3: (("*", "+", "*"), ("*", "+", "+"), ("+", "*", "+"), ("+", "+", "*")),
}


def problems(n: int, operations: int, seed: int) -> list[Problem]:
    """`n` random problems with `operations` operations (2 or 3), operands uniform in LOW..HIGH (seeded)."""
    if operations not in FORMS:
        raise ValueError(f"operations must be one of {sorted(FORMS)}, got {operations}")
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    rng = np.random.default_rng(seed)
    forms = FORMS[operations]
    return [
        Problem(tuple(int(x) for x in rng.integers(LOW, HIGH + 1, operations + 1)), forms[rng.integers(len(forms))])
        for _ in range(n)
    ]


def all_problems(operations: int) -> list[Problem]:
    """Every distinct problem with `operations` operations (2 or 3), operands in LOW..HIGH, in a fixed order: the
    whole space `problems` draws from (2,662 problems with two operations)."""
    if operations not in FORMS:
        raise ValueError(f"operations must be one of {sorted(FORMS)}, got {operations}")
    operands = itertools.product(range(LOW, HIGH + 1), repeat=operations + 1)
    return [Problem(xs, form) for xs in operands for form in FORMS[operations]]


def held_out(seen: Iterable[Problem], operations: int = 2) -> list[Problem]:
    """Every problem with `operations` operations that is not among `seen` (say, a seed's RL prompts), in
    `all_problems`' order: a test set disjoint from them by construction."""
    excluded = set(seen)
    return [p for p in all_problems(operations) if p not in excluded]


def calculator(call: list[str]) -> str:
    """The calculator's reply to a call's words (`["7", "*", "8"]` → `"56"`): the result, or `ERR` when the call
    is not `integer operator integer` or the result is out of range."""
    if len(call) != 3 or call[1] not in OPERATORS or not (call[0].isdigit() and call[2].isdigit()):
        return ERROR
    x, y = int(call[0]), int(call[2])
    result = x * y if call[1] == "*" else x + y
    return str(result) if result <= MAX_VALUE else ERROR


def environment(problem: Problem | str, words: list[str]) -> tuple[list[str], bool]:
    """The environment's turn after the model wrote `words` (its completion so far, replies included): the words
    to append and whether the episode ends. It replies when the model closes a call with `;`; a call beyond
    the budget ends the episode instead. `problem` may be the prompt itself (what `ToolRollout` and
    `sample_episodes` pass)."""
    if not words or words[-1] != ";":
        return [], False
    if isinstance(problem, str):
        problem = parse(problem)
    if words.count(";") > problem.budget:
        return [], True
    start = next((i for i in range(len(words) - 1, -1, -1) if words[i] in ("CALL", "->")), None)
    call = words[start + 1 : -1] if start is not None and words[start] == "CALL" else ["?"]
    return ["->", calculator(call)], False


def max_words(problem: Problem | str) -> int:
    """A cap on a completion's length: every allowed call at its longest (`CALL x op y ; -> r`), plus the answer.
    `problem` may be the prompt itself."""
    if isinstance(problem, str):
        problem = parse(problem)
    return 7 * problem.budget + 3


def _malformed(x: int, op: str, y: int, rng: np.random.Generator) -> str:
    """A broken call of the kind a hurried writer makes: an operand or the operator left out."""
    return [f"CALL {x} {op} ;", f"CALL {x} {y} ;"][rng.integers(2)]


def teacher(problem: Problem, malformed_rate: float, rng: np.random.Generator) -> str:
    """A correct completion; with probability `malformed_rate` one of its calls (at random) is first written
    malformed, answered `-> ERR`, and retried: the habit a model picks up from imperfect demonstrations."""
    if not 0 <= malformed_rate <= 1:
        raise ValueError(f"malformed_rate must be a probability, got {malformed_rate}")
    steps = problem.steps()
    broken = rng.integers(len(steps)) if rng.random() < malformed_rate else -1
    parts = []
    for i, (x, op, y, result) in enumerate(steps):
        if i == broken:
            parts.append(f"{_malformed(x, op, y, rng)} -> {ERROR}")
        parts.append(f"CALL {x} {op} {y} ; -> {result}")
    return " ".join([*parts, f"ANS {problem.value}"])


def forced_error(problem: Problem, rng: np.random.Generator) -> str:
    """A completion prefix whose first call is malformed and already answered `-> ERR`: the state from which the
    recovery probe asks the model to go on."""
    x, op, y, _ = problem.steps()[0]
    return f"{_malformed(x, op, y, rng)} -> {ERROR}"


_ANSWER = re.compile(r"ANS (\d+)$")
SCORE_FIELDS = ("correct", "calls", "errors", "p_err", "p_format", "exhausted", "length", "wasted")  # `score`'s keys


def score(problem: Problem, completion: str) -> dict:
    """What one completion did: `correct` (one answer, the right one, at the end), `calls` (answered by the
    calculator), `errors` (calls it refused), `p_err` (errors / calls, 0.5 with no call, as in rStar2-Agent),
    `p_format` (1 unless exactly one `ANS number` ends it), `exhausted` (a call beyond the budget ended it),
    `length` (words the model wrote, the calculator's replies excluded), `wasted` (the model's words in the calls
    the calculator refused, each counted from the end of the previous reply to its `;`). A call is refused when
    it is malformed or its result is out of range."""
    words = completion.split()
    replies = [i + 2 for i in range(len(words) - 2) if words[i] == ";" and words[i + 1] == "->"]  # the calculator's
    calls = len(replies)  # (it answers right after a call's ';', so a '->' the model writes itself is not counted)
    refused = [i for i in replies if words[i] == ERROR]
    errors = len(refused)
    wasted = 0  # the model's words in refused calls: from the call's start (after the previous reply) to its ';'
    for i in refused:
        previous = max((j for j in replies if j < i), default=-1)
        wasted += (i - 2) - previous
    answer = _ANSWER.search(completion.strip())
    well_formed = words.count("ANS") == 1 and answer is not None
    return {
        "correct": float(well_formed and int(answer.group(1)) == problem.value),
        "calls": calls,
        "errors": errors,
        "p_err": errors / calls if calls else 0.5,
        "p_format": 0.0 if well_formed else 1.0,
        "exhausted": float(words.count(";") > problem.budget),
        "length": len(words) - 2 * calls,
        "wasted": wasted,
    }


def warmup_items(problems: list[Problem], malformed_rate: float, seed: int) -> list[dict]:
    """Supervised items (`prompt`, `completion` with its leading space) from the `teacher`, seeded."""
    rng = np.random.default_rng(seed)
    return [{"prompt": p.prompt, "completion": " " + teacher(p, malformed_rate, rng)} for p in problems]


def score_table(problems: Iterable[Problem], completions: Iterable[str]) -> pd.DataFrame:
    """One `score` row per (problem, completion), in order."""
    rows = [score(p, c) for p, c in zip(problems, completions, strict=True)]
    return pd.DataFrame(rows, columns=list(SCORE_FIELDS))


def summarize(scores: pd.DataFrame) -> dict[str, float]:
    """What a `score_table` (one row per episode) says. `accuracy`; `error_rate`, refused calls over calls;
    `errors_in_successes`, the share of right answers with a refused call; `call_errors_in_successes`, refused
    calls over calls inside right answers (rStar2-Agent's 10-15% measure); `length` and `length_without_errors`
    (words outside refused calls); `lost_to_errors`, episodes with a refused call that end wrong (what removing
    every error could at most buy); `wrong_without_error`; `natural_recovery`, the share of episodes with a
    refused call that still end right (NaN without one); `exhausted` and `malformed_answer` (no single answer)."""
    if scores.empty:
        raise ValueError("no episodes to summarize")
    right, erred = scores["correct"] == 1, scores["errors"] > 0
    successes = scores[right]
    return {
        "accuracy": float(right.mean()),
        "error_rate": float(scores["errors"].sum() / max(scores["calls"].sum(), 1)),
        "errors_in_successes": float((successes["errors"] > 0).mean()) if len(successes) else float("nan"),
        "call_errors_in_successes": float(successes["errors"].sum() / max(successes["calls"].sum(), 1))
        if len(successes)
        else float("nan"),
        "length": float(scores["length"].mean()),
        "length_without_errors": float((scores["length"] - scores["wasted"]).mean()),
        "lost_to_errors": float((erred & ~right).mean()),
        "wrong_without_error": float((~erred & ~right).mean()),
        "natural_recovery": float(right[erred].mean()) if erred.any() else float("nan"),
        "exhausted": float(scores["exhausted"].mean()),
        "malformed_answer": float(scores["p_format"].mean()),
    }


def recovery(unforced: pd.DataFrame, forced: pd.DataFrame) -> dict[str, float]:
    """Recovery after a forced error, from two `score_table`s of the same problems row for row: `recovery`, the
    share answered right when the first call was forced to be malformed, and `recovery_gap`, that share minus the
    share the same problems were answered right without it (negative: what the forced error cost)."""
    if len(unforced) != len(forced) or not len(forced):
        raise ValueError(f"need the same problems in both tables, got {len(unforced)} and {len(forced)} rows")
    right, forced_right = float((unforced["correct"] == 1).mean()), float((forced["correct"] == 1).mean())
    return {"recovery": forced_right, "recovery_gap": forced_right - right}
