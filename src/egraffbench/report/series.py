"""What the report's plots draw, computed from a run's replicas and training logs: structure functions of
each model over the reference, Kaplan–Meier survival pooled over seeds, energy/force violation along the
rollout, and training curves."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from egraffbench.metrics.structure import (
    StructureFunction,
    default_molecule_r_max,
    default_r_max,
    distance_histogram,
    radial_distribution,
)
from egraffbench.metrics.violation import energy_violation, force_violation, geometric_mean
from egraffbench.models.base import ForceField
from egraffbench.models.registry import reference_potential
from egraffbench.report.collect import JobView
from egraffbench.report.rollouts import Replica
from egraffbench.runner.rollout_scoring import ReplicaValues, stability_scores
from egraffbench.runner.stages import SystemData, oracle_reference, read_rollout, trajectory_reference

MAX_STRUCTURE_FRAMES = 400  # frames per curve; more are subsampled evenly (the curves are averages)


def _evenly(count: int, limit: int) -> np.ndarray:
    return np.unique(np.linspace(0, count - 1, min(count, limit)).round().astype(int))


def _structure_function(
    kind: str, r_max: float, positions: np.ndarray, cells: np.ndarray
) -> StructureFunction:
    """Frame-averaged g(r) ("rdf") or h(r) ("hr") of frames (F, N, 3) Å in cells (F, 3, 3) Å, from at most
    MAX_STRUCTURE_FRAMES frames spread evenly."""
    chosen = _evenly(len(positions), MAX_STRUCTURE_FRAMES)
    if kind == "rdf":
        return radial_distribution(positions[chosen], cells[chosen], r_max=r_max)
    return distance_histogram(positions[chosen], r_max=r_max)


@dataclass
class StructureCurves:
    """s(r) of a test system's reference frames and of each model's MD frames, on one grid (Å)."""

    system: str
    kind: str  # "rdf" (g(r), periodic) or "hr" (h(r), Å⁻¹, molecules)
    r_max: float
    reference: StructureFunction
    models: dict[str, StructureFunction] = field(default_factory=dict)

    def add_model(self, model: str, replicas: Sequence[Replica]) -> None:
        """The s(r) of ``model``'s finite MD frames of this system (all its replicas and seeds pooled)."""
        own = [r for r in replicas if r.system == self.system and r.finite.any()]
        if own:
            positions = np.concatenate([r.frames.positions[r.finite] for r in own])
            cells = np.concatenate([r.frames.cell[r.finite] for r in own])
            self.models[model] = _structure_function(self.kind, self.r_max, positions, cells)


def structure_curves(system: SystemData) -> StructureCurves:
    """The reference s(r) of ``system`` on the grid the score stage uses (g(r) if periodic, else h(r)), to
    which models are added with :meth:`StructureCurves.add_model`."""
    positions = np.array([atoms.positions for atoms in system.frames])
    cells = np.array([atoms.cell.array for atoms in system.frames])
    kind = "rdf" if system.conditions.periodic else "hr"
    r_max = default_r_max(cells) if kind == "rdf" else default_molecule_r_max(positions)
    reference = _structure_function(kind, r_max, positions, cells)
    return StructureCurves(system.conditions.name, kind, r_max, reference)


def pooled_stability(jobs: Sequence[JobView]) -> dict[str, Any] | None:
    """Stability scores (fraction stable, median time to failure, survival curve) of the replicas of all
    ``jobs`` pooled, as the store's summaries pool them; plus the replica count, the stability horizon
    (`run_length_ps`) and the recorded length (`recorded_ps`)."""
    scored = [job.scores for job in jobs if job.scores.get("replica_values")]
    if not scored or "stability" not in scored[0].get("metric_groups", []):
        return None
    replicas = [
        ReplicaValues(v["system"], v["failure_time_fs"], v["failure_reason"])  # all stability needs
        for s in scored
        for v in s["replica_values"]
        if v.get("segment", "production") == "production"  # reference-mode replays are not stability runs
    ]
    run_length_fs = float(scored[0]["run_length_fs"])
    horizon_fs = float(scored[0].get("stability_horizon_fs", run_length_fs))
    return {
        **stability_scores(replicas, horizon_fs),
        "replicas": len(replicas),
        "stable": sum(r.failure_time_fs is None for r in replicas),
        "run_length_ps": horizon_fs / 1000.0,
        "recorded_ps": run_length_fs / 1000.0,
    }


@dataclass
class ViolationSeries:
    """EV and FV along the rollout: at each time (ps), the geometric mean over the replicas that reached it
    and the smallest and largest replica value."""

    time_ps: np.ndarray
    ev: np.ndarray  # (T, 3): geometric mean, min, max
    fv: np.ndarray
    reference: str  # what E_t, F_t came from: "oracle" or "reference-trajectory"


def _compared(replica: Replica, system: SystemData, oracle: ForceField | None) -> tuple | None:
    """The replica's rollout and reference energies/forces as the score stage compares them: the oracle on
    every frame, else the reference trajectory at the same simulated time; None if neither applies."""
    rollout = read_rollout(replica.path, replica.index)
    if oracle is not None:
        return rollout, oracle_reference(oracle, rollout), "oracle"
    spacing = system.conditions.frame_spacing_fs
    if spacing:
        trimmed = trajectory_reference(rollout, system.frames, replica.start_frame, spacing)
        if trimmed is not None:
            return *trimmed, "reference-trajectory"
    return None


def _band(per_time: list[list[float]]) -> np.ndarray:
    return np.array([(geometric_mean(np.array(v)), min(v), max(v)) for v in per_time])


def violation_series(
    replicas: Sequence[Replica], systems: Mapping[str, SystemData]
) -> ViolationSeries | None:
    """EV/FV per recorded frame of every replica of ``systems`` (test systems by name), against the same
    reference the score stage used, gathered by simulated time."""
    by_time: dict[float, tuple[list[float], list[float]]] = {}
    sources = set()
    oracles: dict[str, ForceField | None] = {}
    for replica in replicas:
        system = systems.get(replica.system)
        if system is None:
            continue
        name = system.conditions.oracle
        if name not in oracles:
            oracles[name] = reference_potential(name) if name else None
        compared = _compared(replica, system, oracles[name])
        if compared is None:
            continue
        rollout, reference, source = compared
        finite = np.isfinite(rollout.energies) & np.isfinite(rollout.forces).all(axis=(1, 2))
        if not finite.any():
            continue
        sources.add(source)
        ev = energy_violation(rollout.energies[finite], reference.energies[finite])
        fv = force_violation(rollout.forces[finite], reference.forces[finite])
        for time, ev_t, fv_t in zip(rollout.times_fs[finite] / 1000.0, ev, fv, strict=True):
            entry = by_time.setdefault(round(float(time), 9), ([], []))
            entry[0].append(float(ev_t))
            entry[1].append(float(fv_t))
    if not by_time:
        return None
    times = sorted(by_time)
    return ViolationSeries(
        np.array(times),
        _band([by_time[t][0] for t in times]),
        _band([by_time[t][1] for t in times]),
        ", ".join(sorted(sources)),
    )


def training_logs(jobs: Sequence[JobView]) -> list[list[dict[str, Any]]]:
    """The per-epoch records of each job's `training_log.jsonl` (jobs without one are skipped)."""
    logs = []
    for job in jobs:
        path = job.artifacts.get("training_log")
        if path is not None and path.is_file():
            records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            if records:
                logs.append(records)
    return logs
