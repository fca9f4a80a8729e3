"""Column addition written in several correct styles: the original answer-only data and a teacher's rewrites.

A problem adds two numbers with the same count of digits: `Q 3 4 7 + 5 8 9 =`. The original response is the
answer alone, `A 9 3 6`. A teacher rewrites it as a worked solution in one of three styles, all correct:

- `rl`, right to left with carries, as taught at school: `7 + 9 = 1 6 , 4 + 8 + 1 = 1 3 , 3 + 5 + 1 = 9 , A 9 3 6`
  (each column adds the carry from the column before);
- `rl_check`, the same plus a casting-out-nines check before the answer, `check 5 4 0 ok ,` (the residues mod 9
  of the two numbers and of the sum; the first two add up to the third mod 9), which verifies the answer without
  restating the question;
- `lr`, left to right: `3 + 5 + 1 = 9 , 4 + 8 + 1 = 3 , 7 + 9 = 6 , A 9 3 6` (a leading `1 ,` when the sum has
  an extra digit): steps shaped like `rl`'s, each writing only the column's last digit, but each column's carry
  comes from the columns to its right, not yet written, so every step looks ahead through the question.

`judge` scores any response: the answer, whether every column step copies the right digits, carries the right
carry and adds correctly, whether a check has the right residues, and whether the answer is the one its own steps
imply; `summarise` turns judged responses into shares, and `measure` judges a model's greedy responses.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

STYLES = ("answer", "rl", "rl_check", "lr")
REWRITES = ("rl", "rl_check", "lr")
VOCABULARY = (*"0123456789", "Q", "A", "R", "+", "=", ",", "?", "check", "ok")
_STEP = re.compile(r"^(\d) \+ (\d)( \+ 1)? = (\d(?: \d)?)$")


@dataclass(frozen=True)
class Problem:
    """Two numbers with `digits` digits each (no leading zero)."""

    a: int
    b: int

    @property
    def digits(self) -> int:
        return len(str(self.a))

    @property
    def total(self) -> int:
        return self.a + self.b

    @property
    def question(self) -> str:
        """The question's words without the markers: `3 4 7 + 5 8 9`."""
        return f"{_spaced(self.a)} + {_spaced(self.b)}"

    @property
    def prompt(self) -> str:
        return f"Q {self.question} ="


def _spaced(n: int) -> str:
    return " ".join(str(n))


def problems(n: int, digits: int, seed: int, exclude: set[Problem] | frozenset[Problem] = frozenset()) -> list[Problem]:
    """`n` distinct problems with `digits`-digit operands, none in `exclude` (to keep test sets out of training)."""
    if digits < 1:
        raise ValueError(f"digits must be at least 1, got {digits}")
    low, high = 10 ** (digits - 1), 10**digits
    if n > (high - low) ** 2 - len(exclude):
        raise ValueError(f"only {(high - low) ** 2} problems have {digits}-digit operands; asked for {n}")
    rng = np.random.default_rng(seed)
    seen: set[Problem] = set()
    out = []
    while len(out) < n:
        p = Problem(int(rng.integers(low, high)), int(rng.integers(low, high)))
        if p not in seen and p not in exclude:
            seen.add(p)
            out.append(p)
    return out


def columns(p: Problem) -> list[tuple[int, int, int]]:
    """Per column, right to left: (digit of a, digit of b, carry into the column), the teacher's and the judge's
    reference for every step."""
    a, b = str(p.a)[::-1], str(p.b)[::-1]
    out, carry = [], 0
    for x, y in zip(a, b, strict=True):
        out.append((int(x), int(y), carry))
        carry = (int(x) + int(y) + carry) // 10
    return out


def _step(x: int, y: int, carry: int, result: int) -> str:
    return f"{x} + {y}{' + 1' if carry else ''} = {_spaced(result)}"


def residues(p: Problem) -> tuple[int, int, int]:
    """The check's three numbers: a, b and a + b, each mod 9."""
    return p.a % 9, p.b % 9, p.total % 9


