"""95 % intervals of the stability scores, which the store keeps without one: the Wilson score interval of
the fraction of stable replicas, and the interval of the median time to failure read off the Kaplan–Meier
confidence band (the times at which the band's lower and upper curves fall to one half)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats
from scipy.special import ndtr

Z_95 = 1.959963984540054


def wilson_interval(stable: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval (low, high) of a proportion ``stable`` / ``total`` (total > 0), by scipy."""
    p = stable / total
    interval = stats.binomtest(stable, total).proportion_ci(
        confidence_level=float(2.0 * ndtr(z) - 1.0), method="wilson"
    )
    # The exact interval holds p (e.g. high = 1 at p = 1); min/max keep it so when rounding says otherwise.
    return max(0.0, min(p, float(interval.low))), min(1.0, max(p, float(interval.high)))


def _first_at_or_below_half(times: np.ndarray, curve: np.ndarray, run_length_ps: float) -> float:
    reached = np.flatnonzero(curve <= 0.5)
    return float(times[reached[0]]) if reached.size else run_length_ps


def median_interval(survival: dict[str, Any], run_length_ps: float) -> tuple[float, float]:
    """(low, high) of the median time to failure (ps) from a survival curve {time_ps, low, high}; a limit
    that the band never reaches is the run length (the median lies beyond the simulated time)."""
    times = np.asarray(survival["time_ps"], dtype=float)
    low = _first_at_or_below_half(times, np.asarray(survival["low"], dtype=float), run_length_ps)
    high = _first_at_or_below_half(times, np.asarray(survival["high"], dtype=float), run_length_ps)
    return low, high
