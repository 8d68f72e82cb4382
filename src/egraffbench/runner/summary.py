"""Metrics of a model on a task over all its seeds: MD scores from the replicas of every seed pooled (so the
intervals cover replicas and seeds; among them the Wilson interval of the fraction stable, the Kaplan–Meier
interval of the median time to failure and the diffusivity error), static errors and costs as means over
seeds with a bootstrap interval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from egraffbench.metrics.uncertainty import bootstrap_ci
from egraffbench.runner.flatten import ERROR_UNITS, RUN_UNITS, score_metrics
from egraffbench.runner.rollout_scoring import aggregate_replicas
from egraffbench.store.records import JobRecord, MetricValue
from egraffbench.store.schema import JobResults, read_record

SUMMARY_SEED = 0  # seed of the bootstrap resampling of pooled replicas


def _mean_over_seeds(name: str, values: Sequence[float], unit: str, system: str) -> MetricValue:
    estimate, low, high = bootstrap_ci(np.asarray(values, dtype=float), seed=SUMMARY_SEED)
    return MetricValue(name, estimate, low, high, unit, system)


def _seed_means(results: Sequence[JobResults]) -> list[MetricValue]:
    rows = []
    errors = [r.test_errors for r in results if r.test_errors is not None]
    systems = sorted({system for e in errors for system in e.systems})
    for system in ["", *systems]:
        blocks = [e if system == "" else e.systems.get(system) for e in errors]
        for name, unit in ERROR_UNITS.items():
            values = [getattr(b, name) for b in blocks if b is not None and getattr(b, name) is not None]
            if values:
                rows.append(_mean_over_seeds(name, values, unit, system))
    for (section, name), unit in RUN_UNITS.items():
        values = [getattr(getattr(r, section), name, None) for r in results]
        values = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if values:
            rows.append(_mean_over_seeds(name, values, unit, ""))
    return rows


def pooled_scores(results: Sequence[JobResults]) -> dict[str, Any]:
    """MD scores of the replicas of all ``results`` pooled, overall and per test system."""
    scored = [r.scores for r in results if r.scores is not None]
    if not scored:
        return {}
    replicas = [v for s in scored for v in s.replica_values]
    horizon = scored[0].horizon  # censors stability
    groups = scored[0].metric_groups
    systems = sorted({v.system for v in replicas})
    return {
        **aggregate_replicas(replicas, horizon, SUMMARY_SEED, groups),
        "systems": {
            system: aggregate_replicas(
                [v for v in replicas if v.system == system], horizon, SUMMARY_SEED, groups
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
    summaries = {}
    for key, members in groups.items():
        results = [read_record(JobResults, r.results, f"results of job {r.job_id}") for r in members]
        summaries[key] = (len(members), _seed_means(results) + score_metrics(pooled_scores(results)))
    return summaries
