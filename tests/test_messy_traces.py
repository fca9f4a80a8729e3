"""Chapter 11's measurements: held-out sets per seed, forced dead ends, the reference rows, the training rule."""

import numpy as np
import pandas as pd
import pytest

from casestudies.chapters import messy_traces as ch
from casestudies.models import word_tokenizer
from casestudies.tasks import countdown as cd

TRAIN = cd.problems(400, seed=7, unsolvable_share=0.2)


def test_each_seed_draws_its_own_held_out_problems_disjoint_from_training():
    tests = ch.test_set(TRAIN, seed=0, n_solvable=50, n_unsolvable=20, n_sampled=30, unsolvable_share=0.2)
    assert len(tests.solvable) == 50 and len(tests.unsolvable) == 20 and tests.greedy[:50] == tests.solvable
    assert not set(tests.greedy) & set(TRAIN)
    assert len(tests.sampled) == 30 and sum(not p.solvable for p in tests.sampled) == 6
    assert set(tests.sampled) <= set(tests.greedy)
    same = ch.test_set(TRAIN, seed=0, n_solvable=50, n_unsolvable=20, n_sampled=30, unsolvable_share=0.2)
    other = ch.test_set(TRAIN, seed=1, n_solvable=50, n_unsolvable=20, n_sampled=30, unsolvable_share=0.2)
    assert same == tests and other.solvable != tests.solvable
    with pytest.raises(ValueError, match="sampled"):
        ch.test_set(TRAIN, seed=0, n_solvable=50, n_unsolvable=2, n_sampled=30, unsolvable_share=0.2)


def test_a_forced_prefix_is_a_wrong_path_of_the_problem_that_the_judge_counts_as_a_failed_first_path():
    tests = ch.test_set(TRAIN, seed=0, n_solvable=40, n_unsolvable=5, n_sampled=10, unsolvable_share=0.2)
    forced = ch.forced_prefixes(tests.solvable, np.random.default_rng(0))
    assert len(forced) == sum(bool(p.dead_ends()) for p in tests.solvable)
    for p, prefix in forced:
        assert prefix.endswith(" ,")
        backed = cd.judge(p, f"{prefix} BACK , {cd.solver(p)}")
        assert backed["first_failed"] and backed["noticed"] and backed["recovered"]
        claimed = cd.judge(p, f"{prefix.removesuffix(' ,')} SOLVED")
        assert claimed["outcome"] == "false claim" and claimed["wrong_end"] and not claimed["noticed"]


def test_the_references_solve_everything_or_nothing_and_never_invent():
    tests = ch.test_set(TRAIN, seed=3, n_solvable=30, n_unsolvable=10, n_sampled=10, unsolvable_share=0.2)
    solver, none = ch.references(tests, seed=3)
    assert solver["arm"] == "reference·solver" and solver["seed"] == 3
    assert solver["solve_rate"] == solver["claim_precision"] == 1 and solver["invented"] == 0
    assert none["solve_rate"] == 0 and none["none_on_solvable"] == 1 and np.isnan(none["claim_precision"])


def test_evaluate_returns_every_measure_as_a_share():
    tokenizer = word_tokenizer(cd.VOCABULARY)
    model = ch.build(tokenizer, width=16, depth=1, heads=2, seed=0)
    tests = ch.test_set(TRAIN, seed=0, n_solvable=8, n_unsolvable=4, n_sampled=5, unsolvable_share=0.2)
    got = ch.evaluate(model, tokenizer, tests, samples=2, seed=0)
    for key in (
        "solve_rate",
        "invented",
        "claim_precision",
        "greedy_claim_precision",
        "first_failed",
        "forced_recovery",
        "forced_noticed",
        "sampled_solve_rate",
    ):
        assert key in got
    assert all(np.isnan(v) or 0 <= v <= 1 for v in got.values())
    again = ch.evaluate(model, tokenizer, tests, samples=2, seed=0)  # seeded: the same numbers again
    assert pd.Series(got).equals(pd.Series(again))


def test_final_loss_and_the_rule_for_a_run_that_did_not_train():
    history = pd.DataFrame({"loss": [*np.linspace(2.0, 0.3, 90), *[0.2] * 10, np.nan]})
    assert ch.final_loss(history) == pytest.approx(0.2)  # the last tenth of the logged steps
    assert ch.final_loss(history, tail=0.2) == pytest.approx((0.2 * 10 + np.linspace(2.0, 0.3, 90)[-10:].sum()) / 20)
    runs = pd.DataFrame(
        {
            "arm": ["a"] * 5 + ["b"] * 3,
            "seed": [*range(5), *range(3)],
            "final_loss": [0.2, 0.21, 0.19, 0.45, 0.2, 0.3, 0.31, 0.61],
        }
    )
    flagged = ch.untrained(runs)
    assert flagged[["arm", "seed"]].values.tolist() == [["a", 3]]  # 0.45 > 2 × 0.2; b's 0.61 < 2 × 0.31
    assert flagged["arm_median"].tolist() == [0.2]
    with pytest.raises(ValueError, match="no logged loss"):
        ch.final_loss(pd.DataFrame({"loss": [np.nan]}))
