"""`egraffbench run`: the benchmark end to end, printing a leaderboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from egraffbench.md.engine import SimulationProgress
from egraffbench.md.protocol import MDProtocol
from egraffbench.report.leaderboard import leaderboard_rows, print_leaderboard, write_results
from egraffbench.runner.job import JobSpec, run_job

DEFAULT_MODELS = ["mace", "emt"]
DEFAULT_DATASET = "emt-cu3au"  # the embedded dataset: generated locally, no download


def run(
    models: Annotated[
        list[str] | None,
        typer.Option("--models", help="architectures or reference potentials (repeat); default: mace and emt"),
    ] = None,
    dataset: Annotated[str, typer.Option("--dataset", help="dataset name")] = DEFAULT_DATASET,
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="seeds 0..N-1 per model")] = 1,
    config: Annotated[str, typer.Option("--config", help="model preset (dev, paper) or YAML file")] = "dev",
    replicas: Annotated[int, typer.Option("--replicas", min=1, help="MD replicas from the first test frames")] = 10,
    steps: Annotated[int, typer.Option("--steps", min=1, help="MD steps of 1 fs")] = 1000,
    out: Annotated[Path, typer.Option("--out", help="results folder")] = Path("egraffbench-results"),
    data_root: Annotated[Path | None, typer.Option("--data-root", help="dataset folder (default: cache)")] = None,
) -> None:
    """Train, evaluate, simulate and score each model; print the leaderboard and write results JSON/CSV.

    With no arguments: a small MACE and the EMT oracle on the embedded Cu–Au dataset (minutes on 2 CPU cores).
    A rerun of the same command skips every finished stage and resumes an interrupted MD run.
    """
    console = Console(stderr=True)
    protocol = MDProtocol(steps=steps)
    specs = [
        JobSpec(model=name, dataset=dataset, seed=seed, config=config, replicas=replicas, md=protocol,
                data_root=data_root)
        for name in (models or DEFAULT_MODELS)
        for seed in range(seeds)
    ]
    results = []
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(), console=console,
    ) as progress:
        for spec in specs:
            task = progress.add_task(spec.job_id, total=None, status="")

            def on_stage(stage: str, status: str, task: int = task) -> None:
                if stage == "done":
                    progress.update(task, total=1, completed=1, status=f"done (cached: {status or 'none'})")
                else:
                    progress.update(task, status=stage)

            def on_epoch(record: dict, task: int = task) -> None:
                progress.update(
                    task,
                    status=f"train epoch {record['epoch']}: val F MAE {1000 * record['val_force_mae']:.1f} meV/Å",
                )

            def on_md(state: SimulationProgress, task: int = task) -> None:
                progress.update(
                    task,
                    total=state.steps,
                    completed=state.step,
                    status=f"MD {state.steps_per_s:.0f} steps/s, {state.simulated_ps:.2f} ps, "
                    f"{state.live} live / {state.retired} retired",
                )

            results.append(run_job(spec, out, on_stage=on_stage, on_epoch=on_epoch, on_md=on_md))
    rows = leaderboard_rows(results)
    write_results(rows, results, out)
    skipped = sum(len(r["skipped_stages"]) for r in results)
    print_leaderboard(rows, f"egraffbench — {dataset}", Console())
    console.print(f"results: {out / 'results.json'}, {out / 'results.csv'} ({skipped} finished stages reused)")
