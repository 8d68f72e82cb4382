"""A run as the report reads it from its results store: the leaderboard rows (metrics over seeds, from
`report.leaderboard`) and every job with its results and artifact paths. A run that has not finished (still
running, or interrupted) has no stored summaries yet; its rows are then summarised here from its finished jobs
with the runner's own `summarise`, and marked as such. Runs of several folders merge into one view in
`report.merge`."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egraffbench.errors import ConfigError
from egraffbench.report.leaderboard import leaderboard_rows, ranked, summary_rows, training_kind
from egraffbench.report.parallel import call_all
from egraffbench.runner.summary import summarise
from egraffbench.store.database import ResultsStore
from egraffbench.store.records import JobRecord


@dataclass
class JobView:
    """One job of the run: identity, status, its full results and artifacts (absolute paths)."""

    job_id: str
    model: str
    task: str
    seed: int
    status: str
    error: str | None
    results: dict[str, Any]
    artifacts: dict[str, Path]
    keys: dict[str, str] = field(default_factory=dict)  # stage → cache key, for the stages that have one
    finished_at: float | None = None  # Unix time, s
    mode: str = ""
    run_dir: Path | None = None  # the run folder it was read from (its artifacts are relative to it)

    @property
    def done(self) -> bool:
        return self.status == "done"

    @property
    def is_reference(self) -> bool:
        """True for a reference potential (e.g. EMT): not trained, shown beside the models but not ranked."""
        return training_kind(self.results) == "reference"

    @property
    def is_pretrained(self) -> bool:
        """True for a model trained elsewhere (`kind: pretrained`): ranked, marked as not trained here."""
        return training_kind(self.results) == "pretrained"

    @property
    def scores(self) -> dict[str, Any]:
        return self.results.get("scores") or {}


@dataclass(frozen=True)
class RunSource:
    """One run a report was made from: its folder, id, host, start and end (Unix s), status, and the package
    versions it stored (older runs stored none); with the jobs it contributed and those left out as copies of
    jobs kept from another folder."""

    run_dir: Path
    run_id: str
    host: str | None
    started_at: float
    finished_at: float | None
    status: str
    versions: dict[str, str | None]
    jobs: int
    duplicates: int = 0

    def describe(self) -> str:
        """One line: folder, run, host, dates, status, versions, jobs."""
        span = (
            f"{_date(self.started_at)} to {_date(self.finished_at)}" if self.finished_at else "not finished"
        )
        versions = ", ".join(f"{name} {v}" for name, v in self.versions.items() if v) or "versions not stored"
        left_out = f", {self.duplicates} duplicate job(s) left out" if self.duplicates else ""
        return (
            f"{self.run_dir} — run {self.run_id} on {self.host or 'an unknown host'}, {span}, {self.status}; "
            f"{versions}; {self.jobs} job(s) used{left_out}"
        )


def _date(seconds: float | None) -> str:
    return "?" if seconds is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))


@dataclass
class RunView:
    """Everything the report needs from the store about one run, or about several merged."""

    run_dir: Path
    run_id: str
    run: dict[str, Any]  # the runs row, `settings` decoded
    rows: list[dict[str, Any]]  # leaderboard rows (model, task) pooled over test systems
    jobs: list[JobView]
    unsummarised: list[
        tuple[str, str]
    ]  # (model, task) rows summarised by the report, not read from the store
    sources: list[RunSource] = field(default_factory=list)  # the runs read; several when merged

    @property
    def merged(self) -> bool:
        return len(self.sources) > 1

    def tasks(self) -> list[str]:
        """Task names in the order the run lists its jobs."""
        return list(dict.fromkeys(job.task for job in self.jobs))

    def models(self, task: str) -> list[str]:
        """Models with at least one finished job on ``task``, in job order."""
        return list(dict.fromkeys(job.model for job in self.jobs if job.task == task and job.done))

    def done_jobs(self, task: str, model: str | None = None) -> list[JobView]:
        """Finished jobs of ``task`` (of one ``model`` if given), lowest seed first."""
        jobs = [j for j in self.jobs if j.task == task and j.done and (model is None or j.model == model)]
        return sorted(jobs, key=lambda job: job.seed)

    def task_rows(self, task: str) -> list[dict[str, Any]]:
        return [row for row in self.rows if row["task"] == task]

    def failed_jobs(self) -> list[JobView]:
        return [job for job in self.jobs if not job.done]


def read_run(store: ResultsStore, run_id: str | None = None) -> RunView:
    """The run ``run_id`` (default: the latest) of ``store``; ConfigError if the store has no such run."""
    runs = {run["run_id"]: run for run in store.runs()}
    chosen = run_id or store.latest_run()
    if chosen not in runs:
        raise ConfigError(f"{store.path}: no run '{chosen}'; runs: {', '.join(runs) or 'none'}")
    run = dict(runs[chosen])
    run["settings"] = json.loads(run["settings"] or "{}")
    artifacts: dict[str, dict[str, Path]] = {}
    for artifact in store.artifacts(chosen):
        artifacts.setdefault(artifact["job_id"], {})[artifact["kind"]] = store.run_dir / artifact["path"]
    keys: dict[str, dict[str, str]] = {}
    for stage in store.stages(chosen):
        if stage["key"]:
            keys.setdefault(stage["job_id"], {})[stage["stage"]] = stage["key"]
    jobs = [
        JobView(
            job_id=job["job_id"],
            model=job["model"],
            task=job["task"],
            seed=job["seed"],
            status=job["status"],
            error=job["error"],
            results=job["results"],
            artifacts=artifacts.get(job["job_id"], {}),
            keys=keys.get(job["job_id"], {}),
            finished_at=None if job["started_at"] is None else job["started_at"] + (job["seconds"] or 0.0),
            mode=job["mode"],
            run_dir=store.run_dir,
        )
        for job in store.jobs(chosen)
    ]
    rows = summary_rows(store, chosen)
    stored = {(row["model"], row["task"]) for row in rows}
    missing = [job for job in jobs if job.done and (job.model, job.task) not in stored]
    added = summarised_rows(missing)
    source = RunSource(
        store.run_dir,
        chosen,
        run["settings"].get("host"),
        run["started_at"],
        run["finished_at"],
        run["status"],
        run["settings"].get("versions") or {},
        len(jobs),
    )
    unsummarised = [(r["model"], r["task"]) for r in added]
    rows = ranked(rows + added) if added else rows
    return RunView(store.run_dir, chosen, run, rows, jobs, unsummarised, [source])


def summarised_rows(jobs: Sequence[JobView]) -> list[dict[str, Any]]:
    """Leaderboard rows of finished jobs pooled over their seeds and systems, one per (model, task), with
    their kind, place and mean rank (as `report.leaderboard.summary_rows` gives stored ones); each (model,
    task) summarised in a worker process where there are spare cores."""
    records = [
        JobRecord(job.job_id, job.model, job.task, job.seed, "", job.status, 0.0, 0.0, results=job.results)
        for job in jobs
    ]
    metrics = [
        {
            "model": model,
            "task": task,
            "seeds": seeds,
            "name": m.name,
            "value": m.value,
            "low": m.low,
            "high": m.high,
        }
        for (model, task), (seeds, values) in summarise(records, call_all).items()
        for m in values
        if m.system == ""
    ]
    kinds = {job.model: training_kind(job.results) for job in jobs}
    return ranked([{**row, "kind": kinds[row["model"]]} for row in leaderboard_rows(metrics)])
