"""Metrics of a model on a task over all its seeds: MD scores from the replicas of every seed pooled (so the
intervals cover replicas and seeds; among them the Wilson interval of the fraction stable, the Kaplan–Meier
interval of the median time to failure and the diffusivity error), static errors as means over seeds with a
bootstrap interval over seeds and test structures (runner.accuracy_summary), costs as means over seeds with a
bootstrap interval."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from egraffbench.metrics.uncertainty import bootstrap_ci
from egraffbench.runner.accuracy_summary import accuracy_metrics, errors_on_structures
from egraffbench.runner.flatten import RUN_UNITS, run_values, score_metrics
from egraffbench.runner.rollout_scoring import aggregate_replicas
from egraffbench.store.records import JobRecord, MetricValue
from egraffbench.store.schema import JobResults, read_record

SUMMARY_SEED = 0  # seed of the bootstrap resampling of pooled replicas


def _mean_over_seeds(name: str, values: Sequence[float], unit: str, system: str) -> MetricValue:
    estimate, low, high = bootstrap_ci(np.asarray(values, dtype=float), seed=SUMMARY_SEED)
    return MetricValue(name, estimate, low, high, unit, system)


def _seed_means(results: Sequence[JobResults]) -> list[MetricValue]:
    errors = [r.test_errors for r in results if r.test_errors is not None]
    rows = accuracy_metrics(errors, SUMMARY_SEED) if errors else []
    per_job = [run_values(r) for r in results]
    for (section, name), unit in RUN_UNITS.items():
        values = [job[section, name] for job in per_job]
        values = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if values:
            rows.append(_mean_over_seeds(name, values, unit, ""))
    return rows


def pooled_scores(results: Sequence[JobResults], only: Collection[str] | None = None) -> dict[str, Any]:
    """MD scores of the replicas of all ``results`` pooled, overall and per test system; of the replicas of
    the test systems ``only`` alone where given."""
    scored = [r.scores for r in results if r.scores is not None]
    replicas = [v for s in scored for v in s.replica_values if only is None or v.system in only]
    if not scored or (only is not None and not replicas):
        return {}
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


def summarise_seeds(members: Sequence[JobRecord]) -> list[MetricValue]:
    """The metrics of one model on one task over its finished jobs ``members`` (one per seed)."""
    results = [read_record(JobResults, r.results, f"results of job {r.job_id}") for r in members]
    return _seed_means(results) + score_metrics(pooled_scores(results))


def summarise_structures(
    results: Sequence[JobResults], chosen: Mapping[str, Sequence[int]]
) -> list[MetricValue] | None:
    """Test errors and MD scores of one model over its seeds' ``results`` on some of its test structures and
    systems alone, as if they were the task's only ones: ``chosen`` maps a test system to the positions of
    its structures to keep (in test-frame order). Errors come from the stored per-structure sums of those
    structures, MD scores from the replicas of those systems, each with its interval as
    :func:`summarise_seeds` gives. None unless every seed stored the sums of each of them."""
    evaluated = [r.test_errors for r in results if r.test_errors is not None]
    errors = [errors_on_structures(e, chosen) for e in evaluated]
    kept = [e for e in errors if e is not None]
    if len(kept) < len(errors) or not kept:
        return None
    return accuracy_metrics(kept, SUMMARY_SEED) + score_metrics(pooled_scores(results, set(chosen)))


def summarise(
    records: Sequence[JobRecord], call_all: Callable[[list[Callable[[], Any]]], list[Any]] | None = None
) -> dict[tuple[str, str], tuple[int, list[MetricValue]]]:
    """(model, task) → (number of finished seeds, metrics over them), from the finished jobs of a run. Each
    (model, task) is one call of :func:`summarise_seeds`; ``call_all`` may make them in other processes
    (`report.parallel.call_all`), in order."""
    groups: dict[tuple[str, str], list[JobRecord]] = {}
    for record in records:
        if record.status == "done":
            groups.setdefault((record.model, record.task), []).append(record)
    calls = [partial(summarise_seeds, members) for members in groups.values()]
    metrics = call_all(calls) if call_all is not None else [call() for call in calls]
    return {
        key: (len(members), values) for (key, members), values in zip(groups.items(), metrics, strict=True)
    }
