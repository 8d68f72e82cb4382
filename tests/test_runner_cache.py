"""Content keys and the stage cache: keys change exactly with their inputs, and a stage is computed once."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from egraffbench.runner import hashing
from egraffbench.runner.hashing import data_checksum, stable_hash, stage_key
from egraffbench.runner.stage_cache import StageCache


def test_keys_depend_on_content_not_on_key_order() -> None:
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1, "b": [1, 2]}) != stable_hash({"a": 1, "b": [2, 1]})
    assert stage_key("train", {"seed": 0}) != stage_key("train", {"seed": 1})
    assert stage_key("train", {"seed": 0}) != stage_key("evaluate", {"seed": 0})


def test_a_new_stage_code_version_changes_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    before = stage_key("simulate", {"steps": 300})
    monkeypatch.setitem(hashing.STAGE_VERSIONS, "simulate", hashing.STAGE_VERSIONS["simulate"] + 1)
    assert stage_key("simulate", {"steps": 300}) != before


def test_data_checksums_follow_file_bytes_in_files_and_folders(tmp_path: Path) -> None:
    folder = tmp_path / "deepmd"
    (folder / "set.000").mkdir(parents=True)
    (folder / "type.raw").write_text("0 1\n")
    (folder / "set.000" / "energy.npy").write_bytes(b"\x00" * 16)
    first = data_checksum(folder)
    assert data_checksum(folder) == first
    target = folder / "set.000" / "energy.npy"
    target.write_bytes(b"\x00" * 15 + b"\x01")
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 1))  # a new mtime even on coarse clocks
    assert data_checksum(folder) != first
    assert data_checksum(folder / "type.raw") == data_checksum(folder / "type.raw")


def test_a_stage_is_computed_once_and_then_reused(tmp_path: Path) -> None:
    cache = StageCache(tmp_path)
    calls = []

    def compute(folder: Path) -> dict:
        calls.append(folder)
        (folder / "artifact.txt").write_text("x")
        return {"value": 1.5, "nan": float("nan")}

    result, cached = cache.get_or_compute("score", "k1", {"in": 1}, compute)
    again, cached_again = cache.get_or_compute("score", "k1", {"in": 1}, compute)
    assert (cached, cached_again) == (False, True) and len(calls) == 1
    assert result == again == {"value": 1.5, "nan": None}  # a fresh result reads exactly like a cached one
    assert (tmp_path / "score" / "k1" / "artifact.txt").is_file()
    assert cache.result("score", "k2") is None


def test_concurrent_workers_needing_the_same_stage_compute_it_once(tmp_path: Path) -> None:
    cache = StageCache(tmp_path)
    calls = []

    def slow(folder: Path) -> dict:
        calls.append(folder)
        time.sleep(0.3)
        return {"value": len(calls)}

    outcomes = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(cache.get_or_compute("train", "k", {}, slow)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert sorted(cached for _, cached in outcomes) == [False, True, True]
    assert {result["value"] for result, _ in outcomes} == {1}


def test_a_failed_computation_leaves_no_result(tmp_path: Path) -> None:
    cache = StageCache(tmp_path)

    def broken(folder: Path) -> dict:
        raise RuntimeError("diverged")

    with pytest.raises(RuntimeError):
        cache.get_or_compute("train", "k", {}, broken)
    assert cache.result("train", "k") is None
    assert cache.get_or_compute("train", "k", {}, lambda folder: {"ok": True}) == ({"ok": True}, False)
