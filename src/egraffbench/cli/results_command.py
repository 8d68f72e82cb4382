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
        known = [run["run_id"] for run in store.runs()]
        chosen = run_id or store.latest_run()
        if chosen not in known:
            raise ConfigError(f"{run_dir}: no run '{chosen}'; runs: {', '.join(known)}")
        rows = job_rows(store, chosen, system) if jobs else summary_rows(store, chosen, system)
        if output_format is OutputFormat.json:
            document = results_document(store, chosen) if not (jobs or system) else {"rows": rows}
            typer.echo(json.dumps(document, indent=2, default=str))
        elif output_format is OutputFormat.csv:
            typer.echo(rows_csv(rows), nl=False)
        else:
            title = f"egraffbench results — {run_dir} (run {chosen})" + (
                f", system {system}" if system else ""
            )
            print_leaderboard(rows, title, Console())
