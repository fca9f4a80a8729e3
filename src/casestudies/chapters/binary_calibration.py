"""Chapter 1's measurements: what a model's stated confidence is worth on its candidate-set answers, and the
references (a constant, an oracle) that restate the confidence on the same answers.

The notebook keeps what defines the experiment (the rewards, the warm-up, the arms); everything here turns an
evaluation frame (`candidate_set.evaluate`) into the numbers the hypotheses test, and is tested on hand-made frames.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from casestudies.metrics import calibration_summary
from casestudies.tasks import candidate_set as cs

REFERENCES = ("constant", "oracle")


def confidence_summary(stated: pd.DataFrame, heldout_sizes: Sequence[int]) -> dict:
    """What a stated confidence is worth on well-formed answers: Brier, ECE, AUROC, overconfidence, mean confidence,
    levels used (≥ 2% of answers), and on the held-out sizes the mean gap to each size's accuracy and the slope
    (mean confidence at the smallest held-out size minus at the largest). Without answers, every value is NaN."""
    if stated.empty:
        keys = ["ece", "brier", "auroc", "overconfidence", "mean_confidence", "levels_used", "calib_gap_heldout"]
        return dict.fromkeys([*keys, "heldout_slope"], np.nan)
    heldout = stated[stated["size"].isin(heldout_sizes)].groupby("size")[["confidence", "correct"]].mean()
    present = [s for s in heldout_sizes if s in heldout.index]
    slope = (  # rounded: a constant's two means may differ in the last bit
        round(float(heldout.loc[min(present), "confidence"] - heldout.loc[max(present), "confidence"]), 12) + 0.0
        if len(present) >= 2
        else np.nan
    )
    return {
        **calibration_summary(stated["confidence"], stated["correct"]),
        "overconfidence": float(stated["confidence"].mean() - stated["correct"].mean()),
        "mean_confidence": float(stated["confidence"].mean()),
        "levels_used": int((stated["confidence"].value_counts(normalize=True) >= 0.02).sum()),
        "calib_gap_heldout": float((heldout["confidence"] - heldout["correct"]).abs().mean()),
        "heldout_slope": slope,
    }


def summarise(pred: pd.DataFrame, train_sizes: Sequence[int], heldout_sizes: Sequence[int]) -> dict:
    """One arm and seed: accuracy (a malformed answer counts as wrong), the well-formed share, on trained sizes
    above 1 the answers outside the set (`off_set_uncertain`) and those stated with q ≤ 0.1 (`deliberate_error`),
    the stated confidence's worth, and the ECE of the answer token's own probability (`implicit_ece`)."""
    stated = pred[pred["well_formed"]]
    uncertain = stated[stated["size"].isin(train_sizes) & (stated["size"] > 1)]
    off_set = ~uncertain["in_set"].astype(bool)
    return {
        "accuracy": float(pred["correct"].mean()),
        "well_formed": float(pred["well_formed"].mean()),
        "off_set_uncertain": float(off_set.mean()),
        "deliberate_error": float((off_set & (uncertain["confidence"] <= 0.1)).mean()),
        **confidence_summary(stated, heldout_sizes),
        "implicit_ece": (
            calibration_summary(stated["answer_prob"].clip(0, 1), stated["correct"])["ece"] if len(stated) else np.nan
        ),
    }


def restated(pred: pd.DataFrame, reference: str) -> pd.DataFrame:
    """An arm's well-formed answers with the confidence a reference states: `oracle` 1/|S| for an answer in the set
    and 0 outside it, `constant` the answers' own accuracy (the best single number in hindsight)."""
    stated = pred[pred["well_formed"]]
    if reference == "oracle":
        return stated.assign(confidence=np.where(stated["in_set"], 1 / stated["size"], 0.0))
    if reference == "constant":
        return stated.assign(confidence=float(stated["correct"].mean()))
    raise ValueError(f"unknown reference {reference!r}; choose from {list(REFERENCES)}")


def constant_contrast(results: pd.DataFrame, arm: str) -> pd.Series:
    """Per seed, an arm's Brier minus that of a constant restated on its own well-formed answers, from tidy results
    that hold only the arm's `brier`, `accuracy` and `well_formed`: the constant's Brier is a(1 − a) with
    a = accuracy / well_formed (a design run that restated the constant on another arm's answers only)."""
    wide = results[results["arm"] == arm].pivot_table(index="seed", columns="metric", values="value")
    missing = {"brier", "accuracy", "well_formed"} - set(wide.columns)
    if wide.empty or missing:
        raise ValueError(f"no {sorted(missing) or 'results'} for arm {arm!r}")
    a = wide["accuracy"] / wide["well_formed"]
    return (wide["brier"] - a * (1 - a)).rename("difference")


def format_kept(reward: Callable[..., list[float]]) -> Callable[..., list[float]]:
    """A control reward that keeps the task's format penalty: a malformed completion earns `FORMAT_PENALTY`, as under
    the binary reward, and a well-formed one what `reward` pays (a `ShuffledReward`, say)."""

    def kept(completions: list[str], **kwargs) -> list[float]:
        paid = reward(completions, **kwargs)
        return [
            float(r) if cs.parse_completion(c).well_formed else cs.FORMAT_PENALTY
            for c, r in zip(completions, paid, strict=True)
        ]

    kept.__name__ = f"{getattr(reward, '__name__', 'reward')}_format_kept"
    return kept
