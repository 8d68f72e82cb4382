"""`egraffbench report`: the HTML report (leaderboards, baselines, figures, findings) of a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from egraffbench.report.build import build_report


def report(
    run_dir: Annotated[Path, typer.Argument(help="run folder (the --out of `egraffbench run`)")] = Path(
        "egraffbench-results"
    ),
    out: Annotated[
        Path | None, typer.Option("--out", help="folder for the report (default: RUN_DIR/report)")
    ] = None,
    run_id: Annotated[str | None, typer.Option("--run", help="run id (default: the latest run)")] = None,
    task_files: Annotated[list[Path] | None, typer.Option("--task", hidden=True)] = None,
    data_root: Annotated[Path | None, typer.Option("--data-root", hidden=True)] = None,
) -> None:
    """Write a self-contained HTML report of a run, plus its tables as markdown and CSV.

    The report holds per task a leaderboard (metrics with 95 % intervals, ranks, best values, trivial
    baselines), figures (structure, survival, energy/force violation, speed and error vs stability, training
    curves, parity) and findings computed from the numbers. It reads only the run folder (its results store
    and the artifacts the stages wrote): no datasets, models or trajectories.
    """
    for option, given in (("--task", task_files), ("--data-root", data_root)):
        if given:
            typer.echo(
                f"warning: {option} is deprecated and ignored: the report reads only the run folder", err=True
            )
    files = build_report(run_dir, out, run_id)
    typer.echo(f"report: {files.html}")
    typer.echo(f"tables: {files.markdown}, {files.csv}")
