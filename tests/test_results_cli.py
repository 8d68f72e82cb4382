"""`egraffbench results` on runs without a leaderboard, and on a test system the run does not have."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from egraffbench.cli.main import app, cli
from egraffbench.store import JobRecord, MetricValue, ResultsStore


def _stored_run(run_dir: Path, status: str) -> str:
    """A run of two jobs, one finished (metrics pooled and of system 'ethanol'), ended with ``status``;
    the leaderboard (summaries) is stored only when the run is 'done'."""
    metrics = [
        MetricValue("wf_percent", 1.5, 1.0, 2.0, "%"),
        MetricValue("wf_percent", 1.5, system="ethanol"),
    ]
    with ResultsStore(run_dir) as store:
        run_id = store.start_run("dev", "egraffbench run", {})
        store.add_jobs(
            run_id, [(f"mace/md17-ethanol/seed{s}", "mace", "md17-ethanol", s, "dev") for s in (0, 1)]
        )
        store.record_job(
            run_id,
            JobRecord(
                job_id="mace/md17-ethanol/seed0",
                model="mace",
                task="md17-ethanol",
                seed=0,
                mode="dev",
                status="done",
                started_at=0.0,
                seconds=1.0,
                stages=[],
                metrics=metrics,
                artifacts={},
                results={},
            ),
        )
        if status == "done":
            store.record_summary(run_id, "mace", "md17-ethanol", 1, metrics[:1])
        store.finish_run(run_id, status, {"total": 2, "cached": 0, "failed": 0, "stages_reused": 0})
    return run_id


def test_an_interrupted_run_says_why_it_has_no_leaderboard_and_where_its_jobs_are(tmp_path: Path) -> None:
    run_id = _stored_run(tmp_path, "interrupted")
    result = CliRunner().invoke(cli, ["results", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"run {run_id} has no leaderboard: it was interrupted" in result.output
    assert f"(1 job(s) done: `egraffbench results {tmp_path} --run {run_id} --jobs`" in result.output
    jobs = CliRunner().invoke(cli, ["results", str(tmp_path), "--jobs", "--format", "csv"])
    assert jobs.exit_code == 0 and "mace/md17-ethanol/seed0,mace,md17-ethanol,0,done" in jobs.output


def test_a_finished_run_prints_its_leaderboard(tmp_path: Path) -> None:
    _stored_run(tmp_path, "done")
    result = CliRunner(env={"COLUMNS": "120"}).invoke(cli, ["results", str(tmp_path)])
    assert result.exit_code == 0 and "no leaderboard" not in result.output
    assert "1. mace" in result.output and "[1.00, 2.00]" in result.output


def test_an_unknown_test_system_is_one_error_line_listing_the_run_s_systems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = _stored_run(tmp_path, "done")
    with pytest.raises(SystemExit) as exit_:
        app(["results", str(tmp_path), "--system", "aspirin"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: {tmp_path}: run {run_id} has no test system 'aspirin'; systems: ethanol"
    ]
    known = CliRunner().invoke(
        cli, ["results", str(tmp_path), "--system", "ethanol", "--jobs", "--format", "csv"]
    )
    assert known.exit_code == 0 and "mace/md17-ethanol/seed0" in known.output
