"""Score MD rollouts against their references: per-replica values (WF, JSD, EV/FV, errors along the rollout,
time to failure), then any set of replicas — one test system, a whole job, or several seeds — aggregated
with bootstrap confidence intervals over replicas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from egraffbench.metrics import libm
from egraffbench.metrics.scoring import reference_structure, score_structure
from egraffbench.metrics.sensitivity import variant_references, variant_scores
from egraffbench.metrics.survival import (
    censored_durations,
    fraction_stable,
    kaplan_meier,
    median_interval,
    median_time_to_failure,
    wilson_interval,
)
from egraffbench.metrics.uncertainty import bootstrap_ci
from egraffbench.metrics.violation import VIOLATION_EPSILON, energy_violation, force_violation
from egraffbench.runner.dynamics_scoring import dynamics_scores
from egraffbench.store.schema import E0_RELATIVE, ReplicaValues, StructureCurve, ViolationTrace

BOOTSTRAP_RESAMPLES = 2000
NOT_APPLICABLE = "no oracle, and the test frames are not a contiguous trajectory of known spacing"
FIDELITY_THRESHOLD = 0.1  # FV above which a replay has left the reference trajectory (docs/metrics.md)
MAX_CURVE_FRAMES = 400  # frames per stored structure curve; more are subsampled evenly (curves are averages)


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
class ScoredSegment:
    """What a set of rollouts (e.g. reference mode's replays) adds to the score stage: each one's values and
    the EV/FV traces the report draws."""

    values: list[ReplicaValues] = field(default_factory=list)
    traces: list[ViolationTrace] = field(default_factory=list)


def evenly(count: int, limit: int) -> np.ndarray:
    """At most ``limit`` indices spread evenly over ``count`` items."""
    return np.unique(np.linspace(0, count - 1, min(count, limit)).round().astype(int))


def structure_values(
    rollouts: Sequence[Rollout],
    reference_positions: np.ndarray,
    reference_cells: np.ndarray,
    periodic: bool,
    system: str = "",
) -> tuple[list[tuple[float | None, float | None, dict[str, Any] | None]], StructureCurve]:
    """(WF %, JSD, the same under each `metrics.sensitivity` variant) of each replica's frame-averaged g(r)
    (periodic) or h(r) (molecule) vs the reference, over its finite frames (`metrics.scoring`, as
    `egraffbench analyze`); and the curves the report draws, on the same grid: s(r) of at most
    MAX_CURVE_FRAMES evenly spread reference frames and of as many of the replicas' finite frames pooled."""
    kind = "rdf" if periodic else "hr"
    reference = reference_structure(reference_positions, reference_cells, kind)
    variants = variant_references(reference_positions, reference_cells, reference)
    values: list[tuple[float | None, float | None, dict[str, Any] | None]] = []
    pooled_positions, pooled_cells = [], []
    for rollout in rollouts:
        finite = np.isfinite(rollout.positions).all(axis=(1, 2))
        if not finite.any():
            values.append((None, None, None))
            continue
        positions, cells = rollout.positions[finite], rollout.cells[finite]
        pooled_positions.append(positions)
        pooled_cells.append(cells)
        scored = score_structure(positions, cells, reference)
        values.append((scored.wf_percent, scored.jsd, variant_scores(positions, cells, variants)))
    shown = evenly(len(reference_positions), MAX_CURVE_FRAMES)
    grid = {"dr": reference.dr, "r_max": reference.r_max}
    drawn_reference = reference_structure(reference_positions[shown], reference_cells[shown], kind, **grid)
    drawn = StructureCurve(
        system=system,
        kind=kind,
        r_max=reference.r_max,
        r=drawn_reference.r.tolist(),
        reference=drawn_reference.values.tolist(),
        reference_frames=len(shown),
        model=None,
        model_frames=0,
    )
    if pooled_positions:
        positions, cells = np.concatenate(pooled_positions), np.concatenate(pooled_cells)
        chosen = evenly(len(positions), MAX_CURVE_FRAMES)
        drawn.model = reference_structure(positions[chosen], cells[chosen], kind, **grid).values.tolist()
        drawn.model_frames = len(chosen)
    return values, drawn


def composition_energy(numbers: np.ndarray, element_energies: dict[int, float]) -> float:
    """Σ_i E0(Z_i) (eV): the per-element reference energies of the training split summed over the atoms
    (0 for an element the training split lacks)."""
    return float(sum(element_energies.get(int(z), 0.0) for z in numbers))


def _log_sum(violations: np.ndarray) -> float:
    return float(np.sum(libm.log1p(violations / VIOLATION_EPSILON)))


@dataclass
class Violations:
    """EV (relative to Σ E0 and absolute) and FV at the frames of a rollout where the model's energy and
    forces are finite (``finite``: mask over its frames)."""

    finite: np.ndarray
    ev: np.ndarray
    ev_absolute: np.ndarray
    fv: np.ndarray


def frame_violations(
    rollout: Rollout, reference: ReferenceEnergies, energy_offset: float
) -> Violations | None:
    """EV and FV of every frame of ``rollout`` with finite energy and forces; None if it has none. EV
    compares energies relative to ``energy_offset`` (Σ E0 of the atoms: interaction energies)."""
    finite = np.isfinite(rollout.energies) & np.isfinite(rollout.forces).all(axis=(1, 2))
    if not finite.any():
        return None
    energies, reference_energies = rollout.energies[finite], reference.energies[finite]
    return Violations(
        finite,
        energy_violation(energies - energy_offset, reference_energies - energy_offset),
        energy_violation(energies, reference_energies),
        force_violation(rollout.forces[finite], reference.forces[finite]),
    )


def violation_values(rollout: Rollout, reference: ReferenceEnergies, energy_offset: float) -> dict[str, Any]:
    """EV and FV of one rollout as sums of ln(1 + v/ε) over its frames (what the shifted geometric mean over
    any set of replicas needs), and its mean absolute energy (eV/atom) and force (eV/Å) errors; over the
    frames where the model's energy and forces are finite. EV compares energies relative to
    ``energy_offset``; the paper-style EV of absolute energies is kept as ``ev_absolute_log_sum``."""
    found = frame_violations(rollout, reference, energy_offset)
    if found is None:
        return {}
    finite = found.finite
    energies, forces = rollout.energies[finite], rollout.forces[finite]
    return {
        "compared_frames": int(finite.sum()),
        "ev_log_sum": _log_sum(found.ev),
        "ev_absolute_log_sum": _log_sum(found.ev_absolute),
        "fv_log_sum": _log_sum(found.fv),
        "energy_error_per_atom": float(
            np.mean(np.abs(energies - reference.energies[finite])) / len(rollout.numbers)
        ),
        "force_error": float(np.mean(np.abs(forces - reference.forces[finite]))),
    }


def violation_trace(
    rollout: Rollout,
    reference: ReferenceEnergies,
    energy_offset: float,
    system: str,
    source: str,
    segment: str,
) -> ViolationTrace | None:
    """EV (energies relative to ``energy_offset``, as :func:`violation_values`) and FV of one replica or
    replay at each frame :func:`violation_values` aggregates (MD time: since its start), for the report's
    figure; None if it has none."""
    found = frame_violations(rollout, reference, energy_offset)
    if found is None:
        return None
    return ViolationTrace(
        system=system,
        segment=segment,
        reference=source,
        energies=E0_RELATIVE,
        time_ps=(rollout.times_fs[found.finite] / 1000.0).tolist(),
        ev=found.ev.tolist(),
        fv=found.fv.tolist(),
    )


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
    replicates = VIOLATION_EPSILON * libm.expm1(sums[indices].sum(axis=1) / counts[indices].sum(axis=1))
    low, high = np.percentile(replicates, [2.5, 97.5])
    estimate = VIOLATION_EPSILON * libm.expm1(sums.sum() / counts.sum())
    return {"value": float(estimate), "low": float(low), "high": float(high)}


def stability_scores(replicas: Sequence[ReplicaValues], run_length_fs: float) -> dict[str, Any]:
    """Fraction of replicas stable (Wilson interval), median time to failure (ps, censored at the run
    length; interval read off the Kaplan–Meier band), and the KM curve with its band."""
    durations, failed = censored_durations([r.failure_time_fs for r in replicas], run_length_fs)
    curve = kaplan_meier(durations / 1000.0, failed)
    median = median_time_to_failure(curve)
    run_length_ps = run_length_fs / 1000.0
    reasons: dict[str, int] = {}
    for replica in replicas:
        if replica.failure_reason:
            reasons[replica.failure_reason] = reasons.get(replica.failure_reason, 0) + 1
    stable = fraction_stable(failed)
    stable_low, stable_high = wilson_interval(int(np.sum(~failed)), len(failed))
    median_low, median_high = median_interval(curve.times, curve.lower, curve.upper, run_length_ps)
    return {
        "stable_fraction": {"value": stable, "low": stable_low, "high": stable_high},
        "median_time_to_failure_ps": {
            "value": median if median is not None else run_length_ps,
            "low": median_low,
            "high": median_high,
        },
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
    if any(r.diffusivity_error is not None for r in production):
        scores["diffusivity_error"] = _interval([r.diffusivity_error for r in production], seed)
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
