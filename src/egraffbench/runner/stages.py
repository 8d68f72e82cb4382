"""The work of each stage of a job (train, evaluate, simulate, score) on loaded inputs; caching and
bookkeeping are the job's (`runner.job`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase import Atoms

from egraffbench.data.reference import reference_energy, reference_forces
from egraffbench.errors import TrajectoryError
from egraffbench.md.engine import SimulationProgress, simulate
from egraffbench.md.protocol import MDProtocol
from egraffbench.md.trajectory import read_header, read_outcomes, read_protocol, read_replica
from egraffbench.metrics.accuracy import energy_force_errors
from egraffbench.metrics.structure import radial_distribution
from egraffbench.models.base import ForceField
from egraffbench.models.graph import batch_from_arrays
from egraffbench.models.presets import ModelConfig
from egraffbench.models.registry import reference_potential
from egraffbench.models.storage import load_force_field
from egraffbench.runner.dynamics_scoring import replica_dynamics, system_reference
from egraffbench.runner.rollout_scoring import (
    ReferenceEnergies,
    ReplicaValues,
    Rollout,
    aggregate_replicas,
    composition_energy,
    structure_values,
    violation_values,
)
from egraffbench.runner.stage_cache import StageCheck
from egraffbench.tasks.sources import SystemConditions
from egraffbench.training import train_force_field
from egraffbench.training.prediction import predict

MODEL_FOLDER = "model"
TRAJECTORY_FILE = "trajectory.h5"


def _model_loads(folder: Path, result: dict[str, Any]) -> None:
    load_force_field(folder / MODEL_FOLDER)


def _finished(path: Path) -> None:
    """The trajectory at ``path`` opens and holds a simulation that ran to its end."""
    if not read_header(path).get("complete"):
        raise TrajectoryError(f"{path}: the simulation it holds did not finish")


def _trajectory_matches(folder: Path, result: dict[str, Any]) -> None:
    """The trajectory opens, is complete, and has the replicas and frames the result says."""
    path = folder / TRAJECTORY_FILE
    _finished(path)
    frames, expected = [o.frames for o in read_outcomes(path).values()], result["frames_per_replica"]
    if frames != expected:
        raise TrajectoryError(f"{path}: frames per replica {frames}, the result says {expected}")


def _replays_complete(folder: Path, result: dict[str, Any]) -> None:
    """Every replay trajectory the result lists opens and holds a finished simulation."""
    for entry in result["systems"].values():
        _finished(folder / entry["file"])


# What a finished stage's result holds and how its artifacts are checked before they are reused.
STAGE_CHECKS: dict[str, StageCheck] = {
    "train": StageCheck(("epochs", "best_epoch", "best_val_loss", "parameters"), _model_loads),
    "evaluate": StageCheck(("frames", "systems")),
    "simulate": StageCheck(("replicas", "frames_per_replica", "atoms", "protocol"), _trajectory_matches),
    "replay": StageCheck(("systems",), _replays_complete),
    "score": StageCheck(("run_length_fs", "metric_groups", "systems", "replica_values")),
}


@dataclass
class SystemData:
    """A test system's frames and conditions."""

    conditions: SystemConditions
    frames: list[Atoms]


def train_stage(
    config: ModelConfig,
    train: Sequence[Atoms],
    val: Sequence[Atoms],
    seed: int,
    folder: Path,
    on_epoch: Callable[[dict], None] | None,
) -> dict[str, Any]:
    """Train into ``folder/model`` (resuming its checkpoint if an earlier attempt was interrupted)."""
    model_folder = folder / MODEL_FOLDER
    resume = (model_folder / "checkpoint.pt").exists()
    result = train_force_field(config, train, val, model_folder, seed=seed, resume=resume, on_epoch=on_epoch)
    return {
        "epochs": result.epochs_run,
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "training_seconds": result.wall_seconds,
        "stopped_because": result.stopped_because,
        "parameters": sum(p.numel() for p in result.model.parameters()),
        "train_frames": len(train),
        "val_frames": len(val),
    }


