"""Distances between two structure functions on one grid: Wright's factor, Jensen–Shannon divergence, MAE."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import rel_entr

from egraffbench.errors import TrajectoryError


def wright_factor(values: ArrayLike, reference: ArrayLike) -> float:
    """Wright's factor in %: 100 · Σ(s − s_ref)² / Σ s_ref²; 0 for identical curves."""
    values, reference = _same_grid(values, reference)
    norm = float(np.sum(reference**2))
    if norm == 0:
        raise TrajectoryError(
            "Wright's factor is undefined for a reference structure function that is all zero"
        )
    return 100.0 * float(np.sum((values - reference) ** 2)) / norm


def jensen_shannon_divergence(values: ArrayLike, reference: ArrayLike) -> float:
    """JSD (nats) of P = s·Δr and Q = s_ref·Δr, each normalised to sum 1; in [0, ln 2], symmetric.

    Bins where P or Q is zero contribute 0·ln 0 = 0; the result is clipped to [0, ln 2] against round-off.
    """
    values, reference = _same_grid(values, reference)
    if np.any(values < 0) or np.any(reference < 0):
        raise TrajectoryError("JSD needs non-negative structure functions")
    p, q = _probabilities(values), _probabilities(reference)
    middle = 0.5 * (p + q)
    divergence = 0.5 * float(np.sum(rel_entr(p, middle))) + 0.5 * float(np.sum(rel_entr(q, middle)))
    return min(max(divergence, 0.0), float(np.log(2.0)))


def mean_absolute_difference(values: ArrayLike, reference: ArrayLike) -> float:
    """Mean over bins of |s − s_ref| (same units as s)."""
    values, reference = _same_grid(values, reference)
    return float(np.mean(np.abs(values - reference)))


def _probabilities(values: np.ndarray) -> np.ndarray:
    total = values.sum()
    if total == 0:
        raise TrajectoryError("JSD is undefined for a structure function that is all zero")
    return values / total


def _same_grid(values: ArrayLike, reference: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(values, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if values.shape != reference.shape:
        raise TrajectoryError(
            f"structure functions are on different grids: {values.shape} vs reference {reference.shape}"
        )
    return values, reference


def total_variation_distance(density: ArrayLike, reference: ArrayLike, width: float) -> float:
    """½ Σ |p − q| · width of two densities on one grid of bins ``width`` wide, each normalised to unit area
    first; in [0, 1]: 0 for equal densities, 1 when they do not overlap."""
    density, reference = _same_grid(density, reference)
    areas = np.sum(density) * width, np.sum(reference) * width
    if not (areas[0] > 0 and areas[1] > 0):
        raise TrajectoryError("total variation distance needs two densities of positive area")
    return min(1.0, 0.5 * float(np.sum(np.abs(density / areas[0] - reference / areas[1]))) * width)
