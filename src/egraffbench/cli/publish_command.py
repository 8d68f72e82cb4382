"""`egraffbench publish`: the committable part of a run folder (results store, report series, no
checkpoints or trajectories) with its provenance."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from egraffbench.runner.publish import PROVENANCE_FILE, publish_run


def publish(
    run_dir: Annotated[Path, typer.Argument(help="run folder (the --out of `egraffbench run`)")],
    out: Annotated[Path, typer.Option("--out", help="folder to publish into (replaced if published before)")],
    run_id: Annotated[
        str | None,
        typer.Option("--run", help="run id (default: the latest; runs started after it are left out)"),
    ] = None,
    models: Annotated[
        list[str] | None,
        typer.Option("--models", help="publish only this model's jobs (repeat for several; default: all)"),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            help="leave out the jobs whose id (MODEL/TASK/seedN) matches this pattern (repeatable)",
        ),
    ] = None,
) -> None:
    """Copy what the report and the leaderboard read from a run folder into a folder small enough to commit.

    The results store and every stored artifact are copied except model checkpoints and MD trajectories;
    `provenance.json` records the runs' commands, hosts and package versions, the machine, and the sha256 of
    every file. `egraffbench report` and `egraffbench results` work on the published folder as on the run.
    With `--run`, another invocation can go on in the same folder while an earlier, finished run is published.
    With `--models`, the other models' jobs are left out, and with `--exclude 'botnet/md17-ethanol/*'` the
    jobs matching it: a published folder can be published again, into itself, without jobs that were
    recomputed and published elsewhere.
    """
    provenance = publish_run(run_dir, out, run_id, models, exclude or ())
    typer.echo(f"published: {out} ({len(provenance['files'])} files; see {out / PROVENANCE_FILE})")
