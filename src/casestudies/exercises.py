"""Auto-check helpers for the chapters' coding exercises: a clear message on a wrong answer, not a stack trace."""

from __future__ import annotations

import math
from collections.abc import Callable

from casestudies.tasks.candidate_set import CONFIDENCE_LEVELS


class ExerciseError(AssertionError):
    """An exercise answer that does not meet the specification; the message says what to fix."""


def expected_score(rule: Callable[[float, bool], float], q: float, p: float) -> float:
    """E[rule(q, correct)] when the answer is right with probability p."""
    return p * rule(q, True) + (1 - p) * rule(q, False)


def check_scoring_rule(rule: Callable[[float, bool], float], bounded_by: float = 1.0) -> str:
    """Check that `rule(q, correct)` is a bounded proper scoring rule on the 11-level confidence grid, and that
    with it in 1[correct] + rule(q, correct) an honest attempt never pays less than a deliberate error.

    Returns a short report; raises `ExerciseError` explaining the first property that fails.
    """
    values = {}
    for q in CONFIDENCE_LEVELS:
        for correct in (True, False):
            try:
                v = float(rule(q, correct))
            except Exception as err:  # the learner's code: report, don't crash
                raise ExerciseError(f"rule({q}, {correct}) raised {type(err).__name__}: {err}") from err
            if not math.isfinite(v):
                raise ExerciseError(f"rule({q}, {correct}) = {v}: a scoring rule for RL must be finite")
            values[q, correct] = v
    spread = max(values.values()) - min(values.values())
    if spread > bounded_by + 1e-9:
        raise ExerciseError(
            f"the rule spans {spread:.3f} > {bounded_by}: keep it within the correctness reward's range"
        )

    def tabled(q: float, correct: bool) -> float:
        return values[q, correct]

    for p in CONFIDENCE_LEVELS:
        best = max(CONFIDENCE_LEVELS, key=lambda q: expected_score(tabled, q, p))
        if not math.isclose(best, p):
            raise ExerciseError(
                f"not proper: when the answer is right with probability {p}, stating {best} scores better in "
                f"expectation than stating {p}. A proper rule is maximised by the true probability."
            )
    worst_gap = min(p + expected_score(tabled, p, p) - values[0.0, False] for p in CONFIDENCE_LEVELS)
    if worst_gap < -1e-9:
        raise ExerciseError(
            "a deliberately wrong answer stated with confidence 0.0 beats an honest attempt for some p: "
            "the combined reward would teach the model to be predictably wrong"
        )
    return f"ok: proper on the grid, spread {spread:.3f}, honest attempts never lose to deliberate errors"
