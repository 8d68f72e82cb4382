"""One benchmark job — (model, dataset, seed, MD protocol) — run stage by stage: train → evaluate →
simulate → score. Each stage writes its result file atomically; a rerun skips stages whose file exists and
the MD stage resumes from its own checkpoint, so an interrupted job redoes no finished work."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase import Atoms

from egraffbench.data import get_dataset_spec, load_dataset
from egraffbench.data.registry import DatasetSpec
from egraffbench.fileio import atomic_write_json
from egraffbench.md.engine import SimulationProgress, simulate
from egraffbench.md.protocol import MDProtocol
from egraffbench.md.trajectory import read_replica, replica_ids
from egraffbench.metrics.structure import radial_distribution
from egraffbench.models.base import ForceField
from egraffbench.models.graph import batch_from_arrays
from egraffbench.models.presets import load_model_config
from egraffbench.models.registry import REFERENCE_POTENTIALS, reference_potential
from egraffbench.models.storage import load_force_field
from egraffbench.runner.rollout_scoring import (
    ReferenceEnergies,
    Rollout,
    stability_scores,
    structure_scores,
    violation_scores,
)
from egraffbench.training import train_force_field
from egraffbench.training.evaluation import evaluate_force_field

StageCallback = Callable[[str, str], None]


@dataclass(frozen=True)
class JobSpec:
    """What one job computes; ``config`` is a preset name or a model-config YAML path."""

    model: str
    dataset: str
    seed: int = 0
    config: str = "dev"
    replicas: int = 10
    md: MDProtocol = field(default_factory=MDProtocol)
    data_root: Path | None = None

    @property
    def job_id(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{self.model}-{self.dataset}-seed{self.seed}")


def _cached(path: Path, compute: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    """The JSON result at ``path``, computing and writing it first if absent; and whether it was cached."""
    if path.is_file():
        return json.loads(path.read_text()), True
    result = compute()
    atomic_write_json(path, result)
    return result, False


def _train_stage(spec: JobSpec, folder: Path, on_epoch: Callable[[dict], None] | None) -> dict[str, Any]:
    config = load_model_config(spec.model, spec.config)
    train = load_dataset(spec.dataset, "train", root=spec.data_root)
    val = load_dataset(spec.dataset, "val", root=spec.data_root)
    result = train_force_field(
        config, train, val, folder, seed=spec.seed, resume=(folder / "checkpoint.pt").exists(), on_epoch=on_epoch
    )
    return {
        "epochs": result.epochs_run,
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "training_seconds": result.wall_seconds,
        "stopped_because": result.stopped_because,
        "parameters": sum(p.numel() for p in result.model.parameters()),
    }


def _oracle_references(oracle: ForceField, rollouts: list[Rollout]) -> ReferenceEnergies:
    """The oracle's energy and forces on every simulated frame (EV/FV reference (a) of DESIGN.md)."""
    energies, forces = [], []
    for rollout in rollouts:
        frames = len(rollout.positions)
        batch = batch_from_arrays(
            list(rollout.positions),
            [rollout.numbers] * frames,
            list(rollout.cells),
            [np.ones(3, bool) if rollout.cells.any() else np.zeros(3, bool)] * frames,
            cutoff=oracle.cutoff,
            dtype=torch.float64,
        )
        output = oracle(batch) if frames else {"energy": torch.zeros(0), "forces": torch.zeros(0, 3)}
        energies.append(output["energy"].numpy())
        forces.append(output["forces"].numpy().reshape(frames, -1, 3))
    return ReferenceEnergies(energies, forces, "oracle")


def _trajectory_references(
    rollouts: list[Rollout], test: list[Atoms], spacing_fs: float
) -> tuple[ReferenceEnergies, list[Rollout]] | None:
    """Reference frames at the same simulated time (EV/FV reference (b)): replica r starts at test frame r.

    Returns the references and the rollouts trimmed to the frames the reference trajectory covers.
    """
    energies, forces, trimmed = [], [], []
    for start, rollout in enumerate(rollouts):
        offsets = rollout.times_fs / spacing_fs
        if not np.allclose(offsets, np.round(offsets), atol=1e-6):
            return None
        index = start + np.round(offsets).astype(int)
        usable = index < len(test)
        trimmed.append(
            replace(
                rollout,
                positions=rollout.positions[usable],
                cells=rollout.cells[usable],
                energies=rollout.energies[usable],
                forces=rollout.forces[usable],
                times_fs=rollout.times_fs[usable],
            )
        )
        energies.append(np.array([test[i].get_potential_energy() for i in index[usable]]))
        forces.append(np.array([test[i].get_forces() for i in index[usable]]).reshape(-1, len(rollout.numbers), 3))
    return ReferenceEnergies(energies, forces, "reference-trajectory"), trimmed


