"""A run as the report reads it from its results store: the leaderboard rows (metrics over seeds, from
`report.leaderboard`) and every job with its results and artifact paths."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from egraffbench.errors import ConfigError
from egraffbench.report.leaderboard import summary_rows
from egraffbench.store.database import ResultsStore


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

    @property
    def done(self) -> bool:
        return self.status == "done"

    @property
    def is_reference(self) -> bool:
        """True for a reference potential (e.g. EMT): not trained, shown beside the models but not ranked."""
        return bool((self.results.get("training") or {}).get("reference_potential"))

    @property
    def scores(self) -> dict[str, Any]:
        return self.results.get("scores") or {}


@dataclass
class RunView:
    """Everything the report needs from the store about one run."""

    run_dir: Path
    run_id: str
    run: dict[str, Any]  # the runs row, `settings` decoded
    rows: list[dict[str, Any]]  # leaderboard rows (model, task) pooled over test systems
    jobs: list[JobView]

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
        )
        for job in store.jobs(chosen)
    ]
    return RunView(store.run_dir, chosen, run, summary_rows(store, chosen), jobs)
