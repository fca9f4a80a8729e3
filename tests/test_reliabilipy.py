"""The pitfall checked against reliabilipy itself (a development dependency, pinned to the version checked).

reliabiliPy 0.0.36, `reliabilipy/_reliabili.py`, `reliability_analysis.fit`: from raw data it sets
`self.correlations_matrix = np.abs(corr(...))` before fitting, so correlations of either sign count as
agreement. Given a correlation matrix (`is_corr_matrix=True`) it uses the matrix as passed, which lets the
same computation run on signed R as a control.
"""

import warnings

import numpy as np
import pytest
from reliabilipy import reliability_analysis

from casestudies.metrics.agreement import omega_absolute_correlations, omega_signed_correlations


def reliabilipy_omega(data: np.ndarray, signed: bool = False) -> tuple[float, np.ndarray]:
    """reliabilipy's omega total and the matrix it fitted: from raw data (its default), or from signed R."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # factor_analyzer's own deprecation and convergence chatter
        if signed:
            analysis = reliability_analysis(correlations_matrix=np.corrcoef(data, rowvar=False), is_corr_matrix=True)
        else:
            analysis = reliability_analysis(raw_dataset=data, is_corr_matrix=False)
        analysis.fit()
    return float(analysis.omega_total), np.asarray(analysis.correlations_matrix)


@pytest.mark.parametrize(
    ("items", "replications", "low", "high"),
    [(100, 100, 0.85, 0.95), (100, 20, 0.6, 0.75), (500, 6, 0.1, 0.5)],  # how high depends on the shape
)
def test_reliabilipy_finds_reliability_in_pure_noise_by_taking_absolute_correlations(items, replications, low, high):
    noise = np.random.default_rng(5).integers(1, 6, size=(items, replications)).astype(float)  # letters as 1..5
    omega, fitted = reliabilipy_omega(noise)
    assert np.allclose(fitted, np.abs(np.corrcoef(noise, rowvar=False)))  # the line that takes |R|
    assert low < omega < high
    if replications >= 20:  # with six columns its three-factor fit is unstable (0.21 to 0.47 over seeds)
        assert omega_absolute_correlations(noise) == pytest.approx(omega, abs=0.05)  # our one-factor version


def test_the_same_computation_on_signed_correlations_finds_none():
    noise = np.random.default_rng(5).integers(1, 6, size=(100, 100)).astype(float)
    signed, _ = reliabilipy_omega(noise, signed=True)
    assert abs(signed) < 0.1
    assert abs(omega_signed_correlations(noise)) < 0.1
