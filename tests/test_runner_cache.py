"""Content keys and the stage cache: keys change exactly with their inputs, and a stage is computed once."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from egraffbench.errors import DatasetError
from egraffbench.runner import hashing
from egraffbench.runner.benchmark import RunObserver, run_benchmark
from egraffbench.runner.executors import InProcessExecutor
from egraffbench.runner.hashing import data_checksum, stable_hash, stage_key
from egraffbench.runner.job import JobHooks
from egraffbench.runner.matrix import JobSpec, expand_jobs
from egraffbench.runner.stage_cache import StageCache, StageCheck
from egraffbench.store.schema import AttemptKernels
from egraffbench.tasks import load_task
from summation_order import torch_threads
from test_runner_fixtures import ReferenceRun, physics_metrics, shared_reference_run, tiny_jobs


@pytest.fixture
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    return shared_reference_run(tmp_path_factory)


def test_keys_depend_on_content_not_on_key_order() -> None:
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1, "b": [1, 2]}) != stable_hash({"a": 1, "b": [2, 1]})
    assert stage_key("train", {"seed": 0}) != stage_key("train", {"seed": 1})
    assert stage_key("train", {"seed": 0}) != stage_key("evaluate", {"seed": 0})


def test_a_new_stage_code_version_changes_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    before = stage_key("simulate", {"steps": 300})
    monkeypatch.setitem(hashing.STAGE_VERSIONS, "simulate", hashing.STAGE_VERSIONS["simulate"] + 1)
    assert stage_key("simulate", {"steps": 300}) != before


def test_an_architecture_version_keys_only_the_architectures_it_lists(reference_run: ReferenceRun) -> None:
    version = hashing.ARCHITECTURE_VERSIONS["mace"]
    assert hashing.architecture_version("mace") == {"architecture_version": version}
    assert hashing.architecture_version("torchmdnet") == {}  # unlisted: its keys stay as they were
    (stored,) = (reference_run.run_dir / "stages" / "train").glob("*/inputs.json")
    inputs = json.loads(stored.read_text())
    assert inputs["config"]["architecture"] == "mace"
    assert inputs["architecture_version"] == version
    assert stored.parent.name == stage_key("train", inputs)
    unversioned = {name: value for name, value in inputs.items() if name != "architecture_version"}
    assert stage_key("train", unversioned) != stored.parent.name


def test_a_device_keys_model_stages_by_its_type_and_the_cpu_not_at_all(reference_run: ReferenceRun) -> None:
    assert hashing.placement("cpu") == {}
    assert hashing.placement("cuda:1") == hashing.placement("cuda") == {"device": "cuda"}
    assert hashing.placement("mps") == {"device": "mps"}
    for stage in ("train", "evaluate", "simulate", "replay"):
        for stored in (reference_run.run_dir / "stages" / stage).glob("*/inputs.json"):
            assert "device" not in json.loads(stored.read_text())  # CPU keys are what they always were


def test_an_explicit_cpu_device_reuses_every_stage_of_a_default_run(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(reference_run.run_dir, run_dir)
    jobs = [replace(job, device="cpu") for job in tiny_jobs(reference_run.task_file)]
    result = run_benchmark(jobs, run_dir, InProcessExecutor(torch_threads(1)))
    assert result.counts["cached"] == len(jobs) == 2
    assert physics_metrics(run_dir, result.run_id) == physics_metrics(reference_run.run_dir)


def test_reference_potentials_stay_on_the_cpu_whatever_the_device(reference_run: ReferenceRun) -> None:
    jobs = expand_jobs(["mace", "emt"], [load_task(reference_run.task_file)], 1, "dev", device="cuda:0")
    assert {job.model.name: job.device for job in jobs} == {"mace": "cuda:0", "emt": "cpu"}


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


def test_a_worker_waiting_for_another_says_so_and_reuses_its_result(tmp_path: Path) -> None:
    warnings: list[str] = []
    cache = StageCache(tmp_path, warnings.append)
    started, release = threading.Event(), threading.Event()

    def first(folder: Path) -> dict:
        started.set()
        release.wait(10)
        return {"value": 1}

    worker = threading.Thread(target=cache.get_or_compute, args=("train", "k", {}, first))
    worker.start()
    started.wait(10)
    assert warnings == []  # the first worker found the lock free
    waiter = threading.Thread(
        target=lambda: warnings.append(cache.get_or_compute("train", "k", {}, lambda _: {"value": 2}))
    )
    waiter.start()
    for _ in range(100):
        if warnings:
            break
        time.sleep(0.05)
    assert warnings == ["stage train k is being computed by another process or worker: waiting to reuse it"]
    release.set()
    worker.join()
    waiter.join()
    assert warnings[1] == ({"value": 1}, True)


def test_a_failed_computation_leaves_no_result(tmp_path: Path) -> None:
    cache = StageCache(tmp_path)

    def broken(folder: Path) -> dict:
        raise RuntimeError("diverged")

    with pytest.raises(RuntimeError):
        cache.get_or_compute("train", "k", {}, broken)
    assert cache.result("train", "k") is None
    assert cache.get_or_compute("train", "k", {}, lambda folder: {"ok": True}) == ({"ok": True}, False)


def test_a_package_version_changes_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    before = stage_key("train", {"seed": 0})
    versions = {**hashing.package_versions(), "torch": "0.0.1"}
    monkeypatch.setattr(hashing, "package_versions", lambda: versions)
    assert stage_key("train", {"seed": 0}) != before


def _artifact_stage(folder: Path) -> dict:
    (folder / "artifact.txt").write_text("42")
    return {"value": 42}


def _must_read_42(folder: Path, result: dict) -> None:
    if (folder / "artifact.txt").read_text() != str(result["value"]):
        raise DatasetError(f"{folder / 'artifact.txt'}: not what the result says")


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda f: (f / "artifact.txt").write_text("43"), "artifact.txt differs"),
        (lambda f: (f / "artifact.txt").unlink(), "artifact.txt differs"),
        (lambda f: (f / "stray.bin").write_bytes(b"x"), "stray.bin differs"),
        (lambda f: (f / "result.json").write_text('{"value": 4'), "result.json is unreadable"),
        (lambda f: (f / "result.json").write_text("{}"), "records no artifact checksums"),
        (lambda f: (f / "result.json").write_text("[1]"), "records no artifact checksums"),
    ],
    ids=["changed", "missing", "added", "truncated-result", "empty-result", "not-an-object"],
)
def test_a_damaged_stage_is_discarded_recomputed_and_named(
    damage: Callable[[Path], object], reason: str, tmp_path: Path
) -> None:
    warnings: list[str] = []
    cache = StageCache(tmp_path, warnings.append)
    check = StageCheck(("value",), _must_read_42)
    assert cache.get_or_compute("score", "k", {}, _artifact_stage, check) == ({"value": 42}, False)
    folder = tmp_path / "score" / "k"
    os.utime(folder / "artifact.txt", ns=(time.time_ns(), time.time_ns() + 10))  # a new mtime: no memo
    damage(folder)
    assert cache.get_or_compute("score", "k", {}, _artifact_stage, check) == ({"value": 42}, False)
    assert len(warnings) == 1 and str(folder) in warnings[0] and reason in warnings[0], warnings
    assert not (folder / "stray.bin").exists()
    assert cache.get_or_compute("score", "k", {}, _artifact_stage, check) == ({"value": 42}, True)


def test_the_structural_check_and_the_fields_guard_reuse(tmp_path: Path) -> None:
    warnings: list[str] = []
    cache = StageCache(tmp_path, warnings.append)
    cache.get_or_compute("score", "k", {}, _artifact_stage)
    assert cache.result("score", "k", StageCheck(("value", "frames"))) is None  # a field is missing
    assert cache.get_or_compute("score", "k", {}, _artifact_stage, StageCheck(("value",), _must_read_42))[1]
    assert not warnings


def test_corrupt_cached_stages_of_a_run_are_recomputed_with_identical_metrics(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(reference_run.run_dir, run_dir)
    folders = {
        (stage, json.loads((folder / "inputs.json").read_text()).get("model", "")): folder
        for stage in ("train", "evaluate", "simulate")
        for folder in (run_dir / "stages" / stage).iterdir()
    }
    mace_model = next(model for (stage, model) in folders if model.startswith("train:"))
    weights = folders[("train", "")] / "model" / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:1000])  # a truncated model
    (folders[("evaluate", mace_model)] / "result.json").write_text("{}")  # an emptied result
    trajectory = folders[("simulate", "reference:emt")] / "trajectory.h5"
    with h5py.File(trajectory, "a") as file:  # a valid file with other positions
        positions = next(d for d in _datasets(file) if d.name.endswith("position/value"))
        positions[...] = np.random.default_rng(0).uniform(0, 5, positions.shape)

    warnings: list[str] = []
    observer = _Warnings(warnings)
    result = run_benchmark(tiny_jobs(reference_run.task_file), run_dir, InProcessExecutor(1), observer)
    assert sorted(w.split(" ")[2].split("/stages/")[1].split("/")[0] for w in warnings) == [
        "evaluate",
        "simulate",
        "train",
    ], warnings
    statuses = {(r.model, s.stage): s.status for r in result.records for s in r.stages}
    assert statuses[("mace", "train")] == statuses[("mace", "evaluate")] == "done"
    assert statuses[("emt", "simulate")] == "done"
    assert statuses[("mace", "simulate")] == statuses[("emt", "score")] == "cached"
    assert physics_metrics(run_dir) == physics_metrics(reference_run.run_dir)


def _datasets(group: h5py.Group) -> list[h5py.Dataset]:
    found: list[h5py.Dataset] = []
    group.visititems(lambda name, item: found.append(item) if isinstance(item, h5py.Dataset) else None)
    return found


class _Warnings(RunObserver):
    def __init__(self, sink: list[str]) -> None:
        self.sink = sink

    def job_hooks(self, job: JobSpec) -> JobHooks:
        return JobHooks(on_warning=self.sink.append)


BEGUN_WITH = {"torch_kernels": "DEFAULT", "numpy_vector_units": ["X86_V2"]}
# another machine's: more vector units than the attempt that began the stage
CONTINUED_WITH = {"torch_kernels": "AVX2", "numpy_vector_units": ["X86_V2", "X86_V3"]}
RESUMES = StageCheck(resumes=True)


class Interrupted(Exception):
    pass


def _interrupted(folder: Path) -> dict:
    """An attempt that leaves a checkpoint behind and dies."""
    (folder / "checkpoint.pt").write_text("step 5")
    raise Interrupted


def _finishing(folder: Path) -> dict:
    (folder / "checkpoint.pt").write_text("step 10")
    return {"value": 1}


def _interrupted_then_finished(
    root: Path, stage: str, begun: dict[str, Any], continued: dict[str, Any], warnings: list[str]
) -> dict[str, Any]:
    """The result of ``stage`` (key "k") begun with kernels ``begun``, interrupted, and finished with
    ``continued``; the stage cache's warnings go to ``warnings``."""
    with pytest.raises(Interrupted):
        StageCache(root, warnings.append, lambda: begun).get_or_compute(stage, "k", {}, _interrupted, RESUMES)
    result, _ = StageCache(root, warnings.append, lambda: continued).get_or_compute(
        stage, "k", {}, _finishing, RESUMES
    )
    return result