def response(p: Problem, style: str) -> str:
    """The response to `p` in `style` (see the module's docstring); every style gives the right answer."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; the styles are {', '.join(STYLES)}")
    answer = f"A {_spaced(p.total)}"
    if style == "answer":
        return answer
    reference = columns(p)
    if style == "lr":
        steps = [_step(x, y, c, (x + y + c) % 10) for x, y, c in reversed(reference)]
        lead = ["1"] if p.total >= 10**p.digits else []
        return " , ".join([*lead, *steps, answer])
    steps = [_step(x, y, c, x + y + c) for x, y, c in reference]
    if style == "rl_check":
        steps.append("check {} {} {} ok".format(*residues(p)))
    return " , ".join([*steps, answer])


def judge(p: Problem, text: str) -> dict:
    """Score a response to `p`: its style (or `malformed`), the answer, the steps' validity and consistency.

    `correct`: the answer is a + b. `columns_valid`: every column step names the right two digits of the
    question, the right carry, and adds them right (rl: the full column sum; lr: its last digit, with the carry
    looked ahead; a leading `1` only when the sum has an extra digit, and never before a check); None for an
    answer-only response. `check_valid`: a check's residues are a, b and a + b mod 9 (None without a check).
    `consistent`: the answer is the number the steps themselves produce (None without steps). A response that is
    not `step , step , ... , A digits` is malformed (neither correct nor valid).
    """
    words = text.split()
    if "A" not in words:
        return _judged("malformed", False, None, None)
    cut = words.index("A")
    digits = words[cut + 1 :]
    if not digits or not all(w.isdigit() and len(w) == 1 for w in digits) or (digits[0] == "0" and len(digits) > 1):
        return _judged("malformed", False, None, None)
    answer = int("".join(digits))
    correct = answer == p.total
    body = " ".join(words[:cut])
    if not body:
        return _judged("answer", correct, None, None)
    parts = [part.strip() for part in body.split(",")]
    if parts[-1] != "":
        return _judged("malformed", False, None, None)
    parts = parts[:-1]
    check = None
    if parts and parts[-1].startswith("check"):
        check = parts.pop().split()
        if len(check) != 5 or check[-1] != "ok" or not all(w.isdigit() for w in check[1:4]):
            return _judged("malformed", False, None, None)
    lead = parts[:1] == ["1"]
    matches = [_STEP.match(part) for part in parts[lead:]]
    if not matches or not all(matches) or len(matches) > 12:
        return _judged("malformed", False, None, None)
    steps = [(int(m[1]), int(m[2]), int(m[3] is not None), int(m[4].replace(" ", ""))) for m in matches]
    reference = columns(p)
    rl_value = int(("1" if steps[-1][3] >= 10 else "") + "".join(str(s % 10) for *_, s in reversed(steps)))
    written = [m[4] for m in matches]  # a result as written: `0 9` is not how 9 is written
    plain = all(w == _spaced(int(w.replace(" ", ""))) for w in written)
    rl_valid = plain and [s[:3] for s in steps] == reference and all(s == x + y + c for x, y, c, s in steps)
    if check is not None:
        check_valid = tuple(int(w) for w in check[1:4]) == residues(p)
        return _judged("rl_check", correct, rl_valid and not lead, rl_value == answer, check_valid)
    lr_value = int(("1" if lead else "") + "".join(str(s % 10) for *_, s in steps))
    lr_valid = [s[:3] for s in steps] == reference[::-1] and lead == (p.total >= 10**p.digits)
    lr_valid = (
        lr_valid
        and plain
        and all(len(w) == 1 and s == (x + y + c) % 10 for w, (x, y, c, s) in zip(written, steps, strict=True))
    )
    # which order the steps follow: the one whose columns they copy; on a tie, the reading that holds up
    rl = (_copied(steps, reference), rl_valid, rl_value == answer)
    lr = (_copied(steps, reference[::-1]), lr_valid, lr_value == answer)
    if lead or lr > rl:
        return _judged("lr", correct, lr_valid, lr_value == answer)
    return _judged("rl", correct, rl_valid, rl_value == answer)


def _copied(steps: list[tuple[int, int, int, int]], columns: list[tuple[int, int, int]]) -> int:
    """How many steps name the two digits of the column in the same place of `columns` (which order they follow)."""
    return sum(s[:2] == c[:2] for s, c in zip(steps, columns, strict=False))


def _judged(
    style: str, correct: bool, valid: bool | None, consistent: bool | None, check_valid: bool | None = None
) -> dict:
    return {
        "style": style,
        "correct": correct,
        "columns_valid": valid,
        "check_valid": check_valid,
        "consistent": consistent,
    }


def summarise(judged: list[dict]) -> dict:
    """Summary of judged responses (`judge`'s dicts): `exact` (share correct; malformed counts as wrong),
    `malformed`, `shows_steps`; `columns_valid`, `check_valid`, `steps_valid` (columns and check, where there is
    one) and `consistent` among the responses that show steps (`check_valid` among those with a check; NaN where
    there are none); and `wrote_<style>`, the share written in each style."""
    if not judged:
        raise ValueError("summarise needs at least one judged response")
    frame = pd.DataFrame(judged)
    worked = frame[frame["columns_valid"].notna()]
    checked = worked[worked["check_valid"].notna()]
    steps_valid = worked["columns_valid"].astype(bool) & worked["check_valid"].fillna(True).astype(bool)

    def share(values: pd.Series) -> float:
        return float(values.astype(float).mean()) if len(values) else math.nan

    return {
        "exact": share(frame["correct"]),
        "malformed": share(frame["style"] == "malformed"),
        "shows_steps": len(worked) / len(frame),
        "columns_valid": share(worked["columns_valid"]),
        "check_valid": share(checked["check_valid"]),
        "steps_valid": share(steps_valid),
        "consistent": share(worked["consistent"]),
        **{f"wrote_{s}": share(frame["style"] == s) for s in STYLES},
    }


def measure(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, problems: list[Problem], max_new: int) -> dict:
    """A model's greedy responses to `problems`, judged and summarised (`summarise`)."""
    from casestudies.generation import greedy

    texts = greedy(model, tokenizer, [p.prompt for p in problems], max_new)
    return summarise([judge(p, text) for p, text in zip(problems, texts, strict=True)])
