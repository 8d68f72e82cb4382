"""Kill and rerun: an interrupted run resumes without redoing finished stages and ends with the same stored
metrics as an uninterrupted one; changed inputs rerun exactly the stages that depend on them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from egraffbench.md.engine import SimulationProgress
from egraffbench.runner.benchmark import RunObserver, run_benchmark
from egraffbench.runner.executors import InProcessExecutor
from egraffbench.runner.hashing import ARCHITECTURE_VERSIONS
from egraffbench.runner.job import JobHooks
from egraffbench.runner.machine import kernel_record
from egraffbench.runner.matrix import JobSpec, expand_jobs
from egraffbench.store.database import ResultsStore
from egraffbench.store.schema import AttemptKernels
from egraffbench.tasks import ModeOverride, load_task
from fresh_cli import CLI
from summation_order import torch_threads
from test_runner_fixtures import (
    ReferenceRun,
    physics_metrics,
    shared_reference_run,
    tiny_jobs,
    write_tiny_task,
)


@pytest.fixture
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    return shared_reference_run(tmp_path_factory)


class Killed(BaseException):
    """Stands in for a kill: not an Exception, so no job records it as its own failure."""


class KillAt(RunObserver):
    """Interrupts the mace job once: after training epoch ``epoch`` or after MD step ``md_step``."""

    def __init__(self, epoch: int | None = None, md_step: int | None = None) -> None:
        self.epoch, self.md_step = epoch, md_step

    def job_hooks(self, job: JobSpec) -> JobHooks:
        if job.model.name != "mace":
            return JobHooks()

        def on_epoch(record: dict) -> None:
            if record["epoch"] == self.epoch:
                raise Killed

        def on_md(state: SimulationProgress) -> None:
            if state.step == self.md_step:
                raise Killed

        return JobHooks(on_epoch=on_epoch, on_md=on_md)


def _stages(run_dir: Path) -> dict[tuple[str, str], str]:
    with ResultsStore.open_existing(run_dir) as store:
        return {(s["job_id"], s["stage"]): s["status"] for s in store.stages(store.latest_run())}


def test_killed_run_resumes_training_and_md_and_matches_an_uninterrupted_run(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    jobs = tiny_jobs(reference_run.task_file)
    run_dir = tmp_path / "run"
    executor = InProcessExecutor(torch_threads(1))  # the reference run's threads: the same sums, bit for bit
    with pytest.raises(Killed):
        run_benchmark(jobs, run_dir, executor, KillAt(epoch=1))
    with pytest.raises(Killed):
        run_benchmark(jobs, run_dir, executor, KillAt(md_step=12))  # checkpoints every 5 steps
    with ResultsStore.open_existing(run_dir) as store:
        assert [run["status"] for run in store.runs()] == ["interrupted", "interrupted"]
        assert {job["status"] for job in store.jobs(store.latest_run())} == {"interrupted", "pending"}

    finished = run_benchmark(jobs, run_dir, executor)
    mace = next(record for record in finished.records if record.model == "mace")
    stages = {s.stage: s.status for s in mace.stages}
    assert stages == {
        "fetch": "cached",
        "baselines": "cached",
        "train": "cached",
        "evaluate": "cached",
        "simulate": "done",
        "score": "done",
    }
    assert mace.results["md"]["resumed_from_step"] == 10
    assert mace.results["training"]["epochs"] == 2
    # a reused training records the numerics version its key holds
    assert mace.results["training"]["architecture_version"] == ARCHITECTURE_VERSIONS["mace"] == 2
    # both resumed stages name the one set of kernels all their attempts computed with
    kernels = [AttemptKernels(**kernel_record()).model_dump()]  # the record as stored, absent fields None
    assert mace.results["md"]["attempt_kernels"] == mace.results["training"]["attempt_kernels"] == kernels
    # bit for bit: the reference's jobs, batches and threads, and resumed training and MD continue exactly
    assert physics_metrics(run_dir) == physics_metrics(reference_run.run_dir)

    again = run_benchmark(jobs, run_dir, executor)
    assert again.counts == {"total": 2, "cached": 2, "failed": 0, "stages_reused": 9}
    assert set(_stages(run_dir).values()) == {"cached"}
    assert physics_metrics(run_dir) == physics_metrics(reference_run.run_dir)


def test_changed_md_protocol_reruns_only_simulation_and_scoring(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(reference_run.run_dir, run_dir)
    longer = ModeOverride(model_preset="test", replicas=2, md={"steps": 25, "checkpoint_every": 5})
    jobs = expand_jobs(["mace"], [load_task(reference_run.task_file)], 1, "dev", longer)
    result = run_benchmark(jobs, run_dir)
    assert {s.stage: s.status for s in result.records[0].stages} == {
        "fetch": "cached",
        "baselines": "cached",
        "train": "cached",
        "evaluate": "cached",
        "simulate": "done",
        "score": "done",
    }
    metrics = physics_metrics(run_dir)
    assert metrics[("mace/tiny-cuau/seed0", "", "median_time_to_failure_ps")][0] == pytest.approx(0.025)


def test_changed_test_data_keeps_the_trained_model(reference_run: ReferenceRun, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(reference_run.run_dir, run_dir)
    moved = write_tiny_task(tmp_path / "elsewhere", test_frames=23)  # same train/val bytes, other folder
    result = run_benchmark(tiny_jobs(moved, ["mace"]), run_dir)
    assert {s.stage: s.status for s in result.records[0].stages} == {
        "fetch": "cached",
        "baselines": "done",  # the task's test data changed
        "train": "cached",
        "evaluate": "done",
        "simulate": "done",
        "score": "done",
    }
    assert result.records[0].results["test_errors"]["frames"] == 23


def _emt_checkpoint(out: Path) -> bool:
    """True once the EMT job's MD has written a checkpoint."""
    for checkpoint in out.glob("stages/simulate/*/trajectory.h5.checkpoint"):
        if json.loads((checkpoint.parent / "inputs.json").read_text())["model"] == "reference:emt":
            return True
    return False


