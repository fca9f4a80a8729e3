"""Chapter 9's measurements on crafted distributions, its warm-up teacher, and the transfer table by hand."""

import math

import numpy as np
import pytest

from casestudies.chapters.curriculum_entropy import (
    chance_anchored,
    coverage,
    measure_domain,
    normalised_average,
    two_stage_transfer,
    warmup_items,
)
from casestudies.tasks.keyed_digits import inputs


def crafted():
    """Two inputs over a vocabulary of four tokens, the last one not an answer (malformed)."""
    p = np.array([[0.5, 0.5, 0.0, 0.0], [0.2, 0.2, 0.2, 0.4]])
    right = np.array([[True, False, False, False], [False, True, True, False]])
    return p, right


def test_structured_measures_by_hand():
    p, right = crafted()
    row = measure_domain(p, right, [0, 1, 2], "structured", k=2)
    assert row["structured_score"] == pytest.approx((0.5 + 0.4) / 2)
    # greedy: row 0 ties 0 and 1, argmax takes 0 (right); row 1 picks the malformed token 3 (not right)
    assert row["structured_greedy"] == pytest.approx(0.5)
    assert row["structured_entropy"] == pytest.approx(
        (math.log(2) + (-3 * 0.2 * math.log(0.2) - 0.4 * math.log(0.4))) / 2
    )
    assert row["structured_malformed"] == pytest.approx(0.2)
    assert set(row) == {"structured_score", "structured_greedy", "structured_entropy", "structured_malformed"}


def test_open_coverage_by_hand():
    p, right = crafted()
    row = measure_domain(p, right, [0, 1, 2], "open", k=2)
    # row 0: one right answer, found with 1 − 0.5² = 0.75, over min(2, 1) = 1; row 1: two right answers, each
    # 1 − 0.8² = 0.36, so 0.72 over min(2, 2) = 2
    assert row["open_coverage"] == pytest.approx((0.75 + 0.36) / 2)
    assert row["open_validity"] == pytest.approx((0.5 + 0.4) / 2)
    assert coverage(p, right, 2) == row["open_coverage"]


def test_coverage_of_one_habit_against_a_uniform_spread():
    right = np.array([[True, True, False, False]])
    habit = np.array([[1.0, 0.0, 0.0, 0.0]])
    spread = np.array([[0.5, 0.5, 0.0, 0.0]])
    assert coverage(habit, right, 8) == pytest.approx(0.5)
    assert coverage(spread, right, 8) == pytest.approx(1 - 0.5**8)


def test_measure_domain_rejects_mismatched_shapes_and_unknown_domains():
    p, right = crafted()
    with pytest.raises(ValueError, match="shape"):
        measure_domain(p, right[:, :3], [0, 1, 2], "open", k=2)
    with pytest.raises(ValueError, match="domain"):
        measure_domain(p, right, [0, 1, 2], "creative", k=2)


@pytest.mark.parametrize("habit", ["smallest", "uniform"])
def test_warmup_teacher_is_right_at_its_signal_rate_with_its_habit(habit):
    items = warmup_items(["sum", "par"], 4000, seed=3, signal=0.6, habit=habit)
    table = {it["prompt"]: it["correct"] for key in ("sum", "par") for it in inputs(key)}
    right = [it["completion"].strip() in table[it["prompt"]] for it in items]
    # right 60% of the time, plus a random digit's chance of being right on the rest (sum 1/10, par 1/2)
    assert np.mean(right) == pytest.approx(0.6 + 0.4 * (0.1 + 0.5) / 2, abs=0.03)
    par = [it for it in items if it["prompt"].startswith("par")]
    smallest = np.mean([it["completion"].strip() == table[it["prompt"]][0] for it in par])
    if habit == "smallest":  # 0.6 from the habit, 0.4/10 from the random digit
        assert smallest == pytest.approx(0.6 + 0.04, abs=0.04)
    else:  # any of five right answers
        assert smallest == pytest.approx(0.6 / 5 + 0.04, abs=0.04)
    assert warmup_items(["sum", "par"], 4000, 3, 0.6, habit) == items  # the same seed, the same data


def test_warmup_teacher_rejects_an_unknown_habit():
    with pytest.raises(ValueError, match="habit"):
        warmup_items(["sum"], 5, 0, 0.6, "largest")


def test_chance_anchored_score():
    assert chance_anchored(0.570, 0.570) == pytest.approx(0.0)
    assert chance_anchored(1.0, 0.570) == pytest.approx(1.0)
    assert chance_anchored(0.4, 0.6) == pytest.approx(-0.5)


def test_two_stage_transfer_on_a_hand_worked_r():
    # structured first: 0.9 after its stage, 0.8 after the open stage; open 0.3 then 0.6; own stages 0.9 and 0.75
    r = [[0.9, 0.3], [0.8, 0.6]]
    table = two_stage_transfer(r, own=[0.9, 0.75], start=[0.5, 0.4])
    assert table["bwt"] == pytest.approx(-0.1)
    assert table["bwt_normalised"] == pytest.approx(-0.1 / 0.9)
    assert table["bwt_gain_share"] == pytest.approx(-0.1 / 0.4)
    assert table["first_normalised"] == pytest.approx(0.8 / 0.9)
    assert table["second_normalised"] == pytest.approx(0.8)
    assert table["forward_transfer"] == pytest.approx(-0.2)
    assert table["normalised_average"] == pytest.approx((0.8 / 0.9 + 0.8) / 2)


def test_the_identity_behind_h6():
    """When the first stage is the domain's own stage, its normalised score is 1 + normalised BWT, so the
    difference of two orders' normalised averages is half the difference of their normalised BWTs plus half the
    difference of their forward transfers."""
    own = [0.93, 0.73]  # structured, open
    s_first = two_stage_transfer([[0.93, 0.40], [0.85, 0.61]], own=own, start=[0.61, 0.45])
    o_first = two_stage_transfer([[0.73, 0.70], [0.48, 0.95]], own=own[::-1], start=[0.45, 0.61])
    for table in (s_first, o_first):
        assert table["first_normalised"] == pytest.approx(1 + table["bwt_normalised"])
        assert table["normalised_average"] == pytest.approx(
            1 + (table["bwt_normalised"] + table["forward_transfer"]) / 2
        )
    h6 = s_first["normalised_average"] - o_first["normalised_average"]
    h4 = s_first["bwt_normalised"] - o_first["bwt_normalised"]
    forward = s_first["forward_transfer"] - o_first["forward_transfer"]
    assert h6 == pytest.approx(h4 / 2 + forward / 2)


def test_normalised_average_and_its_errors():
    assert normalised_average([0.5, 0.6], [1.0, 0.6]) == ([0.5, 1.0], 0.75)
    with pytest.raises(ValueError, match="own-stage"):
        normalised_average([0.5], [1.0, 0.6])
    with pytest.raises(ValueError, match="2 × 2"):
        two_stage_transfer([[1, 2, 3]], own=[1, 1], start=[0, 0])
    assert math.isnan(two_stage_transfer([[0.5, 0.1], [0.4, 0.2]], own=[0.5, 0.2], start=[0.5, 0.1])["bwt_gain_share"])
