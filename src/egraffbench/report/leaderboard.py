"""The leaderboard of a run, read from its results store: one row per model and task (metrics over all
seeds, with 95 % intervals, mean rank and place by `report.ranking`) or per job; as a rich table, CSV or
JSON. Columns and number formats are `store.catalog`'s, the same as the report's."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from egraffbench.fileio import atomic_write_text
from egraffbench.report import ranking
from egraffbench.store.catalog import (
    COLUMNS,
    GROUPS,
    PRETRAINED_NOTE,
    Column,
    format_interval,
    format_number,
)
from egraffbench.store.database import ResultsStore


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


def ranked(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task (in order of first appearance), rows with their `place` and `mean_rank` in leaderboard order
    (:mod:`egraffbench.report.ranking`); a row whose `kind` is `reference` is shown, not ranked."""
    ordered = []
    for task in dict.fromkeys(row["task"] for row in rows):
        chosen = [row for row in rows if row["task"] == task]
        flags = [row.get("kind") == "reference" for row in chosen]
        found = ranking.standings(chosen, flags)
        for i in ranking.order([row["model"] for row in chosen], found, flags):
            ordered.append({**chosen[i], "place": found[i].place, "mean_rank": found[i].mean_rank})
    return ordered


def leaderboard_rows(summaries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Summary metric rows (model, task, seeds, name, value, low, high) → one row per (model, task)."""
    return list(_pivot(summaries, ("model", "task"), ("seeds",)).values())


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
    """One row per (model, task) of a run in leaderboard order: its kind, metrics over all finished seeds
    (``system`` "" = pooled), place and mean rank."""
    return ranked(_with_kinds(store, run_id, leaderboard_rows(store.summaries(run_id, system))))


def job_rows(store: ResultsStore, run_id: str, system: str = "") -> list[dict[str, Any]]:
    """One row per job of a run: status, error and its metrics (``system`` "" = pooled); per task, its
    model's jobs in the order of the models on the leaderboard, then by seed."""
    metrics = _pivot(store.metrics(run_id, system), ("job_id",))
    board = summary_rows(store, run_id, system)
    position = {(row["task"], row["model"]): i for i, row in enumerate(board)}
    rows = []
    for job in store.jobs(run_id):
        row = {key: job[key] for key in ("job_id", "model", "task", "seed", "status", "seconds", "error")}
        row.update({k: v for k, v in metrics.get((job["job_id"],), {}).items() if k != "job_id"})
        rows.append(row)
    rows.sort(
        key=lambda row: (row["task"], position.get((row["task"], row["model"]), len(board)), row["seed"])
    )
    return _with_kinds(store, run_id, rows)


def _cell(row: dict[str, Any], column: Column) -> str:
    """The value, with its interval on a second line (keeps columns narrow)."""
    value = row.get(column.key)
    text = format_number(value, column)
    interval = format_interval(value, row.get(f"{column.key}_low"), row.get(f"{column.key}_high"), column)
    return text if interval is None else f"{text}\n{escape(interval)}"


def _model(row: dict[str, Any]) -> str:
    """The model's name, after its place when it has one, with its kind below unless trained here."""
    place = f"{row['place']}. " if row.get("place") else ""
    kind = row.get("kind", "trained")
    return escape(place + row["model"]) + ("" if kind == "trained" else f"\n({kind})")


def _caption(rows: Sequence[dict[str, Any]], per_job: bool) -> str:
    text = "\\[low, high]: 95 % interval over replicas" + ("" if per_job else " and seeds")
    text += f". ↓ lower, ↑ higher is better. {ranking.SUMMARY}"
    if any(row.get("kind") == "pretrained" for row in rows):
        text += "\n" + PRETRAINED_NOTE
    return text


def shown_columns(rows: Sequence[dict[str, Any]], columns: Sequence[Column] = COLUMNS) -> list[Column]:
    """Those of ``columns`` that hold a value in at least one row, as on the report's leaderboard."""
    return [column for column in columns if any(row.get(column.key) is not None for row in rows)]


def leaderboard_table(
    rows: Sequence[dict[str, Any]], title: str, columns: Sequence[Column], caption: bool = True
) -> Table:
    """A rich table of summary or job rows with ``columns``: intervals shown as [low, high] under values,
    the mean rank for summary rows, the task column only when the rows span several tasks."""
    per_job = bool(rows) and "job_id" in rows[0]
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    several_tasks = len(tasks) > 1
    if len(tasks) == 1 and tasks[0] not in title:
        title = f"{title} — {tasks[0]}"
    table = Table(title=title, caption=_caption(rows, per_job) if caption else None, box=box.SIMPLE_HEAD)
    table.add_column("model", style="bold")
    if several_tasks:
        table.add_column("task")
    table.add_column("seed" if per_job else "seeds", justify="right")
    if not per_job:
        table.add_column("mean\nrank ↓", justify="right")
    for column in columns:
        table.add_column(
            f"{column.header}\n{column.unit} {column.arrow}".replace("\n ", "\n"), justify="right"
        )
    for row in rows:
        if per_job:
            labels = [str(row["seed"]) + ("" if row["status"] == "done" else f" ({row['status']})")]
        else:
            labels = [str(row["seeds"]), "—" if row.get("mean_rank") is None else f"{row['mean_rank']:.2f}"]
        names = [_model(row), row["task"]] if several_tasks else [_model(row)]
        table.add_row(*names, *labels, *(_cell(row, column) for column in columns))
    return table


def _fits(table: Table, console: Console) -> bool:
    """True when ``table`` fits ``console`` with no cell wrapped."""
    return console.measure(table, options=console.options.update_width(100_000)).maximum <= console.width


def _group_tables(rows: Sequence[dict[str, Any]], title: str, console: Console) -> list[Table]:
    """One table per column group, a group split where its table would not fit ``console``."""
    tables = []
    for group in GROUPS:
        name = f"{title}: {group}"
        part: list[Column] = []
        for column in shown_columns(rows, [column for column in COLUMNS if column.group == group]):
            if part and not _fits(leaderboard_table(rows, name, [*part, column], False), console):
                tables.append(leaderboard_table(rows, name, part, caption=False))
                part = []
            part.append(column)
        if part:
            tables.append(leaderboard_table(rows, name, part, caption=False))
    return tables


def leaderboard_tables(rows: Sequence[dict[str, Any]], title: str, console: Console) -> list[Table]:
    """One table when it fits ``console`` with no cell wrapped, else per task one per column group (split
    further where a group does not fit); the caption under the last."""
    whole = leaderboard_table(rows, title, shown_columns(rows))
    if not rows or _fits(whole, console):
        return [whole]
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    tables = []
    for task in tasks:
        chosen = [row for row in rows if row["task"] == task]
        tables += _group_tables(chosen, title if len(tasks) == 1 else f"{title} — {task}", console)
    tables[-1].caption = _caption(rows, "job_id" in rows[0])
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
