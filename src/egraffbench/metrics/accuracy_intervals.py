"""95 % intervals of test errors: a two-stage percentile bootstrap that resamples training seeds, then each
drawn seed's test structures, per test system in circular blocks as long as the errors stay correlated.

Test frames are often consecutive MD frames (MD17's test splits here: 1000 frames 0.5 fs apart; emt-cu3au:
1 fs apart), so neighbouring structures have nearly the same errors; resampling them one by one would treat
1000 correlated frames as 1000 independent ones and give far too narrow an interval. Each system's block
length is Politis and White's automatic choice for the circular block bootstrap
(``arch.bootstrap.optimal_block_length``) on its per-structure energy and force errors, the longer of the
two; uncorrelated test frames (random splits) get blocks of about one frame, the plain bootstrap.

Written here rather than with ``scipy.stats.bootstrap`` (independent samples only) or arch's
``CircularBlockBootstrap`` (one resample per Python iteration, and no second stage over seeds): the
statistic is a ratio of sums over structures, summed over test systems, averaged over seeds; the block
indices of all resamples are drawn at once."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence

import numpy as np

from egraffbench.errors import TrajectoryError
from egraffbench.metrics.accuracy import ERROR_NAMES, StructureErrors, error_columns, errors_from_sums

ERROR_RESAMPLES = 2000
MIN_BLOCK_SERIES = 12  # shorter series: too few frames to estimate a correlation, blocks of one
_CHUNK = 250  # resamples gathered at once: bounds memory at 8 × _CHUNK × structures floats


def block_length(series: np.ndarray) -> int:
    """Politis–White block length (circular block bootstrap, rounded up) for the mean of ``series``; 1 for
    fewer than MIN_BLOCK_SERIES values or a constant series; at most the series' length."""
    values = np.asarray(series, dtype=float)
    if values.size < MIN_BLOCK_SERIES or not np.all(np.isfinite(values)) or np.ptp(values) == 0:
        return 1
    from arch.bootstrap import optimal_block_length  # imports statsmodels: only where needed

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        length = float(optimal_block_length(values)["circular"].iloc[0])
    return int(min(values.size, max(1, np.ceil(length)))) if np.isfinite(length) else 1


def system_block_length(errors: StructureErrors) -> int:
    """The block length of one test system: the longer of its per-atom energy errors' and its per-structure
    force MAEs' (:func:`block_length`)."""
    energy = np.abs(errors.energy_error / errors.atoms)
    force = errors.force_abs_sum / (3.0 * errors.atoms)
    return max(block_length(energy), block_length(force))


