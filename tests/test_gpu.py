"""The GPU path: batches built on a CUDA device, MD, training and a benchmark run there agree with the CPU.

CI has no GPU, so these tests skip there; they run wherever torch sees a CUDA device (a device session runs
them with `python -m pytest tests/test_gpu.py`). Random numbers come from a per-device generator, so the
trajectories are compared in NVE from given momenta, where only rounding separates the two devices.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

from egraffbench.md import MDProtocol, read_replica, simulate
from egraffbench.metrics.structure import radial_distribution
from egraffbench.models.graph import batch_from_atoms
from egraffbench.models.presets import load_preset
from egraffbench.models.storage import load_force_field
from egraffbench.runner.benchmark import run_benchmark
from egraffbench.runner.executors import InProcessExecutor
from egraffbench.runner.matrix import expand_jobs
from egraffbench.tasks import load_task
from egraffbench.training import train_force_field
from egraffbench.training.prediction import predict
from test_md_support import LennardJones, argon_crystal
from test_runner_fixtures import (
    MODELS,
    TINY_MODE,
    ReferenceRun,
    physics_metrics,
    rattled,
    shared_reference_run,
)

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device: the GPU path is checked where torch sees one"
)

NVE = MDProtocol(
    ensemble="nve",
    temperature_K=80.0,
    timestep_fs=2.0,
    steps=60,
    dtype="float64",
    checkpoint_every=20,
    seed=3,
)


class Crash(Exception):
    pass


def on_gpu(frames: list[Atoms], out_path: Path, **options):
    """NVE of the Lennard-Jones argon crystals on the GPU, with their starting g(r) as references."""
    return simulate(
        LennardJones(), frames, NVE, out_path, reference_rdfs=reference_rdfs(frames), device="cuda", **options
    )


def structures() -> list[Atoms]:
    """Three rattled argon crystals with Maxwell-Boltzmann momenta drawn here: a run draws missing momenta
    from its device's generator (another stream on CUDA than on the CPU)."""
    frames = [argon_crystal(2, seed=seed) for seed in range(3)]
    for seed, atoms in enumerate(frames):
        MaxwellBoltzmannDistribution(atoms, temperature_K=NVE.temperature_K, rng=np.random.default_rng(seed))
    return frames


def reference_rdfs(frames: list[Atoms]) -> dict:
    """Each replica's starting g(r) as its reference, so the watch keeps (and checkpoints) its windows."""
    return {
        replica: radial_distribution(atoms.positions[None], atoms.cell.array[None])
        for replica, atoms in enumerate(frames)
    }


def same_to_rounding(trajectory: Path, expected: Path) -> None:
    """Every replica's steps exactly, its positions, velocities, forces and energies within 1e-9 of each
    quantity's scale: rounding (~1e-16 of the scale per step) cannot reach that in 60 steps, while a wrong
    force, a lost periodic image or a mixed-up replica changes them at order 1."""
    for replica in range(len(structures())):
        found, wanted = read_replica(trajectory, replica), read_replica(expected, replica)
        np.testing.assert_array_equal(found.step, wanted.step)
        for name in ("positions", "velocities", "forces", "energy"):
            scale = np.abs(getattr(wanted, name)).max()
            np.testing.assert_allclose(
                getattr(found, name), getattr(wanted, name), rtol=0, atol=1e-9 * scale, err_msg=name
            )


def test_a_batch_built_on_the_gpu_is_the_cpu_batch() -> None:
    frames = [*structures(), Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])]
    cpu = batch_from_atoms(frames, 4.0, dtype=torch.float64)
    gpu = batch_from_atoms(frames, 4.0, dtype=torch.float64, device="cuda")
    for name in ("positions", "atomic_numbers", "cell", "pbc", "system_index", "edge_index", "unit_shifts"):
        assert getattr(gpu, name).device.type == "cuda", name
        torch.testing.assert_close(getattr(gpu, name).cpu(), getattr(cpu, name), rtol=0, atol=0)


def test_nve_on_the_gpu_follows_the_cpu_trajectory(tmp_path: Path) -> None:
    frames = structures()
    simulate(LennardJones(), frames, NVE, tmp_path / "cpu.h5", reference_rdfs=reference_rdfs(frames))
    result = on_gpu(frames, tmp_path / "gpu.h5")
    assert [o.status for o in result.replicas] == ["completed"] * 3
    same_to_rounding(tmp_path / "gpu.h5", tmp_path / "cpu.h5")


def test_a_gpu_run_killed_after_a_checkpoint_resumes_to_the_same_frames(tmp_path: Path) -> None:
    frames = structures()
    on_gpu(frames, tmp_path / "straight.h5")

    def crash(progress) -> None:  # after the checkpoint of step 40
        if progress.step == 47:
            raise Crash

    with pytest.raises(Crash):
        on_gpu(frames, tmp_path / "resumed.h5", callback=crash)
    result = on_gpu(frames, tmp_path / "resumed.h5")
    assert result.resumed_from == 40 and result.steps_run == 20
    # CUDA's atomic adds sum in no fixed order: the two runs agree to rounding, not bit for bit
    same_to_rounding(tmp_path / "resumed.h5", tmp_path / "straight.h5")


def test_training_on_the_gpu_follows_the_cpu_training_and_saves_weights_the_cpu_loads(tmp_path: Path) -> None:
    config = load_preset("mace", "test")
    config = config.model_copy(update={"training": config.training.model_copy(update={"max_epochs": 2})})
    train, val = rattled(8, seed=1), rattled(4, seed=2)
    cpu = train_force_field(config, train, val, tmp_path / "cpu", seed=0)
    gpu = train_force_field(config, train, val, tmp_path / "gpu", seed=0, device="cuda")
    assert next(gpu.model.parameters()).device.type == "cuda"
    on_cpu = load_force_field(tmp_path / "gpu")  # CPU tensors in the file: loads on a machine without a GPU
    assert next(on_cpu.parameters()).device.type == "cpu"
    # the same initial weights and batches: two epochs apart only by rounding (a lost batch, a wrong device
    # for the targets or another initialisation moves them at order 1)
    np.testing.assert_allclose(gpu.best_val_loss, cpu.best_val_loss, rtol=1e-2)
    _, forces_gpu = predict(gpu.model, val)
    _, forces_cpu = predict(on_cpu, val)
    np.testing.assert_allclose(forces_gpu, forces_cpu, rtol=0, atol=1e-5 * np.abs(forces_cpu).max())


@pytest.fixture
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    return shared_reference_run(tmp_path_factory)


def test_a_benchmark_run_on_the_gpu_is_cached_apart_and_agrees_with_the_cpu(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(reference_run.run_dir, run_dir)
    jobs = expand_jobs(MODELS, [load_task(reference_run.task_file)], 1, "dev", TINY_MODE, device="cuda")
    assert [job.device for job in jobs] == ["cuda", "cpu"]  # mace on the GPU, emt (a reference) on the CPU
    result = run_benchmark(jobs, run_dir, InProcessExecutor())
    assert result.counts["cached"] == 1  # emt's stages are the CPU run's; mace's are keyed by the device
    for stored in (run_dir / "stages" / "train").glob("*/inputs.json"):
        assert json.loads(stored.read_text()).get("device") in (None, "cuda")
    gpu, cpu = physics_metrics(run_dir, result.run_id), physics_metrics(reference_run.run_dir)
    assert gpu.keys() == cpu.keys()
    mae = ("mace/tiny-cuau/seed0", "", "force_mae")
    np.testing.assert_allclose(gpu[mae][0], cpu[mae][0], rtol=1e-2)
