"""The results store: WAL mode, round trips of jobs (stages, metrics with intervals, artifacts, errors),
concurrent writers, and typed errors."""

from __future__ import annotations

import math
import multiprocessing
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from egraffbench.errors import ConfigError
from egraffbench.runner.benchmark import process_alive
from egraffbench.store import JobRecord, MetricValue, ResultsStore, StageRecord


def _record(job_id: str, status: str = "done", value: float = 1.5) -> JobRecord:
    return JobRecord(
        job_id=job_id,
        model="mace",
        task="md17-ethanol",
        seed=int(job_id[-1]),
        mode="dev",
        status=status,
        started_at=1000.0,
        seconds=12.5,
        stages=[
            StageRecord("fetch", "cached", "k0", 1000.0, 0.1),
            StageRecord("train", status, "k1", 1000.1, 9.0),
        ],
        metrics=[
            MetricValue("wf_percent", value, value - 0.5, value + 0.5, "%"),
            MetricValue("wf_percent", 2 * value, unit="%", system="ethanol"),
            MetricValue("ev", math.nan),
        ],
        artifacts={"checkpoint": "stages/train/k1/model"},
        results={"scores": {"wf_percent": {"value": value}}, "nan": math.nan},
        error="TrainingError: loss became nan" if status == "failed" else None,
        traceback="Traceback ...\nTrainingError" if status == "failed" else None,
    )


def test_the_database_is_in_wal_mode(tmp_path: Path) -> None:
    ResultsStore(tmp_path).close()
    with sqlite3.connect(tmp_path / "results.sqlite") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_jobs_round_trip_with_stages_metrics_artifacts_and_errors(tmp_path: Path) -> None:
    with ResultsStore(tmp_path) as store:
        run_id = store.start_run("dev", "egraffbench run", {"seeds": [0, 1]})
        store.add_jobs(
            run_id,
            [
                ("job/seed0", "mace", "md17-ethanol", 0, "dev"),
                ("job/seed1", "mace", "md17-ethanol", 1, "dev"),
            ],
        )
        store.mark_running(run_id, "job/seed0")
        assert [job["status"] for job in store.jobs(run_id)] == ["running", "pending"]
        store.record_job(run_id, _record("job/seed0"))
        store.record_job(run_id, _record("job/seed1", status="failed"))
        store.record_summary(
            run_id, "mace", "md17-ethanol", 1, [MetricValue("wf_percent", 1.5, 1.0, 2.0, "%")]
        )
        store.finish_run(run_id, "failed", {"total": 2, "cached": 0, "failed": 1, "stages_reused": 1})

    with ResultsStore.open_existing(tmp_path) as store:
        assert store.latest_run() == run_id
        (run,) = store.runs()
        assert (run["status"], run["jobs_failed"], run["stages_reused"]) == ("failed", 1, 1)
        done, failed = store.jobs(run_id)
        assert done["status"] == "done" and done["error"] is None and done["results"]["nan"] is None
        assert failed["error"].startswith("TrainingError") and "Traceback" in failed["traceback"]
        pooled = {(m["job_id"], m["name"]): m for m in store.metrics(run_id)}
        assert (
            pooled[("job/seed0", "wf_percent")]["low"] == 1.0
            and pooled[("job/seed0", "wf_percent")]["unit"] == "%"
        )
        assert pooled[("job/seed0", "ev")]["value"] is None  # NaN stored as NULL
        ethanol = [m for m in store.metrics(run_id, system="ethanol")]
        assert [m["value"] for m in ethanol] == [3.0, 3.0]
        assert len(store.metrics(run_id, system=None)) == 6
        assert [s["stage"] for s in store.stages(run_id) if s["job_id"] == "job/seed0"] == ["fetch", "train"]
        assert store.artifacts(run_id)[0]["path"] == "stages/train/k1/model"
        (summary,) = store.summaries(run_id)
        assert (summary["value"], summary["low"], summary["high"], summary["seeds"]) == (1.5, 1.0, 2.0, 1)


