"""What the report's plots draw, computed from a run's replicas and training logs: structure functions of
each model over the reference, Kaplan–Meier survival pooled over seeds, energy/force violation along the
rollout, and training curves."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from egraffbench.metrics.structure import (
    StructureFunction,
    default_molecule_r_max,
    default_r_max,
    distance_histogram,
    radial_distribution,
)
from egraffbench.metrics.violation import geometric_mean
from egraffbench.report.collect import JobView
from egraffbench.report.rollouts import Replica
from egraffbench.runner.rollout_scoring import ReplicaValues, stability_scores
from egraffbench.runner.stages import SystemData

MAX_STRUCTURE_FRAMES = 400  # frames per curve; more are subsampled evenly (the curves are averages)


def _evenly(count: int, limit: int) -> np.ndarray:
    return np.unique(np.linspace(0, count - 1, min(count, limit)).round().astype(int))


@dataclass
class StructureCurves:
    """s(r) of the reference test frames and of each model's MD frames, on one grid (Å)."""

    kind: str  # "rdf" (g(r), periodic) or "hr" (h(r), Å⁻¹, molecules)
    reference: StructureFunction
    models: dict[str, StructureFunction]


def structure_curves(system: SystemData, replicas: dict[str, list[Replica]]) -> StructureCurves:
    """The frame-averaged g(r) or h(r) of ``system``'s reference frames and of every model's finite MD
    frames of that system (all replicas and seeds pooled), on the grid the score stage uses."""
    positions = np.array([atoms.positions for atoms in system.frames])
    cells = np.array([atoms.cell.array for atoms in system.frames])
    periodic = system.conditions.periodic
    r_max = default_r_max(cells) if periodic else default_molecule_r_max(positions)

    def curve(frame_positions: np.ndarray, frame_cells: np.ndarray) -> StructureFunction:
        chosen = _evenly(len(frame_positions), MAX_STRUCTURE_FRAMES)
        if periodic:
            return radial_distribution(frame_positions[chosen], frame_cells[chosen], r_max=r_max)
        return distance_histogram(frame_positions[chosen], r_max=r_max)

    models = {}
    for model, members in replicas.items():
        own = [r for r in members if r.system == system.conditions.name and r.finite.any()]
        if own:
            models[model] = curve(
                np.concatenate([r.frames.positions[r.finite] for r in own]),
                np.concatenate([r.frames.cell[r.finite] for r in own]),
            )
    return StructureCurves("rdf" if periodic else "hr", curve(positions, cells), models)


def pooled_stability(jobs: Sequence[JobView]) -> dict[str, Any] | None:
    """Stability scores (fraction stable, median time to failure, survival curve) of the replicas of all
    ``jobs`` pooled, as the store's summaries pool them; plus the replica count and run length (ps)."""
    scored = [job.scores for job in jobs if job.scores.get("replica_values")]
    if not scored or "stability" not in scored[0].get("metric_groups", []):
        return None
    replicas = [ReplicaValues.from_json(v) for s in scored for v in s["replica_values"]]
    run_length_fs = float(scored[0]["run_length_fs"])
    return {
        **stability_scores(replicas, run_length_fs),
        "replicas": len(replicas),
        "stable": sum(r.failure_time_fs is None for r in replicas),
        "run_length_ps": run_length_fs / 1000.0,
    }


@dataclass
class ViolationSeries:
    """EV and FV along the rollout: at each time (ps), the geometric mean over the replicas that reached it
    and the smallest and largest replica value."""

    time_ps: np.ndarray
    ev: np.ndarray  # (T, 3): geometric mean, min, max
    fv: np.ndarray
    reference: str  # what E_t, F_t came from: "oracle" or "reference-trajectory"


def _band(per_time: list[list[float]]) -> np.ndarray:
    return np.array([(geometric_mean(np.array(v)), min(v), max(v)) for v in per_time])


def violation_series(replicas: Sequence[Replica]) -> ViolationSeries | None:
    """EV/FV along the rollout from the per-frame values the score stage stored; the i-th value of a replica
    belongs to its i-th recorded frame (values stop where the replica failed or the reference ends)."""
    by_time: dict[float, tuple[list[float], list[float]]] = {}
    sources = set()
    for replica in replicas:
        values = replica.values
        if values is None or values.violation_reference is None or not values.ev:
            continue
        sources.add(values.violation_reference)
        times = replica.frames.time_fs[: len(values.ev)] / 1000.0
        for time, ev, fv in zip(times, values.ev, values.fv or [], strict=False):
            entry = by_time.setdefault(round(float(time), 9), ([], []))
            entry[0].append(ev)
            entry[1].append(fv)
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