def evaluate_stage(model: ForceField, systems: Sequence[SystemData]) -> dict[str, Any]:
    """Energy/force errors on every test system and on all of them pooled."""
    energies, forces, references, reference_force_sets = [], [], [], []
    per_system = {}
    for system in systems:
        predicted_energy, predicted_forces = predict(model, system.frames)
        split = np.split(predicted_forces, np.cumsum([len(a) for a in system.frames])[:-1])
        truth_energy = [reference_energy(a) for a in system.frames]
        truth_forces = [reference_forces(a) for a in system.frames]
        per_system[system.conditions.name] = energy_force_errors(
            predicted_energy, truth_energy, split, truth_forces
        )
        energies.extend(predicted_energy)
        forces.extend(split)
        references.extend(truth_energy)
        reference_force_sets.extend(truth_forces)
    pooled = energy_force_errors(energies, references, forces, reference_force_sets)
    return {**pooled, "frames": len(energies), "systems": per_system}


@dataclass(frozen=True)
class ReplicaPlan:
    """Which test system each MD replica belongs to, and its start frame index there."""

    system: str
    frame: int


def replica_plan(systems: Sequence[SystemData], replicas: int) -> list[ReplicaPlan]:
    """``replicas`` replicas per system from its first frames (fewer if it has fewer frames)."""
    return [
        ReplicaPlan(system.conditions.name, frame)
        for system in systems
        for frame in range(min(replicas, len(system.frames)))
    ]


def simulate_stage(
    model: ForceField,
    model_name: str,
    systems: Sequence[SystemData],
    replicas: int,
    protocol: MDProtocol,
    folder: Path,
    on_md: Callable[[SimulationProgress], None] | None,
) -> dict[str, Any]:
    """All replicas of all test systems in one batched MD run (resumed from its checkpoint if interrupted)."""
    by_name = {system.conditions.name: system for system in systems}
    plan = replica_plan(systems, replicas)
    starts = [by_name[p.system].frames[p.frame] for p in plan]
    temperatures = [by_name[p.system].conditions.temperature_K for p in plan]
    reference_rdfs = {}
    for system in systems:
        if system.conditions.periodic:
            rdf = radial_distribution(
                np.array([a.positions for a in system.frames]),
                np.array([a.cell.array for a in system.frames]),
            )
            reference_rdfs.update({i: rdf for i, p in enumerate(plan) if p.system == system.conditions.name})
    started = time.perf_counter()
    outcome = simulate(
        model,
        starts,
        protocol.model_copy(update={"temperature_K": temperatures[0]}),
        folder / TRAJECTORY_FILE,
        temperatures_K=temperatures,
        reference_rdfs=reference_rdfs,
        model_name=model_name,
        callback=on_md,
    )
    atoms = sum(len(a) for a in starts)
    return {
        "steps_per_s": outcome.steps_per_s,
        "us_per_atom_step": 1e6 / (outcome.steps_per_s * atoms) if outcome.steps_per_s else None,
        "md_seconds": time.perf_counter() - started,
        "resumed_from_step": outcome.resumed_from,
        "replicas": [
            {"system": p.system, "frame": p.frame, "temperature_K": t}
            for p, t in zip(plan, temperatures, strict=True)
        ],
        "frames_per_replica": [o.frames for o in sorted(outcome.replicas, key=lambda o: o.replica)],
        "atoms": atoms,
        "protocol": protocol.model_dump(mode="json"),
    }


def read_rollout(trajectory: Path, replica: int) -> Rollout:
    frames = read_replica(trajectory, replica)
    periodic = bool(np.all(frames.pbc))
    return Rollout(
        positions=frames.positions,
        cells=frames.cell if periodic else np.zeros_like(frames.cell),
        numbers=frames.atomic_numbers,
        times_fs=frames.time_fs,
        energies=frames.energy,
        forces=frames.forces,
        failure_time_fs=frames.outcome.failure_time_fs,
        failure_reason=frames.outcome.failure_reason,
    )


def oracle_reference(oracle: ForceField, rollout: Rollout) -> ReferenceEnergies:
    """The oracle's energy and forces on every simulated frame (EV/FV reference (a) of docs/metrics.md)."""
    frames = len(rollout.positions)
    if not frames:
        return ReferenceEnergies(np.zeros(0), np.zeros((0, len(rollout.numbers), 3)))
    periodic = bool(rollout.cells.any())
    batch = batch_from_arrays(
        list(rollout.positions),
        [rollout.numbers] * frames,
        list(rollout.cells),
        [np.full(3, periodic)] * frames,
        cutoff=oracle.cutoff,
        dtype=torch.float64,
    )
    output = oracle(batch)
    return ReferenceEnergies(
        output["energy"].detach().numpy(), output["forces"].detach().numpy().reshape(frames, -1, 3)
    )


