"""Statistics of the training split that set a model's reference energies, scale and normalisation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from egraffbench.data.reference import reference_energy, reference_forces
from egraffbench.models.base import TrainingStatistics
from egraffbench.training.examples import Examples


def fit_element_energies(structures: Sequence[Atoms], species: Sequence[int]) -> dict[int, float]:
    """Per-element reference energies E0 (eV) by least squares of total energy on composition.

    Absolute DFT energies (e.g. about −200 eV/atom on a pseudopotential scale) make isolated-atom values
    useless; the least-squares fit removes the composition-linear part so the network learns the rest.
    With a single composition the fit is rank-deficient and `lstsq` returns the minimum-norm solution,
    which still reproduces the mean energy of that composition.
    """
    counts = np.array([[np.count_nonzero(a.numbers == z) for z in species] for a in structures], dtype=float)
    energies = np.array([reference_energy(a) for a in structures])
    solution, *_ = np.linalg.lstsq(counts, energies, rcond=None)
    return {int(z): float(e) for z, e in zip(species, solution, strict=True)}


def training_statistics(
    structures: Sequence[Atoms], species: Sequence[int], examples: Examples
) -> TrainingStatistics:
    """E0 per element, energy scale (RMS force component, eV/Å × 1 Å) and mean neighbour count."""
    forces = np.concatenate([reference_forces(a).ravel() for a in structures])
    scale = float(np.sqrt(np.mean(forces**2))) or 1.0
    edges = sum(int(g.edge_index.shape[1]) for g in examples.graphs)
    atoms = sum(len(g.positions) for g in examples.graphs)
    return TrainingStatistics(
        element_energies=fit_element_energies(structures, species),
        energy_scale=scale,
        avg_num_neighbors=edges / max(atoms, 1),
        mean_atoms_per_structure=atoms / max(len(structures), 1),
    )
