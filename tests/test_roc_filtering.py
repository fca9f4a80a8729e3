"""Chapter 10's measurements: the held-out test sets, the pairing behind recovery, the reference rows and the share
of groups with a learning signal."""

import numpy as np
import pytest
import torch

from casestudies.chapters import roc_filtering as ch
from casestudies.tasks import calculator as calc


def test_evaluation_sets_hold_out_every_rl_prompt_and_are_seeded():
    rl = calc.problems(800, 2, seed=3)
    tests = ch.evaluation_sets(rl, seed=20, probed=600)
    assert not set(tests.two) & set(rl) and len(tests.two) == 2662 - len(set(rl))
    assert len(tests.forced) == len(set(tests.forced)) == 600 and tests.forced == sorted(tests.forced)
    assert min(tests.forced) >= 0 and max(tests.forced) < len(tests.two)
    for i, prefix in zip(tests.forced, tests.prefixes, strict=True):
        x, op, y, _ = tests.two[i].steps()[0]
        assert prefix in (f"CALL {x} {op} ; -> ERR", f"CALL {x} {y} ; -> ERR")
    assert len(tests.three) == 600 and all(len(p.operators) == 3 for p in tests.three)
    assert ch.evaluation_sets(rl, seed=20, probed=600) == tests
    other = ch.evaluation_sets(rl, seed=21, probed=600)
    assert other.two == tests.two and other.forced != tests.forced and other.three != tests.three
    with pytest.raises(ValueError, match="probed"):
        ch.evaluation_sets(rl, seed=20, probed=3000)


def test_a_quick_run_tests_on_a_sample_of_the_held_out_problems():
    rl = calc.problems(24, 2, seed=3)
    full = ch.evaluation_sets(rl, seed=0, probed=20)
    sample = ch.evaluation_sets(rl, seed=0, probed=20, n_two=150)
    assert len(sample.two) == 150 and set(sample.two) < set(full.two)
    assert sample.two == [p for p in full.two if p in set(sample.two)]  # in the held-out order
    assert max(sample.forced) < 150
    with pytest.raises(ValueError, match="n_two"):
        ch.evaluation_sets(rl, seed=0, probed=20, n_two=0)


def test_measure_reads_recovery_against_the_same_problems_unforced(monkeypatch):
    """A stand-in sampler: a problem whose first operand is even is answered right unforced; with a forced
    error, only those whose second operand is even too. Recovery must be read on the forced problems only."""
    two = [calc.Problem((a, b, 2), ("*", "+")) for a in (2, 3, 4, 5) for b in (2, 3)]  # 4 of 8 even-first
    tests = ch.EvaluationSets(two=two, forced=[0, 1, 2], prefixes=["p"] * 3, three=two[:2])

    def fake(model, tokenizer, problems, generator, prefixes=None):
        right = [p.operands[0] % 2 == 0 and (prefixes is None or p.operands[1] % 2 == 0) for p in problems]
        return calc.score_table(problems, [f"ANS {p.value if r else 0}" for p, r in zip(problems, right, strict=True)])

    monkeypatch.setattr(ch, "sample_scores", fake)
    model = torch.nn.Linear(1, 1)  # the stand-in never runs it; measure only asks it for a device
    rows = {row["condition"]: row for row in ch.measure(model, None, tests, seed=0)}
    assert rows[ch.TWO]["accuracy"] == 0.5
    # forced problems 0, 1, 2: (2, 2), (2, 3), (3, 2): unforced 2 of 3 right, forced 1 of 3
    assert rows[ch.FORCED] == pytest.approx({"condition": ch.FORCED, "recovery": 1 / 3, "recovery_gap": -1 / 3})
    assert rows[ch.THREE]["accuracy"] == 1.0


def test_demonstrations_are_always_right_and_err_at_the_teachers_rate():
    tests = ch.evaluation_sets(calc.problems(800, 2, seed=3), seed=1, probed=100)
    clean = {row["condition"]: row for row in ch.demonstrations(tests, 0.0, seed=1)}
    assert clean[ch.TWO]["accuracy"] == 1 and clean[ch.TWO]["error_rate"] == 0 and clean[ch.TWO]["length"] == 12
    assert clean[ch.THREE]["length"] == 17
    erring = {row["condition"]: row for row in ch.demonstrations(tests, 1.0, seed=1)}
    assert erring[ch.TWO]["errors_in_successes"] == 1  # every demonstration retries one call: 1 refused of 3
    assert erring[ch.TWO]["call_errors_in_successes"] == pytest.approx(1 / 3)
    assert erring[ch.THREE]["call_errors_in_successes"] == pytest.approx(1 / 4)
    assert erring[ch.TWO]["length_without_errors"] == 12


def test_groups_with_signal_counts_groups_whose_rewards_differ():
    rewards = [1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0.75, 1, 1, 1]  # signal in groups 2 and 4 of 4
    assert ch.groups_with_signal(rewards, 4) == 0.5
    assert ch.groups_with_signal(np.zeros(8), 2) == 0
    with pytest.raises(ValueError, match="multiple"):
        ch.groups_with_signal(rewards, 5)