def trajectory_reference(
    rollout: Rollout, test: Sequence[Atoms], start: int, spacing_fs: float
) -> tuple[Rollout, ReferenceEnergies] | None:
    """Reference frames at the same simulated time (EV/FV reference (b)); the rollout trimmed to the frames
    the reference trajectory covers. None if the MD time grid misses the reference frames."""
    offsets = rollout.times_fs / spacing_fs
    if not np.allclose(offsets, np.round(offsets), atol=1e-6):
        return None
    index = start + np.round(offsets).astype(int)
    usable = index < len(test)
    trimmed = Rollout(
        positions=rollout.positions[usable],
        cells=rollout.cells[usable],
        numbers=rollout.numbers,
        times_fs=rollout.times_fs[usable],
        energies=rollout.energies[usable],
        forces=rollout.forces[usable],
        failure_time_fs=rollout.failure_time_fs,
        failure_reason=rollout.failure_reason,
    )
    energies = np.array([reference_energy(test[i]) for i in index[usable]])
    forces = np.array([reference_forces(test[i]) for i in index[usable]]).reshape(-1, len(rollout.numbers), 3)
    return trimmed, ReferenceEnergies(energies, forces)


def replica_values(
    trajectory: Path,
    replicas: Sequence[dict[str, Any]],
    systems: Sequence[SystemData],
    groups: Sequence[str],
    element_energies: dict[int, float],
) -> list[ReplicaValues]:
    """Per-replica values of a finished simulation; ``replicas`` is the simulate stage's replica list. EV/FV
    here only against an oracle (reference-mode systems are scored on replays, `runner.replay`); EV on
    energies relative to ``element_energies`` (E0 of the training split)."""
    by_name = {system.conditions.name: system for system in systems}
    rollouts = [read_rollout(trajectory, index) for index in range(len(replicas))]
    ensemble = read_protocol(trajectory)["ensemble"]
    values = [
        ReplicaValues(entry["system"], rollout.failure_time_fs, rollout.failure_reason)
        for entry, rollout in zip(replicas, rollouts, strict=True)
    ]
    for name, system in by_name.items():
        members = [i for i, entry in enumerate(replicas) if entry["system"] == name]
        conditions = system.conditions
        if "structure" in groups:
            positions = np.array([a.positions for a in system.frames])
            cells = np.array([a.cell.array for a in system.frames])
            scored = structure_values([rollouts[i] for i in members], positions, cells, conditions.periodic)
            for i, (wf, jsd, variants) in zip(members, scored, strict=True):
                values[i].wf_percent, values[i].jsd, values[i].sensitivity = wf, jsd, variants
        if "dynamics" in groups:
            reference = system_reference(system.frames, conditions.frame_spacing_fs, conditions.periodic)
            for i in members:
                for key, value in replica_dynamics(read_replica(trajectory, i), reference, ensemble).items():
                    setattr(values[i], key, value)
        if "violation" not in groups or not conditions.oracle:
            continue
        oracle = reference_potential(conditions.oracle)
        for i in members:
            offset = composition_energy(rollouts[i].numbers, element_energies)
            found = violation_values(rollouts[i], oracle_reference(oracle, rollouts[i]), offset)
            if found:
                for key, value in found.items():
                    setattr(values[i], key, value)
                values[i].violation_reference = "oracle"
    return values


def score_stage(
    trajectory: Path,
    md_result: dict[str, Any],
    systems: Sequence[SystemData],
    run_length_fs: float,
    seed: int,
    groups: Sequence[str],
    element_energies: dict[int, float],
    replays: Sequence[ReplicaValues] = (),
    horizon_fs: float | None = None,
) -> dict[str, Any]:
    """Scores of all replicas pooled and of each test system, plus every replica's values; ``replays`` are
    the reference-mode EV/FV replays' values (segment "replay"). Structure uses the recorded frames
    (``run_length_fs``); stability censors time to failure at ``horizon_fs`` (the stability horizon; default
    the run length)."""
    horizon_fs = horizon_fs or run_length_fs
    values = [*replica_values(trajectory, md_result["replicas"], systems, groups, element_energies), *replays]
    per_system = {
        system.conditions.name: aggregate_replicas(
            [v for v in values if v.system == system.conditions.name], horizon_fs, seed, groups
        )
        for system in systems
    }
    return {
        **aggregate_replicas(values, horizon_fs, seed, groups),
        "run_length_fs": run_length_fs,
        "stability_horizon_fs": horizon_fs,
        "metric_groups": list(groups),
        "element_energies": {str(z): e for z, e in element_energies.items()},
        "systems": per_system,
        "replica_values": [v.to_json() for v in values],
    }
