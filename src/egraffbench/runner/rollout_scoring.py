"""Score MD rollouts against their references: per-replica values (WF, JSD, EV/FV, errors along the rollout,
time to failure), then any set of replicas — one test system, a whole job, or several seeds — aggregated
with bootstrap confidence intervals over replicas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from egraffbench.metrics.scoring import reference_structure, score_structure
from egraffbench.metrics.survival import (
    censored_durations,
    fraction_stable,
    kaplan_meier,
    median_time_to_failure,
)
from egraffbench.metrics.uncertainty import bootstrap_ci
from egraffbench.metrics.violation import VIOLATION_EPSILON, energy_violation, force_violation
from egraffbench.runner.dynamics_scoring import dynamics_scores

BOOTSTRAP_RESAMPLES = 2000
NOT_APPLICABLE = "no oracle, and the test frames are not a contiguous trajectory of known spacing"
FIDELITY_THRESHOLD = 0.1  # FV above which a replay has left the reference trajectory (docs/metrics.md)


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
    """Reference energies (F,) eV and forces (F, N, 3) eV/Å for the frames of one rollout."""

    energies: np.ndarray
    forces: np.ndarray


@dataclass
class ReplicaValues:
    """What one replica contributes to the scores (JSON-serialisable through :meth:`to_json`)."""

    system: str
    failure_time_fs: float | None
    failure_reason: str | None
    wf_percent: float | None = None
    jsd: float | None = None
    compared_frames: int = 0  # frames with a reference energy and forces
    ev_log_sum: float | None = None  # Σ ln(1 + EV_t/ε) over compared frames (ε: VIOLATION_EPSILON)
    fv_log_sum: float | None = None
    energy_error_per_atom: float | None = None  # mean |Ê − E| / N along the rollout, eV/atom
    force_error: float | None = None  # mean |F̂ − F| over components along the rollout, eV/Å
    violation_reference: str | None = None  # "oracle" or "reference-trajectory"
    nve_drift: float | None = None  # |d(E_pot + E_kin)/dt| / N, eV/atom/ps (NVE runs)
    vdos_error: float | None = None  # total variation distance of the VDOS from the reference's
    adf_error: float | None = None  # total variation distance of the bond-angle distribution
    segment: str = "production"  # "production" (thermostatted MD) or "replay" (reference mode's EV/FV)
    ev_absolute_log_sum: float | None = None  # as ev_log_sum with absolute energies (paper-style EV)
    fidelity_time_fs: float | None = None  # replays: first time FV > FIDELITY_THRESHOLD, censored at horizon
    horizon_fs: float | None = None  # replays: the scoring horizon τ

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReplicaValues:
        return cls(**data)


def structure_values(
    rollouts: Sequence[Rollout], reference_positions: np.ndarray, reference_cells: np.ndarray, periodic: bool
) -> list[tuple[float | None, float | None]]:
    """(WF %, JSD) of each replica's frame-averaged g(r) (periodic) or h(r) (molecule) vs the reference, over
    its finite frames (`metrics.scoring`, as `egraffbench analyze`)."""
    reference = reference_structure(reference_positions, reference_cells, "rdf" if periodic else "hr")
    values: list[tuple[float | None, float | None]] = []
    for rollout in rollouts:
        finite = np.isfinite(rollout.positions).all(axis=(1, 2))
        if not finite.any():
            values.append((None, None))
            continue
        scored = score_structure(rollout.positions[finite], rollout.cells[finite], reference)
        values.append((scored.wf_percent, scored.jsd))
    return values


def composition_energy(numbers: np.ndarray, element_energies: dict[int, float]) -> float:
    """Σ_i E0(Z_i) (eV): the per-element reference energies of the training split summed over the atoms
    (0 for an element the training split lacks)."""
    return float(sum(element_energies.get(int(z), 0.0) for z in numbers))


def _log_sum(violations: np.ndarray) -> float:
    return float(np.sum(np.log1p(violations / VIOLATION_EPSILON)))


def violation_values(rollout: Rollout, reference: ReferenceEnergies, energy_offset: float) -> dict[str, Any]:
    """EV and FV of one rollout as sums of ln(1 + v/ε) over its frames (what the shifted geometric mean over
    any set of replicas needs), and its mean absolute energy (eV/atom) and force (eV/Å) errors; over the
    frames where the model's energy and forces are finite. EV compares energies relative to
    ``energy_offset`` (Σ E0 of the atoms: interaction energies); the paper-style EV of absolute energies is
    kept as ``ev_absolute_log_sum``."""
    finite = np.isfinite(rollout.energies) & np.isfinite(rollout.forces).all(axis=(1, 2))
    if not finite.any():
        return {}
    energies, forces = rollout.energies[finite], rollout.forces[finite]
    reference_energies, reference_forces = reference.energies[finite], reference.forces[finite]
    relative = energy_violation(energies - energy_offset, reference_energies - energy_offset)
    return {
        "compared_frames": int(finite.sum()),
        "ev_log_sum": _log_sum(relative),
        "ev_absolute_log_sum": _log_sum(energy_violation(energies, reference_energies)),
        "fv_log_sum": _log_sum(force_violation(forces, reference_forces)),
        "energy_error_per_atom": float(np.mean(np.abs(energies - reference_energies)) / len(rollout.numbers)),
        "force_error": float(np.mean(np.abs(forces - reference_forces))),
    }


def fidelity_time(rollout: Rollout, reference: ReferenceEnergies, horizon_fs: float) -> float:
    """Trajectory fidelity time (fs) of a replay: the first recorded time at which FV exceeds
    FIDELITY_THRESHOLD (or the model's energy or forces stop being finite), else its failure time, else
    the horizon (censored)."""
    finite = np.isfinite(rollout.energies) & np.isfinite(rollout.forces).all(axis=(1, 2))
    fv = np.full(len(finite), np.inf)
    fv[finite] = force_violation(rollout.forces[finite], reference.forces[finite])
    lost = fv > FIDELITY_THRESHOLD
    if lost.any():
        return float(rollout.times_fs[np.argmax(lost)])
    if rollout.failure_time_fs is not None:
        return float(min(rollout.failure_time_fs, horizon_fs))
    return float(horizon_fs)


def _interval(samples: Sequence[float | None], seed: int) -> dict[str, float] | None:
    values = np.array([np.nan if s is None else s for s in samples], dtype=float)
    if not np.isfinite(values).any():
        return None
    estimate, low, high = bootstrap_ci(values, seed=seed)
    return {"value": estimate, "low": low, "high": high}


def _geometric_interval(
    log_sums: Sequence[float], frames: Sequence[int], seed: int
) -> dict[str, float] | None:
    """Shifted geometric mean over all frames of all replicas, exp(mean ln(v + ε)) − ε, from per-replica
    sums of ln(1 + v/ε) and frame counts; the 95 % bootstrap interval resamples replicas."""
    sums, counts = np.asarray(log_sums, dtype=float), np.asarray(frames, dtype=float)
    keep = counts > 0
    sums, counts = sums[keep], counts[keep]
    if not sums.size:
        return None
    indices = np.random.default_rng(seed).integers(0, sums.size, size=(BOOTSTRAP_RESAMPLES, sums.size))
    replicates = VIOLATION_EPSILON * np.expm1(sums[indices].sum(axis=1) / counts[indices].sum(axis=1))
    low, high = np.percentile(replicates, [2.5, 97.5])
    estimate = VIOLATION_EPSILON * np.expm1(sums.sum() / counts.sum())
    return {"value": float(estimate), "low": float(low), "high": float(high)}


def stability_scores(replicas: Sequence[ReplicaValues], run_length_fs: float) -> dict[str, Any]:
    """Fraction of replicas stable, median time to failure (ps, censored at the run length), KM curve."""
    durations, failed = censored_durations([r.failure_time_fs for r in replicas], run_length_fs)
    curve = kaplan_meier(durations / 1000.0, failed)
    median = median_time_to_failure(curve)
    reasons: dict[str, int] = {}
    for replica in replicas:
        if replica.failure_reason:
            reasons[replica.failure_reason] = reasons.get(replica.failure_reason, 0) + 1
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


def aggregate_replicas(
    replicas: Sequence[ReplicaValues], run_length_fs: float, seed: int, groups: Sequence[str]
) -> dict[str, Any]:
    """Scores of a set of replicas (any systems, any seeds), for the metric ``groups`` asked for
    (`structure`, `violation`, `stability`, `dynamics`); each MD metric with a 95 % bootstrap interval over
    replicas (production MD; reference-mode replays count for EV/FV only)."""
    production = [r for r in replicas if r.segment == "production"]
    scores: dict[str, Any] = {"replicas": len(production)}
    if "stability" in groups:
        scores.update(stability_scores(production, run_length_fs))
    if "structure" in groups:
        scores["wf_percent"] = _interval([r.wf_percent for r in production], seed)
        scores["jsd"] = _interval([r.jsd for r in production], seed)
    if "dynamics" in groups:
        scores.update(dynamics_scores(production, seed))
    if "violation" in groups:
        compared = [r for r in replicas if r.violation_reference is not None]
        frames = [r.compared_frames for r in compared]
        sources = sorted({r.violation_reference for r in compared})
        replays = [r for r in compared if r.segment == "replay"]
        if replays:
            scores.update(
                {
                    "fidelity_time_fs": _interval([r.fidelity_time_fs for r in replays], seed),
                    "fidelity_threshold": FIDELITY_THRESHOLD,
                    "horizon_fs": max(r.horizon_fs or 0.0 for r in replays),
                    "replays": len(replays),
                }
            )
        scores.update(
            {
                "ev": _geometric_interval([r.ev_log_sum for r in compared], frames, seed),
                "ev_absolute": _geometric_interval(
                    [r.ev_absolute_log_sum for r in compared if r.ev_absolute_log_sum is not None],
                    [r.compared_frames for r in compared if r.ev_absolute_log_sum is not None],
                    seed,
                ),
                "fv": _geometric_interval([r.fv_log_sum for r in compared], frames, seed),
                "rollout_energy_mae_per_atom": _interval([r.energy_error_per_atom for r in compared], seed),
                "rollout_force_mae": _interval([r.force_error for r in compared], seed),
                "violation_reference": ",".join(sources) or None,
            }
        )
        if not compared:
            scores["violation_reason"] = NOT_APPLICABLE
    return scores
