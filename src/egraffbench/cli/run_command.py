"""`egraffbench run`: the benchmark matrix (models × tasks × seeds) end to end, printing the leaderboard."""

from __future__ import annotations

import shlex
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, TaskID

from egraffbench.cli.failures import expected_failure
from egraffbench.cli.options import choices, device_option, missing_device
from egraffbench.cli.progress import PlainProgress, format_rate, progress_display
from egraffbench.cli.stop_request import StopRequest
from egraffbench.errors import ConfigError
from egraffbench.md.engine import SimulationProgress
from egraffbench.report.build import build_report
from egraffbench.report.leaderboard import print_leaderboard, summary_rows, write_results
from egraffbench.runner.benchmark import RunObserver, RunResult, run_benchmark
from egraffbench.runner.executors import InProcessExecutor, dask_executor
from egraffbench.runner.job import JobHooks
from egraffbench.runner.matrix import JobSpec, expand_jobs
from egraffbench.store.database import ResultsStore
from egraffbench.store.records import JobRecord
from egraffbench.tasks import ModeOverride, load_task
from egraffbench.tasks.modes import shipped_modes

RunMode = choices("RunMode", shipped_modes())
DEFAULT_TASK = "emt-cu3au"  # the embedded dataset: generated locally, no download
DEFAULT_MODELS = ["mace", "emt"]  # for the default task; any other task defaults to all six architectures


class _ProgressObserver(RunObserver):
    """Rich progress: one line per job (stage, training epoch, MD speed) in process, a job counter on Dask;
    each callback first raises a pending stop request."""

    def __init__(self, progress: Progress | PlainProgress, jobs: int, stop: StopRequest) -> None:
        self.progress, self.stop = progress, stop
        self.overall = progress.add_task("jobs", total=jobs, status="")
        self.lines: dict[str, TaskID] = {}

    def job_hooks(self, job: JobSpec) -> JobHooks:
        line = self.progress.add_task(job.job_id, total=None, status="starting")
        self.lines[job.job_id] = line

        def on_stage(stage: str, status: str) -> None:
            self.stop.check()
            self.progress.update(line, status=f"{stage}: {status}")

        def on_epoch(record: dict) -> None:
            self.stop.check()
            mae = 1000 * record["val_force_mae"]
            self.progress.update(line, status=f"train epoch {record['epoch']}: val F MAE {mae:.1f} meV/Å")

        def on_md(state: SimulationProgress) -> None:
            self.stop.check()
            self.progress.update(
                line,
                total=state.steps,
                completed=state.step,
                status=f"MD {format_rate(state.steps_per_s)} steps/s, "
                f"{state.live} live / {state.retired} retired",
            )

        return JobHooks(on_stage, on_epoch, on_md, self.warning)

    def job_finished(self, job: JobSpec, record: JobRecord) -> None:
        self.stop.check()  # on Dask, the only callback in this process
        if record.status == "failed":
            status = f"[red]failed[/red]: {record.error}"
        elif record.fully_cached:
            status = "all stages reused"
        else:
            status = f"done ({record.reused_stages} stages reused)"
        line = self.lines.get(job.job_id)
        if line is None:
            self.progress.console.print(f"{job.job_id}: {status}")
        else:
            self.progress.update(line, total=1, completed=1, status=status)
        self.progress.advance(self.overall)

    def warning(self, message: str) -> None:
        self.progress.console.print(f"[yellow]warning[/yellow]: {message}")


def _report(result: RunResult, console: Console) -> None:
    counts = result.counts
    computed = counts["total"] - counts["cached"] - counts["failed"]
    console.print(
        f"{counts['total']} jobs: {counts['cached']} skipped (every stage already finished), {computed} run, "
        f"{counts['failed']} failed; {counts['stages_reused']} finished stages reused"
    )
    for record in result.records:
        if record.status == "failed":
            console.print(f"[red]failed[/red] {record.job_id}: {record.error}")


