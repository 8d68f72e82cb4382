"""`egraffbench data list|fetch|info`, including the one-line errors and a clean cache after failures."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from egraffbench.cli import data_commands
from egraffbench.cli.data_commands import data_app
from egraffbench.data import load_dataset, reference_forces
from egraffbench.errors import ChecksumError, DatasetError, UnknownNameError

runner = CliRunner()
RunCli = Callable[..., tuple[int, list[str]]]


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def egraffbench(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> RunCli:
    """Run the real top-level command in-process: `egraffbench.cli.main.app` prints a typed error as one line
    and exits with code 2. Returns (exit code, stderr lines)."""
    try:
        from egraffbench.cli.main import app
    except ImportError as error:
        pytest.skip(f"egraffbench.cli.main does not import yet ({error})")

    def run(*args: str) -> tuple[int, list[str]]:
        monkeypatch.setattr(sys, "argv", ["egraffbench", *args])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            app()
        lines = capsys.readouterr().err.strip().splitlines()
        assert not any("Traceback" in line for line in lines)
        return exit_info.value.code, [line for line in lines if line.startswith("error:")]

    return run


def test_list_shows_registry_and_cache(
    shared_datasets: Path, data_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data_commands, "console", Console(width=200))  # one table row per line
    result = runner.invoke(data_app, ["list"])
    assert result.exit_code == 0, result.output
    for name in ("md17-aspirin", "lips20/Li2PS3-orth", "emt-cu3au", "on first use"):
        assert name in result.output
    runner.invoke(data_app, ["fetch", "md17-ethanol", "--from", str(shared_datasets)])
    line = next(row for row in runner.invoke(data_app, ["list"]).output.splitlines() if "md17-ethanol" in row)
    assert "yes" in line and "train 950, val 50, test 1000" in line


def test_fetch_then_info_json(shared_datasets: Path, data_cache: Path, tmp_path: Path) -> None:
    result = runner.invoke(data_app, ["fetch", "md17-ethanol", "--from", str(shared_datasets)])
    assert result.exit_code == 0, result.output
    assert "train, val, test available" in result.output
    assert _files(data_cache) == ["md17/ethanol/test.npz", "md17/ethanol/train.npz", "md17/ethanol/val.npz"]

    out = tmp_path / "reports" / "ethanol.json"
    result = runner.invoke(data_app, ["info", "md17-ethanol", "--json", str(out)])
    assert result.exit_code == 0, result.output
    info = json.loads(out.read_text())
    assert _files(out.parent) == ["ethanol.json"]  # no temporary file left beside it
    test = info["splits"]["test"]
    assert test["frames"] == 1000 and test["atoms_per_frame_min"] == test["atoms_per_frame_max"] == 9
    assert test["elements"] == ["H", "C", "O"]
    forces = np.concatenate([reference_forces(a) for a in load_dataset("md17-ethanol", "test")])
    assert test["force_component_rms_eV_per_A"] == pytest.approx(np.sqrt(np.mean(forces**2)))
    assert test["force_max_norm_eV_per_A"] == pytest.approx(np.linalg.norm(forces, axis=1).max())
    assert info["test_frame_spacing_fs"] == 0.5 and info["periodic"] is False
    assert "1000" in result.output and "not cached" not in result.output


def test_info_on_a_partly_cached_dataset(shared_datasets: Path, data_cache: Path) -> None:
    runner.invoke(data_app, ["fetch", "lips", "--from", str(shared_datasets)])
    result = runner.invoke(data_app, ["info", "lips"])
    assert result.exit_code == 0, result.output
    assert "not cached" in result.output  # train and test are not in the offline copy


def test_unknown_name(data_cache: Path, egraffbench: RunCli) -> None:
    result = runner.invoke(data_app, ["info", "md17-asprin"])
    assert result.exit_code != 0 and isinstance(result.exception, UnknownNameError)
    assert "did you mean md17-aspirin" in str(result.exception)
    code, errors = egraffbench("data", "fetch", "nonexistent")
    assert code == 2
    assert errors == ["error: unknown dataset 'nonexistent'; see `egraffbench data list` (30 known)"]
    assert _files(data_cache) == []


def test_checksum_mismatch(
    shared_datasets: Path, data_cache: Path, tmp_path: Path, egraffbench: RunCli
) -> None:
    tampered = tmp_path / "offline" / "md17" / "ethanol" / "val.npz"
    tampered.parent.mkdir(parents=True)
    data = bytearray((shared_datasets / "md17" / "ethanol" / "val.npz").read_bytes())
    data[-100] ^= 0x01
    tampered.write_bytes(bytes(data))
    result = runner.invoke(data_app, ["fetch", "md17-ethanol", "--from", str(tmp_path / "offline")])
    assert result.exit_code != 0 and isinstance(result.exception, ChecksumError)
    code, errors = egraffbench("data", "fetch", "md17-ethanol", "--from", str(tmp_path / "offline"))
    assert code == 2
    (line,) = errors
    assert line.startswith("error: md17/ethanol/val.npz: sha256 ")
    assert _files(data_cache) == []


def test_corrupt_npz_in_cache(shared_datasets: Path, data_cache: Path, egraffbench: RunCli) -> None:
    runner.invoke(data_app, ["fetch", "md17-ethanol", "--from", str(shared_datasets)])
    (data_cache / "md17" / "ethanol" / "val.npz").write_bytes(b"\x00garbage" * 64)
    result = runner.invoke(data_app, ["info", "md17-ethanol"])
    assert isinstance(result.exception, DatasetError)
    assert str(result.exception).startswith("ethanol/val.npz: not a readable .npz file")
    code, errors = egraffbench("data", "info", "md17-ethanol")
    assert code == 2 and len(errors) == 1
    assert errors[0].startswith("error: ethanol/val.npz: not a readable .npz file")


def test_truncated_extxyz_in_cache(shared_datasets: Path, data_cache: Path, egraffbench: RunCli) -> None:
    runner.invoke(data_app, ["fetch", "acac", "--from", str(shared_datasets)])
    cached = data_cache / "botnet" / "dataset_acac" / "test_MD_600K.xyz"
    text = cached.read_text()
    cached.write_text(text[: len(text) // 3])
    result = runner.invoke(data_app, ["info", "acac"])
    assert isinstance(result.exception, DatasetError)
    assert str(result.exception).startswith("dataset_acac/test_MD_600K.xyz: ")
    code, errors = egraffbench("data", "info", "acac")
    assert code == 2 and len(errors) == 1 and errors[0].startswith("error: dataset_acac/test_MD_600K.xyz: ")


def test_fetch_refetches_a_damaged_file(shared_datasets: Path, data_cache: Path, tmp_path: Path) -> None:
    offline = tmp_path / "offline"
    shutil.copytree(shared_datasets / "gete", offline / "gete")
    first = runner.invoke(data_app, ["fetch", "gete", "--from", str(offline)])
    assert "split train not in" in str(first.exception)  # the offline copy lacks it: an incomplete fetch
    (data_cache / "gete" / "test.npz").write_bytes(b"broken")
    result = runner.invoke(data_app, ["fetch", "gete", "--from", str(offline)])
    assert isinstance(result.exception, DatasetError), result.output
    assert len(load_dataset("gete", "test")) == 300
    assert "val, test available" in result.output  # train is not in the offline copy
