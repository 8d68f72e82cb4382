"""The leaderboard of a run, read from its results store: one row per model and task (metrics over all
seeds) or per job, with 95 % intervals; as a rich table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from egraffbench.fileio import atomic_write_text
from egraffbench.report.table import PRETRAINED_NOTE
from egraffbench.store.database import ResultsStore

# (metric, header, scale to display units, number format): display units meV/atom, meV/Å, %, ...
COLUMNS: list[tuple[str, str, float, str]] = [
    ("energy_mae_per_atom", "E MAE meV/atom", 1000.0, ".3g"),
    ("force_mae", "F MAE meV/Å", 1000.0, ".3g"),
    ("wf_percent", "WF %", 1.0, ".3g"),
    ("jsd", "JSD", 1.0, ".3g"),
    ("ev", "EV", 1.0, ".3g"),
    ("fv", "FV", 1.0, ".3g"),
    ("fidelity_time_fs", "fidelity fs", 1.0, ".3g"),
    ("stable_fraction", "stable", 1.0, ".2f"),
    ("median_time_to_failure_ps", "TTF ps", 1.0, ".3g"),
    ("nve_drift", "drift meV/atom/ps", 1000.0, ".3g"),
    ("vdos_error", "VDOS err", 1.0, ".3g"),
    ("adf_error", "ADF err", 1.0, ".3g"),
    ("steps_per_s", "MD steps/s", 1.0, ".3g"),
    ("training_seconds", "train s", 1.0, ".0f"),
]


def _pivot(
    metric_rows: Sequence[dict[str, Any]], keys: Sequence[str], extra: Sequence[str] = ()
) -> dict[tuple, dict[str, Any]]:
    """Metric rows (one per name) → one row per ``keys`` (plus the ``extra`` columns of its first metric)
    with `name`, `name_low`, `name_high` columns."""
    rows: dict[tuple, dict[str, Any]] = {}
    for metric in metric_rows:
        identity = tuple(metric[k] for k in keys)
        row = rows.setdefault(identity, {k: metric[k] for k in (*keys, *extra)})
        row[metric["name"]] = metric["value"]
        row[f"{metric['name']}_low"] = metric["low"]
        row[f"{metric['name']}_high"] = metric["high"]
    return rows


def _ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """By task; within a task most stable first, then lowest WF."""

    def order(row: dict[str, Any]) -> tuple:
        stable, wf = row.get("stable_fraction"), row.get("wf_percent")
        return (
            row["task"],
            -(stable if stable is not None else -1.0),
            wf if wf is not None else float("inf"),
        )

    return sorted(rows, key=order)


def leaderboard_rows(summaries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Summary metric rows (model, task, seeds, name, value, low, high) → one ranked row per (model, task)."""
    return _ranked(list(_pivot(summaries, ("model", "task"), ("seeds",)).values()))


def training_kind(results: dict[str, Any]) -> str:
    """How a job's model came to be: `trained` here, a `reference` potential, or `pretrained` elsewhere."""
    training = results.get("training") or {}
    if training.get("pretrained"):
        return "pretrained"
    return "reference" if training.get("reference_potential") else "trained"


