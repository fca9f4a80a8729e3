"""The student's selection rules on crafted statistics (filters, directions, ties, missing values, fallbacks), its
profile on a stub model with known log-probabilities, and what a rule kept."""

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from casestudies import selection
from casestudies.models import word_tokenizer
from casestudies.selection import student_choice
from casestudies.tasks import addition

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


class Bigram(torch.nn.Module):
    """A stub causal LM whose next-token log-probabilities depend only on the current token: uniform over the
    vocabulary, except after the tokens in `boost`, which give the named next token probability ½."""

    def __init__(self, tokenizer, boost):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))
        size = len(tokenizer)
        table = torch.full((size, size), 1.0 / size)
        for after, token in boost.items():
            row = torch.full((size,), 0.5 / (size - 1))
            row[tokenizer.convert_tokens_to_ids(token)] = 0.5
            table[tokenizer.convert_tokens_to_ids(after)] = row
        self.log_table = table.log()

    def forward(self, input_ids, attention_mask=None, position_ids=None):
        return SimpleNamespace(logits=self.log_table[input_ids])


def test_profile_on_a_stub_model_with_known_log_probabilities():
    tokenizer = word_tokenizer(addition.VOCABULARY)
    v = len(tokenizer)
    # after `=` the response's first token `A` has probability ½ (1/v after `R`); after `?` the question's first
    # token `1` has probability ½ (1/v after `Q`); every other token has probability 1/v
    model = Bigram(tokenizer, {"=": "A", "?": "1"})
    scores = selection.profile(model, tokenizer, ["1 2 + 3 4"], {"answer": ["A 4 6"], "rl": ["2 + 4 = 6 , A 4 6"]})
    assert list(scores["style"]) == ["answer", "rl"]
    answer, rl = scores.iloc[0], scores.iloc[1]
    # IFD: only the first response token differs; the per-token ratio over the response's words
    assert answer["ifd"] == pytest.approx((v / 2) ** (-1 / 3))  # `A 4 6`: three tokens, one helped
    # `2 + 4 = 6 , A 4 6` (nine tokens) starts with 2, less likely after `=` than after `R`: the question hurts
    assert rl["ifd"] == pytest.approx((0.5 / (v - 1) * v) ** (-1 / 9))
    assert rl["ifd"] > 1 > answer["ifd"]
    # r-IFD: the question `1 2 + 3 4` (five tokens) has its first token helped after `?`, whatever the response
    assert answer["r_ifd"] == pytest.approx((v / 2) ** (-1 / 5))
    assert rl["r_ifd"] == pytest.approx((v / 2) ** (-1 / 5))
    with pytest.raises(ValueError, match="one response per question"):
        selection.profile(model, tokenizer, ["1 2 + 3 4"], {"answer": []})


def test_choose_and_selection_row_on_a_crafted_profile():
    scores = pd.DataFrame(
        {
            "question": [0, 0, 0, 1, 1, 1, 2, 2, 2],
            "style": ["answer", "rl", "lr"] * 3,
            "ifd": [0.5, 0.9, 0.8, 0.5, 0.9, 0.8, 0.5, 0.9, 0.8],
            "r_ifd": [0.9, 0.6, 0.7, 0.5, 0.8, 0.9, 0.9, 0.95, 0.4],
        }
    )
    picked = selection.choose(scores, ["answer", "rl", "lr"], "answer")
    assert list(picked) == ["rl", "", "lr"]
    assert list(selection.choose(scores, ["answer", "rl"], "answer")) == ["rl", "", ""]  # one teacher: rl only
    row = selection.selection_row("x", 3, picked, ["answer", "rl", "lr"], hard=["lr"], original="answer")
    assert row == pytest.approx(
        {
            "arm": "x",
            "seed": 3,
            "kept_answer": 0,
            "kept_rl": 1 / 3,
            "kept_lr": 1 / 3,
            "kept_rewrites": 2 / 3,
            "hard_among_kept": 0.5,
        }
    )
    empty = selection.selection_row("x", 3, np.array(["", ""]), ["answer", "rl"], hard=["rl"], original="answer")
    assert empty["kept_rewrites"] == 0 and math.isnan(empty["hard_among_kept"])
    table = selection.medians(scores.assign(seed=1))
    assert table.set_index("style").loc["lr", "r_ifd"] == pytest.approx(0.7)
