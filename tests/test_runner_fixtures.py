"""Tiny EMT-labelled Cu–Au data, a task file over it, and one in-process reference run of a small matrix,
shared by the runner tests (and checked here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

from egraffbench.runner.benchmark import RunResult, run_benchmark
from egraffbench.runner.executors import InProcessExecutor
from egraffbench.runner.matrix import JobSpec, expand_jobs
from egraffbench.store.database import ResultsStore
from egraffbench.tasks import ModeOverride, load_task
from summation_order import torch_threads

TINY_MODE = ModeOverride(model_preset="test", replicas=2, md={"steps": 20, "checkpoint_every": 5})
MODELS = ["mace", "emt"]
TEST_FRAMES = 24
TIMING_METRICS = {
    "steps_per_s",
    "us_per_atom_step",
    "live_steps_per_s",
    "us_per_live_atom_step",
    "training_seconds",
}


def _labelled(atoms):
    atoms.calc = EMT()
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    labelled = atoms.copy()
    labelled.calc = SinglePointCalculator(labelled, energy=energy, forces=forces)
    return labelled


def _alloy(rng: np.random.Generator):
    atoms = bulk("Cu", "fcc", a=3.7, cubic=True).repeat((2, 2, 2))
    atoms.numbers[rng.choice(len(atoms), size=8, replace=False)] = 79
    return atoms


def rattled(count: int, seed: int) -> list:
    """``count`` 32-atom Cu24Au8 cells rattled by 0.08 Å, labelled by EMT."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        atoms = _alloy(rng)
        atoms.positions += rng.normal(scale=0.08, size=atoms.positions.shape)
        frames.append(_labelled(atoms))
    return frames


def trajectory(frames: int, temperature_K: float, seed: int) -> list:
    """A contiguous, equilibrated EMT Langevin trajectory, one frame per 1 fs step (the test split)."""
    atoms = _alloy(np.random.default_rng(seed))
    atoms.calc = EMT()
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=np.random.default_rng(seed))
    rng = np.random.default_rng(seed)
    dynamics = Langevin(atoms, 1.0 * units.fs, temperature_K=temperature_K, friction=0.01, rng=rng)
    dynamics.run(200)  # equilibrate first: the test frames are a reference g(r) for the stability watch
    recorded = []
    for _ in range(frames):
        recorded.append(_labelled(atoms.copy()))
        dynamics.run(1)
    return recorded


TASK_YAML = """name: {name}
version: 1
kind: in-distribution
description: "tiny Cu-Au test task"
train:
  - {{file: data/train.extxyz, format: extxyz}}
val:
  - {{file: data/val.extxyz, format: extxyz}}
test:
  - {{file: data/test.extxyz, format: extxyz, name: cuau, temperature_K: 600.0, oracle: emt,
      frame_spacing_fs: 1.0}}
"""


def write_tiny_task(folder: Path, name: str = "tiny-cuau", test_frames: int = TEST_FRAMES) -> Path:
    """Data files and a task file over them in ``folder``; returns the task file."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    ase.io.write(data / "train.extxyz", rattled(8, seed=1))
    ase.io.write(data / "val.extxyz", rattled(4, seed=2))
    ase.io.write(data / "test.extxyz", trajectory(test_frames, 600.0, seed=3))
    path = folder / f"{name}.yaml"
    path.write_text(TASK_YAML.format(name=name))
    return path


def tiny_jobs(task_file: Path, models: list[str] = MODELS, seeds: int = 1) -> list[JobSpec]:
    return expand_jobs(models, [load_task(task_file)], seeds, "dev", TINY_MODE)


def physics_metrics(run_dir: Path, run_id: str | None = None) -> dict[tuple, tuple]:
    """Stored metrics of a run, timings left out: (job, system, name) → (value, low, high)."""
    with ResultsStore.open_existing(run_dir) as store:
        rows = store.metrics(run_id or store.latest_run(), system=None)
    return {
        (r["job_id"], r["system"], r["name"]): (r["value"], r["low"], r["high"])
        for r in rows
        if r["name"] not in TIMING_METRICS
    }


@dataclass
class ReferenceRun:
    task_file: Path
    run_dir: Path
    result: RunResult


_REFERENCE: list[ReferenceRun] = []


def shared_reference_run(tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    """One uninterrupted in-process run (1 torch thread, or $EGRAFFBENCH_TEST_THREADS) of mace (test preset)
    and emt on the tiny task, made once per test session (test modules wrap it in a fixture)."""
    if not _REFERENCE:
        folder = tmp_path_factory.mktemp("reference")
        task_file = write_tiny_task(folder)
        run_dir = folder / "run"
        result = run_benchmark(tiny_jobs(task_file), run_dir, InProcessExecutor(torch_threads(1)))
        _REFERENCE.append(ReferenceRun(task_file, run_dir, result))
    return _REFERENCE[0]


@pytest.fixture
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    return shared_reference_run(tmp_path_factory)


def test_tiny_test_split_is_a_contiguous_emt_trajectory(tmp_path: Path) -> None:
    task_file = write_tiny_task(tmp_path, test_frames=12)
    frames = ase.io.read(task_file.parent / "data" / "test.extxyz", ":")
    assert len(frames) == 12
    steps = np.linalg.norm(np.diff([f.positions for f in frames], axis=0), axis=2).max(axis=1)
    assert steps.max() < 0.1  # Å per 1 fs step: consecutive frames of one trajectory
    check = frames[7].copy()
    check.calc = EMT()
    stored = frames[7].get_potential_energy()  # extxyz keeps about 8 significant digits
    assert check.get_potential_energy() == pytest.approx(stored, abs=1e-6)


def test_reference_run_scores_the_oracle_exact_and_a_tiny_model_not(reference_run: ReferenceRun) -> None:
    metrics = physics_metrics(reference_run.run_dir)
    emt, mace = "emt/tiny-cuau/seed0", "mace/tiny-cuau/seed0"
    # EMT simulated and scored by EMT: violations at float32 round-off, test errors at extxyz round-off
    assert metrics[(emt, "", "ev")][0] < 1e-6 and metrics[(emt, "", "fv")][0] < 1e-6
    assert metrics[(emt, "", "force_mae")][0] < 1e-4
    # two epochs of a 4-channel MACE on 8 frames: far from the oracle
    assert metrics[(mace, "", "fv")][0] > 100 * metrics[(emt, "", "fv")][0]
    assert metrics[(mace, "", "force_mae")][0] > 0.05
    for job in (emt, mace):
        assert metrics[(job, "", "stable_fraction")][0] == 1.0
        assert metrics[(job, "", "median_time_to_failure_ps")][0] == pytest.approx(0.020)  # censored at 20 fs
        value, low, high = metrics[(job, "", "wf_percent")]
        assert low <= value <= high and value > 0
        assert metrics[(job, "cuau", "wf_percent")] == metrics[(job, "", "wf_percent")]  # one test system
