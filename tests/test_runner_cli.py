"""`egraffbench run` and `egraffbench results` on a user task file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egraffbench.cli.main import cli
from egraffbench.errors import ConfigError
from egraffbench.runner.hashing import data_checksum, stable_hash
from egraffbench.store.database import ResultsStore
from test_runner_fixtures import write_tiny_task

runner = CliRunner(env={"COLUMNS": "240"})  # wide enough for the leaderboard table
RUN = ["--models", "emt", "--preset", "test", "--replicas", "2", "--steps", "10", "--seeds", "2"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("cli")
    task_file = write_tiny_task(folder, test_frames=16)
    out = folder / "run"
    first = runner.invoke(cli, ["run", str(task_file), *RUN, "--out", str(out)])
    assert first.exit_code == 0, first.output
    second = runner.invoke(cli, ["run", "--task", str(task_file), *RUN, "--out", str(out)])
    assert second.exit_code == 0, second.output
    return out, " ".join(first.output.split()) + " ---- " + " ".join(second.output.split())  # unwrapped


def test_run_prints_the_leaderboard_and_a_rerun_reports_what_it_skipped(
    finished_run: tuple[Path, str],
) -> None:
    out, output = finished_run
    first, second = output.split("----")
    assert "emt" in first and "tiny-cuau" in first and "2 jobs: 0 skipped" in first
    assert (
        "2 jobs: 2 skipped (every stage already finished), 0 run, 0 failed; 8 finished stages reused"
        in second
    )
    assert (out / "results.json").is_file() and (out / "results.csv").is_file()
    report = out / "report" / "report.html"
    assert f"report: {report}" in first
    assert "Task tiny-cuau" in report.read_text()


def test_results_exports_csv_and_json_matching_the_store(finished_run: tuple[Path, str]) -> None:
    out, _ = finished_run
    table = runner.invoke(cli, ["results", str(out)])
    assert table.exit_code == 0 and "tiny-cuau" in table.output
    rows = list(
        csv.DictReader(io.StringIO(runner.invoke(cli, ["results", str(out), "--format", "csv"]).output))
    )
    (row,) = rows
    assert (row["model"], row["task"], row["seeds"]) == ("emt", "tiny-cuau", "2")
    document = json.loads(runner.invoke(cli, ["results", str(out), "--format", "json"]).output)
    assert document["run"]["jobs_cached"] == 2 and len(document["jobs"]) == 2
    assert {stage["status"] for job in document["jobs"] for stage in job["stages"]} == {"cached"}
    assert document["jobs"][0]["artifacts"]["trajectory"].endswith("trajectory.h5")
    with ResultsStore.open_existing(out) as store:
        run_id = store.latest_run()
        stored = {m["name"]: m for m in store.summaries(run_id)}
        per_job = [m["value"] for m in store.metrics(run_id) if m["name"] == "force_mae"]
    assert float(row["wf_percent"]) == pytest.approx(stored["wf_percent"]["value"])
    assert float(row["force_mae"]) == pytest.approx(
        sum(per_job) / 2
    )  # EMT labels its own data: same both seeds
    assert stored["stable_fraction"]["value"] == 1.0
    jobs_csv = list(
        csv.DictReader(
            io.StringIO(runner.invoke(cli, ["results", str(out), "--jobs", "--format", "csv"]).output)
        )
    )
    assert sorted(r["job_id"] for r in jobs_csv) == ["emt/tiny-cuau/seed0", "emt/tiny-cuau/seed1"]


def test_seed_summary_pools_the_replicas_of_both_seeds(finished_run: tuple[Path, str]) -> None:
    out, _ = finished_run
    with ResultsStore.open_existing(out) as store:
        run_id = store.latest_run()
        jobs = store.jobs(run_id)
        summary = {m["name"]: m for m in store.summaries(run_id)}
    wf = [v["wf_percent"] for job in jobs for v in job["results"]["scores"]["replica_values"]]
    assert len(wf) == 4 and summary["wf_percent"]["value"] == pytest.approx(sum(wf) / 4)
    assert summary["wf_percent"]["low"] <= min(sum(wf[:2]) / 2, sum(wf[2:]) / 2)


def test_results_and_run_report_bad_input_as_typed_errors(tmp_path: Path) -> None:
    missing = runner.invoke(cli, ["results", str(tmp_path)])
    assert isinstance(missing.exception, ConfigError) and "results.sqlite" in str(missing.exception)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nversion: 0\n")
    outcome = runner.invoke(cli, ["run", str(bad), "--out", str(tmp_path / "run")])
    assert isinstance(outcome.exception, ConfigError) and "field 'version'" in str(outcome.exception)


@pytest.mark.slow  # generates the embedded dataset (30–90 s) and trains a small MACE
def test_run_without_a_task_is_the_embedded_dev_benchmark(data_cache: Path, tmp_path: Path) -> None:
    outcome = runner.invoke(
        cli, ["run", "--preset", "test", "--replicas", "2", "--steps", "20", "--out", str(tmp_path)]
    )
    assert outcome.exit_code == 0, outcome.output
    assert "emt-cu3au" in outcome.output and "(dev mode)" in outcome.output
    with ResultsStore.open_existing(tmp_path) as store:
        jobs = store.jobs(store.latest_run())
    assert sorted(job["job_id"] for job in jobs) == ["emt/emt-cu3au/seed0", "mace/emt-cu3au/seed0"]
    emt = next(job for job in jobs if job["model"] == "emt")
    assert emt["results"]["scores"]["ev"]["value"] < 1e-6  # the oracle scoring itself
    assert (data_cache / "emt-cu3au" / "test.extxyz").is_file()
    # the card names the test frames: all 1000 of the test file, by its content
    frames = emt["results"]["task"]["test_frames"]["cu3au"]
    assert (frames["start"], frames["stop"]) == (0, 1000)
    assert frames["data"] == stable_hash([data_checksum(data_cache / "emt-cu3au" / "test.extxyz")])
