"""Metrics of a model on a task over all its seeds: MD scores from the replicas of every seed pooled (so the
intervals cover replicas and seeds), static errors and costs as means over seeds with a bootstrap interval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from egraffbench.metrics.uncertainty import bootstrap_ci
from egraffbench.runner.flatten import ERROR_UNITS, RUN_UNITS, score_metrics
from egraffbench.runner.rollout_scoring import ReplicaValues, aggregate_replicas
from egraffbench.store.records import JobRecord, MetricValue

SUMMARY_SEED = 0  # seed of the bootstrap resampling of pooled replicas


def _mean_over_seeds(name: str, values: Sequence[float], unit: str, system: str) -> MetricValue:
    estimate, low, high = bootstrap_ci(np.asarray(values, dtype=float), seed=SUMMARY_SEED)
    return MetricValue(name, estimate, low, high, unit, system)


def _seed_means(records: Sequence[JobRecord]) -> list[MetricValue]:
    rows = []
    errors = [r.results.get("test_errors") or {} for r in records]
    systems = sorted({system for e in errors for system in e.get("systems", {})})
    for system in ["", *systems]:
        blocks = [e if system == "" else e.get("systems", {}).get(system, {}) for e in errors]
        for name, unit in ERROR_UNITS.items():
            values = [b[name] for b in blocks if b.get(name) is not None]
            if values:
                rows.append(_mean_over_seeds(name, values, unit, system))
    for (section, name), unit in RUN_UNITS.items():
        values = [(r.results.get(section) or {}).get(name) for r in records]
        values = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if values:
            rows.append(_mean_over_seeds(name, values, unit, ""))
    return rows


def pooled_scores(records: Sequence[JobRecord]) -> dict[str, Any]:
    """MD scores of the replicas of all ``records`` pooled, overall and per test system."""
    scored = [r.results["scores"] for r in records if r.results.get("scores")]
    if not scored:
        return {}
    replicas = [ReplicaValues.from_json(v) for s in scored for v in s["replica_values"]]
    run_length = scored[0].get("stability_horizon_fs", scored[0]["run_length_fs"])  # censors stability
    groups = scored[0]["metric_groups"]
    systems = sorted({v.system for v in replicas})
    return {
        **aggregate_replicas(replicas, run_length, SUMMARY_SEED, groups),
        "systems": {
            system: aggregate_replicas(
                [v for v in replicas if v.system == system], run_length, SUMMARY_SEED, groups
            )
            for system in systems
        },
    }


def summarise(records: Sequence[JobRecord]) -> dict[tuple[str, str], tuple[int, list[MetricValue]]]:
    """(model, task) → (number of finished seeds, metrics over them), from the finished jobs of a run."""
    groups: dict[tuple[str, str], list[JobRecord]] = {}
    for record in records:
        if record.status == "done":
            groups.setdefault((record.model, record.task), []).append(record)
    return {
        key: (len(members), _seed_means(members) + score_metrics(pooled_scores(members)))
        for key, members in groups.items()
    }
