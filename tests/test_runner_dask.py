"""The job matrix on a 2-worker Dask LocalCluster stores the same metrics as the in-process run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from egraffbench.runner import executors
from egraffbench.runner.benchmark import run_benchmark
from egraffbench.runner.executors import DaskExecutor, dask_executor
from egraffbench.store.database import ResultsStore
from test_runner_fixtures import (
    ReferenceRun,
    physics_metrics,
    shared_reference_run,
    tiny_jobs,
    write_tiny_task,
)

distributed = pytest.importorskip("distributed")
Client, LocalCluster = distributed.Client, distributed.LocalCluster


@pytest.fixture
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    return shared_reference_run(tmp_path_factory)


def test_local_cluster_stores_the_same_metrics_as_the_in_process_run(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    """Worker processes (each importing torch and the models: about a minute on 2 busy cores) compute what
    the in-process run computed, from the same data and seeds."""
    run_dir = tmp_path / "run"
    with dask_executor(workers=2) as executor:
        assert isinstance(executor, DaskExecutor)
        assert len(executor.client.scheduler_info()["workers"]) == 2
        result = run_benchmark(tiny_jobs(reference_run.task_file), run_dir, executor)
    assert [r.error for r in result.records] == [None, None]
    in_process, on_dask = physics_metrics(reference_run.run_dir), physics_metrics(run_dir)
    assert on_dask.keys() == in_process.keys() and len(on_dask) > 40
    keys = sorted(in_process)
    values = [np.array([metrics[key] for key in keys], dtype=float) for metrics in (on_dask, in_process)]
    # A worker gets cores/workers torch threads, not always the reference's count, so sums may be reordered;
    # rounding (~1e-16) grown over 2 epochs and 20 MD steps stays far below 1e-9 of any metric.
    np.testing.assert_allclose(*values, rtol=1e-9, atol=1e-12, equal_nan=True)
    with ResultsStore.open_existing(run_dir) as store:
        (run,) = store.runs()
        assert run["status"] == "done" and "DaskExecutor" in run["settings"]


def test_a_job_lost_on_dask_becomes_a_failed_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def lost(*args: object) -> None:
        raise RuntimeError("worker lost")

    monkeypatch.setattr(executors, "run_job", lost)
    jobs = tiny_jobs(write_tiny_task(tmp_path, test_frames=4), ["emt"])
    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        ((job, record),) = list(DaskExecutor(client).run(jobs, tmp_path))
    assert record.status == "failed" and record.job_id == job.job_id == "emt/tiny-cuau/seed0"
    assert record.error == "RuntimeError: worker lost" and "worker lost" in record.traceback


def test_the_documented_slurm_configuration_makes_a_job_script() -> None:
    jobqueue = pytest.importorskip("dask_jobqueue")
    import dask.config
    import yaml

    text = (Path(__file__).parents[1] / "docs" / "running.md").read_text()
    block = text.split("`~/.config/dask/jobqueue.yaml`", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    slurm = yaml.safe_load(block)["jobqueue"]["slurm"]
    settings = {f"jobqueue.slurm.{key}": value for key, value in slurm.items()}  # merged like a config file
    with dask.config.set(settings), jobqueue.SLURMCluster() as cluster:
        script = cluster.job_script()
    assert "#SBATCH -p compute" in script and "#SBATCH -t 04:00:00" in script
    assert "export EGRAFFBENCH_DATA=/shared/egraffbench/datasets" in script
    assert "--cpus-per-task=1" in script and "--nthreads 1" in script  # one job, one core per worker
