"""What each job of one or more run folders cost, job by job, as markdown tables (docs/performance.md): the
compute seconds of every stage, CPU seconds, torch threads and machine load, with a total and subtotals per
model and per task.

    python benchmarks/job_costs.py RUN_DIR [RUN_DIR ...]

Each computed stage's result records its cost (``cost`` in its `result.json`, docs/results.md): seconds over
every attempt, interrupted ones included where a checkpoint carried them (training, MD). A stage is counted
once, for the job that computed it (a stage shared with another job, such as a task's baselines or a
training set shared by two tasks, and a stage reused from the cache count nothing for the job reusing it).
Results written before costs were recorded have none: for them the training and MD seconds are the
trainer's and the simulate stage's own clocks (`training_seconds`, `md_seconds`) and other stages the
seconds the runner recorded for them in the run that computed them (0 when that run was interrupted).
A job is marked "(resumed)" where its training or MD continued from a checkpoint: its seconds count every
attempt, and so do its CPU seconds where the checkpoints carried them (written since 2026-12-05); where one
did not, the CPU seconds are the finishing attempt's only and shown as a lower bound, "≥ 442" (`StageCost`).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from egraffbench.errors import ConfigError
from egraffbench.runner.md_speed import live_speed
from egraffbench.runner.stage_cache import stage_result_path
from egraffbench.store.database import ResultsStore
from egraffbench.store.schema import (
    Baselines,
    EvaluateResult,
    JobResults,
    ReplayResult,
    ScoreResult,
    SimulateResult,
    StageCost,
    TrainResult,
    read_record,
    read_record_file,
)

RECORDS = {
    "train": TrainResult,
    "evaluate": EvaluateResult,
    "simulate": SimulateResult,
    "replay": ReplayResult,
    "score": ScoreResult,
    "baselines": Baselines,
}
STAGES = tuple(RECORDS)
OLD_CLOCKS = {"train": "training_seconds", "simulate": "md_seconds"}  # results without a cost


def _finished_jobs(store: ResultsStore) -> dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Job id → the latest finished record of that job in any run of ``store``, with its stage rows."""
    jobs: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for run in store.runs():
        rows = store.stages(run["run_id"])
        for job in store.jobs(run["run_id"]):
            if job["status"] == "done":
                jobs[job["job_id"]] = (job, [row for row in rows if row["job_id"] == job["job_id"]])
    return jobs


def _computed_rows(store: ResultsStore) -> dict[tuple[str, str], tuple[str, float]]:
    """(stage, key) → the job that first recorded computing it and the seconds recorded, over every run."""
    computed: dict[tuple[str, str], tuple[str, float]] = {}
    for run in store.runs():
        for row in store.stages(run["run_id"]):
            if row["status"] == "done" and row["key"] is not None:
                computed.setdefault((row["stage"], row["key"]), (row["job_id"], row["seconds"]))
    return computed


def _stage_cost(run_dir: Path, stage: str, key: str, recorded: float | None) -> dict[str, Any]:
    """Seconds and cost of the stage stored under ``key`` (``recorded``: the runner's seconds for it)."""
    path = run_dir / stage_result_path(stage, key)
    result = read_record_file(RECORDS[stage], path) if path.is_file() else None
    cost: StageCost | None = getattr(result, "cost", None)
    if cost is not None:
        return {"seconds": cost.compute_seconds, "cost": cost}
    clock = getattr(result, OLD_CLOCKS.get(stage, ""), None)
    return {"seconds": clock if clock is not None else recorded, "cost": None}


def _cpu_uncarried(costs: dict[str, StageCost], md_resumed: bool) -> bool:
    """Whether a stage resumed from a checkpoint that did not carry the CPU seconds of earlier attempts."""
    simulate = costs.get("simulate")
    if md_resumed and (simulate is None or simulate.earlier_cpu_seconds is None):
        return True
    return any(cost.earlier_seconds > 0 and cost.earlier_cpu_seconds is None for cost in costs.values())


