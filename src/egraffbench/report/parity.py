"""Predicted against reference energies and forces on (a capped, evenly spaced subset of) the test split, for
parity plots. Energies are per atom and relative to the composition energy Σ_z n_z E0_z of the training
split's per-element fit, so that frames of different compositions share one axis."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from egraffbench.data.reference import reference_energy, reference_forces
from egraffbench.models.base import ForceField
from egraffbench.models.registry import REFERENCE_POTENTIALS, reference_potential
from egraffbench.models.storage import load_force_field
from egraffbench.report.baselines import composition_energies
from egraffbench.report.collect import JobView
from egraffbench.training.prediction import predict

MAX_PARITY_FRAMES = 50


@dataclass
class Parity:
    """Reference and predicted energies (eV/atom, relative to composition) and force components (eV/Å)."""

    energy_reference: np.ndarray
    energy_predicted: np.ndarray
    force_reference: np.ndarray
    force_predicted: np.ndarray


def parity_subset(frames: Sequence[Atoms], limit: int = MAX_PARITY_FRAMES) -> list[Atoms]:
    """At most ``limit`` frames spread evenly over ``frames``."""
    chosen = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), limit)).round().astype(int))
    return [frames[i] for i in chosen]


def job_model(job: JobView) -> ForceField | None:
    """The trained model of a job (its checkpoint folder) or its reference potential; None if neither."""
    checkpoint = job.artifacts.get("checkpoint")
    if checkpoint is not None and checkpoint.is_dir():
        return load_force_field(checkpoint)
    if job.model in REFERENCE_POTENTIALS and job.is_reference:
        return reference_potential(job.model)
    return None


def parity_data(model: ForceField, frames: Sequence[Atoms], element_energies: dict[int, float]) -> Parity:
    """Parity data of ``model`` on ``frames``."""
    energies, forces = predict(model, frames)
    atoms = np.array([len(a) for a in frames], dtype=float)
    offset = composition_energies(frames, element_energies)
    truth = np.array([reference_energy(a) for a in frames])
    return Parity(
        energy_reference=(truth - offset) / atoms,
        energy_predicted=(energies - offset) / atoms,
        force_reference=np.concatenate([reference_forces(a).ravel() for a in frames]),
        force_predicted=forces.ravel(),
    )
