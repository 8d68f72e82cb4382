"""`results` and `report` on read-only media: a run folder whose results.sqlite (WAL mode) sits on a
read-only file system, with or without the -wal and -shm files a copy may leave out, gives the same
leaderboard as the writable folder."""

from __future__ import annotations

import shlex
import shutil
import sqlite3
from pathlib import Path

import pytest

from fresh_cli import CLI
from mount_namespace import needs_mount_namespace, run_in_namespace
from test_runner_fixtures import ReferenceRun, shared_reference_run


@pytest.fixture
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    return shared_reference_run(tmp_path_factory)


def _without_wal_files(run_dir: Path, copy: Path) -> Path:
    """A copy of ``run_dir`` whose results.sqlite holds everything, without -wal and -shm files."""
    shutil.copytree(run_dir, copy)
    database = sqlite3.connect(copy / "results.sqlite")
    database.execute("pragma wal_checkpoint(TRUNCATE)")
    database.close()
    for leftover in ("results.sqlite-wal", "results.sqlite-shm"):
        (copy / leftover).unlink(missing_ok=True)
    assert sqlite3.connect(copy / "results.sqlite").execute("pragma journal_mode").fetchone() == ("wal",)
    return copy


@needs_mount_namespace
def test_results_and_report_read_a_run_folder_on_read_only_media(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    writable = _without_wal_files(reference_run.run_dir, tmp_path / "writable")
    mount = tmp_path / "mnt"
    mount.mkdir()
    read_only = mount / "run"
    results = shlex.join([*CLI, "results", str(read_only), "--format", "csv"])
    report = shlex.join([*CLI, "report", str(read_only), "--out", str(tmp_path / "report")])
    run_in_namespace(
        f"""
        mount -t tmpfs -o size=64m tmpfs {mount}
        cp -r {writable} {read_only}
        mount -o remount,ro {mount}
        touch {read_only}/probe 2> /dev/null && exit 3  # the mount must refuse writes
        {results} > {tmp_path / "read-only.csv"}
        {report} > /dev/null 2>&1
        """
    )
    expected = tmp_path / "writable.csv"
    reference = shlex.join([*CLI, "results", str(writable), "--format", "csv"])
    run_in_namespace(f"{reference} > {expected}")
    assert (tmp_path / "read-only.csv").read_text() == expected.read_text() != ""
    leaderboard = (tmp_path / "report" / "leaderboard.csv").read_text()
    assert "mace" in leaderboard and "emt" in leaderboard
