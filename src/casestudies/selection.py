"""Data selection by the student's own statistics: which of a teacher's rewrites a student keeps.

IFD (Li et al., "From Quantity to Quality") and r-IFD (Li et al., "Selective Reflection-Tuning") are ratios of the
student's perplexities: IFD = PPL(response | question) / PPL(response), r-IFD = PPL(question | response) /
PPL(question). `profile` computes both for every response from the student's own perplexities, `student_choice`
and `choose` apply the selection rules to them, one question at a time, and `selection_row` says what a rule kept.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from casestudies.generation import perplexity

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


def profile(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    questions: Sequence[str],
    responses: Mapping[str, Sequence[str]],
) -> pd.DataFrame:
    """The student's IFD and r-IFD of every response (one list per style, aligned with `questions`), from its own
    perplexities in the warm-up's formats: PPL(A | Q) after `Q question =`, PPL(A) after `R`, PPL(Q | A) after
    `R response ?` and PPL(Q) after `Q` (computed once, shared by every style). One row per question and style."""
    n = len(questions)
    if any(len(r) != n for r in responses.values()):
        raise ValueError(f"every style needs one response per question ({n})")
    ppl_question = perplexity(model, tokenizer, ["Q"] * n, list(questions))
    frames = []
    for style, answers in responses.items():
        answers = list(answers)
        ifd = perplexity(model, tokenizer, [f"Q {q} =" for q in questions], answers) / perplexity(
            model, tokenizer, ["R"] * n, answers
        )
        r_ifd = perplexity(model, tokenizer, [f"R {a} ?" for a in answers], list(questions)) / ppl_question
        frames.append(pd.DataFrame({"question": range(n), "style": style, "ifd": ifd.numpy(), "r_ifd": r_ifd.numpy()}))
    return pd.concat(frames, ignore_index=True)


def choose(scores: pd.DataFrame, candidates: Sequence[str], original: str, rule: str = "r_ifd") -> np.ndarray:
    """Per question of a `profile`, the response `rule` keeps among `candidates` (styles, `original` among them),
    "" where it keeps none (`student_choice`)."""
    ifd, r_ifd = (scores.pivot(index="question", columns="style", values=v)[list(candidates)] for v in ("ifd", "r_ifd"))
    return student_choice(ifd, r_ifd, original, rule).to_numpy()


def selection_row(
    arm: str, seed: int, styles: np.ndarray, all_styles: Sequence[str], hard: Sequence[str], original: str
) -> dict:
    """What a rule kept (one style per question, "" where dropped): `kept_<style>`, the share of questions kept in
    each style, `kept_rewrites` (kept in a style other than `original`) and `hard_among_kept`, the share of the
    kept rewrites in one of the `hard` styles (NaN when none was kept)."""
    styles = np.asarray(styles)
    shares = {f"kept_{s}": float(np.mean(styles == s)) for s in all_styles}
    rewrites = float(np.mean((styles != "") & (styles != original)))
    hard_share = float(np.isin(styles, list(hard)).mean()) / rewrites if rewrites else math.nan
    return {"arm": arm, "seed": seed, **shares, "kept_rewrites": rewrites, "hard_among_kept": hard_share}


def medians(scores: pd.DataFrame) -> pd.DataFrame:
    """Median IFD and r-IFD per style (and per any other column of `scores` besides `question`, e.g. seed and
    student): the rater check reads them."""
    keys = [c for c in scores.columns if c not in ("question", "ifd", "r_ifd")]
    return scores.groupby(keys)[["ifd", "r_ifd"]].median().reset_index()