def test_a_resumed_stage_lists_the_kernels_of_every_attempt_and_warns_how_to_pin_them(tmp_path: Path) -> None:
    warnings: list[str] = []
    result = _interrupted_then_finished(tmp_path, "simulate", BEGUN_WITH, CONTINUED_WITH, warnings)
    assert result["attempt_kernels"] == [BEGUN_WITH, CONTINUED_WITH]
    (warning,) = warnings
    assert f"stage {tmp_path / 'simulate' / 'k'} was begun with torch DEFAULT, numpy X86_V2" in warning
    assert "continues with torch AVX2, numpy X86_V2 X86_V3" in warning
    assert 'rerun with ATEN_CPU_CAPABILITY="default" NPY_DISABLE_CPU_FEATURES="X86_V3"' in warning
    # a result stored with them reads back the same, and the bookkeeping file is no artifact
    assert StageCache(tmp_path).result("simulate", "k", RESUMES) == result


@pytest.mark.parametrize(
    ("begun", "continued"),
    [
        ({"torch_kernels": "DEFAULT", "numpy_vector_units": ["NO_SUCH_UNIT"]}, CONTINUED_WITH),
        (
            {**CONTINUED_WITH, "accelerator": "NVIDIA A100 (CUDA 12.8)"},
            {**CONTINUED_WITH, "accelerator": "NVIDIA H200 (CUDA 12.8)"},
        ),
    ],
    ids=["cpu-lacks-the-units", "another-gpu"],
)
def test_kernels_this_machine_cannot_choose_are_named_as_such(
    tmp_path: Path, begun: dict[str, Any], continued: dict[str, Any]
) -> None:
    warnings: list[str] = []
    result = _interrupted_then_finished(tmp_path, "train", begun, continued, warnings)
    assert len(warnings) == 1 and "this machine cannot compute with them" in warnings[0]
    assert result["attempt_kernels"] == [begun, continued]
    assert [AttemptKernels(**kernels).accelerator for kernels in result["attempt_kernels"]] == [
        begun.get("accelerator"),
        continued.get("accelerator"),
    ]