@pytest.mark.slow  # two fresh interpreters import torch and MACE, train and run MD: minutes on 2 busy cores
def test_a_killed_command_reruns_without_redoing_finished_stages(tmp_path: Path) -> None:
    task_file = write_tiny_task(tmp_path / "task", test_frames=12)
    out = tmp_path / "run"
    command = [*CLI, "run", str(task_file)]
    command += [
        "--models",
        "mace",
        "--models",
        "emt",
        "--preset",
        "test",
        "--steps",
        "400",
        "--out",
        str(out),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 900
    while not _emt_checkpoint(out) and time.monotonic() < deadline:  # mace's job is done by then
        assert process.poll() is None, "the run ended before it could be killed"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(list(out.glob("stages/score/*/result.json"))) == 1  # mace scored, emt not

    rerun = subprocess.run(
        command, capture_output=True, text=True, timeout=900, env={**os.environ, "COLUMNS": "240"}
    )
    output = " ".join(rerun.stdout.split() + rerun.stderr.split())
    assert rerun.returncode == 0, output
    assert (
        "2 jobs: 1 skipped (every stage already finished), 1 run, 0 failed; 7 finished stages reused"
        in output
    )
    stages = _stages(out)
    assert {stage: stages[("mace/tiny-cuau/seed0", stage)] for stage in ("train", "simulate", "score")} == {
        "train": "cached",
        "simulate": "cached",
        "score": "cached",
    }
    assert stages[("emt/tiny-cuau/seed0", "evaluate")] == "cached"
    assert stages[("emt/tiny-cuau/seed0", "simulate")] == "done"
    assert "was left running by a process that no longer exists: interrupted" in output
    with ResultsStore.open_existing(out) as store:
        (emt,) = [job for job in store.jobs(store.latest_run()) if job["model"] == "emt"]
        assert [run["status"] for run in store.runs()] == ["interrupted", "done"]
    assert emt["results"]["md"]["resumed_from_step"] in (100, 200, 300)


def test_sigterm_stores_the_run_as_interrupted(tmp_path: Path) -> None:
    task_file = write_tiny_task(tmp_path / "task", test_frames=12)
    out = tmp_path / "run"
    command = [*CLI, "run", str(task_file)]
    command += ["--models", "emt", "--steps", "100000", "--out", str(out)]
    with (tmp_path / "stderr.txt").open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 300
        while not _emt_checkpoint(out) and time.monotonic() < deadline:  # in MD, far from done
            assert process.poll() is None, "the run ended before it could be stopped"
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=150)  # a hung stop prints its stacks and exits 1 after 90 s
    assert code == 128 + signal.SIGTERM, (tmp_path / "stderr.txt").read_text()[-8000:]
    with ResultsStore.open_existing(out) as store:
        assert [run["status"] for run in store.runs()] == ["interrupted"]
