"""Calibration metrics against scikit-learn, torchmetrics and hand-worked cases."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import brier_score_loss, roc_auc_score
from torchmetrics.functional.classification import binary_calibration_error

from casestudies.metrics import auroc, brier_score, expected_calibration_error, reliability_bins


@pytest.fixture
def sample():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0, 1, 2000)
    correct = rng.uniform(0, 1, 2000) < conf**1.5  # overconfident on purpose
    return conf, correct


def test_brier_matches_sklearn(sample):
    conf, correct = sample
    assert brier_score(conf, correct) == pytest.approx(brier_score_loss(correct, conf))


def test_auroc_matches_sklearn_including_ties(sample):
    conf, correct = sample
    assert auroc(conf, correct) == pytest.approx(roc_auc_score(correct, conf))
    grid = np.round(conf, 1)  # stated confidences live on a grid: many ties
    assert auroc(grid, correct) == pytest.approx(roc_auc_score(correct, grid))


def test_ece_matches_torchmetrics(sample):
    conf, correct = sample
    for n_bins in (5, 10, 15):
        reference = binary_calibration_error(
            torch.tensor(conf), torch.tensor(correct.astype(int)), n_bins=n_bins, norm="l1"
        )
        assert expected_calibration_error(conf, correct, n_bins) == pytest.approx(float(reference), abs=1e-6)


def test_ece_worked_example():
    # bin (0.8, 0.9]: confidences 0.85 and 0.9, one right -> |0.5 - 0.875| = 0.375, weight 2/4
    # bin (0.2, 0.3]: confidences 0.3 and 0.25, both wrong -> |0 - 0.275| = 0.275, weight 2/4
    conf, correct = [0.85, 0.9, 0.3, 0.25], [1, 0, 0, 0]
    assert expected_calibration_error(conf, correct, 10) == pytest.approx(0.5 * 0.375 + 0.5 * 0.275)


def test_constant_confidence_at_base_rate_has_zero_ece_but_no_discrimination():
    correct = np.array([1] * 30 + [0] * 70)
    conf = np.full(100, 0.3)
    assert expected_calibration_error(conf, correct) == pytest.approx(0.0)
    assert auroc(conf, correct) == pytest.approx(0.5)
    assert brier_score(conf, correct) == pytest.approx(0.21)  # 0.3 * 0.7² + 0.7 * 0.3²


def test_all_correct_edge_cases():
    conf = np.array([1.0, 1.0, 0.9])
    correct = np.ones(3, dtype=bool)
    assert math.isnan(auroc(conf, correct))
    assert brier_score(conf, correct) == pytest.approx(0.01 / 3)
    assert expected_calibration_error(conf, correct) == pytest.approx(0.1 / 3)


def test_reliability_bins_keep_empty_bins_and_edges():
    bins = reliability_bins([0.0, 0.05, 1.0], [0, 0, 1], n_bins=4)
    assert list(bins["count"]) == [2, 0, 0, 1]  # 0.0 falls in the first bin, 1.0 in the last
    assert math.isnan(bins.loc[1, "confidence"])
    assert bins.loc[3, "accuracy"] == 1.0


@pytest.mark.parametrize(
    ("conf", "correct"),
    [([], []), ([0.5], [1, 0]), ([1.2], [1]), ([float("nan")], [1]), ([0.5], [2])],
)
def test_bad_input_is_rejected_clearly(conf, correct):
    with pytest.raises(ValueError):
        brier_score(conf, correct)
