"""What the report reads of a task besides the store's tables: the artifacts its jobs' stages stored — the
task's trivial baselines, each job's parity arrays and score series — and each job's typed results. An
artifact that is missing (a run folder made before the stages stored it) or unreadable leaves a note saying
which figures are missing and how to add them, instead of failing the report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from egraffbench.report.collect import JobView
from egraffbench.store.schema import (
    Baselines,
    JobResults,
    Parity,
    SchemaError,
    ScoreSeries,
    TaskCard,
    read_record,
    read_record_file,
)

R = TypeVar("R", Baselines, Parity, ScoreSeries)
# artifact kind → what the report draws from it
SHOWS = {
    "baselines": "trivial baselines",
    "parity": "parity plot",
    "series": "structure and EV/FV figures, diffusivity error",
}


@dataclass
class TaskInputs:
    """The stored results and artifacts of one task's finished jobs; ``notes`` say what could not be read."""

    card: TaskCard | None = None
    baselines: Baselines | None = None
    results: dict[str, JobResults] = field(default_factory=dict)  # job id → results
    parity: dict[str, Parity] = field(default_factory=dict)  # model → its lowest seed's parity arrays
    parity_seeds: dict[str, int] = field(default_factory=dict)
    series: dict[str, list[ScoreSeries]] = field(default_factory=dict)  # model → one per seed
    notes: list[str] = field(default_factory=list)


def _one_line(error: SchemaError) -> str:
    return " ".join(str(error).split())


def read_task_inputs(by_model: Mapping[str, Sequence[JobView]], command: str) -> TaskInputs:
    """The typed results and artifacts of every job of ``by_model`` (a task's finished jobs by model, lowest
    seed first); ``command`` is the run's command line, quoted in the note on missing artifacts."""
    found = TaskInputs()
    lacking: dict[str, int] = {}
    jobs = [job for members in by_model.values() for job in members]
    for job in jobs:
        try:
            found.results[job.job_id] = read_record(JobResults, job.results, f"results of job {job.job_id}")
        except SchemaError as error:
            found.notes.append(_one_line(error))
    found.card = next((r.task for r in found.results.values() if r.task is not None), None)
    for kind in SHOWS:
        wanted = jobs if kind != "parity" else [j for j in jobs if _evaluated(found, j)]
        missing = [job for job in wanted if kind not in job.artifacts]
        if missing:
            lacking[kind] = len(missing)
    found.baselines = _first(found, [job.artifacts.get("baselines") for job in jobs], Baselines)
    for model, members in by_model.items():
        for job in members:
            path = job.artifacts.get("parity")
            if model not in found.parity and path is not None:
                parity = _first(found, [path], Parity)
                if parity is not None:
                    found.parity[model], found.parity_seeds[model] = parity, job.seed
            path = job.artifacts.get("series")
            series = None if path is None else _first(found, [path], ScoreSeries)
            if series is not None:
                found.series.setdefault(model, []).append(series)
    if lacking:
        what = "; ".join(
            f"{SHOWS[kind]} ({count} job(s) without `{kind}`)" for kind, count in lacking.items()
        )
        found.notes.append(
            f"missing: {what}. This run folder was made before the stages stored them; run `{command}` again "
            "to add them (it re-scores from the stored trajectories; training and MD stay cached unless the "
            "presets or package versions changed since)."
        )
    return found


def _evaluated(found: TaskInputs, job: JobView) -> bool:
    results = found.results.get(job.job_id)
    return results is not None and results.test_errors is not None


def _first(found: TaskInputs, paths: Sequence[Path | None], kind: type[R]) -> R | None:
    """The first readable ``kind`` record among ``paths`` (None entries skipped); unreadable ones noted."""
    for path in paths:
        if path is None:
            continue
        try:
            return read_record_file(kind, path)
        except SchemaError as error:
            found.notes.append(_one_line(error))
    return None
