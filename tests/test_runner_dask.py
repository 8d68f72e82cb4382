"""The job matrix on a 2-worker Dask LocalCluster stores the same metrics as the in-process run."""

from __future__ import annotations

from pathlib import Path

import pytest

from egraffbench.runner import executors
from egraffbench.runner.benchmark import run_benchmark
from egraffbench.runner.executors import DaskExecutor, dask_executor
from egraffbench.store.database import ResultsStore
from test_runner_fixtures import ReferenceRun, physics_metrics, shared_reference_run, tiny_jobs

pytest.importorskip("distributed")


@pytest.fixture
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    return shared_reference_run(tmp_path_factory)


def _check_same_as_in_process(reference: ReferenceRun, run_dir: Path, processes: bool) -> None:
    with dask_executor(workers=2, processes=processes) as executor:
        assert isinstance(executor, DaskExecutor)
        assert len(executor.client.scheduler_info()["workers"]) == 2
        result = run_benchmark(tiny_jobs(reference.task_file), run_dir, executor)
    assert result.counts["failed"] == 0 and result.counts["total"] == 2
    in_process, on_dask = physics_metrics(reference.run_dir), physics_metrics(run_dir)
    assert on_dask.keys() == in_process.keys() and len(on_dask) > 40
    assert on_dask == in_process
    with ResultsStore.open_existing(run_dir) as store:
        (run,) = store.runs()
        assert run["status"] == "done" and "DaskExecutor" in run["settings"]


def test_threaded_local_cluster_matches_the_in_process_run(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    _check_same_as_in_process(reference_run, tmp_path / "run", processes=False)


@pytest.mark.slow  # two worker processes import torch and the models: about a minute on 2 cores
def test_process_local_cluster_matches_the_in_process_run(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    _check_same_as_in_process(reference_run, tmp_path / "run", processes=True)


def test_a_job_lost_on_dask_becomes_a_failed_record(
    reference_run: ReferenceRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lost(*args: object) -> None:
        raise RuntimeError("worker lost")

    monkeypatch.setattr(executors, "run_job", lost)
    jobs = tiny_jobs(reference_run.task_file, ["emt"])
    with dask_executor(workers=1, processes=False) as executor:
        ((job, record),) = list(executor.run(jobs, tmp_path))
    assert record.status == "failed" and record.job_id == job.job_id == "emt/tiny-cuau/seed0"
    assert record.error == "RuntimeError: worker lost" and "worker lost" in record.traceback
