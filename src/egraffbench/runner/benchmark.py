"""A benchmark run: the job matrix executed on an executor, every finished job recorded in the run folder's
results store as it comes back, then per-(model, task) summaries over seeds."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from egraffbench import __version__
from egraffbench.data import data_root
from egraffbench.errors import ConfigError, EgraffbenchError
from egraffbench.runner.executors import Executor, InProcessExecutor
from egraffbench.runner.hashing import package_versions
from egraffbench.runner.job import JobHooks
from egraffbench.runner.machine import cpu_record
from egraffbench.runner.matrix import JobSpec
from egraffbench.runner.summary import summarise
from egraffbench.store.database import ResultsStore
from egraffbench.store.records import JobRecord
from egraffbench.tasks.sources import ensure_available


class RunObserver:
    """Progress of a run; the default says nothing. ``job_hooks`` is used by the in-process executor only."""

    def job_hooks(self, job: JobSpec) -> JobHooks:
        return JobHooks()

    def job_finished(self, job: JobSpec, record: JobRecord) -> None:
        """Called as each job's record arrives."""

    def warning(self, message: str) -> None:
        """Something the user should know that does not stop the run."""


@dataclass
class RunResult:
    """The outcome of a run: its id in the store and every job's record."""

    run_id: str
    run_dir: Path
    records: list[JobRecord]

    @property
    def counts(self) -> dict[str, int]:
        """total jobs, `cached` (every stage reused), `failed`, and `stages_reused` (fetch not counted)."""
        return {
            "total": len(self.records),
            "cached": sum(r.fully_cached for r in self.records),
            "failed": sum(r.status == "failed" for r in self.records),
            "stages_reused": sum(r.reused_stages for r in self.records),
        }

    @property
    def failed(self) -> bool:
        return any(r.status == "failed" for r in self.records)


def _check_unique(jobs: Sequence[JobSpec]) -> None:
    ids = [job.job_id for job in jobs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(
            f"the job matrix names a job twice ({duplicates[0]}): give models and tasks distinct names"
        )


def prefetch(jobs: Sequence[JobSpec], observer: RunObserver) -> None:
    """Fetch every registered dataset the jobs need once, here, before parallel workers start; a failure is
    reported and left to the jobs' own fetch stage to record."""
    seen: set[tuple[Any, ...]] = set()
    for job in jobs:
        task = job.task
        for source in (*task.train, *task.val, *task.test):
            identity = (source.dataset, source.split, source.file, job.data_root)
            if identity in seen:
                continue
            seen.add(identity)
            root = job.data_root
            try:
                ensure_available(source, data_root() if root is None else Path(root), root is None)
            except EgraffbenchError as error:
                observer.warning(f"{source.label}: {error}")


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def _devices(jobs: Sequence[JobSpec]) -> dict[str, Any]:
    """The devices the jobs compute on and, for CUDA, the accelerator's name (provenance, not keys)."""
    devices = sorted({job.device for job in jobs})
    described: dict[str, Any] = {"devices": devices}
    if any(torch.device(device).type == "cuda" for device in devices) and torch.cuda.is_available():
        described["accelerator"] = torch.cuda.get_device_name()  # this process's: remote workers may differ
    return described


def run_benchmark(
    jobs: Sequence[JobSpec],
    run_dir: Path,
    executor: Executor | None = None,
    observer: RunObserver | None = None,
    command: str = "",
) -> RunResult:
    """Run ``jobs`` on ``executor`` (default: in this process) with stage outputs and `results.sqlite` in
    ``run_dir``; a failing job is recorded and the run goes on, except after a job that ran out of disk
    space: the run is then stored as interrupted and OSError(ENOSPC) raised (rerun to resume)."""
    _check_unique(jobs)
    run_dir = Path(run_dir)
    executor = executor or InProcessExecutor()
    observer = observer or RunObserver()
    if executor.parallel:
        prefetch(jobs, observer)
    records: list[JobRecord] = []
    with ResultsStore(run_dir) as store:
        settings = {
            "tasks": sorted({job.task.name for job in jobs}),
            "models": sorted({job.model.name for job in jobs}),
            "seeds": sorted({job.seed for job in jobs}),
            "executor": type(executor).__name__,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "versions": {"egraffbench": __version__, **package_versions()},
            "cpu": cpu_record(),
            **_devices(jobs),
        }
        for abandoned in store.close_abandoned_runs(settings["host"], process_alive):
            observer.warning(
                f"run {abandoned} was left running by a process that no longer exists: interrupted"
            )
        mode = ",".join(sorted({job.settings.mode for job in jobs}))
        run_id = store.start_run(mode, command, settings)
        store.add_jobs(run_id, [(j.job_id, j.model.name, j.task.name, j.seed, j.settings.mode) for j in jobs])
        result = RunResult(run_id, run_dir, records)

        def hooks_for(job: JobSpec) -> JobHooks:
            store.mark_running(run_id, job.job_id)
            return observer.job_hooks(job)

        try:
            for job, record in executor.run(jobs, run_dir, hooks_for):
                store.record_job(run_id, record)
                records.append(record)
                observer.job_finished(job, record)
                if record.out_of_space:  # every job after it would fail the same way, after its work
                    where = f"{run_dir} (job {job.job_id})"
                    raise OSError(errno.ENOSPC, "No space left on device", where)
        except BaseException:
            store.finish_run(run_id, "interrupted", result.counts)
            raise
        for (model, task), (seeds, metrics) in summarise(records).items():
            store.record_summary(run_id, model, task, seeds, metrics)
        store.finish_run(run_id, "failed" if result.failed else "done", result.counts)
    return result
