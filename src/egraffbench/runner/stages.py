"""The work of each stage of a job (train, evaluate, simulate, score) on loaded inputs; caching and
bookkeeping are the job's (`runner.job`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase import Atoms

from egraffbench.data.reference import reference_energy, reference_forces
from egraffbench.errors import TrajectoryError
from egraffbench.fileio import atomic_write_text
from egraffbench.md.engine import SimulationProgress, simulate
from egraffbench.md.protocol import MDProtocol
from egraffbench.md.trajectory import read_header, read_outcomes, read_protocol, read_replica
from egraffbench.metrics.accuracy import energy_force_errors, structure_errors
from egraffbench.metrics.structure import radial_distribution
from egraffbench.models.base import ForceField
from egraffbench.models.graph import batch_from_arrays
from egraffbench.models.presets import ModelConfig
from egraffbench.models.registry import reference_potential
from egraffbench.models.storage import load_force_field
from egraffbench.runner.accuracy_summary import stored_structure_errors
from egraffbench.runner.baselines import composition_energies
from egraffbench.runner.cost import CARRIED, CARRIED_CPU
from egraffbench.runner.diffusion_scoring import DiffusionReference, diffusion_reference, replica_diffusivity
from egraffbench.runner.dynamics_scoring import replica_dynamics, system_reference
from egraffbench.runner.rollout_scoring import (
    ReferenceEnergies,
    Rollout,
    ScoredSegment,
    aggregate_replicas,
    composition_energy,
    evenly,
    structure_values,
    violation_trace,
    violation_values,
)
from egraffbench.runner.stage_cache import StageCheck
from egraffbench.store.schema import (
    Diffusivity,
    Parity,
    ReplicaStart,
    ReplicaValues,
    ScoreSeries,
    SimulateResult,
)
from egraffbench.tasks.systems import SystemData
from egraffbench.training import train_force_field
from egraffbench.training.prediction import predict

MODEL_FOLDER = "model"
TRAJECTORY_FILE = "trajectory.h5"
PARITY_FILE = "parity.json"  # evaluate stage: parity arrays of the report
SERIES_FILE = "series.json"  # score stage: structure curves, EV/FV series and diffusivities of the report
MAX_PARITY_FRAMES = 50  # test frames (evenly spaced over all test systems) in the parity arrays


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


def _replay_files(folder: Path, result: dict[str, Any]) -> list[Path]:
    return [folder / entry["file"] for entry in result["systems"].values()]


def _replays_complete(folder: Path, result: dict[str, Any]) -> None:
    """Every replay trajectory the result lists opens and holds a finished simulation."""
    for path in _replay_files(folder, result):
        _finished(path)


# The MD trajectories a finished stage's result stands on, by stage.
STAGE_TRAJECTORIES: dict[str, Callable[[Path, dict[str, Any]], list[Path]]] = {
    "simulate": lambda folder, result: [folder / TRAJECTORY_FILE],
    "replay": _replay_files,
}


# What a finished stage's result holds and how its artifacts are checked before they are reused.
STAGE_CHECKS: dict[str, StageCheck] = {
    "train": StageCheck(("epochs", "best_epoch", "best_val_loss", "parameters"), _model_loads, resumes=True),
    "baselines": StageCheck(("energy_mae_per_atom", "force_mae", "element_energies")),
    "evaluate": StageCheck(("frames", "systems")),
    "simulate": StageCheck(
        ("replicas", "frames_per_replica", "atoms", "protocol"), _trajectory_matches, resumes=True
    ),
    "replay": StageCheck(("systems",), _replays_complete, resumes=True),
    "score": StageCheck(("run_length_fs", "metric_groups", "systems", "replica_values")),
}


def train_stage(
    config: ModelConfig,
    train: Sequence[Atoms],
    val: Sequence[Atoms],
    seed: int,
    folder: Path,
    on_epoch: Callable[[dict], None] | None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Train on ``device`` into ``folder/model`` (resuming its checkpoint if an earlier attempt was
    interrupted)."""
    model_folder = folder / MODEL_FOLDER
    resume = (model_folder / "checkpoint.pt").exists()
    result = train_force_field(
        config, train, val, model_folder, seed=seed, resume=resume, on_epoch=on_epoch, device=device
    )
    return {
        "epochs": result.epochs_run,
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "training_seconds": result.wall_seconds,
        "stopped_because": result.stopped_because,
        "parameters": sum(p.numel() for p in result.model.parameters()),
        "train_frames": result.train_frames,
        "val_frames": result.val_frames,
        "train_split_frames": len(train),
        "val_split_frames": len(val),
        CARRIED: result.resumed_seconds,
        CARRIED_CPU: result.resumed_cpu_seconds,
    }