def test_recording_a_job_again_replaces_it(tmp_path: Path) -> None:
    with ResultsStore(tmp_path) as store:
        run_id = store.start_run("dev", "", {})
        store.record_job(run_id, _record("job/seed0", value=1.0))
        store.record_job(run_id, _record("job/seed0", value=4.0))
        values = {m["name"]: m["value"] for m in store.metrics(run_id)}
        assert values["wf_percent"] == 4.0 and len(store.jobs(run_id)) == 1


def _write_jobs(run_dir: Path, run_id: str, worker: int, count: int) -> None:
    with ResultsStore(run_dir) as store:
        for index in range(count):
            store.record_job(run_id, _record(f"w{worker}/job{index}/seed{index % 10}", value=float(index)))


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    with ResultsStore(tmp_path) as store:
        run_id = store.start_run("dev", "", {})
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write_jobs, args=(tmp_path, run_id, w, 25)) for w in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    with ResultsStore.open_existing(tmp_path) as store:
        assert len(store.jobs(run_id)) == 75
        assert len(store.metrics(run_id, system=None)) == 75 * 3
        assert len(store.stages(run_id)) == 75 * 2


def test_opening_a_folder_without_a_store_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"results\.sqlite"):
        ResultsStore.open_existing(tmp_path)
    with ResultsStore(tmp_path) as store, pytest.raises(ConfigError, match="no runs"):
        store.latest_run()


def test_runs_left_running_by_a_dead_process_are_marked_interrupted(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(finished.stdout)
    assert not process_alive(dead_pid) and process_alive(os.getpid())
    with ResultsStore(tmp_path) as store:
        killed = store.start_run("dev", "egraffbench run", {"host": "here", "pid": dead_pid})
        store.add_jobs(killed, [("a/t/seed0", "a", "t", 0, "dev"), ("b/t/seed0", "b", "t", 0, "dev")])
        store.mark_running(killed, "a/t/seed0")
        live = store.start_run("dev", "egraffbench run", {"host": "here", "pid": os.getpid()})
        elsewhere = store.start_run("dev", "egraffbench run", {"host": "other", "pid": dead_pid})
        assert store.close_abandoned_runs("here", process_alive) == [killed]
        status = {run["run_id"]: run["status"] for run in store.runs()}
        assert status == {killed: "interrupted", live: "running", elsewhere: "running"}
        assert {job["job_id"]: job["status"] for job in store.jobs(killed)} == {
            "a/t/seed0": "interrupted",
            "b/t/seed0": "pending",
        }
        assert store.close_abandoned_runs("here", process_alive) == []


def test_reading_never_writes_nor_waits_for_a_writer(tmp_path: Path) -> None:
    with ResultsStore(tmp_path) as store:
        run_id = store.start_run("dev", "egraffbench run", {})
    writer = sqlite3.connect(tmp_path / "results.sqlite", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with ResultsStore.open_existing(tmp_path) as store:
            assert store.latest_run() == run_id
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                store.start_run("dev", "x", {})
    finally:
        writer.execute("ROLLBACK")
        writer.close()


@pytest.mark.parametrize("payload", [b"", b"SQLite format 3\x00" + bytes(200), bytes(range(256)) * 8])
def test_a_damaged_store_is_a_config_error_and_stays_untouched(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "results.sqlite"
    path.write_bytes(payload)
    with pytest.raises(ConfigError, match=r"results\.sqlite"):
        ResultsStore.open_existing(tmp_path)
    assert path.read_bytes() == payload
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.sqlite"]


def test_an_interrupted_run_marks_its_running_jobs(tmp_path: Path) -> None:
    with ResultsStore(tmp_path) as store:
        run_id = store.start_run("dev", "egraffbench run", {})
        store.add_jobs(run_id, [("a", "mace", "t", 0, "dev"), ("b", "mace", "t", 1, "dev")])
        store.mark_running(run_id, "a")
        store.finish_run(run_id, "interrupted", {"total": 2, "cached": 0, "failed": 0, "stages_reused": 0})
        assert {job["job_id"]: job["status"] for job in store.jobs(run_id)} == {
            "a": "interrupted",
            "b": "pending",
        }
