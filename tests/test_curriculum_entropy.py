"""Chapter 9's measurements on crafted distributions, its warm-up teacher, and the transfer table by hand."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from casestudies.chapters.curriculum_entropy import (
    chance_anchored,
    coverage,
    measure_domain,
    measure_tasks,
    normalised_average,
    run_schedules,
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


def test_measure_tasks_reads_each_domain_and_where_the_open_probability_sits():
    # vocabulary: ten digits at columns 2..11, two other tokens at 0 and 1
    digit_ids = list(range(2, 12))
    probs = {}
    for key in ("sum", "par"):
        p = np.zeros((100, 12))
        p[:, 0] = 0.5  # half of every answer is malformed
        for row, item in enumerate(inputs(key)):
            p[row, 2 + int(item["correct"][0])] = 0.5  # the other half on the (smallest) right answer
        probs[key] = p
    row = measure_tasks(probs, ["sum"], ["par"], digit_ids, k=4)
    assert row["structured_score"] == pytest.approx(0.5)
    assert row["structured_malformed"] == pytest.approx(0.5)
    assert row["open_validity"] == pytest.approx(0.5)
    assert row["open_coverage"] == pytest.approx((1 - 0.5**4) / 4)  # one of at least four right answers, k = 4
    assert row["par_habit"] == pytest.approx(0.5)
    # the sum's answer is a right answer of par (same parity) but the smallest only when a + b < 2 (mod 10)
    expected = np.mean(
        [0.5 * (int(s["correct"]) == int(p["correct"][0])) for s, p in zip(inputs("sum"), inputs("par"), strict=True)]
    )
    assert row["par_sum_answer"] == pytest.approx(expected)


class Stages:
    """A fake stage trainer: adds 1 to the model's weight per stage, records its calls and returns a two-row curve."""

    def __init__(self):
        self.calls = []

    def __call__(self, model, keys, index, name, replay):
        self.calls.append((tuple(keys), index, name, replay))
        with torch.no_grad():
            model.weight += 3.0 if replay is None else 1.0
        curve = pd.DataFrame({"step": [0, 5], "w": [0.0, float(model.weight.detach().sum())]})
        return curve, [[len(self.calls)]]


def test_run_schedules_trains_shared_stages_once_and_replays_real_rewards():
    schedules = {
        "a → b": [(["a"], False), (["b"], False)],
        "a only": [(["a"], False)],
        "a → shuffled b": [(["a"], False), (["b"], True)],
    }
    base = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        base.weight.zero_()
    stages = Stages()
    curves = run_schedules(
        base,
        ["a → b", "a only", "a → shuffled b"],
        schedules,
        stages,
        lambda m: {"w": float(m.weight.detach().sum())},
        stage_steps=5,
    )
    # three stages trained: a, then b after a, then shuffled b after a replaying the real b's rewards
    assert [(k, i, r) for k, i, _, r in stages.calls] == [(("a",), 0, None), (("b",), 1, None), (("b",), 1, [[2]])]
    assert float(base.weight.detach()) == 0.0  # the base model is never trained in place
    ab = curves[curves["schedule"] == "a → b"]
    assert ab["step"].tolist() == [0, 5, 10] and ab["w"].tolist() == [0.0, 3.0, 6.0]
    assert ab["parameter_distance"].tolist()[1:] == [3.0, 3.0]
    shuffled = curves[curves["schedule"] == "a → shuffled b"]
    assert shuffled["w"].tolist() == [0.0, 3.0, 4.0] and shuffled["parameter_distance"].iloc[-1] == 1.0
    assert curves[curves["schedule"] == "a only"]["step"].tolist() == [0, 5]


def test_run_schedules_needs_the_real_stage_before_its_shuffled_twin():
    schedules = {"shuffled a": [(["a"], True)]}
    with pytest.raises(ValueError, match="real stage"):
        run_schedules(torch.nn.Linear(1, 1), ["shuffled a"], schedules, Stages(), lambda m: {}, stage_steps=5)
