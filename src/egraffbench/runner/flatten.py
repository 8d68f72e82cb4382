"""A job's nested results as flat metric rows (name, system, value, interval, unit) for the store; names and
units are `store.catalog`'s."""

from __future__ import annotations

from typing import Any

from egraffbench.runner.accuracy_summary import ERROR_UNITS, accuracy_metrics
from egraffbench.runner.md_speed import live_speed
from egraffbench.store.catalog import STORED
from egraffbench.store.records import MetricValue
from egraffbench.store.schema import EvaluateResult, JobResults, read_record

JOB_SEED = 0  # seed of the bootstrap of one job's test errors over its test structures

SCORE_UNITS = {m.key: m.unit for m in STORED if m.section == "scores"}
RUN_UNITS = {(m.section, m.key): m.unit for m in STORED if m.section in ("training", "md")}


def _metric(name: str, value: Any, unit: str, system: str) -> MetricValue | None:
    if isinstance(value, dict):
        return MetricValue(name, value.get("value"), value.get("low"), value.get("high"), unit, system)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return MetricValue(name, float(value), unit=unit, system=system)


def _block(values: dict[str, Any], units: dict[str, str], system: str) -> list[MetricValue]:
    rows = [_metric(name, values[name], unit, system) for name, unit in units.items() if name in values]
    return [row for row in rows if row is not None]


def score_metrics(scores: dict[str, Any]) -> list[MetricValue]:
    """MD scores pooled over all replicas and per test system."""
    rows = _block(scores, SCORE_UNITS, "")
    for system, values in scores.get("systems", {}).items():
        rows += _block(values, SCORE_UNITS, system)
    return rows


def job_metrics(results: dict[str, Any]) -> list[MetricValue]:
    """Every number of a job's results worth querying: test errors, MD scores, cost."""
    rows: list[MetricValue] = []
    errors = results.get("test_errors") or {}
    if errors.get("structures"):
        rows += accuracy_metrics([read_record(EvaluateResult, errors, "test errors")], JOB_SEED)
    else:
        rows += _block(errors, ERROR_UNITS, "")
        for system, values in errors.get("systems", {}).items():
            rows += _block(values, ERROR_UNITS, system)
    rows += score_metrics(results.get("scores") or {})
    values = run_values(read_record(JobResults, results, "job results"))
    for (section, name), unit in RUN_UNITS.items():
        row = _metric(name, values[section, name], unit, "")
        if row is not None:
            rows.append(row)
    return rows


def run_values(results: JobResults) -> dict[tuple[str, str], Any]:
    """One job's training and MD numbers of RUN_UNITS: stored ones, and the live MD speed
    (`runner.md_speed`) computed from its records; None where it has none."""
    speed = live_speed(results)
    sections = {"training": results.training, "md": results.md}
    return {
        (section, name): speed[name] if name in speed else getattr(sections[section], name, None)
        for section, name in RUN_UNITS
    }
