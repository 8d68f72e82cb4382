"""Bootstrap confidence intervals of a statistic over replicas and seeds (``scipy.stats.bootstrap``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from egraffbench.errors import TrajectoryError

BootstrapMethod = Literal["percentile", "BCa"]


def bootstrap_ci(
    samples: ArrayLike,
    statistic: Callable[..., np.ndarray] = np.mean,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    method: BootstrapMethod = "percentile",
) -> tuple[float, float, float]:
    """(estimate, low, high): the statistic of ``samples`` and its bootstrap interval.

    ``statistic`` must accept ``axis=`` (np.mean, np.median, ...); non-finite samples are dropped; resampling
    is seeded, so equal inputs give equal intervals. ``method`` is scipy's: "percentile" (the default) or
    "BCa" (bias-corrected and accelerated, closer to nominal coverage at 5–10 samples); where BCa is undefined
    (NaN, e.g. every resample equal) the percentile interval is returned. One sample, or samples all equal,
    give a zero-width interval (scipy calls these degenerate).
    """
    values = np.asarray(samples, dtype=float).reshape(-1)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise TrajectoryError("bootstrap of no finite samples")
    estimate = float(statistic(values, axis=0))
    if values.size == 1 or np.all(values == values[0]):
        return estimate, estimate, estimate
    low, high = _scipy_interval(values, statistic, n_resamples, confidence, seed, method)
    if method != "percentile" and not (np.isfinite(low) and np.isfinite(high)):
        low, high = _scipy_interval(values, statistic, n_resamples, confidence, seed, "percentile")
    return estimate, low, high


def _scipy_interval(
    values: np.ndarray,
    statistic: Callable[..., np.ndarray],
    n_resamples: int,
    confidence: float,
    seed: int,
    method: BootstrapMethod,
) -> tuple[float, float]:
    result = stats.bootstrap(
        (values,),
        statistic,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method=method,
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)
