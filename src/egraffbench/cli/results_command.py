"""`egraffbench results`: query and export the results store of a run folder."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from egraffbench.errors import ConfigError
from egraffbench.report.leaderboard import (
    job_rows,
    print_leaderboard,
    results_document,
    rows_csv,
    summary_rows,
)
from egraffbench.store.database import ResultsStore


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def results(
    run_dir: Annotated[Path, typer.Argument(help="run folder (the --out of `egraffbench run`)")] = Path(
        "egraffbench-results"
    ),
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="table, csv or json")
    ] = OutputFormat.table,
    run_id: Annotated[str | None, typer.Option("--run", help="run id (default: the latest run)")] = None,
    jobs: Annotated[
        bool, typer.Option("--jobs", help="one row per job instead of per model and task")
    ] = False,
    system: Annotated[
        str, typer.Option("--system", help="metrics of one test system (default: pooled)")
    ] = "",
) -> None:
    """Print a run's leaderboard (metrics with 95 % intervals), or export it as CSV or JSON.

    JSON holds the whole run: settings, leaderboard, and every job with its status, error, stage timings,
    artifact paths and full results.
    """
    with ResultsStore.open_existing(run_dir) as store:
        statuses = {run["run_id"]: run["status"] for run in store.runs()}
        chosen = run_id or store.latest_run()
        if chosen not in statuses:
            raise ConfigError(f"{run_dir}: no run '{chosen}'; runs: {', '.join(statuses)}")
        if system:
            _check_system(store, run_dir, chosen, system)
        rows = job_rows(store, chosen, system) if jobs else summary_rows(store, chosen, system)
        if output_format is OutputFormat.json:
            document = results_document(store, chosen) if not (jobs or system) else {"rows": rows}
            typer.echo(json.dumps(document, indent=2, default=str))
        elif output_format is OutputFormat.csv:
            typer.echo(rows_csv(rows), nl=False)
        elif not rows:
            typer.echo(_no_leaderboard(store, run_dir, chosen, statuses[chosen]))
        else:
            title = f"egraffbench results — {run_dir} (run {chosen})" + (
                f", system {system}" if system else ""
            )
            print_leaderboard(rows, title, Console())


def _no_leaderboard(store: ResultsStore, run_dir: Path, run_id: str, status: str) -> str:
    """Why a run (``status``) shows no leaderboard: summaries are stored when a run ends, so a stopped run
    has none."""
    finished = sum(job["status"] == "done" for job in store.jobs(run_id))
    if status == "running":
        why = "it is still running; its leaderboard is stored when it ends"
    elif status == "interrupted":
        why = "it was interrupted before its end; rerun its command to resume it"
    else:
        why = "none of its jobs finished"
    return (
        f"run {run_id} has no leaderboard: {why} ({finished} job(s) done: "
        f"`egraffbench results {run_dir} --run {run_id} --jobs` lists them)"
    )


def _check_system(store: ResultsStore, run_dir: Path, run_id: str, system: str) -> None:
    """ConfigError naming the systems a run has metrics of, when ``system`` is not one of them."""
    known = sorted({row["system"] for row in store.metrics(run_id, None)} - {""})
    if system not in known:
        listed = ", ".join(known) if known else "none (single-system tasks store pooled metrics only)"
        raise ConfigError(f"{run_dir}: run {run_id} has no test system '{system}'; systems: {listed}")
