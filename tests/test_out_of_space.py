"""Fault injection: the disk fills up (ENOSPC) during `simulate`, `train`, `data fetch` and `run`. Each
reports one `error:` line saying it is out of space, leaves no damaged output, and the same command rerun
after space is freed ends with exactly what an uninterrupted run gives."""

from __future__ import annotations

import errno
import os
import shlex
import shutil
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from ase.build import bulk
from ase.io import write

from egraffbench.cli.failures import expected_failure
from egraffbench.cli.main import app
from egraffbench.md.trajectory import create_trajectory, read_outcomes, read_replica
from egraffbench.models.presets import load_preset
from egraffbench.runner.benchmark import run_benchmark
from egraffbench.store.database import ResultsStore
from fresh_cli import CLI
from mount_namespace import needs_mount_namespace, run_in_namespace
from test_runner_fixtures import tiny_jobs, write_tiny_task


def _run(args: list[Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        app([str(a) for a in args])
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err


def _fails_on_call(function: Callable[..., Any], call: int) -> Callable[..., Any]:
    """``function``, except that its ``call``-th call raises ENOSPC (once)."""
    calls = []

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == call:
            raise OSError(errno.ENOSPC, "No space left on device", str(args[0]))
        return function(*args, **kwargs)

    return wrapped


def _assert_out_of_space(code: int, err: str) -> None:
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "out of space" in errors[0], err
    assert "Traceback" not in err


def _same_trajectories(first: Path, second: Path) -> None:
    """Bit for bit: the same command (batch, order) with the same threads, the rerun resumed exactly."""
    assert read_outcomes(first) == read_outcomes(second)
    for replica in read_outcomes(first):
        a, b = read_replica(first, replica), read_replica(second, replica)
        for name in ("step", "positions", "velocities", "forces", "energy"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name


@pytest.mark.parametrize("failing_flush", [1, 3], ids=["before-any-checkpoint", "after-two-checkpoints"])
def test_full_disk_during_simulate_then_rerun(
    failing_flush: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    structure = tmp_path / "cu.extxyz"
    write(structure, bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2)))
    command = ["simulate", "--model", "emt", "--structure", structure, "--replicas", "2", "--steps", "20"]
    command += ["--checkpoint-every", "5"]
    assert _run([*command, "--out", tmp_path / "reference.h5"], capsys)[0] == 0

    from egraffbench.md import engine

    out = tmp_path / "md.h5"
    monkeypatch.setattr(engine, "append_frames", _fails_on_call(engine.append_frames, failing_flush))
    _assert_out_of_space(*_run([*command, "--out", out], capsys))
    # no checkpoint to resume from: nothing is left; else the file and its checkpoint stay, resumable
    assert out.exists() == (failing_flush > 1)
    monkeypatch.undo()
    code, err = _run([*command, "--out", out], capsys)
    assert code == 0, err
    assert ("resumed from step" in err) == (failing_flush > 1)
    _same_trajectories(out, tmp_path / "reference.h5")


@needs_mount_namespace
def test_a_really_full_disk_during_simulate_then_rerun(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not an injected error: HDF5 writes into a 600 KiB tmpfs that fills up after some checkpoints, when
    the frames reach into a new chunk of every dataset (at step 600 with h5py 3 on this machine). Without the
    space check before each append, HDF5 failed inside the library, the close failed again, and the process
    died of a segmentation fault with a screen of tracebacks."""
    structure = tmp_path / "cu.extxyz"
    write(structure, bulk("Cu", "fcc", a=3.6, cubic=True).repeat((1, 1, 2)))
    options = ["--structure", structure, "--replicas", "2", "--steps", "600", "--checkpoint-every", "100"]
    command = ["simulate", "--model", "emt", *options]
    assert _run([*command, "-o", tmp_path / "reference.h5"], capsys)[0] == 0

    mount = tmp_path / "mnt"
    mount.mkdir()
    cli = shlex.join([*CLI, *map(str, command)])
    out = mount / "md.h5"
    script = f"""
        mount -t tmpfs -o size=600k tmpfs {mount}
        {cli} -o {out} 2> {tmp_path / "first.err"}; echo $? > {tmp_path / "first.rc"}
        mount -o remount,size=20m {mount}
        {cli} -o {out} 2> {tmp_path / "second.err"}; echo $? > {tmp_path / "second.rc"}
        cp {out} {tmp_path / "rerun.h5"}
    """
    run_in_namespace(script)
    first = (tmp_path / "first.err").read_text()
    _assert_out_of_space(int((tmp_path / "first.rc").read_text()), first)
    second = (tmp_path / "second.err").read_text()
    assert int((tmp_path / "second.rc").read_text()) == 0, second
    assert "resumed from step" in second  # checkpoints were written before the disk filled
    _same_trajectories(tmp_path / "rerun.h5", tmp_path / "reference.h5")


RACE = """
import sys
from pathlib import Path

import numpy as np
from ase.build import bulk

from egraffbench.md import trajectory

path, n = Path(sys.argv[1]), 400
atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
trajectory.create_trajectory(path, {"model": "emt"}, {0: atoms}, {0: 300.0}, np.dtype("float64"))
rng = np.random.default_rng(0)
frames = {"step": np.arange(n), "time_fs": np.arange(n) * 1.0, "energy": rng.normal(size=n)}
frames |= {field: rng.normal(size=(n, 32, 3)) for field in ("positions", "velocities", "forces")}
frames["cell"] = np.repeat(atoms.cell.array[None], n, axis=0)
np.savez(sys.argv[2], **frames)
writing = trajectory._writing


def fill_then_write(target):  # another process takes every free byte after the check, before the write
    with open(path.parent / "filler", "wb", buffering=0) as filler:
        for block in (1 << 16, 1 << 12):
            try:
                while True:
                    filler.write(bytes(block))
            except OSError:
                pass
    return writing(target)


trajectory._writing = fill_then_write
trajectory.append_frames(path, {0: frames})
"""


@needs_mount_namespace
def test_a_disk_filled_by_another_process_after_the_space_check(tmp_path: Path) -> None:
    """Between append_frames' space check and HDF5's write another process fills the disk (here, an injected
    call): the space was reserved before the check returned, so every frame is written and reads back
    exactly. Without the reservation HDF5 fails mid-write (and the process can crash)."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    (tmp_path / "race.py").write_text(RACE)
    script = f"""
        mount -t tmpfs -o size=2m tmpfs {mount}
        {sys.executable} {tmp_path / "race.py"} {mount / "md.h5"} {tmp_path / "frames.npz"} \
            2> {tmp_path / "err"}; echo $? > {tmp_path / "rc"}
        df --output=avail -B1 {mount} | tail -1 > {tmp_path / "free"}
        cp {mount / "md.h5"} {tmp_path / "md.h5"}
    """
    run_in_namespace(script)
    assert int((tmp_path / "rc").read_text()) == 0, (tmp_path / "err").read_text()
    assert int((tmp_path / "free").read_text()) < 1 << 16  # the filler did take the disk
    written, expected = read_replica(tmp_path / "md.h5", 0), np.load(tmp_path / "frames.npz")
    for name in ("step", "time_fs", "positions", "velocities", "energy", "cell"):
        assert np.array_equal(getattr(written, name), expected[name]), name
    np.testing.assert_allclose(written.forces, expected["forces"], rtol=1e-15)  # stored in another unit


def _empty_trajectory_and_a_frame(path: Path, value: float) -> dict[int, dict[str, np.ndarray]]:
    """An empty trajectory of one Cu atom written to ``path``, and a frame (step 7) for it, ``value`` in every
    other field but the cell."""
    atoms = bulk("Cu", "fcc", a=3.6)
    create_trajectory(path, {"model": "emt"}, {0: atoms}, {0: 300.0}, np.dtype("float64"))
    frame = {"step": np.array([7]), "time_fs": np.array([value]), "energy": np.array([value])}
    frame |= {field: np.full((1, 1, 3), value) for field in ("positions", "velocities", "forces")}
    return {0: {**frame, "cell": atoms.cell.array[None]}}


@pytest.mark.parametrize("refusal", [errno.ENOSPC, errno.EDQUOT], ids=["full-disk", "quota"])
def test_space_that_cannot_be_reserved_is_out_of_space_and_leaves_the_file(
    refusal: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills (or the quota runs out) between the space check and the reservation: the half-made
    reservation is cut off again, nothing is appended, and the error is ENOSPC."""
    from egraffbench.md import trajectory

    path = tmp_path / "md.h5"
    frames = _empty_trajectory_and_a_frame(path, 0.0)
    before = path.read_bytes()

    def half_then_full(fd: int, offset: int, length: int) -> None:
        os.ftruncate(fd, offset + length // 2)
        raise OSError(refusal, os.strerror(refusal))

    monkeypatch.setattr(trajectory.os, "posix_fallocate", half_then_full)
    with pytest.raises(OSError, match="could not be allocated") as raised:
        trajectory.append_frames(path, frames)
    assert raised.value.errno == errno.ENOSPC and path.read_bytes() == before


def test_frames_are_appended_where_the_system_cannot_reserve_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """macOS and Windows have no posix_fallocate: the frames are still appended (the space check alone
    guards them), and read back as written."""
    from egraffbench.md import trajectory

    path = tmp_path / "md.h5"
    frames = _empty_trajectory_and_a_frame(path, -1.25)
    monkeypatch.delattr(trajectory.os, "posix_fallocate")
    trajectory.append_frames(path, frames)
    written = read_replica(path, 0)
    assert written.step.tolist() == [7] and written.energy.tolist() == [-1.25]
    assert np.array_equal(written.positions, frames[0]["positions"])


def test_full_disk_during_train_then_resume(
    shared_datasets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = load_preset("mace", "test").model_dump()
    config["training"].update(max_epochs=3, max_train_frames=8, max_val_frames=4)
    config_file = tmp_path / "tiny.yaml"
    config_file.write_text(yaml.safe_dump(config))
    command = ["train", "--model", "mace", "--dataset", "md17-ethanol", "--config", config_file]
    command += ["--data-root", shared_datasets]
    assert _run([*command, "--out", tmp_path / "reference"], capsys)[0] == 0

    from egraffbench.training import trainer

    out = tmp_path / "model"
    # the second checkpoint write (epoch 2) finds the disk full
    monkeypatch.setattr(trainer, "atomic_write_bytes", _fails_on_call(trainer.atomic_write_bytes, 2))
    _assert_out_of_space(*_run([*command, "--out", out], capsys))
    monkeypatch.undo()
    code, err = _run([*command, "--out", out, "--resume"], capsys)
    assert code == 0, err
    reference = torch.load(tmp_path / "reference" / "weights.pt", weights_only=True)
    resumed = torch.load(out / "weights.pt", weights_only=True)
    assert reference.keys() == resumed.keys()
    assert all(torch.equal(reference[key], resumed[key]) for key in reference)  # same batches and threads
    epochs = [line for line in (out / "training_log.jsonl").read_text().splitlines() if line.strip()]
    assert len(epochs) == 3


def test_full_disk_during_data_fetch_then_rerun(
    shared_datasets: Path,
    data_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    original = shutil.copyfile

    def half_then_full(source: Any, target: Any, *args: Any, **kwargs: Any) -> Any:
        Path(target).write_bytes(Path(source).read_bytes()[:1000])  # a partial copy, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    command = ["data", "fetch", "md17-ethanol", "--from", shared_datasets]
    monkeypatch.setattr(shutil, "copyfile", half_then_full)
    _assert_out_of_space(*_run(command, capsys))
    assert not [p for p in data_cache.rglob("*") if p.is_file()]  # no partial file where loaders look
    monkeypatch.setattr(shutil, "copyfile", original)
    code, err = _run(command, capsys)
    assert code == 0, err
    for split in ("train", "val", "test"):
        fetched = data_cache / "md17" / "ethanol" / f"{split}.npz"
        assert fetched.read_bytes() == (shared_datasets / "md17" / "ethanol" / f"{split}.npz").read_bytes()


def test_a_full_results_database_is_reported_as_out_of_space(tmp_path: Path) -> None:
    """SQLite's own 'database or disk is full' (here its page limit, which raises the same SQLITE_FULL) is a
    full disk, not a damaged results.sqlite."""
    database = sqlite3.connect(tmp_path / "results.sqlite")
    database.execute("create table t (x blob)")
    database.execute("pragma max_page_count = 2")
    with pytest.raises(sqlite3.OperationalError) as raised:
        database.execute("insert into t values (?)", (b"0" * 100_000,))
    message = expected_failure(raised.value)
    assert message is not None and "out of space" in message and "is the file" not in message
    other = expected_failure(sqlite3.DatabaseError("file is not a database"))
    assert other is not None and "is the file a results.sqlite" in other


def test_a_run_stops_at_the_first_job_out_of_space_then_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The jobs after one that ran out of space would fail the same way, after their training: the run
    stops there, stored as interrupted, and the same run after space is freed does the rest."""
    jobs = tiny_jobs(write_tiny_task(tmp_path / "task"), ["emt"], seeds=2)
    run_dir = tmp_path / "run"
    from egraffbench.md import engine

    monkeypatch.setattr(engine, "append_frames", _fails_on_call(engine.append_frames, 1))
    with pytest.raises(OSError) as raised:
        run_benchmark(jobs, run_dir)
    assert raised.value.errno == errno.ENOSPC and jobs[0].job_id in raised.value.filename
    assert expected_failure(raised.value) is not None and "out of space" in expected_failure(raised.value)
    with ResultsStore.open_existing(run_dir) as store:
        run_id = store.latest_run()
        statuses = {job["job_id"]: job["status"] for job in store.jobs(run_id)}
        assert {run["run_id"]: run["status"] for run in store.runs()}[run_id] == "interrupted"
    assert statuses == {jobs[0].job_id: "failed", jobs[1].job_id: "pending"}  # the second never started
    monkeypatch.undo()
    rerun = run_benchmark(jobs, run_dir)
    assert [record.status for record in rerun.records] == ["done", "done"]
