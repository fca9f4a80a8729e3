"""Rewards on crafted completions, and the exercise checker on right and wrong scoring rules."""

import math

import pytest

from casestudies.exercises import ExerciseError, check_scoring_rule
from casestudies.rewards import FORMAT_PENALTY, binary_reward, brier_rule, calibration_reward, log_rule

COMPLETIONS = ["3 of 2 1.0", "3 of 2 0.5", "4 of 2 0.0", "4 of 2 1.0", "3 of two"]
GOLD = ["3", "3", "3", "3", "3"]


def test_binary_reward_ignores_confidence():
    assert binary_reward(COMPLETIONS, GOLD) == [1.0, 1.0, 0.0, 0.0, FORMAT_PENALTY]


def test_brier_reward_hand_worked():
    reward = calibration_reward(brier_rule, "rlcr")
    assert reward.__name__ == "rlcr"
    assert reward(COMPLETIONS, GOLD) == pytest.approx([1.0, 0.75, 0.0, -1.0, FORMAT_PENALTY])


def test_log_reward_hand_worked_with_clipping():
    reward = calibration_reward(log_rule, "log")
    expected = [1 + math.log(0.99), 1 + math.log(0.5), math.log(0.99), math.log(0.01), FORMAT_PENALTY]
    assert reward(COMPLETIONS, GOLD) == pytest.approx(expected)


def spherical(q, correct):
    return (q if correct else 1 - q) / math.sqrt(q**2 + (1 - q) ** 2) - 1


def test_checker_accepts_bounded_proper_rules():
    assert check_scoring_rule(brier_rule).startswith("ok")
    assert check_scoring_rule(spherical).startswith("ok")


@pytest.mark.parametrize(
    ("rule", "bound", "match"),
    [
        (log_rule, 10, "predictably wrong"),
        (log_rule, 1, "spans"),
        (lambda q, c: -abs(q - float(c)), 1, "not proper"),
        (lambda q, c: 0.0, 1, "not proper"),
        (lambda q, c: 1 / 0, 1, "ZeroDivisionError"),
        (lambda q, c: float("nan"), 1, "finite"),
    ],
)
def test_checker_explains_wrong_rules(rule, bound, match):
    with pytest.raises(ExerciseError, match=match):
        check_scoring_rule(rule, bounded_by=bound)
