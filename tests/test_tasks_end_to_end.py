"""Every shipped task file runs end to end (fetch, train, evaluate, simulate, score) at test scale on the
offline datasets; a task whose splits are not all in the offline copy must have an `-offline` variant, which
runs instead. Test scale: the smallest MACE trained one epoch on 6 frames, each test system cut to its first
TEST_FRAMES frames (every frame range of the task is checked against the data first), one replica each."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from egraffbench.data import get_dataset_spec
from egraffbench.data.dataset import split_available, split_frame_count
from egraffbench.metrics.accuracy import ERROR_NAMES, error_sums, errors_from_sums
from egraffbench.models.presets import load_preset
from egraffbench.runner.accuracy_summary import structure_arrays
from egraffbench.runner.flatten import job_metrics
from egraffbench.runner.job import run_job
from egraffbench.runner.matrix import JobSpec, ModelChoice
from egraffbench.store.schema import StructureErrorSums
from egraffbench.tasks import ModeOverride, TaskSpec, list_tasks, load_task, run_settings
from egraffbench.tasks.schema import SystemSpec

# one replica per test system, a few steps; the smallest MACE, one epoch on a few frames
TINY_MODE = ModeOverride(
    model_preset="test", replicas=1, md={"steps": 4, "check_every": 2, "checkpoint_every": 2}
)
TINY_TRAINING = {"max_epochs": 1, "max_train_frames": 6, "max_val_frames": 3, "batch_size": 3}
TEST_FRAMES = 12


def _generated(name: str) -> bool:
    """Whether every source of task ``name`` is generated on first use (30–90 s), not read offline."""
    task = load_task(name)
    return all(get_dataset_spec(s.dataset).generator for s in [*task.train, *task.val, *task.test])


GENERATED = [name for name in list_tasks() if _generated(name)]


def _offline(task: TaskSpec, root: Path) -> bool:
    sources = [*task.train, *task.val, *task.test]
    return all(split_available(get_dataset_spec(s.dataset), s.split, root) for s in sources)


def _check_frame_ranges(task: TaskSpec, root: Path) -> None:
    for source in [*task.train, *task.val, *task.test]:
        held = split_frame_count(get_dataset_spec(source.dataset), source.split, root)
        assert source.frames is None or source.frames[1] <= held, f"{source.label}: {held} frames"


def _reference_mode(system: SystemSpec) -> bool:
    spec = get_dataset_spec(system.dataset)
    return spec.oracle is None and bool(spec.test_frame_spacing_fs) and spec.split(system.split).contiguous


def _first_test_frames(task: TaskSpec) -> TaskSpec:
    """``task`` with each test system cut to its first TEST_FRAMES frames."""
    systems = []
    for system in task.test:
        start = system.frames[0] if system.frames else 0
        name = system.system_name
        systems.append(system.model_copy(update={"frames": (start, start + TEST_FRAMES), "name": name}))
    return task.model_copy(update={"test": tuple(systems)})


def _run(task: TaskSpec, root: Path | None, run_dir: Path) -> None:
    config = load_preset("mace", "test")
    config = config.model_copy(update={"training": config.training.model_copy(update=TINY_TRAINING)})
    job = JobSpec(ModelChoice("mace", config, "test"), task, 0, run_settings(task, "dev", TINY_MODE), root)
    record = run_job(job, run_dir)
    assert record.status == "done", record.traceback
    # reference-mode systems (no oracle, a contiguous test trajectory) get their EV/FV replays
    replays = ["replay"] if any(_reference_mode(system) for system in task.test) else []
    stages = ["fetch", "baselines", "train", "evaluate", "simulate", *replays, "score"]
    assert [stage.stage for stage in record.stages] == stages
    names = [system.system_name for system in task.test]
    errors = record.results["test_errors"]
    assert sorted(errors["systems"]) == sorted(names)
    assert all(math.isfinite(errors["systems"][name]["force_mae"]) for name in names)
    assert errors["force_mae"] > 0
    # the stored per-structure sums (7 digits) give back each system's stored errors
    for name in names:
        stored_sums = StructureErrorSums(**errors["structures"][name])
        sums = errors_from_sums(error_sums(structure_arrays(stored_sums)))
        stored = errors["systems"][name]
        assert len(errors["structures"][name]["atoms"]) == TEST_FRAMES
        for metric in ERROR_NAMES:
            assert sums[metric] == pytest.approx(stored[metric], rel=2e-6), (name, metric)
    pooled = {row.name: row for row in job_metrics(record.results) if row.system == ""}
    assert pooled["force_mae"].low <= errors["force_mae"] <= pooled["force_mae"].high
    scores = record.results["scores"]
    assert scores["replicas"] == len(names) and sorted(scores["systems"]) == sorted(names)
    assert record.results["training"]["epochs"] == 1


@pytest.mark.parametrize("name", [name for name in list_tasks() if name not in GENERATED])
def test_every_shipped_task_runs_end_to_end_at_test_scale(
    name: str, shared_datasets: Path, tmp_path: Path
) -> None:
    task = load_task(name)
    if not _offline(task, shared_datasets):
        variant = f"{name}-offline"
        assert variant in list_tasks(), f"{name} needs splits absent offline and has no task {variant}"
        assert _offline(load_task(variant), shared_datasets)
        pytest.skip(f"{name}: its splits are not all in the offline copy; the task {variant} runs instead")
    _check_frame_ranges(task, shared_datasets)
    _run(_first_test_frames(task), shared_datasets, tmp_path / "run")


@pytest.mark.slow  # generates the embedded dataset
@pytest.mark.parametrize("name", GENERATED)
def test_generated_tasks_run_end_to_end_at_test_scale(name: str, data_cache: Path, tmp_path: Path) -> None:
    _run(_first_test_frames(load_task(name)), None, tmp_path / "run")
