"""95 % intervals of test errors: a two-stage percentile bootstrap that resamples training seeds, then each
drawn seed's test structures. Written by hand because the statistic is a ratio of sums over structures
within a seed, averaged over seeds, which ``scipy.stats.bootstrap`` (one level, independent samples or
paired arrays of equal length) does not resample in two stages."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from egraffbench.errors import TrajectoryError
from egraffbench.metrics.accuracy import ERROR_NAMES, StructureErrors, error_columns, errors_from_sums

ERROR_RESAMPLES = 2000
_CHUNK = 250  # resamples gathered at once: bounds memory at 8 × _CHUNK × structures floats


def error_intervals(
    seeds: Sequence[StructureErrors], seed: int = 0, resamples: int = ERROR_RESAMPLES
) -> dict[str, tuple[float, float] | None]:
    """The 95 % interval (low, high) per error metric (ERROR_NAMES) of the mean over training seeds of each
    seed's error on its test structures: the 2.5–97.5 percentiles of that mean over resamples that draw the
    seeds with replacement and then, for each drawn seed, its structures with replacement. One seed gives
    the interval over test structures alone (which says nothing about another training). Non-finite errors
    give None."""
    if not seeds or any(errors.energy_error.size == 0 for errors in seeds):
        raise TrajectoryError("test-error intervals need at least one seed with at least one structure")
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, len(seeds), size=(resamples, len(seeds)))
    totals = np.zeros((len(ERROR_NAMES), resamples))
    for index, errors in enumerate(seeds):
        rows = np.nonzero(drawn == index)[0]  # one entry per (resample, slot) that drew this seed
        np.add.at(totals, (slice(None), rows), _resampled_errors(errors, rows.size, rng))
    means = totals / len(seeds)
    intervals: dict[str, tuple[float, float] | None] = {}
    for name, replicates in zip(ERROR_NAMES, means, strict=True):
        finite = bool(np.all(np.isfinite(replicates)))
        intervals[name] = tuple(float(v) for v in np.percentile(replicates, [2.5, 97.5])) if finite else None
    return intervals


def _resampled_errors(errors: StructureErrors, count: int, rng: np.random.Generator) -> np.ndarray:
    """(metrics, count): the error metrics of ``count`` resamples of the structures with replacement."""
    columns = error_columns(errors)
    size = columns.shape[1]
    out = np.empty((len(ERROR_NAMES), count))
    for start in range(0, count, _CHUNK):
        stop = min(start + _CHUNK, count)
        picks = rng.integers(0, size, size=(stop - start, size))
        metrics = errors_from_sums(columns[:, picks].sum(axis=-1))
        out[:, start:stop] = [metrics[name] for name in ERROR_NAMES]
    return out
