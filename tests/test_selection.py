"""The student's selection rules on crafted statistics: filters, directions, ties, missing values, fallbacks."""

import numpy as np
import pandas as pd
import pytest

from casestudies.selection import student_choice

COLUMNS = ["orig", "a", "b"]


def frames(ifd_rows, r_ifd_rows):
    return pd.DataFrame(ifd_rows, columns=COLUMNS), pd.DataFrame(r_ifd_rows, columns=COLUMNS)


IFD, R_IFD = frames(
    [
        [0.5, 0.9, 0.8],  # both pass; a has the lower r-IFD, b the higher IFD
        [0.5, 0.9, 1.2],  # b fails IFD < 1
        [0.5, 0.9, 0.8],  # a fails r-IFD < 1; b's r-IFD is not below the original's
        [0.95, 0.9, 0.8],  # nothing beats the original's IFD
        [0.5, np.nan, 0.7],  # a missing value fails the filter
        [0.5, 1.0, 1.5],  # no candidate at all
    ],
    [
        [0.9, 0.6, 0.7],
        [0.9, 0.8, 0.1],
        [0.5, 1.1, 0.6],
        [0.9, 0.95, 0.2],
        [0.9, 0.1, 0.8],
        [0.9, 0.1, 0.1],
    ],
)


def test_r_ifd_rule_keeps_the_lowest_passing_r_ifd_when_it_beats_the_original():
    got = student_choice(IFD, R_IFD, "orig", "r_ifd")
    assert got.tolist() == ["a", "a", "", "b", "b", ""]
    assert student_choice(IFD, R_IFD, "orig", "r_ifd", keep_original=True).tolist() == [
        "a",
        "a",
        "orig",
        "b",
        "b",
        "orig",
    ]


def test_ifd_rule_keeps_the_highest_passing_ifd_when_it_beats_the_original():
    assert student_choice(IFD, R_IFD, "orig", "ifd").tolist() == ["a", "a", "b", "", "b", ""]


def test_ties_go_to_the_first_rewrite_and_equal_to_the_original_is_not_kept():
    ifd, r_ifd = frames([[0.5, 0.9, 0.9], [0.5, 0.9, 0.9]], [[0.9, 0.7, 0.7], [0.7, 0.7, 0.8]])
    assert student_choice(ifd, r_ifd, "orig").tolist() == ["a", ""]


def test_bad_input_is_refused_with_a_message():
    with pytest.raises(ValueError, match="unknown rule"):
        student_choice(IFD, R_IFD, "orig", "ppl")
    with pytest.raises(ValueError, match="the original 'x'"):
        student_choice(IFD, R_IFD, "x")
    with pytest.raises(ValueError, match="same questions"):
        student_choice(IFD, R_IFD.iloc[:2], "orig")