def _rollouts(trajectory: Path) -> list[Rollout]:
    rollouts = []
    for replica in replica_ids(trajectory):
        frames = read_replica(trajectory, replica)
        outcome = frames.outcome
        periodic = bool(np.all(frames.pbc))
        rollouts.append(
            Rollout(
                positions=frames.positions,
                cells=frames.cell if periodic else np.zeros_like(frames.cell),
                numbers=frames.atomic_numbers,
                times_fs=frames.time_fs,
                energies=frames.energy,
                forces=frames.forces,
                failure_time_fs=outcome.failure_time_fs,
                failure_reason=outcome.failure_reason,
            )
        )
    return rollouts


def _score_stage(spec: JobSpec, dataset: DatasetSpec, trajectory: Path, test: list[Atoms]) -> dict[str, Any]:
    rollouts = _rollouts(trajectory)
    run_length_fs = spec.md.steps * spec.md.timestep_fs
    scores: dict[str, Any] = stability_scores(rollouts, run_length_fs)
    reference_positions = np.array([a.positions for a in test])
    reference_cells = np.array([a.cell.array for a in test])
    scores.update(structure_scores(rollouts, reference_positions, reference_cells, dataset.periodic, spec.seed))
    matched = None
    if dataset.oracle is not None:
        matched = _oracle_references(reference_potential(dataset.oracle), rollouts), rollouts
    elif dataset.test_frame_spacing_fs:
        matched = _trajectory_references(rollouts, test, dataset.test_frame_spacing_fs)
    if matched is None:
        reason = "the dataset has no oracle and its test split is not a contiguous trajectory on the MD time grid"
        scores.update({"ev": None, "fv": None, "violation_reference": None, "violation_reason": reason})
    else:
        references, compared = matched
        scores.update(violation_scores(compared, references, spec.seed))
    return scores


def run_job(
    spec: JobSpec,
    out_dir: Path,
    on_stage: StageCallback | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    on_md: Callable[[SimulationProgress], None] | None = None,
) -> dict[str, Any]:
    """Run (or resume) one job under ``out_dir/jobs/<job_id>``; returns its merged results."""
    folder = out_dir / "jobs" / spec.job_id
    folder.mkdir(parents=True, exist_ok=True)
    notify = on_stage or (lambda stage, status: None)
    dataset = get_dataset_spec(spec.dataset)
    result: dict[str, Any] = {"job": spec.job_id, "model": spec.model, "dataset": spec.dataset, "seed": spec.seed}
    skipped = []

    if spec.model in REFERENCE_POTENTIALS:
        model: ForceField = reference_potential(spec.model)
        result["training"] = {"reference_potential": True, "training_seconds": 0.0}
    else:
        notify("train", "running")
        result["training"], cached = _cached(
            folder / "train.json", lambda: _train_stage(spec, folder / "model", on_epoch)
        )
        skipped += ["train"] if cached else []
        model = load_force_field(folder / "model")

    test = load_dataset(spec.dataset, "test", root=spec.data_root)
    notify("evaluate", "running")
    result["test_errors"], cached = _cached(folder / "evaluate.json", lambda: evaluate_force_field(model, test))
    skipped += ["evaluate"] if cached else []

    notify("simulate", "running")
    trajectory = folder / "trajectory.h5"
    starts = test[: spec.replicas]
    protocol = spec.md.model_copy(update={"temperature_K": dataset.temperature_K, "seed": spec.seed})
    reference_rdfs = None
    if dataset.periodic:
        reference = radial_distribution(
            np.array([a.positions for a in test]), np.array([a.cell.array for a in test])
        )
        reference_rdfs = dict.fromkeys(range(len(starts)), reference)

    def compute_md() -> dict[str, Any]:
        started = time.perf_counter()
        outcome = simulate(
            model, starts, protocol, trajectory, reference_rdfs=reference_rdfs, model_name=spec.model, callback=on_md
        )
        atoms = sum(len(a) for a in starts)
        return {
            "steps_per_s": outcome.steps_per_s,
            "us_per_atom_step": 1e6 / (outcome.steps_per_s * atoms) if outcome.steps_per_s else None,
            "md_seconds": time.perf_counter() - started,
            "replicas": len(starts),
            "atoms_per_replica": len(starts[0]),
            "protocol": protocol.model_dump(mode="json"),
        }

    result["md"], cached = _cached(folder / "simulate.json", compute_md)
    skipped += ["simulate"] if cached else []

    notify("score", "running")
    result["scores"], cached = _cached(
        folder / "scores.json", lambda: _score_stage(spec, dataset, trajectory, test)
    )
    skipped += ["score"] if cached else []
    result["skipped_stages"] = skipped
    notify("done", ",".join(skipped))
    return result
