"""Agreement and reliability metrics against torchmetrics, scikit-learn, closed forms and worked examples."""

import numpy as np
import pytest
import torch
from sklearn.decomposition import FactorAnalysis
from torchmetrics.functional.nominal import fleiss_kappa as tm_fleiss_kappa

from casestudies.metrics.agreement import (
    category_counts,
    fleiss_kappa,
    icc_oneway,
    mcdonald_omega,
    modal,
    omega_absolute_correlations,
    omega_signed_correlations,
    one_factor,
    spearman_brown,
    spearman_brown_single,
    undefined_as_nan,
)

# Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories, kappa = 0.210.
FLEISS_EXAMPLE = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def one_factor_data(loadings, n, seed):
    rng = np.random.default_rng(seed)
    loadings = np.asarray(loadings)
    factor = rng.normal(size=(n, 1))
    return factor * loadings + rng.normal(size=(n, len(loadings))) * np.sqrt(1 - loadings**2)


def test_fleiss_kappa_matches_worked_example_and_torchmetrics():
    assert fleiss_kappa(FLEISS_EXAMPLE) == pytest.approx(0.2099, abs=1e-4)
    rng = np.random.default_rng(1)
    labels = np.where(rng.random((200, 9)) < 0.6, rng.integers(0, 4, (200, 1)), rng.integers(0, 4, (200, 9)))
    counts = category_counts(labels, 4)
    assert counts.sum(axis=1).tolist() == [9] * 200
    reference = float(tm_fleiss_kappa(torch.tensor(counts), mode="counts"))
    assert fleiss_kappa(counts) == pytest.approx(reference, abs=1e-5)  # torchmetrics works in float32


def test_fleiss_kappa_edge_cases():
    labels = np.repeat(np.arange(5)[:, None] % 3, 4, axis=1)  # every replication agrees, items differ
    assert fleiss_kappa(category_counts(labels, 3)) == pytest.approx(1.0)
    assert np.isnan(fleiss_kappa(category_counts(np.zeros((5, 4), dtype=int), 3)))  # one category: undefined
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa(np.array([[1, 1], [2, 1]]))
    with pytest.raises(ValueError, match="lie in"):
        category_counts(np.array([[0, 3]]), 3)


def test_icc_matches_a_hand_worked_anova():
    # items means 1.5, 3.5, 5; MS_between = 37/6, MS_within = 1/3 (worked by hand)
    single, average = icc_oneway(np.array([[1, 2], [3, 4], [5, 5]]))
    assert single == pytest.approx((37 / 6 - 1 / 3) / (37 / 6 + 1 / 3))
    assert average == pytest.approx((37 / 6 - 1 / 3) / (37 / 6))


def test_icc_recovers_the_variance_share_and_obeys_spearman_brown():
    rng = np.random.default_rng(2)
    scores = rng.normal(0, 2.0, (4000, 1)) + rng.normal(0, 1.0, (4000, 6))  # true ICC(1) = 4 / 5
    single, average = icc_oneway(scores)
    assert single == pytest.approx(0.8, abs=0.01)
    assert average == pytest.approx(spearman_brown(single, 6))  # an identity, not an approximation
    assert spearman_brown_single(average, 6) == pytest.approx(single)
    assert np.isnan(icc_oneway(np.ones((3, 4)))[0])


def test_one_factor_recovers_compound_symmetry_exactly():
    k, rho = 8, 0.3
    r = np.full((k, k), rho) + (1 - rho) * np.eye(k)
    loadings, uniqueness = one_factor(r)
    np.testing.assert_allclose(loadings, np.sqrt(rho), atol=1e-6)
    np.testing.assert_allclose(uniqueness, 1 - rho, atol=1e-6)


def test_omega_matches_the_closed_form_and_sklearn_factor_analysis():
    loadings = np.array([0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    data = one_factor_data(loadings, 20_000, seed=3)
    closed = loadings.sum() ** 2 / (loadings.sum() ** 2 + (1 - loadings**2).sum())
    assert mcdonald_omega(data) == pytest.approx(closed, abs=0.01)
    reference = FactorAnalysis(n_components=1).fit((data - data.mean(0)) / data.std(0))  # maximum likelihood
    np.testing.assert_allclose(
        one_factor(np.corrcoef(data, rowvar=False))[0], np.abs(reference.components_[0]), atol=0.01
    )


def test_omega_of_exchangeable_replications_is_spearman_brown():
    k, rho = 10, 0.2
    data = one_factor_data(np.full(k, np.sqrt(rho)), 20_000, seed=4)
    assert mcdonald_omega(data) == pytest.approx(spearman_brown(rho, k), abs=0.01)


def test_absolute_correlations_turn_noise_into_reliability():
    noise = np.random.default_rng(5).integers(1, 6, size=(100, 100)).astype(float)  # random letters coded 1..5
    assert abs(mcdonald_omega(noise)) < 0.1
    assert omega_absolute_correlations(noise) > 0.7
    assert abs(omega_signed_correlations(noise)) < 0.1  # the same formula on signed R: the absolute value did it


def test_omega_rejects_constant_columns():
    with pytest.raises(ValueError, match="vary"):
        mcdonald_omega(np.ones((10, 3)))


def test_samples_needed_checker_accepts_a_correct_answer_and_explains_wrong_ones():
    import math

    from casestudies.exercises import ExerciseError, check_samples_needed

    def correct(single, target):
        if not (single > 0 and 0 < target < 1):
            raise ValueError("unreachable")
        return max(1, math.ceil(target * (1 - single) / (single * (1 - target)) - 1e-9))

    assert check_samples_needed(correct).startswith("ok")
    with pytest.raises(ExerciseError, match="smallest"):
        check_samples_needed(lambda s, t: correct(s, t) + 1)
    with pytest.raises(ExerciseError, match="only reaches"):
        check_samples_needed(lambda s, t: max(1, correct(s, t) - 1))
    with pytest.raises(ExerciseError, match=r"broken\(0.03, 0.5\) raised TypeError: nope"):

        def broken(single, target):
            raise TypeError("nope")

        check_samples_needed(broken)
    with pytest.raises(ExerciseError, match="should raise ValueError"):
        check_samples_needed(lambda s, t: correct(s, t) if s > 0 and 0 < t < 1 else 1)


def test_modal_verdict_and_share_by_hand():
    verdicts = np.array([[2, 2, 0, 2], [1, 0, 1, 0], [3, 3, 3, 3]])
    mode, share = modal(verdicts)
    assert mode.tolist() == [2, 0, 3]  # the tie 1/0 goes to the lower index
    assert share.tolist() == [0.75, 0.5, 1.0]


def test_undefined_coefficients_become_nan_and_defined_ones_pass_through():
    constant = np.ones((10, 3))  # every item one score: no correlation matrix exists
    assert np.isnan(undefined_as_nan(mcdonald_omega, constant))
    varied = np.random.default_rng(0).normal(size=(30, 3)) + np.arange(30)[:, None]
    assert undefined_as_nan(mcdonald_omega, varied) == mcdonald_omega(varied)