def job_rows(run_dir: Path) -> list[dict[str, Any]]:
    """One row per finished job of ``run_dir``: seconds per stage it computed, CPU seconds, threads, load,
    training epochs and MD rate (over live replicas, `runner.md_speed`)."""
    with ResultsStore.open_existing(run_dir) as store:
        jobs, computed = _finished_jobs(store), _computed_rows(store)
    owners: dict[tuple[str, str], str] = {}
    for job_id, (_, rows) in jobs.items():
        for row in rows:
            if row["stage"] in RECORDS and row["key"] is not None:
                unit = (row["stage"], row["key"])
                computer = computed.get(unit, (job_id, None))[0]
                owners.setdefault(unit, computer if computer in jobs else job_id)
    table = []
    for job_id, (job, rows) in jobs.items():
        results = job["results"]
        training, md = results.get("training") or {}, results.get("md") or {}
        row: dict[str, Any] = {
            "job": job_id,
            "model": job["model"],
            "task": job["task"],
            "epochs": training.get("epochs"),
            "stopped": training.get("stopped_because"),
            "steps_per_s": live_speed(read_record(JobResults, results, job_id)).get("live_steps_per_s"),
        }
        costs: dict[str, StageCost] = {}
        for stage_row in rows:
            unit = (stage_row["stage"], stage_row["key"])
            if stage_row["stage"] not in RECORDS or owners.get(unit) != job_id:
                continue
            found = _stage_cost(run_dir, *unit, computed.get(unit, (job_id, None))[1])
            row[stage_row["stage"]] = found["seconds"]
            if found["cost"] is not None:
                costs[stage_row["stage"]] = found["cost"]
        row["total"] = sum(row.get(stage) or 0.0 for stage in STAGES)
        # MD resumed from a checkpoint that carried no clock (or before costs were recorded): only its
        # resumed_from_step says so
        md_resumed = md.get("resumed_from_step") is not None
        row["resumed"] = md_resumed or any(cost.earlier_seconds > 0 for cost in costs.values())
        row["cpu_partial"] = _cpu_uncarried(costs, md_resumed)
        cpu = [cost.cpu_seconds + (cost.earlier_cpu_seconds or 0.0) for cost in costs.values()]
        row["cpu"] = sum(cpu) if cpu else None
        row["threads"] = sorted({cost.torch_threads for cost in costs.values()})
        row["load"] = max((max(cost.load_start, cost.load_end) for cost in costs.values()), default=None)
        table.append(row)
    return table


def _cell(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _cpu_cell(seconds: float | None, partial: bool) -> str:
    """CPU seconds, "≥ …" where they cover the finishing attempts of a resumed stage only."""
    return ("≥ " if partial and seconds is not None else "") + _cell(seconds)


def _job_line(row: dict[str, Any]) -> list[str]:
    return [
        row["job"] + (" (resumed)" if row["resumed"] else ""),
        f"{_cell(row['epochs'])} ({_cell(row['stopped'])})",
        *(_cell(row.get(stage), 0 if stage in OLD_CLOCKS else 1) for stage in STAGES),
        _cell(row["total"]),
        _cpu_cell(row["cpu"], row["cpu_partial"]),
        "/".join(str(n) for n in row["threads"]) or "–",
        _cell(row["load"], 1),
        _cell(row["steps_per_s"], 1),
    ]


def _table(headers: list[str], lines: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
        *("| " + " | ".join(line) + " |" for line in lines),
    ]


def _subtotals(rows: list[dict[str, Any]], by: str) -> list[str]:
    """Seconds per stage and in all, and CPU seconds, summed over the jobs of each ``by`` (model or task)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row[by]].append(row)
    lines = []
    for name, members in sorted(groups.items()):
        sums = [sum(row.get(stage) or 0.0 for row in members) for stage in (*STAGES, "total")]
        cpu = sum(row["cpu"] or 0.0 for row in members)
        partial = any(row["cpu_partial"] for row in members)
        lines.append([name, str(len(members)), *(f"{value:.0f}" for value in sums), _cpu_cell(cpu, partial)])
    return _table([by, "jobs", *(f"{stage} s" for stage in STAGES), "job s", "CPU s"], lines)


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a markdown table per job (seconds rounded to whole seconds for training and MD, to 0.1 s
    for the other stages; load: the highest 1-minute load average seen at a stage's start or end), then
    subtotals per model and per task and the total."""
    headers = ["job", "epochs (stopped by)", *(f"{stage} s" for stage in STAGES), "job s", "CPU s"]
    lines = _table([*headers, "threads", "load", "MD steps/s (live)"], [_job_line(row) for row in rows])
    total = sum(row["total"] for row in rows)
    cpu = sum(row["cpu"] or 0.0 for row in rows)
    partial = sum(row["cpu_partial"] for row in rows)
    for by in ("model", "task"):
        lines += ["", f"Per {by}:", "", *_subtotals(rows, by)]
    recorded = f"{cpu:.0f} CPU s recorded"
    if partial:
        recorded += f", a lower bound: for {partial} resumed jobs they cover the finishing attempts only"
    lines.append(f"\n{len(rows)} jobs, {total:.0f} s computed in all ({total / 3600:.2f} h), {recorded}.")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="run or published folder")
    folders = parser.parse_args().run_dirs
    try:
        print(markdown([row for folder in folders for row in job_rows(folder)]))
    except ConfigError as error:
        sys.exit(f"error: {error}")
