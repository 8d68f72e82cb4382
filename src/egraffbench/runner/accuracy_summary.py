"""Test errors of a model over its seeds as stored metric rows, each with its 95 % interval: from the stored
per-structure sums a two-stage bootstrap over seeds and test structures (metrics.accuracy_intervals); for
results stored without them (evaluate version 2 and earlier), a bootstrap over the seeds' values, which one
seed leaves without an interval."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from egraffbench.fileio import finite_or_none
from egraffbench.metrics.accuracy import ERROR_NAMES, StructureErrors, error_sums, errors_from_sums
from egraffbench.metrics.accuracy_intervals import error_intervals
from egraffbench.metrics.uncertainty import bootstrap_ci
from egraffbench.store.catalog import STORED
from egraffbench.store.records import MetricValue
from egraffbench.store.schema import Errors, EvaluateResult, StructureErrorSums

ERROR_UNITS = {m.key: m.unit for m in STORED if m.section == "test_errors"}
STORED_DIGITS = 7  # significant digits of the stored per-structure sums: float32 models give no more


def stored_structure_errors(errors: StructureErrors) -> dict[str, list]:
    """``errors`` as the evaluate stage stores them (StructureErrorSums), to STORED_DIGITS digits."""

    def rounded(values: np.ndarray) -> list[float]:
        return [float(f"{value:.{STORED_DIGITS}g}") for value in values]

    return {
        "energy_error": rounded(errors.energy_error),
        "atoms": [int(n) for n in errors.atoms],
        "force_abs_sum": rounded(errors.force_abs_sum),
        "force_sq_sum": rounded(errors.force_sq_sum),
    }


def structure_arrays(stored: StructureErrorSums) -> StructureErrors:
    """One test system's stored per-structure sums as arrays."""
    return StructureErrors(
        energy_error=np.array(stored.energy_error, dtype=float),
        atoms=np.array(stored.atoms, dtype=int),
        force_abs_sum=np.array(stored.force_abs_sum, dtype=float),
        force_sq_sum=np.array(stored.force_sq_sum, dtype=float),
    )


def _errors(sums: np.ndarray) -> dict[str, float | None]:
    """The six error metrics of :func:`error_sums`' totals, a non-finite one None (stored JSON has no NaN)."""
    return finite_or_none({name: float(v) for name, v in errors_from_sums(sums).items()})


def errors_on_structures(
    result: EvaluateResult, chosen: Mapping[str, Sequence[int]]
) -> EvaluateResult | None:
    """``result`` on some of its test structures alone: ``chosen`` maps a test system to the positions of the
    structures to keep (in test-frame order). Each system's errors and the pooled ones are recomputed from
    the stored per-structure sums of the kept structures. None where it has none of the systems, lacks the
    sums of one (evaluate version 2 and earlier), or a position is out of range."""
    kept, systems, structures = [], {}, {}
    for system, positions in chosen.items():
        if system not in result.systems:
            continue
        stored = result.structures.get(system)
        if stored is None or not positions or not all(0 <= p < len(stored.atoms) for p in positions):
            return None
        subset = StructureErrorSums(
            **{key: [values[p] for p in positions] for key, values in stored.model_dump().items()}
        )
        sums = error_sums(structure_arrays(subset))
        kept.append(sums)
        systems[system], structures[system] = Errors(**_errors(sums)), subset
    if not kept:
        return None
    total = sum(kept)
    return result.model_copy(
        update={**_errors(total), "frames": int(total[0]), "systems": systems, "structures": structures}
    )


def _per_seed_structures(seeds: Sequence[EvaluateResult], system: str) -> list[list[StructureErrors]] | None:
    """Each seed's stored per-structure sums of ``system`` ("" = every test system), one entry per system;
    None unless every seed stored them."""
    chosen = []
    for result in seeds:
        stored = list(result.structures.values()) if system == "" else [result.structures.get(system)]
        if not stored or any(s is None for s in stored) or set(result.structures) != set(result.systems):
            return None
        chosen.append([structure_arrays(s) for s in stored if s is not None])
    return chosen


def accuracy_metrics(seeds: Sequence[EvaluateResult], seed: int) -> list[MetricValue]:
    """Per test system ("" = all pooled) and error metric, the mean over ``seeds``' errors with its 95 %
    interval (bootstrap resampling seeded with ``seed``)."""
    rows = []
    systems = sorted({system for result in seeds for system in result.systems})
    for system in ["", *systems]:
        blocks: list[Errors | None] = [r if system == "" else r.systems.get(system) for r in seeds]
        if system == "" or len(systems) > 1:  # one test system: its structures are the pooled ones
            structures = _per_seed_structures(seeds, system)
            intervals = error_intervals(structures, seed) if structures is not None else None
        for name in ERROR_NAMES:
            values = [getattr(b, name) for b in blocks if b is not None and getattr(b, name) is not None]
            if not values:
                continue
            if intervals is not None and len(values) == len(seeds):
                estimate = float(np.mean(values))
                low, high = intervals[name] or (None, None)
            else:
                estimate, low, high = bootstrap_ci(np.asarray(values, dtype=float), seed=seed)
            rows.append(MetricValue(name, estimate, low, high, ERROR_UNITS[name], system))
    return rows
