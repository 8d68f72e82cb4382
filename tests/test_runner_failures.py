"""A failing job records its error and traceback in the store, the run goes on, and the exit code says so."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from egraffbench.cli.main import cli
from egraffbench.runner.benchmark import run_benchmark
from egraffbench.store.database import ResultsStore
from test_runner_fixtures import tiny_jobs, write_tiny_task


def test_a_broken_model_config_fails_its_job_and_the_others_finish(tmp_path: Path) -> None:
    task_file = write_tiny_task(tmp_path / "task", test_frames=12)
    broken = tmp_path / "broken-mace.yaml"
    broken.write_text(yaml.safe_dump({"architecture": "mace", "hyperparameters": {"hidden_irreps": "4x9q"}}))
    jobs = tiny_jobs(task_file, [str(broken), "emt"])
    result = run_benchmark(jobs, tmp_path / "run")
    # the one stage reused: the task's baselines, computed by the first job
    assert result.failed and result.counts == {"total": 2, "cached": 0, "failed": 1, "stages_reused": 1}
    with ResultsStore.open_existing(tmp_path / "run") as store:
        run_id = store.latest_run()
        jobs_by_id = {job["job_id"]: job for job in store.jobs(run_id)}
        failed, done = jobs_by_id["broken-mace/tiny-cuau/seed0"], jobs_by_id["emt/tiny-cuau/seed0"]
        assert failed["status"] == "failed" and "4x9q" in failed["traceback"] and failed["error"]
        assert done["status"] == "done" and done["error"] is None
        stages = {(s["job_id"], s["stage"]): s["status"] for s in store.stages(run_id)}
        assert stages[("broken-mace/tiny-cuau/seed0", "train")] == "failed"
        assert ("broken-mace/tiny-cuau/seed0", "simulate") not in stages
        assert store.runs()[-1]["status"] == "failed" and store.runs()[-1]["jobs_failed"] == 1
        assert {m["job_id"] for m in store.metrics(run_id)} == {"emt/tiny-cuau/seed0"}


def test_missing_data_fails_the_fetch_stage_and_the_command_exits_1(tmp_path: Path) -> None:
    task_file = write_tiny_task(tmp_path / "task", test_frames=12)
    (task_file.parent / "data" / "test.extxyz").unlink()
    arguments = [
        str(task_file),
        "--models",
        "emt",
        "--preset",
        "test",
        "--steps",
        "5",
        "--out",
        str(tmp_path / "run"),
    ]
    outcome = CliRunner(env={"COLUMNS": "240"}).invoke(cli, ["run", *arguments])
    output = " ".join(outcome.output.split())
    assert outcome.exit_code == 1
    assert (
        "1 failed" in output
        and "failed emt/tiny-cuau/seed0: DatasetError" in output
        and "test.extxyz" in output
    )
    with ResultsStore.open_existing(tmp_path / "run") as store:
        (job,) = store.jobs(store.latest_run())
        assert job["status"] == "failed" and job["error"].startswith("DatasetError")
        (stage,) = store.stages(store.latest_run())
        assert (stage["stage"], stage["status"]) == ("fetch", "failed")