def test_attempts_with_the_same_kernels_or_with_nothing_to_continue_leave_one_entry(tmp_path: Path) -> None:
    warnings: list[str] = []
    same = StageCache(tmp_path, warnings.append, lambda: BEGUN_WITH)
    with pytest.raises(Interrupted):
        same.get_or_compute("simulate", "resumed", {}, _interrupted, RESUMES)
    result, _ = same.get_or_compute("simulate", "resumed", {}, _finishing, RESUMES)
    assert result["attempt_kernels"] == [BEGUN_WITH]

    def dies_early(folder: Path) -> dict:
        raise Interrupted

    with pytest.raises(Interrupted):
        same.get_or_compute("simulate", "fresh", {}, dies_early, RESUMES)
    other = StageCache(tmp_path, warnings.append, lambda: CONTINUED_WITH)
    result, _ = other.get_or_compute("simulate", "fresh", {}, _finishing, RESUMES)
    assert result["attempt_kernels"] == [CONTINUED_WITH]  # nothing of the first attempt went into it
    assert warnings == []
    plain, _ = other.get_or_compute("score", "k", {}, _finishing)
    assert "attempt_kernels" not in plain and not (tmp_path / "score" / "k" / "attempts.json").exists()
    # an attempt recorded before OpenBLAS's core type was, continued by one that records it: no change
    with pytest.raises(Interrupted):
        same.get_or_compute("simulate", "older", {}, _interrupted, RESUMES)
    newer = StageCache(tmp_path, warnings.append, lambda: {**BEGUN_WITH, "blas_core": "Haswell"})
    result, _ = newer.get_or_compute("simulate", "older", {}, _finishing, RESUMES)
    assert result["attempt_kernels"] == [BEGUN_WITH] and warnings == []
