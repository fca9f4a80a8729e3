"""Data selection by the student's own statistics: which of a teacher's rewrites a student keeps.

IFD (Li et al., "From Quantity to Quality") and r-IFD (Li et al., "Selective Reflection-Tuning") are ratios of the
student's perplexities: IFD = PPL(response | question) / PPL(response), r-IFD = PPL(question | response) /
PPL(question). `student_choice` applies the selection rules to them, one question at a time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RULES = ("r_ifd", "ifd")


def student_choice(
    ifd: pd.DataFrame, r_ifd: pd.DataFrame, original: str, rule: str = "r_ifd", keep_original: bool = False
) -> pd.Series:
    """Per question (row), the response the student keeps among the candidates (columns); `original` names the
    column of the original response, the others are rewrites.

    A rewrite is a candidate when its IFD and r-IFD are both below 1 (the paper's filters; a missing value fails).
    Rule `"r_ifd"` (the released code's response rule): the candidate with the lowest r-IFD, kept if lower than the
    original's. Rule `"ifd"` (harder is better, as the instruction side uses it): the highest IFD, kept if higher
    than the original's. Where no rewrite is kept the question is dropped (None), as in the released code, or with
    `keep_original` it keeps its original.
    """
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; the rules are {', '.join(RULES)}")
    if list(ifd.columns) != list(r_ifd.columns) or not ifd.index.equals(r_ifd.index):
        raise ValueError("ifd and r_ifd need the same questions (rows) and responses (columns)")
    if original not in ifd.columns or len(ifd.columns) < 2:
        raise ValueError(
            f"the columns need the original {original!r} and at least one rewrite, got {list(ifd.columns)}"
        )
    rewrites = [c for c in ifd.columns if c != original]
    candidate = (ifd[rewrites] < 1) & (r_ifd[rewrites] < 1)
    if rule == "r_ifd":
        value = r_ifd[rewrites].where(candidate, np.inf)
        best, score = value.idxmin(axis=1), value.min(axis=1)
        keep = np.isfinite(score) & (score < r_ifd[original])
    else:
        value = ifd[rewrites].where(candidate, -np.inf)
        best, score = value.idxmax(axis=1), value.max(axis=1)
        keep = np.isfinite(score) & (score > ifd[original])
    return best.where(keep, original if keep_original else "")
