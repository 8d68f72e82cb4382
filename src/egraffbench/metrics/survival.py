"""Survival of MD replicas: Kaplan–Meier estimate with censoring, Greenwood variance and log–log band.

Each replica contributes a duration (time to failure, or the run length when it never failed, then censored).
At each distinct failure time t_k with n_k replicas at risk (duration ≥ t_k) and d_k failures,
S(t_k) = Π_{j≤k} (1 − d_j / n_j); Greenwood: Var S = S² Σ d_j / (n_j (n_j − d_j)). The confidence band is the
log–log ("exponential Greenwood", Kalbfleisch–Prentice) one, S^{exp(±z σ)} with σ = √(Σ d/(n(n−d))) / |ln S|,
which stays inside [0, 1]. Replicas censored at a failure time count as at risk at that time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtri

from egraffbench.errors import TrajectoryError


@dataclass(frozen=True)
class SurvivalCurve:
    """Step function S(t): value ``survival[k]`` holds from ``times[k]`` to ``times[k+1]``; times[0] = 0."""

    times: np.ndarray
    survival: np.ndarray
    variance: np.ndarray  # Greenwood
    lower: np.ndarray
    upper: np.ndarray
    at_risk: np.ndarray
    failures: np.ndarray
    confidence: float


def censored_durations(
    failure_times: Sequence[float | None], run_length: float
) -> tuple[np.ndarray, np.ndarray]:
    """(durations, failed) from per-replica failure times; None: the replica survived ``run_length``."""
    failed = np.array([time is not None for time in failure_times], dtype=bool)
    durations = np.array([run_length if time is None else time for time in failure_times], dtype=float)
    return durations, failed


def kaplan_meier(durations: ArrayLike, failed: ArrayLike, confidence: float = 0.95) -> SurvivalCurve:
    """Kaplan–Meier survival curve of replicas with ``durations`` (any time unit) and ``failed`` flags."""
    durations = np.asarray(durations, dtype=float).reshape(-1)
    failed = np.asarray(failed, dtype=bool).reshape(-1)
    if durations.size == 0 or durations.shape != failed.shape:
        raise TrajectoryError(
            f"need one failed flag per duration (> 0 replicas), got {durations.size} and {failed.size}"
        )
    times = np.unique(durations[failed])
    at_risk = np.sum(durations[None, :] >= times[:, None], axis=1)
    failures = np.sum(failed[None, :] & (durations[None, :] == times[:, None]), axis=1)
    survival = np.cumprod(1.0 - failures / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(failures / (at_risk * (at_risk - failures)))
        sigma = np.sqrt(greenwood) / np.abs(np.log(survival))
        z = ndtri(0.5 + confidence / 2.0)
        lower = np.where(survival > 0, survival ** np.exp(z * sigma), 0.0)
        upper = np.where(survival > 0, survival ** np.exp(-z * sigma), 0.0)
        variance = np.where(survival > 0, survival**2 * greenwood, 0.0)
    return SurvivalCurve(
        times=np.concatenate([[0.0], times]),
        survival=np.concatenate([[1.0], survival]),
        variance=np.concatenate([[0.0], variance]),
        lower=np.concatenate([[1.0], lower]),
        upper=np.concatenate([[1.0], upper]),
        at_risk=np.concatenate([[durations.size], at_risk]),
        failures=np.concatenate([[0], failures]),
        confidence=confidence,
    )


def fraction_stable(failed: ArrayLike) -> float:
    """Fraction of replicas that never failed."""
    failed = np.asarray(failed, dtype=bool).reshape(-1)
    if failed.size == 0:
        raise TrajectoryError("fraction stable of no replicas")
    return float(1.0 - failed.mean())


def median_time_to_failure(curve: SurvivalCurve) -> float | None:
    """Earliest time at which S(t) ≤ 0.5, or None when more than half the replicas outlast every failure."""
    reached = np.flatnonzero(curve.survival <= 0.5)
    return float(curve.times[reached[0]]) if reached.size else None
