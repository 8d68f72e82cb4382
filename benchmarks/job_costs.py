"""What each job of one or more run folders cost, job by job, as a markdown table (the table in
docs/performance.md): seconds per stage as the runner stored them, training epochs and MD rate.

    python benchmarks/job_costs.py RUN_DIR [RUN_DIR ...]

Training seconds are the trainer's own clock, carried over interruptions in its checkpoint; MD seconds are
the simulate stage's clock since its last start (an MD run resumed from a checkpoint is marked "resumed" and
its seconds cover the last part; its rate is that part's). Evaluate, replay and score count in whichever run
of the folder computed them; stages reused from the cache cost nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from egraffbench.store.database import ResultsStore

STAGES = ("train", "evaluate", "simulate", "replay", "score")


def _computed_seconds(store: ResultsStore) -> dict[str, dict[str, float]]:
    """Job id → stage → seconds, over every run of ``store``, counting computed stages only."""
    seconds: dict[str, dict[str, float]] = {}
    for run in store.runs():
        for stage in store.stages(run["run_id"]):
            if stage["status"] == "done":
                per_job = seconds.setdefault(stage["job_id"], {})
                per_job[stage["stage"]] = per_job.get(stage["stage"], 0.0) + stage["seconds"]
    return seconds


def _finished_jobs(store: ResultsStore) -> dict[str, dict[str, Any]]:
    """Job id → the latest finished record of that job in any run of ``store``."""
    jobs: dict[str, dict[str, Any]] = {}
    for run in store.runs():
        for job in store.jobs(run["run_id"]):
            if job["status"] == "done":
                jobs[job["job_id"]] = job
    return jobs


def job_rows(run_dir: Path) -> list[dict[str, Any]]:
    """One row per finished job of ``run_dir``: stage seconds, epochs, MD steps and rate."""
    with ResultsStore.open_existing(run_dir) as store:
        seconds, jobs = _computed_seconds(store), _finished_jobs(store)
    rows = []
    for job_id, job in jobs.items():
        results = job["results"]
        training, md = results.get("training") or {}, results.get("md") or {}
        stages = seconds.get(job_id, {})
        rows.append(
            {
                "job": job_id,
                "epochs": training.get("epochs"),
                "stopped": training.get("stopped_because"),
                **{stage: stages.get(stage) for stage in STAGES},
                "train": training.get("training_seconds"),
                "simulate": md.get("md_seconds"),
                "steps_per_s": md.get("steps_per_s"),
                "resumed": md.get("resumed_from_step") is not None,
            }
        )
        rows[-1]["total"] = sum(rows[-1][stage] or 0.0 for stage in STAGES)
    return rows


def _cell(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


HEADERS = ("job", "epochs (stopped by)", "train s", "evaluate s", "simulate s", "MD steps/s", "replay s")


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a markdown table (seconds rounded to whole seconds, MD rate to 0.1 step/s)."""
    headers = (*HEADERS, "score s", "job s")
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = (
            row["job"] + (" (resumed)" if row["resumed"] else ""),
            f"{_cell(row['epochs'])} ({_cell(row['stopped'])})",
            _cell(row["train"]),
            _cell(row["evaluate"], 1),
            _cell(row["simulate"]),
            _cell(row["steps_per_s"], 1),
            _cell(row["replay"], 1),
            _cell(row["score"], 1),
            _cell(row["total"]),
        )
        lines.append("| " + " | ".join(cells) + " |")
    total = sum(row["total"] for row in rows)
    lines.append(f"\n{len(rows)} jobs, {total:.0f} s computed in all ({total / 3600:.2f} h).")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown([row for folder in sys.argv[1:] for row in job_rows(Path(folder))]))
