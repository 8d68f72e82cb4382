"""Where jobs run: one after another in this process (default), or as Dask tasks — on a LocalCluster
(`--workers N`), an existing scheduler (`--scheduler ADDRESS`) or SLURM through dask-jobqueue
(`--slurm-jobs N`, settings from the Dask config's `jobqueue.slurm` section). Dask does the scheduling;
every job writes its stage outputs to the shared run folder and returns its record to this process."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from egraffbench.errors import ConfigError
from egraffbench.numerics import RESULT_TORCH_THREADS
from egraffbench.runner.job import JobHooks, failed_record, run_job
from egraffbench.runner.matrix import JobSpec
from egraffbench.store.records import JobRecord

HooksFor = Callable[[JobSpec], JobHooks]


class Executor(Protocol):
    """Runs jobs and yields each with its record as it finishes; ``parallel`` if jobs run concurrently."""

    parallel: bool

    def run(
        self, jobs: Sequence[JobSpec], run_dir: Path, hooks_for: HooksFor | None = None
    ) -> Iterator[tuple[JobSpec, JobRecord]]: ...


class InProcessExecutor:
    """Jobs one after another in this process, with live progress hooks."""

    parallel = False

    def __init__(self, torch_threads: int = RESULT_TORCH_THREADS) -> None:
        self.torch_threads = torch_threads

    def run(
        self, jobs: Sequence[JobSpec], run_dir: Path, hooks_for: HooksFor | None = None
    ) -> Iterator[tuple[JobSpec, JobRecord]]:
        """Yield each job with its record as it finishes."""
        for job in jobs:
            hooks = hooks_for(job) if hooks_for is not None else None
            yield job, run_job(job, run_dir, hooks, self.torch_threads)


class DaskExecutor:
    """Jobs as tasks of a Dask ``distributed.Client``; records come back as jobs finish, in any order."""

    parallel = True

    def __init__(self, client: object, torch_threads: int = RESULT_TORCH_THREADS) -> None:
        self.client = client
        self.torch_threads = torch_threads

    def run(
        self, jobs: Sequence[JobSpec], run_dir: Path, hooks_for: HooksFor | None = None
    ) -> Iterator[tuple[JobSpec, JobRecord]]:
        """Submit every job, then yield each with its record as it finishes; a worker that dies or cannot
        run the task gives a failed record, never an exception."""
        from distributed import as_completed

        run_dir = Path(run_dir).resolve()
        futures = {
            self.client.submit(
                run_job, job, run_dir, None, self.torch_threads, key=f"egraffbench:{job.job_id}", pure=False
            ): job
            for job in jobs
        }
        for future in as_completed(futures):
            job = futures[future]
            try:
                record = future.result()
            except Exception as error:
                record = failed_record(job, error, "".join(traceback.format_exception(error)))
            yield job, record


@contextmanager
def dask_executor(
    workers: int | None = None,
    scheduler: str | None = None,
    slurm_jobs: int | None = None,
    processes: bool = True,
) -> Iterator[DaskExecutor]:
    """A DaskExecutor on a new LocalCluster of ``workers`` (one process each unless ``processes`` is False),
    on the scheduler at ``scheduler``, or on ``slurm_jobs`` SLURM jobs; the cluster it started is closed
    on exit."""
    if sum(option is not None for option in (workers, scheduler, slurm_jobs)) != 1:
        raise ConfigError("choose one of --workers, --scheduler and --slurm-jobs")
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)
    if scheduler is not None:
        with Client(scheduler) as client:
            yield DaskExecutor(client)
        return
    if slurm_jobs is not None:
        from dask_jobqueue import SLURMCluster

        with SLURMCluster() as cluster, Client(cluster) as client:
            cluster.scale(jobs=slurm_jobs)
            yield DaskExecutor(client)
        return
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield DaskExecutor(client)
