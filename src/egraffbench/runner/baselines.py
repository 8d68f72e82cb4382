"""Trivial baselines that a model must beat to have learned anything, computed once per task (the baselines
stage, keyed by the task's training and test data): forces predicted as zero, and energy predicted from
composition alone (per-element energies E0 fitted by least squares on the training split, for every element
of the task). Their errors on the test split use the definitions of `metrics.accuracy`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from ase import Atoms

from egraffbench.data.reference import reference_energy, reference_forces
from egraffbench.store.schema import Baselines
from egraffbench.training.statistics import fit_element_energies


def task_element_energies(train: Sequence[Atoms], test: Sequence[Atoms]) -> dict[int, float]:
    """E0 (eV) per atomic number of every element of the task, fitted on the training frames."""
    species = sorted({int(z) for atoms in (*train, *test) for z in atoms.numbers})
    return fit_element_energies(train, species)


def composition_energies(frames: Sequence[Atoms], element_energies: dict[int, float]) -> np.ndarray:
    """Σ_z n_z E0_z of each frame (eV); elements without an E0 count as 0 eV."""
    return np.array([sum(element_energies.get(int(z), 0.0) for z in atoms.numbers) for atoms in frames])


def trivial_baselines(train: Sequence[Atoms], test: Sequence[Atoms]) -> Baselines:
    """Baselines of a task from its training frames (E0 fit) and test frames (errors)."""
    element_energies = task_element_energies(train, test)
    atoms_per_frame = np.array([len(atoms) for atoms in test], dtype=float)
    truth = np.array([reference_energy(atoms) for atoms in test])
    energy_error = (composition_energies(test, element_energies) - truth) / atoms_per_frame
    forces = np.concatenate([reference_forces(atoms).ravel() for atoms in test])
    return Baselines(
        energy_mae_per_atom=float(np.mean(np.abs(energy_error))),
        force_mae=float(np.mean(np.abs(forces))),
        element_energies={str(z): e for z, e in element_energies.items()},
    )


def baselines_stage(train: Sequence[Atoms], test: Sequence[Atoms]) -> dict[str, Any]:
    """The baselines stage's result (its `result.json` is the `baselines` artifact of every job of a task)."""
    return trivial_baselines(train, test).model_dump(mode="json")
