"""Trivial baselines that a model must beat to have learned anything: forces predicted as zero, and energy
predicted from composition alone (per-element mean energies E0 fitted by least squares on the training
split). Their errors on the test split use the definitions of `metrics.accuracy`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from egraffbench.data.reference import reference_energy, reference_forces
from egraffbench.training.statistics import fit_element_energies


@dataclass(frozen=True)
class Baselines:
    """Test-split errors of the trivial predictors: energy MAE per atom (eV/atom) of E = Σ_z n_z E0_z,
    force MAE (eV/Å, per component) of F = 0, and the fitted E0 per atomic number (eV)."""

    energy_mae_per_atom: float
    force_mae: float
    element_energies: dict[int, float]

    def of(self, metric: str) -> float | None:
        """The baseline of a leaderboard metric (`energy_mae_per_atom` or `force_mae`), else None."""
        return {"energy_mae_per_atom": self.energy_mae_per_atom, "force_mae": self.force_mae}.get(metric)


def composition_energies(frames: Sequence[Atoms], element_energies: dict[int, float]) -> np.ndarray:
    """Σ_z n_z E0_z of each frame (eV); elements without an E0 count as 0 eV."""
    return np.array([sum(element_energies.get(int(z), 0.0) for z in atoms.numbers) for atoms in frames])


def trivial_baselines(train: Sequence[Atoms], test: Sequence[Atoms]) -> Baselines:
    """Baselines of a task from its training frames (E0 fit) and test frames (errors)."""
    species = sorted({int(z) for atoms in (*train, *test) for z in atoms.numbers})
    element_energies = fit_element_energies(train, species)
    atoms_per_frame = np.array([len(atoms) for atoms in test], dtype=float)
    truth = np.array([reference_energy(atoms) for atoms in test])
    energy_error = (composition_energies(test, element_energies) - truth) / atoms_per_frame
    forces = np.concatenate([reference_forces(atoms).ravel() for atoms in test])
    return Baselines(float(np.mean(np.abs(energy_error))), float(np.mean(np.abs(forces))), element_energies)
