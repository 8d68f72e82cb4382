"""What the report's plots draw, pooled from what the score stages stored: structure functions of each model
over the reference (seeds pooled by the frame-weighted mean), Kaplan–Meier survival of the stored failure
times pooled over seeds, energy/force violation along the rollout, and training curves."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from egraffbench.metrics import libm
from egraffbench.metrics.structure import StructureFunction
from egraffbench.metrics.violation import VIOLATION_EPSILON, geometric_mean
from egraffbench.report.collect import JobView
from egraffbench.runner.rollout_scoring import stability_scores
from egraffbench.store.schema import E0_RELATIVE, JobResults, ScoreSeries, StructureCurve


@dataclass
class StructureCurves:
    """s(r) of a test system's reference frames and of each model's MD frames, on one grid (Å)."""

    system: str
    kind: str  # "rdf" (g(r), periodic) or "hr" (h(r), Å⁻¹, molecules)
    r_max: float
    reference: StructureFunction
    models: dict[str, StructureFunction] = field(default_factory=dict)


def _function(curve: StructureCurve, values: np.ndarray) -> StructureFunction:
    r = np.asarray(curve.r, dtype=float)
    return StructureFunction(
        curve.kind, r, values, float(r[1] - r[0]) if r.size > 1 else curve.r_max, curve.r_max
    )


def structure_curves(series: dict[str, list[ScoreSeries]]) -> list[StructureCurves]:
    """Per test system, the stored reference s(r) and each model's s(r) over its seeds (mean weighted by the
    frames each seed's curve averages), in the order the systems were scored."""
    found: dict[str, StructureCurves] = {}
    for model, stored in series.items():
        pooled: dict[str, list[StructureCurve]] = {}
        for entry in stored:
            for curve in entry.structures:
                if curve.system not in found:
                    reference = _function(curve, np.asarray(curve.reference, dtype=float))
                    found[curve.system] = StructureCurves(curve.system, curve.kind, curve.r_max, reference)
                if curve.model is not None and curve.model_frames:
                    pooled.setdefault(curve.system, []).append(curve)
        for system, curves in pooled.items():
            weights = np.array([c.model_frames for c in curves], dtype=float)
            mean = np.average(np.array([c.model for c in curves], dtype=float), axis=0, weights=weights)
            found[system].models[model] = _function(curves[0], mean)
    return list(found.values())


def pooled_stability(results: Sequence[JobResults]) -> dict[str, Any] | None:
    """Stability scores (fraction stable, median time to failure, survival curve) of the stored replicas of
    all ``results`` pooled, as the store's summaries pool them; plus the replica count, the stability horizon
    (`run_length_ps`) and the recorded length (`recorded_ps`)."""
    scored = [r.scores for r in results if r.scores is not None and r.scores.replica_values]
    if not scored or "stability" not in scored[0].metric_groups:
        return None
    replicas = [
        value
        for s in scored
        for value in s.replica_values
        if value.segment == "production"  # reference-mode replays are not stability runs
    ]
    horizon_fs = scored[0].horizon
    return {
        **stability_scores(replicas, horizon_fs),
        "replicas": len(replicas),
        "stable": sum(r.failure_time_fs is None for r in replicas),
        "run_length_ps": horizon_fs / 1000.0,
        "recorded_ps": scored[0].run_length_fs / 1000.0,
    }


@dataclass
class ViolationSeries:
    """EV and FV of the frames the table's EV/FV aggregate, along the replays or the production MD: at each
    time since the start (fs), the geometric mean over the replicas (all seeds) that reached it, the smallest
    and largest replica value, and how many replicas that is."""

    time_fs: np.ndarray
    count: np.ndarray  # (T,) replicas with a finite frame at that time
    ev: np.ndarray  # (T, 3): geometric mean, min, max
    fv: np.ndarray
    segment: str  # "replay", "production", or both joined by ", "
    reference: str  # what E_t, F_t came from: "oracle", "reference-trajectory", or both

    def pooled(self, field: str) -> float:
        """The shifted geometric mean of ``field`` ("ev" or "fv") over every frame of every replica: the
        per-time geometric means weighted by their replica counts (the table's aggregation)."""
        means = getattr(self, field)[:, 0]
        weights = self.count / self.count.sum()
        return float(VIOLATION_EPSILON * libm.expm1(np.sum(weights * libm.log1p(means / VIOLATION_EPSILON))))


def _band(per_time: list[list[float]]) -> np.ndarray:
    return np.array([(geometric_mean(np.array(v)), min(v), max(v)) for v in per_time])


def stale_violations(series: Sequence[ScoreSeries]) -> bool:
    """Whether any of one model's stored series holds EV of absolute energies (score stage before version 7):
    not the numbers of the table."""
    return any(trace.energies != E0_RELATIVE for entry in series for trace in entry.violations)


def violation_series(series: Sequence[ScoreSeries]) -> ViolationSeries | None:
    """EV/FV per frame of every stored trace of one model (all seeds), gathered by time since the start of
    its replay or replica; None without traces or with a stale one (:func:`stale_violations`)."""
    traces = [trace for entry in series for trace in entry.violations]
    if not traces or stale_violations(series):
        return None
    by_time: dict[float, tuple[list[float], list[float]]] = {}
    for trace in traces:
        for time, ev_t, fv_t in zip(trace.time_ps, trace.ev, trace.fv, strict=True):
            entry = by_time.setdefault(round(1000.0 * time, 6), ([], []))
            entry[0].append(float(ev_t))
            entry[1].append(float(fv_t))
    times = sorted(by_time)
    return ViolationSeries(
        np.array(times),
        np.array([len(by_time[t][0]) for t in times]),
        _band([by_time[t][0] for t in times]),
        _band([by_time[t][1] for t in times]),
        ", ".join(sorted({trace.segment for trace in traces})),
        ", ".join(sorted({trace.reference for trace in traces})),
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
