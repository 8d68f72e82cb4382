"""`egraffbench report`: the HTML report (leaderboards, baselines, figures, findings) of a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from egraffbench.report.build import build_report


def report(
    run_dirs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="run folder (the --out of `egraffbench run`; default egraffbench-results); several folders "
            "merge their latest runs into one report",
            show_default=False,
            metavar="RUN_DIR...",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="folder for the report (default: RUN_DIR/report; required for several)"),
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run", help="run id of a single RUN_DIR (default: the latest run)")
    ] = None,
    task_files: Annotated[list[Path] | None, typer.Option("--task", hidden=True)] = None,
    data_root: Annotated[Path | None, typer.Option("--data-root", hidden=True)] = None,
) -> None:
    """Write a self-contained HTML report of a run, plus its tables as markdown and CSV.

    The report holds per task a leaderboard (metrics with 95 % intervals, ranks, best values, trivial
    baselines), figures (structure, survival, energy/force violation, speed and error vs stability, training
    curves, parity) and findings computed from the numbers. It reads only the run folders (their results
    stores and the artifacts the stages wrote): no datasets, models or trajectories.

    Several run folders (other machines, other days) give one report of their latest runs: a job found in
    two folders with the same stage cache keys is used once; the same job with different keys is an error.
    """
    for option, given in (("--task", task_files), ("--data-root", data_root)):
        if given:
            typer.echo(
                f"warning: {option} is deprecated and ignored: the report reads only the run folder", err=True
            )
    folders = run_dirs or [Path("egraffbench-results")]
    files = build_report(folders, out, run_id)
    typer.echo(f"report: {files.html}")
    typer.echo(f"tables: {files.markdown}, {files.csv}; the paper's findings checked: {files.findings}")