def _with_kinds(store: ResultsStore, run_id: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with a `kind` column (see :func:`training_kind`), from the run's jobs."""
    kinds = {job["model"]: training_kind(job["results"]) for job in store.jobs(run_id) if job["results"]}
    return [{**row, "kind": kinds.get(row["model"], "trained")} for row in rows]


def summary_rows(store: ResultsStore, run_id: str, system: str = "") -> list[dict[str, Any]]:
    """One row per (model, task) of a run: its kind and metrics over all finished seeds (``system`` "" =
    pooled)."""
    return _with_kinds(store, run_id, leaderboard_rows(store.summaries(run_id, system)))


def job_rows(store: ResultsStore, run_id: str, system: str = "") -> list[dict[str, Any]]:
    """One row per job of a run: status, error and its metrics (``system`` "" = pooled)."""
    metrics = _pivot(store.metrics(run_id, system), ("job_id",))
    rows = []
    for job in store.jobs(run_id):
        row = {key: job[key] for key in ("job_id", "model", "task", "seed", "status", "seconds", "error")}
        row.update({k: v for k, v in metrics.get((job["job_id"],), {}).items() if k != "job_id"})
        rows.append(row)
    return _with_kinds(store, run_id, _ranked(rows))


def _cell(row: dict[str, Any], key: str, scale: float, number: str) -> str:
    """The value, with its interval on a second line (keeps columns narrow)."""
    value = row.get(key)
    if value is None:
        return "n/a"
    text = f"{value * scale:{number}}"
    low, high = row.get(f"{key}_low"), row.get(f"{key}_high")
    if low is not None and high is not None and high > low:
        text += f"\n\\[{low * scale:{number}}, {high * scale:{number}}]"
    return text


# On a console too narrow for the whole table, it is printed per task and column group, so no cell is cut.
COLUMN_GROUPS = {
    "accuracy and structure": COLUMNS[:4],
    "violation": COLUMNS[4:7],
    "stability": COLUMNS[7:9],
    "dynamics": COLUMNS[9:12],
    "cost": COLUMNS[12:],
}
CAPTION = "\\[low, high]: 95% bootstrap interval over replicas"


def leaderboard_table(
    rows: Sequence[dict[str, Any]],
    title: str,
    columns: Sequence[tuple[str, str, float, str]] = COLUMNS,
    caption: bool = True,
) -> Table:
    """A rich table of summary or job rows with ``columns``; intervals shown as [low, high] under values,
    the task column only when the rows span several tasks."""
    per_job = bool(rows) and "job_id" in rows[0]
    text = (CAPTION + ("" if per_job else " and seeds")) if caption else None
    if text and any(row.get("kind") == "pretrained" for row in rows):
        text += "\n" + PRETRAINED_NOTE
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    several_tasks = len(tasks) > 1
    if len(tasks) == 1 and tasks[0] not in title:
        title = f"{title} — {tasks[0]}"
    table = Table(title=title, caption=text, box=box.SIMPLE_HEAD)
    table.add_column("model", style="bold")
    if several_tasks:
        table.add_column("task")
    table.add_column("seed" if per_job else "seeds", justify="right")
    for _, header, _, _ in columns:
        table.add_column(header.replace(" ", "\n", 1), justify="right")
    for row in rows:
        if per_job:
            label = str(row["seed"]) + ("" if row["status"] == "done" else f" ({row['status']})")
        else:
            label = str(row["seeds"])
        model = row["model"] + ("\n(pretrained)" if row.get("kind") == "pretrained" else "")
        labels = [model, row["task"], label] if several_tasks else [model, label]
        table.add_row(*labels, *(_cell(row, k, s, d) for k, _, s, d in columns))
    return table


def leaderboard_tables(rows: Sequence[dict[str, Any]], title: str, console: Console) -> list[Table]:
    """One table when it fits ``console`` with no cell wrapped, else one per task and column group."""
    whole = leaderboard_table(rows, title)
    natural = console.measure(whole, options=console.options.update_width(100_000)).maximum
    if not rows or natural <= console.width:
        return [whole]
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    tables = []
    for task in tasks:
        chosen = [row for row in rows if row["task"] == task]
        name = title if len(tasks) == 1 else f"{title} — {task}"
        for index, (group, columns) in enumerate(COLUMN_GROUPS.items()):
            last = task == tasks[-1] and index == len(COLUMN_GROUPS) - 1
            tables.append(leaderboard_table(chosen, f"{name}: {group}", columns, caption=last))
    return tables


def rows_csv(rows: Sequence[dict[str, Any]]) -> str:
    """CSV of rows (columns: the union of their keys, in first-seen order)."""
    fields = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def results_document(store: ResultsStore, run_id: str) -> dict[str, Any]:
    """Everything about a run as one JSON-ready document: run, leaderboard, jobs (stages, artifacts)."""
    run = next(r for r in store.runs() if r["run_id"] == run_id)
    stages, artifacts = store.stages(run_id), store.artifacts(run_id)
    jobs = []
    for job in store.jobs(run_id):
        job["stages"] = [s for s in stages if s["job_id"] == job["job_id"]]
        job["artifacts"] = {a["kind"]: a["path"] for a in artifacts if a["job_id"] == job["job_id"]}
        jobs.append(job)
    return {
        "run": {**run, "settings": json.loads(run["settings"] or "{}")},
        "leaderboard": summary_rows(store, run_id),
        "jobs": jobs,
    }


def write_results(store: ResultsStore, run_id: str, out_dir: Path) -> tuple[Path, Path]:
    """`results.json` (the whole run) and `results.csv` (the leaderboard) in ``out_dir``."""
    document = results_document(store, run_id)
    json_path, csv_path = out_dir / "results.json", out_dir / "results.csv"
    atomic_write_text(json_path, json.dumps(document, indent=2, default=str) + "\n")
    atomic_write_text(csv_path, rows_csv(document["leaderboard"]))
    return json_path, csv_path


def print_leaderboard(rows: Sequence[dict[str, Any]], title: str, console: Console | None = None) -> None:
    """Print the leaderboard, split in two tables on a narrow console."""
    console = console or Console()
    for table in leaderboard_tables(rows, title, console):
        console.print(table)
