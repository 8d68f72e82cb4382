"""Survival of MD replicas: Kaplan–Meier estimate with censoring, Greenwood variance and log–log band.

Each replica contributes a duration (time to failure, or the run length when it never failed, then censored).
At each distinct failure time t_k with n_k replicas at risk (duration ≥ t_k) and d_k failures,
S(t_k) = Π_{j≤k} (1 − d_j / n_j); Greenwood: Var S = S² Σ d_j / (n_j (n_j − d_j)). The confidence band is the
log–log ("exponential Greenwood", Kalbfleisch–Prentice) one, S^{exp(±z σ)} with σ = √(Σ d/(n(n−d))) / |ln S|,
which stays inside [0, 1]. Replicas censored at a failure time count as at risk at that time.

The estimate and its band come from ``scipy.stats.ecdf`` on ``CensoredData``
(``.sf.confidence_interval(method="log-log")``); this module adds the risk-set counts, the Greenwood variance
and the edge cases scipy leaves undefined (band at S = 0 is [0, 0]; no failures is S ≡ 1).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from scipy.special import ndtr

from egraffbench.errors import TrajectoryError

Z_95 = 1.959963984540054


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
    survival, lower, upper = _scipy_estimate(durations, failed, times, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(failures / (at_risk * (at_risk - failures)))
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


def _scipy_estimate(
    durations: np.ndarray, failed: np.ndarray, times: np.ndarray, confidence: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(S, lower, upper) at the failure ``times``; the log-log band is undefined (NaN) where S is 0."""
    if times.size == 0:
        return np.empty(0), np.empty(0), np.empty(0)
    data = stats.CensoredData(uncensored=durations[failed], right=durations[~failed])
    sf = stats.ecdf(data).sf
    survival = sf.evaluate(times)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The confidence interval is undefined")
        band = sf.confidence_interval(confidence, method="log-log")
    lower, upper = band.low.evaluate(times), band.high.evaluate(times)
    return survival, np.where(survival > 0, lower, 0.0), np.where(survival > 0, upper, 0.0)


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


def wilson_interval(stable: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval (low, high) of a proportion ``stable`` / ``total`` (total > 0), by scipy."""
    p = stable / total
    interval = stats.binomtest(stable, total).proportion_ci(
        confidence_level=float(2.0 * ndtr(z) - 1.0), method="wilson"
    )
    # The exact interval holds p (e.g. high = 1 at p = 1); min/max keep it so when rounding says otherwise.
    return max(0.0, min(p, float(interval.low))), min(1.0, max(p, float(interval.high)))


def _first_at_or_below_half(times: np.ndarray, curve: np.ndarray, run_length: float) -> float:
    reached = np.flatnonzero(curve <= 0.5)
    return float(times[reached[0]]) if reached.size else run_length


def median_interval(
    times: ArrayLike, lower: ArrayLike, upper: ArrayLike, run_length: float
) -> tuple[float, float]:
    """(low, high) of the median time to failure read off a Kaplan–Meier band (``lower``, ``upper`` at
    ``times``): the times at which the band's curves fall to one half; a limit that the band never reaches
    is the run length (the median lies beyond the simulated time)."""
    times = np.asarray(times, dtype=float)
    return (
        _first_at_or_below_half(times, np.asarray(lower, dtype=float), run_length),
        _first_at_or_below_half(times, np.asarray(upper, dtype=float), run_length),
    )
