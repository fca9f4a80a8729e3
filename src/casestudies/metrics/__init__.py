"""Reliability metrics; each is tested against an independent reference (scikit-learn, torchmetrics, worked cases)."""

from casestudies.metrics.calibration import (
    auroc,
    brier_score,
    calibration_summary,
    expected_calibration_error,
    reliability_bins,
)

__all__ = ["auroc", "brier_score", "calibration_summary", "expected_calibration_error", "reliability_bins"]