def run(
    task_file: Annotated[Path | None, typer.Argument(help="a task YAML file (instead of --task)")] = None,
    tasks: Annotated[
        list[str] | None,
        typer.Option("--task", help="shipped task name or task file (repeat); default emt-cu3au"),
    ] = None,
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--models",
            help="architecture, reference potential (emt), model-config YAML, pretrained-model YAML "
            "(`kind: pretrained`), or `all` (repeat); "
            "default: mace and emt on the default task, all six architectures otherwise",
        ),
    ] = None,
    seeds: Annotated[
        int,
        typer.Option("--seeds", min=1, help="seeds per model and task: 0..N-1 (K..K+N-1 with --first-seed)"),
    ] = 1,
    first_seed: Annotated[
        int,
        typer.Option(
            "--first-seed", min=0, help="start the seeds here: K..K+N-1 (add seeds to a run made with fewer)"
        ),
    ] = 0,
    mode: Annotated[
        RunMode,
        typer.Option(
            "--mode",
            help="dev (minutes per job on CPU), standard or paper",
        ),
    ] = "dev",
    out: Annotated[Path, typer.Option("--out", help="run folder: results.sqlite, stage cache")] = Path(
        "egraffbench-results"
    ),
    preset: Annotated[str | None, typer.Option("--preset", help="model preset instead of the mode's")] = None,
    replicas: Annotated[
        int | None,
        typer.Option("--replicas", min=1, help="MD replicas per test system instead of the mode's"),
    ] = None,
    steps: Annotated[
        int | None, typer.Option("--steps", min=1, help="MD steps instead of the mode's")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="run on a Dask LocalCluster")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="address of a running Dask scheduler")
    ] = None,
    slurm_jobs: Annotated[
        int | None, typer.Option("--slurm-jobs", min=1, help="SLURM jobs via dask-jobqueue (its config file)")
    ] = None,
    data_root: Annotated[
        Path | None, typer.Option("--data-root", help="dataset folder (default: cache)")
    ] = None,
    device: Annotated[
        str,
        device_option(
            "torch device of training, evaluation and MD (reference potentials stay on the CPU); "
            "results on another device type are cached under other keys",
            here=False,
        ),
    ] = "cpu",
) -> None:
    """Train, evaluate, simulate and score every model on every task and seed; print the leaderboard.

    Stage outputs are cached in the run folder under keys of their inputs: rerunning the same command after
    an interruption skips every finished stage. Exit code 1 if any job failed (its error is stored).
    """
    mode = str(mode)
    references = [str(task_file)] if task_file is not None else []
    references += tasks or []
    chosen = [load_task(reference) for reference in references or [DEFAULT_TASK]]
    default_models = DEFAULT_MODELS if not references else ["all"]
    overrides = ModeOverride(model_preset=preset, replicas=replicas, md={"steps": steps} if steps else {})
    jobs = expand_jobs(
        models or default_models, chosen, seeds, mode, overrides, data_root, device, first_seed
    )
    remote = scheduler is not None or slurm_jobs is not None
    reason = None if remote else missing_device(device)  # remote workers: their machines must have it
    if reason is not None:
        raise ConfigError(f"--device '{device}': {reason}")
    console = Console(stderr=True)
    parallel = any(option is not None for option in (workers, scheduler, slurm_jobs))
    executor_context = dask_executor(workers, scheduler, slurm_jobs) if parallel else nullcontext(None)
    with (
        StopRequest().handling_sigterm() as stop,
        progress_display(console) as progress,
        executor_context as executor,
    ):
        observer = _ProgressObserver(progress, len(jobs), stop)
        command = shlex.join(["egraffbench", *sys.argv[1:]])
        try:
            result = run_benchmark(jobs, out, executor or InProcessExecutor(), observer, command)
        except (KeyboardInterrupt, SystemExit):
            console.print(
                f"interrupted: the run is stored as interrupted in {out / 'results.sqlite'}; "
                "rerun the same command to resume it"
            )
            raise
    with ResultsStore(out) as store:
        rows = summary_rows(store, result.run_id)
        json_path, csv_path = write_results(store, result.run_id, out)
    names = ", ".join(task.name for task in chosen)
    print_leaderboard(rows, f"egraffbench — {names} ({mode} mode)", Console())
    _report(result, console)
    console.print(f"results: {out / 'results.sqlite'} (run {result.run_id}); {json_path}, {csv_path}")
    try:
        files = build_report(out, None, result.run_id)
    except Exception as error:  # the results are stored; `egraffbench report` can retry
        message = expected_failure(error)
        if message is None:
            raise
        console.print(f"[yellow]warning[/yellow]: report not written: {message}")
    else:
        console.print(f"report: {files.html}")
    if result.failed:
        raise typer.Exit(1)
