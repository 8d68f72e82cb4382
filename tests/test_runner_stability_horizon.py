"""A stability horizon (`stability_steps`) longer than the recorded run: structure and EV/FV are scored on
the recorded `steps`, time to failure is censored at the horizon."""

from __future__ import annotations

from pathlib import Path

import pytest

from egraffbench.md import read_replica
from egraffbench.runner.job import run_job
from egraffbench.runner.matrix import expand_jobs
from egraffbench.tasks import ModeOverride, load_task
from test_runner_fixtures import write_tiny_task

HORIZON = ModeOverride(replicas=2, md={"steps": 10, "stability_steps": 30, "check_every": 5})


def test_recorded_frames_stop_at_steps_and_stability_is_censored_at_the_horizon(tmp_path: Path) -> None:
    task = load_task(write_tiny_task(tmp_path, test_frames=12))
    (job,) = expand_jobs(["emt"], [task], 1, "dev", HORIZON)  # the oracle: no training, never fails
    record = run_job(job, tmp_path / "run")
    assert record.status == "done", record.traceback
    trajectory = tmp_path / "run" / record.artifacts["trajectory"]
    assert [len(read_replica(trajectory, r).step) for r in (0, 1)] == [11, 11]  # steps 0..10
    scores = record.results["scores"]
    assert (scores["run_length_fs"], scores["stability_horizon_fs"]) == (10.0, 30.0)
    assert scores["stable_fraction"]["value"] == 1.0 and scores["median_time_to_failure_censored"]
    assert scores["median_time_to_failure_ps"]["value"] == pytest.approx(0.03)
    assert scores["ev"]["value"] < 1e-6  # EV of the oracle against itself over the recorded frames
