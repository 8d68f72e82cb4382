"""Percentile bootstrap confidence intervals of a statistic over replicas and seeds."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from egraffbench.errors import TrajectoryError


def bootstrap_ci(
    samples: ArrayLike,
    statistic: Callable[..., np.ndarray] = np.mean,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(estimate, low, high): the statistic of ``samples`` and its percentile-bootstrap interval.

    ``statistic`` must accept ``axis=`` (np.mean, np.median, ...); non-finite samples are dropped; resampling
    is seeded, so equal inputs give equal intervals. One sample gives a zero-width interval.
    """
    values = np.asarray(samples, dtype=float).reshape(-1)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise TrajectoryError("bootstrap of no finite samples")
    estimate = float(statistic(values, axis=0))
    generator = np.random.default_rng(seed)
    resampled = values[generator.integers(0, values.size, size=(n_resamples, values.size))]
    replicates = statistic(resampled, axis=1)
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(replicates, [tail, 100.0 - tail])
    return estimate, float(low), float(high)
