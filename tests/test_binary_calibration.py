"""Chapter 1's measurements on a hand-made evaluation frame: Brier, deliberate errors, the held-out gap and slope,
and the constant and oracle references, each worked out by hand."""

import numpy as np
import pandas as pd
import pytest

from casestudies.chapters.binary_calibration import (
    confidence_summary,
    constant_contrast,
    format_kept,
    restated,
    summarise,
)
from casestudies.tasks import candidate_set as cs
from casestudies.training import ShuffledReward

TRAIN, HELDOUT = [1, 2, 5, 10], [3, 4]


def frame() -> pd.DataFrame:
    """Eight answers: (size, confidence, correct, in_set, well_formed, answer_prob); the last is malformed."""
    rows = [
        (1, 1.0, True, True, True, 0.9),
        (2, 0.5, False, True, True, 0.5),
        (2, 0.1, False, False, True, 0.2),  # outside the set, stated low: a deliberate error
        (3, 0.6, True, True, True, 0.3),
        (3, 0.2, False, True, True, 0.3),
        (4, 0.3, False, True, True, 0.25),
        (5, 0.9, False, False, True, 0.1),  # outside the set, stated high: a certain error, not deliberate
        (5, 0.0, False, False, False, np.nan),
    ]
    return pd.DataFrame(rows, columns=["size", "confidence", "correct", "in_set", "well_formed", "answer_prob"])


def test_summary_of_a_hand_made_frame():
    got = summarise(frame(), TRAIN, HELDOUT)
    # Brier on the seven well-formed answers: 0 + .25 + .01 + .16 + .04 + .09 + .81 = 1.36
    assert got["brier"] == pytest.approx(1.36 / 7)
    assert got["accuracy"] == pytest.approx(2 / 8)  # the malformed answer counts as wrong
    assert got["well_formed"] == pytest.approx(7 / 8)
    # uncertain trained answers: sizes 2, 2, 5 (well-formed); two outside the set, one of them stated at q <= 0.1
    assert got["off_set_uncertain"] == pytest.approx(2 / 3)
    assert got["deliberate_error"] == pytest.approx(1 / 3)
    assert got["mean_confidence"] == pytest.approx(3.6 / 7)
    assert got["overconfidence"] == pytest.approx((3.6 - 2) / 7)
    assert got["levels_used"] == 7
    # held out: size 3 states 0.4 at accuracy 0.5, size 4 states 0.3 at accuracy 0
    assert got["calib_gap_heldout"] == pytest.approx((0.1 + 0.3) / 2)
    assert got["heldout_slope"] == pytest.approx(0.4 - 0.3)
    assert 0 <= got["implicit_ece"] <= 1


def test_levels_used_ignores_rare_levels():
    stated = pd.DataFrame({"size": [2] * 100, "confidence": [0.5] * 99 + [0.9], "correct": [True, False] * 50})
    assert confidence_summary(stated, HELDOUT)["levels_used"] == 1
    assert np.isnan(confidence_summary(stated, HELDOUT)["heldout_slope"])  # no held-out sizes to compare


def test_references_restate_the_confidence_on_the_same_answers():
    constant = restated(frame(), "constant")
    assert len(constant) == 7 and (constant["confidence"] == 2 / 7).all()
    summary = confidence_summary(constant, HELDOUT)
    assert summary["brier"] == pytest.approx(2 / 7 * 5 / 7)  # a(1 - a)
    assert summary["heldout_slope"] == pytest.approx(0.0)
    assert summary["auroc"] == pytest.approx(0.5)
    oracle = restated(frame(), "oracle")
    np.testing.assert_allclose(oracle["confidence"], [1, 0.5, 0, 1 / 3, 1 / 3, 0.25, 0])
    # squared errors: 0, .25, 0, (2/3)^2, (1/3)^2, .0625, 0
    assert confidence_summary(oracle, HELDOUT)["brier"] == pytest.approx((0.25 + 4 / 9 + 1 / 9 + 0.0625) / 7)
    with pytest.raises(ValueError, match="unknown reference"):
        restated(frame(), "median")


def test_constant_contrast_from_accuracy_and_well_formed_share():
    rows = [
        ("RLCR, β = 0", 0, "brier", 0.20),
        ("RLCR, β = 0", 0, "accuracy", 0.36),
        ("RLCR, β = 0", 0, "well_formed", 0.9),
        ("RLCR, β = 0", 1, "brier", 0.25),
        ("RLCR, β = 0", 1, "accuracy", 0.50),
        ("RLCR, β = 0", 1, "well_formed", 1.0),
        ("RLCR", 0, "brier", 0.0),
    ]
    results = pd.DataFrame(rows, columns=["arm", "seed", "metric", "value"])
    got = constant_contrast(results, "RLCR, β = 0")
    assert got[0] == pytest.approx(0.20 - 0.4 * 0.6)  # a = 0.36 / 0.9 = 0.4
    assert got[1] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="accuracy"):
        constant_contrast(results, "RLCR")


def test_a_run_without_well_formed_answers_has_undefined_confidence_metrics():
    broken = frame().assign(well_formed=False)
    got = summarise(broken, TRAIN, HELDOUT)
    assert got["well_formed"] == 0 and got["accuracy"] == pytest.approx(2 / 8)
    assert np.isnan(got["brier"]) and np.isnan(got["deliberate_error"]) and np.isnan(got["implicit_ece"])


def test_the_control_keeps_the_format_penalty_and_pays_the_shuffled_rewards_otherwise():
    shuffled = ShuffledReward([[1.0, 0.0, 0.0, 1.0]], group_size=2, seed=0)
    good = " " + cs.format_completion("3", 2, 0.5)
    completions = [good, "3 of", good, "nonsense words here ok"]
    paid = shuffled(completions)
    got = format_kept(shuffled)(completions)
    assert got[1] == got[3] == cs.FORMAT_PENALTY
    assert [got[0], got[2]] == [paid[0], paid[2]]
    assert sorted(paid) == [0.0, 0.0, 1.0, 1.0]
    assert format_kept(shuffled).__name__ == "shuffled_reward_format_kept"