def evaluate_stage(
    model: ForceField, systems: Sequence[SystemData], element_energies: dict[int, float], folder: Path
) -> dict[str, Any]:
    """Energy/force errors on every test system and on all of them pooled, with per test system the
    per-structure sums their intervals resample; the parity arrays of at most MAX_PARITY_FRAMES test frames
    (energies per atom relative to the composition energy of ``element_energies``, the task's E0) are
    written to ``folder/parity.json``."""
    energies, forces, references, reference_force_sets, frames = [], [], [], [], []
    per_system, structures = {}, {}
    for system in systems:
        predicted_energy, predicted_forces = predict(model, system.frames)
        split = np.split(predicted_forces, np.cumsum([len(a) for a in system.frames])[:-1])
        truth_energy = [reference_energy(a) for a in system.frames]
        truth_forces = [reference_forces(a) for a in system.frames]
        per_system[system.conditions.name] = energy_force_errors(
            predicted_energy, truth_energy, split, truth_forces
        )
        structures[system.conditions.name] = stored_structure_errors(
            structure_errors(predicted_energy, truth_energy, split, truth_forces)
        )
        energies.extend(predicted_energy)
        forces.extend(split)
        references.extend(truth_energy)
        reference_force_sets.extend(truth_forces)
        frames.extend(system.frames)
    pooled = energy_force_errors(energies, references, forces, reference_force_sets)
    chosen = evenly(len(frames), MAX_PARITY_FRAMES)
    subset = [frames[i] for i in chosen]
    offset = composition_energies(subset, element_energies)
    atoms = np.array([len(a) for a in subset], dtype=float)
    parity = Parity(
        frames=len(chosen),
        element_energies={str(z): e for z, e in element_energies.items()},
        energy_reference=((np.array(references)[chosen] - offset) / atoms).tolist(),
        energy_predicted=((np.array(energies)[chosen] - offset) / atoms).tolist(),
        force_reference=np.concatenate([reference_force_sets[i].ravel() for i in chosen]).tolist(),
        force_predicted=np.concatenate([forces[i].ravel() for i in chosen]).tolist(),
    )
    atomic_write_text(folder / PARITY_FILE, parity.model_dump_json())
    return {**pooled, "frames": len(energies), "systems": per_system, "structures": structures}


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
    device: str = "cpu",
) -> dict[str, Any]:
    """All replicas of all test systems in one batched MD run on ``device`` (resumed from its checkpoint if
    interrupted)."""
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
    started = time.perf_counter()  # md_seconds: this attempt's, plus earlier attempts' the checkpoint carried
    outcome = simulate(
        model,
        starts,
        protocol.model_copy(update={"temperature_K": temperatures[0]}),
        folder / TRAJECTORY_FILE,
        temperatures_K=temperatures,
        reference_rdfs=reference_rdfs,
        model_name=model_name,
        callback=on_md,
        device=device,
    )
    atoms = sum(len(a) for a in starts)
    return {
        "steps_per_s": outcome.steps_per_s,
        "us_per_atom_step": 1e6 / (outcome.steps_per_s * atoms) if outcome.steps_per_s else None,
        "md_seconds": time.perf_counter() - started + outcome.resumed_wall_s,
        CARRIED: outcome.resumed_wall_s,
        CARRIED_CPU: outcome.resumed_cpu_s,
        "resumed_from_step": outcome.resumed_from,
        "replicas": [
            ReplicaStart(system=p.system, frame=p.frame, temperature_K=t, atoms=len(a)).model_dump()
            for p, t, a in zip(plan, temperatures, starts, strict=True)
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
    replicas: Sequence[ReplicaStart],
    systems: Sequence[SystemData],
    groups: Sequence[str],
    element_energies: dict[int, float],
    run_length_fs: float,
) -> tuple[list[ReplicaValues], ScoreSeries]:
    """Per-replica values of a finished simulation; ``replicas`` is the simulate stage's replica list. EV/FV
    here only against an oracle (reference-mode systems are scored on replays, `runner.replay`); EV on
    energies relative to ``element_energies`` (E0 of the training split). With them, what the report draws:
    structure curves per system, EV/FV per frame of the replicas scored against an oracle, diffusivities."""
    by_name = {system.conditions.name: system for system in systems}
    rollouts = [read_rollout(trajectory, index) for index in range(len(replicas))]
    ensemble = read_protocol(trajectory)["ensemble"]
    values = [
        ReplicaValues(
            system=entry.system,
            failure_time_fs=rollout.failure_time_fs,
            failure_reason=rollout.failure_reason,
        )
        for entry, rollout in zip(replicas, rollouts, strict=True)
    ]
    series = ScoreSeries()
    oracles: dict[str, ForceField] = {}
    for name, system in by_name.items():
        members = [i for i, entry in enumerate(replicas) if entry.system == name]
        conditions = system.conditions
        if "structure" in groups:
            positions = np.array([a.positions for a in system.frames])
            cells = np.array([a.cell.array for a in system.frames])
            scored, curve = structure_values(
                [rollouts[i] for i in members], positions, cells, conditions.periodic, name
            )
            series.structures.append(curve)
            for i, (wf, jsd, variants) in zip(members, scored, strict=True):
                values[i].wf_percent, values[i].jsd, values[i].sensitivity = wf, jsd, variants
        if "dynamics" in groups:
            reference = system_reference(system.frames, conditions.frame_spacing_fs, conditions.periodic)
            for i in members:
                for key, value in replica_dynamics(read_replica(trajectory, i), reference, ensemble).items():
                    setattr(values[i], key, value)
        diffusion = diffusion_reference(
            name, system.frames, conditions.periodic, conditions.frame_spacing_fs, run_length_fs
        )
        if diffusion is not None:
            series.diffusion.append(_diffusivities(diffusion, [rollouts[i] for i in members]))
            for i, found in zip(members, series.diffusion[-1].replicas, strict=True):
                values[i].diffusivity_error = None if found is None else abs(found - diffusion.reference)
        if "violation" in groups and conditions.oracle:
            for i in members:
                _score_on_oracle(values[i], rollouts[i], system, element_energies, oracles, series)
    return values, series


def _score_on_oracle(
    value: ReplicaValues,
    rollout: Rollout,
    system: SystemData,
    element_energies: dict[int, float],
    oracles: dict[str, ForceField],
    series: ScoreSeries,
) -> None:
    """EV/FV of a production replica against its system's oracle on every simulated frame (reference (a) of
    docs/metrics.md, energies relative to E0) into ``value``, and its per-frame trace into ``series``."""
    name = system.conditions.oracle
    if name not in oracles:
        oracles[name] = reference_potential(name)
    reference = oracle_reference(oracles[name], rollout)
    offset = composition_energy(rollout.numbers, element_energies)
    trace = violation_trace(rollout, reference, offset, system.conditions.name, "oracle", "production")
    if trace is None:  # no frame with finite energy and forces
        return
    for key, item in violation_values(rollout, reference, offset).items():
        setattr(value, key, item)
    value.violation_reference = "oracle"
    series.violations.append(trace)


def _diffusivities(reference: DiffusionReference, rollouts: Sequence[Rollout]) -> Diffusivity:
    """D of the reference and of every replica that stayed stable (None for the others)."""
    found = [
        None
        if rollout.failure_time_fs is not None
        else replica_diffusivity(
            reference, rollout.positions, rollout.cells, rollout.numbers, rollout.times_fs
        )
        for rollout in rollouts
    ]
    return Diffusivity(
        system=reference.system,
        element=reference.element,
        reference=reference.reference,
        window_fs=reference.window_fs,
        replicas=found,
    )


def score_stage(
    trajectory: Path,
    md_result: SimulateResult,
    systems: Sequence[SystemData],
    run_length_fs: float,
    seed: int,
    groups: Sequence[str],
    element_energies: dict[int, float],
    folder: Path,
    replays: ScoredSegment | None = None,
    horizon_fs: float | None = None,
) -> dict[str, Any]:
    """Scores of all replicas pooled and of each test system, plus every replica's values; ``replays`` are
    the reference-mode EV/FV replays' values (segment "replay") and traces. Structure uses the recorded
    frames (``run_length_fs``); stability censors time to failure at ``horizon_fs`` (the stability horizon;
    default the run length). The report's series go to ``folder/series.json``."""
    horizon_fs = horizon_fs or run_length_fs
    production, series = replica_values(
        trajectory, md_result.replicas, systems, groups, element_energies, run_length_fs
    )
    replays = replays or ScoredSegment()
    values = [*production, *replays.values]
    series.violations += replays.traces
    atomic_write_text(folder / SERIES_FILE, series.model_dump_json())
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
        "replica_values": [asdict(v) for v in values],
    }
