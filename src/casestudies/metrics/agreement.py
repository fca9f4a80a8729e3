"""Reliability of repeated judgments: Fleiss' kappa, ICC, McDonald's omega and Spearman–Brown.

Convention throughout: rows are the *subjects* being judged (items), columns are the *replications* (repeated
samples of the same judge, treated as raters). Reliability then asks how much of the spread of judgments is
between items (signal) rather than between replications of one item (sampling noise).
"""

from __future__ import annotations

import numpy as np


def category_counts(labels: np.ndarray, n_categories: int) -> np.ndarray:
    """Turn an (items × replications) array of category indices into (items × categories) counts."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be a 2-d (items × replications) array, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_categories):
        raise ValueError(f"labels must lie in 0..{n_categories - 1}")
    counts = np.zeros((labels.shape[0], n_categories), dtype=int)
    np.add.at(counts, (np.repeat(np.arange(labels.shape[0]), labels.shape[1]), labels.ravel()), 1)
    return counts


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa for nominal judgments from (items × categories) counts, every item rated equally often.

    1 when every replication agrees on every item, 0 when agreement is at the level the category shares predict;
    NaN when chance agreement is already 1 (every judgment in one category), where kappa is undefined.
    """
    counts = np.asarray(counts, dtype=float)
    raters = counts.sum(axis=1)
    if counts.ndim != 2 or not np.allclose(raters, raters[0]) or raters[0] < 2:
        raise ValueError("counts must be (items × categories) with the same number (≥ 2) of ratings per item")
    n = raters[0]
    p_item = ((counts**2).sum(axis=1) - n) / (n * (n - 1))
    shares = counts.sum(axis=0) / counts.sum()
    p_bar, p_chance = p_item.mean(), (shares**2).sum()
    if np.isclose(p_chance, 1.0):
        return float("nan")
    return float((p_bar - p_chance) / (1 - p_chance))


def icc_oneway(scores: np.ndarray) -> tuple[float, float]:
    """One-way random-effects ICC(1) of a single replication and ICC(1,k) of the mean of all k replications.

    The one-way model fits exchangeable replications (samples of the same judge have no rater identity).
    NaN when the scores do not vary at all.
    """
    x = np.asarray(scores, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(f"scores must be (items × replications) with at least 2 of each, got shape {x.shape}")
    n, k = x.shape
    item_means = x.mean(axis=1)
    ms_between = k * ((item_means - x.mean()) ** 2).sum() / (n - 1)
    ms_within = ((x - item_means[:, None]) ** 2).sum() / (n * (k - 1))
    if ms_between == 0 and ms_within == 0:
        return float("nan"), float("nan")
    single = (ms_between - ms_within) / (ms_between + (k - 1) * ms_within)
    average = (ms_between - ms_within) / ms_between if ms_between > 0 else float("nan")
    return float(single), float(average)


def spearman_brown(reliability: float | np.ndarray, k: float | np.ndarray) -> np.ndarray | float:
    """Reliability of the mean of k parallel replications, given the reliability of one."""
    r = np.asarray(reliability, dtype=float)
    return k * r / (1 + (k - 1) * r)


def spearman_brown_single(reliability_of_mean: float, k: float) -> float:
    """Invert Spearman–Brown: the single-replication reliability implied by the reliability of a k-mean."""
    return float(reliability_of_mean / (k - (k - 1) * reliability_of_mean))


def one_factor(correlations: np.ndarray, iterations: int = 500, tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """Loadings and uniquenesses of a one-factor model fitted to a correlation matrix by iterated principal axes.

    Communalities start at the squared multiple correlations and are refined until they stop changing; loadings
    are signed so that their sum is non-negative (a factor's sign is arbitrary).
    """
    r = np.asarray(correlations, dtype=float)
    if r.ndim != 2 or r.shape[0] != r.shape[1] or not np.allclose(r, r.T):
        raise ValueError("correlations must be a symmetric square matrix")
    try:
        communality = 1 - 1 / np.diag(np.linalg.inv(r))
    except np.linalg.LinAlgError:  # singular (e.g. identical columns): start from the largest correlations
        communality = np.max(np.abs(r - np.eye(len(r))), axis=1)
    communality = np.clip(communality, 0.0, 1.0)
    for _ in range(iterations):
        reduced = r.copy()
        np.fill_diagonal(reduced, communality)
        values, vectors = np.linalg.eigh(reduced)
        loadings = vectors[:, -1] * np.sqrt(max(values[-1], 0.0))
        updated = np.clip(loadings**2, 0.0, 1.0)
        if np.max(np.abs(updated - communality)) < tol:
            break
        communality = updated
    if loadings.sum() < 0:
        loadings = -loadings
    return loadings, 1.0 - np.clip(loadings**2, 0.0, 1.0)


def _correlations(data: np.ndarray) -> np.ndarray:
    x = np.asarray(data, dtype=float)
    if x.ndim != 2 or x.shape[0] < 3 or x.shape[1] < 2:
        raise ValueError(f"data must be (subjects × indicators) with ≥ 3 subjects and ≥ 2 indicators, got {x.shape}")
    spread = x.std(axis=0)
    if np.any(spread == 0):
        raise ValueError("every column must vary across subjects for a correlation matrix to exist")
    return np.corrcoef(x, rowvar=False)


def mcdonald_omega(data: np.ndarray) -> float:
    """McDonald's omega total, ω = (Σλ)² / ((Σλ)² + Σψ), from a one-factor model of the *signed* correlations.

    With replications as the indicators, this is the reliability of the *sum over all replications*, not of one.
    """
    loadings, uniqueness = one_factor(_correlations(data))
    common = loadings.sum() ** 2
    return float(common / (common + uniqueness.sum()))


def omega_total_formula(correlations: np.ndarray) -> float:
    """Omega total as (ΣR − Σψ)/ΣR, ψ the uniquenesses of a one-factor fit of the matrix R it is given: the
    formula `reliabilipy` reports (with a three-factor Schmid–Leiman fit), applied to whatever matrix is
    passed, so the same formula can be run on signed and on absolute correlations."""
    r = np.asarray(correlations, dtype=float)
    _, uniqueness = one_factor(r)
    return float((r.sum() - uniqueness.sum()) / r.sum())


def omega_absolute_correlations(data: np.ndarray) -> float:
    """The pitfall, reproduced: `omega_total_formula` on |R|, the absolute correlation matrix, as `reliabilipy`
    computes it from raw data.

    Taking absolute values turns sampling noise (correlations of either sign) into apparent agreement, so pure
    noise scores a high omega. Shown next to the same formula on signed R and `mcdonald_omega`; never use it.
    """
    return omega_total_formula(np.abs(_correlations(data)))


def omega_signed_correlations(data: np.ndarray) -> float:
    """The control for the pitfall: `omega_total_formula` on the signed correlation matrix, so that the absolute
    value is the only difference from `omega_absolute_correlations`."""
    return omega_total_formula(_correlations(data))


def modal(verdicts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per item of an (items × replications) array of category indices: the most common category (ties go to the
    lowest index) and the share of replications that agree with it (the modal share, a sampled confidence)."""
    verdicts = np.asarray(verdicts)
    counts = category_counts(verdicts, int(verdicts.max()) + 1 if verdicts.size else 1)
    return counts.argmax(axis=1), counts.max(axis=1) / verdicts.shape[1]


def undefined_as_nan(coefficient, *args) -> float:
    """A reliability coefficient, or NaN where it is undefined (it raises ValueError, e.g. for a judge that gives
    every item one score), so that a table over many judges keeps a row for each."""
    try:
        return coefficient(*args)
    except ValueError:
        return float("nan")
