"""Score MD rollouts against a reference: structure (WF, JSD), EV/FV, stability — each with a bootstrap CI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from egraffbench.metrics.similarity import jensen_shannon_divergence, wright_factor
from egraffbench.metrics.structure import (
    default_molecule_r_max,
    default_r_max,
    distance_histogram,
    radial_distribution,
)
from egraffbench.metrics.survival import censored_durations, fraction_stable, kaplan_meier, median_time_to_failure
from egraffbench.metrics.uncertainty import bootstrap_ci
from egraffbench.metrics.violation import energy_violation, force_violation, geometric_mean


@dataclass
class Rollout:
    """One replica's recorded frames up to its failure (or the end of the run)."""

    positions: np.ndarray  # (F, N, 3) Å
    cells: np.ndarray  # (F, 3, 3) Å
    numbers: np.ndarray  # (N,)
    times_fs: np.ndarray  # (F,)
    energies: np.ndarray  # (F,) eV, the model's potential energy
    forces: np.ndarray  # (F, N, 3) eV/Å, the model's forces
    failure_time_fs: float | None
    failure_reason: str | None


@dataclass
class ReferenceEnergies:
    """Reference energies (F,) and forces (F, N, 3) for the frames of each rollout, and where they come from."""

    energies: list[np.ndarray]
    forces: list[np.ndarray]
    source: str  # "oracle" or "reference-trajectory"


def _interval(samples: Sequence[float], seed: int) -> dict[str, float] | None:
    values = np.asarray(samples, dtype=float)
    if not np.isfinite(values).any():
        return None
    estimate, low, high = bootstrap_ci(values, seed=seed)
    return {"value": estimate, "low": low, "high": high}


def _geometric_interval(per_replica: list[np.ndarray], seed: int) -> dict[str, float]:
    """Geometric mean over all frames of all replicas, with a bootstrap interval that resamples replicas."""
    estimate = geometric_mean(per_replica)
    generator = np.random.default_rng(seed)
    replicates = [
        geometric_mean([per_replica[i] for i in generator.integers(0, len(per_replica), len(per_replica))])
        for _ in range(1000)
    ]
    low, high = np.percentile(replicates, [2.5, 97.5])
    return {"value": estimate, "low": float(low), "high": float(high)}


def structure_scores(
    rollouts: Sequence[Rollout], reference_positions: np.ndarray, reference_cells: np.ndarray, periodic: bool, seed: int
) -> dict[str, dict[str, float] | None]:
    """WF (%) and JSD of each replica's frame-averaged g(r) (periodic) or h(r) (molecule) vs the reference."""
    if periodic:
        r_max = default_r_max(reference_cells)
        reference = radial_distribution(reference_positions, reference_cells, r_max=r_max).values
        curves = [radial_distribution(r.positions, r.cells, r_max=r_max).values for r in rollouts if len(r.positions)]
    else:
        r_max = default_molecule_r_max(reference_positions)
        reference = distance_histogram(reference_positions, r_max=r_max).values
        curves = [distance_histogram(r.positions, r_max=r_max).values for r in rollouts if len(r.positions)]
    return {
        "wf_percent": _interval([wright_factor(c, reference) for c in curves], seed),
        "jsd": _interval([jensen_shannon_divergence(c, reference) for c in curves], seed),
    }


def violation_scores(rollouts: Sequence[Rollout], reference: ReferenceEnergies, seed: int) -> dict[str, object]:
    """EV and FV (geometric means) and the absolute per-atom energy / force errors along the rollouts."""
    ev = [energy_violation(r.energies, e) for r, e in zip(rollouts, reference.energies, strict=True)]
    fv = [force_violation(r.forces, f) for r, f in zip(rollouts, reference.forces, strict=True)]
    keep = [i for i, values in enumerate(ev) if len(values)]
    energy_errors = [
        np.abs(r.energies - e) / len(r.numbers) for r, e in zip(rollouts, reference.energies, strict=True) if len(e)
    ]
    force_errors = [np.abs(r.forces - f).mean() for r, f in zip(rollouts, reference.forces, strict=True) if len(f)]
    return {
        "ev": _geometric_interval([ev[i] for i in keep], seed),
        "fv": _geometric_interval([fv[i] for i in keep], seed),
        "rollout_energy_mae_per_atom": _interval([float(np.mean(e)) for e in energy_errors], seed),
        "rollout_force_mae": _interval(force_errors, seed),
        "violation_reference": reference.source,
    }


def stability_scores(rollouts: Sequence[Rollout], run_length_fs: float) -> dict[str, object]:
    """Fraction of replicas stable, median time to failure (ps, censored at the run length) and the KM curve."""
    durations, failed = censored_durations([r.failure_time_fs for r in rollouts], run_length_fs)
    curve = kaplan_meier(durations / 1000.0, failed)
    median = median_time_to_failure(curve)
    reasons: dict[str, int] = {}
    for rollout in rollouts:
        if rollout.failure_reason:
            reasons[rollout.failure_reason] = reasons.get(rollout.failure_reason, 0) + 1
    return {
        "stable_fraction": fraction_stable(failed),
        "median_time_to_failure_ps": median if median is not None else run_length_fs / 1000.0,
        "median_time_to_failure_censored": median is None,
        "failure_reasons": reasons,
        "survival": {
            "time_ps": curve.times.tolist(),
            "survival": curve.survival.tolist(),
            "low": curve.lower.tolist(),
            "high": curve.upper.tolist(),
        },
    }