def circular_blocks(size: int, length: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """(count, size) indices: each row ``size`` structures drawn as blocks of ``length`` consecutive ones
    starting anywhere, wrapping round the end (the circular block bootstrap; length 1: the plain one)."""
    blocks = -(-size // length)
    starts = rng.integers(0, size, size=(count, blocks))
    return ((starts[:, :, None] + np.arange(length)) % size).reshape(count, -1)[:, :size]


def error_intervals(
    seeds: Sequence[Sequence[StructureErrors]], seed: int = 0, resamples: int = ERROR_RESAMPLES
) -> dict[str, tuple[float, float] | None]:
    """The 95 % interval (low, high) per error metric (ERROR_NAMES) of the mean over training seeds of each
    seed's error on its test systems (one sequence of systems per seed, pooled within the seed): the 2.5–97.5
    percentiles of that mean over resamples that draw the seeds with replacement and then, for each drawn
    seed and each of its systems, the system's structures in circular blocks (:func:`system_block_length`).
    One seed gives the interval over test structures alone (which says nothing about another training).
    Non-finite errors give None."""
    if not seeds or any(not systems or any(s.energy_error.size == 0 for s in systems) for systems in seeds):
        raise TrajectoryError("test-error intervals need at least one seed with at least one structure")
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, len(seeds), size=(resamples, len(seeds)))
    totals = np.zeros((len(ERROR_NAMES), resamples))
    for index, systems in enumerate(seeds):
        rows = np.nonzero(drawn == index)[0]  # one entry per (resample, slot) that drew this seed
        sums = sum(_resampled_sums(errors, rows.size, rng) for errors in systems)
        metrics = errors_from_sums(sums)
        np.add.at(totals, (slice(None), rows), [metrics[name] for name in ERROR_NAMES])
    means = totals / len(seeds)
    intervals: dict[str, tuple[float, float] | None] = {}
    for name, replicates in zip(ERROR_NAMES, means, strict=True):
        finite = bool(np.all(np.isfinite(replicates)))
        intervals[name] = tuple(float(v) for v in np.percentile(replicates, [2.5, 97.5])) if finite else None
    return intervals


def paired_ratio_interval(
    outside: Sequence[Sequence[StructureErrors]],
    inside: Sequence[Sequence[StructureErrors]],
    name: str,
    seed: int = 0,
    resamples: int = ERROR_RESAMPLES,
) -> tuple[float, float] | None:
    """The 95 % interval of the ratio outside/inside of error metric ``name`` (ERROR_NAMES), each side the
    mean over its training seeds (one sequence of systems per seed, as in :func:`error_intervals`), where both
    sides test the same structures: the i-th system of every seed of both holds the same structures in the
    same order. Each resample draws each side's seeds with replacement and, per system, one set of circular
    blocks (the longest :func:`system_block_length` of the system's errors on either side) that both sides'
    seeds are summed over, so what the two sides' errors share, the structures, cancels in the ratio. None
    where a resampled ratio is not finite."""
    systems = [list(zip(*seeds, strict=True)) for seeds in (outside, inside)]  # per side: system → seeds
    if not outside or not inside or len(systems[0]) != len(systems[1]) or not systems[0]:
        raise TrajectoryError("a paired ratio needs seeds on both sides with the same test systems")
    rng = np.random.default_rng(seed)
    sums = [np.zeros((len(side), 8, resamples)) for side in (outside, inside)]  # side: (seed, row, resample)
    for out_seeds, in_seeds in zip(*systems, strict=True):
        all_seeds = (*out_seeds, *in_seeds)
        if len({(e.atoms.size, e.atoms.tobytes()) for e in all_seeds}) != 1:
            raise TrajectoryError("a paired ratio needs the same structures on both sides, in the same order")
        length = max(system_block_length(errors) for errors in all_seeds)
        columns = [[error_columns(errors) for errors in seeds] for seeds in (out_seeds, in_seeds)]
        for chunk, blocks in _block_chunks(all_seeds[0].atoms.size, length, resamples, rng):
            for side, side_columns in zip(sums, columns, strict=True):
                for index, seed_columns in enumerate(side_columns):
                    side[index, :, chunk] += seed_columns[:, blocks].sum(axis=-1)
    means = []
    for side in sums:
        metric = errors_from_sums(np.moveaxis(side, 1, 0))[name]  # (seed, resample)
        drawn = rng.integers(0, len(side), size=(resamples, len(side)))
        means.append(metric[drawn, np.arange(resamples)[:, None]].mean(axis=1))
    ratios = means[0] / means[1]
    if not np.all(np.isfinite(ratios)):
        return None
    low, high = np.percentile(ratios, [2.5, 97.5])
    return float(low), float(high)


def _resampled_sums(errors: StructureErrors, count: int, rng: np.random.Generator) -> np.ndarray:
    """(8, count): the error sums (accuracy.error_sums rows) of ``count`` block resamples of one system."""
    columns = error_columns(errors)
    out = np.empty((columns.shape[0], count))
    for chunk, blocks in _block_chunks(columns.shape[1], system_block_length(errors), count, rng):
        out[:, chunk] = columns[:, blocks].sum(axis=-1)
    return out


def _block_chunks(
    size: int, length: int, count: int, rng: np.random.Generator
) -> Iterator[tuple[slice, np.ndarray]]:
    """``count`` resamples of :func:`circular_blocks` drawn _CHUNK at a time: (their slice of the count,
    their indices)."""
    for start in range(0, count, _CHUNK):
        stop = min(start + _CHUNK, count)
        yield slice(start, stop), circular_blocks(size, length, stop - start, rng)
