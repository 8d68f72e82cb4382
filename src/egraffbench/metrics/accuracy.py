"""Static energy and force errors: MAE and RMSE per structure, per atom, and per force component."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from egraffbench.errors import TrajectoryError


def energy_force_errors(
    energy: ArrayLike,
    reference_energy: ArrayLike,
    forces: ArrayLike | Sequence[ArrayLike],
    reference_forces: ArrayLike | Sequence[ArrayLike],
) -> dict[str, float]:
    """Errors of predicted against reference energies (eV) and forces (eV/Å).

    ``forces`` is an array (n_structures, n_atoms, 3) or, for structures of different sizes, a sequence of
    (n_atoms_i, 3) arrays; the atom counts for the per-atom energy errors come from it. Returns
    ``energy_mae``, ``energy_rmse`` (eV), ``energy_mae_per_atom``, ``energy_rmse_per_atom`` (eV/atom),
    ``force_mae``, ``force_rmse`` (eV/Å, over all Cartesian components of all atoms).
    """
    energy = np.asarray(energy, dtype=float).reshape(-1)
    reference_energy = np.asarray(reference_energy, dtype=float).reshape(-1)
    predicted, reference = _structures(forces), _structures(reference_forces)
    if not energy.size == reference_energy.size == len(predicted) == len(reference) > 0:
        raise TrajectoryError(
            f"need the same number (> 0) of structures: {energy.size} energies, {reference_energy.size} "
            f"reference energies, {len(predicted)} force sets, {len(reference)} reference force sets"
        )
    if any(p.shape != r.shape for p, r in zip(predicted, reference, strict=True)):
        raise TrajectoryError("predicted and reference forces differ in shape for some structure")
    n_atoms = np.array([len(p) for p in predicted], dtype=float)
    energy_error = energy - reference_energy
    force_error = np.concatenate([(p - r).ravel() for p, r in zip(predicted, reference, strict=True)])
    return {
        "energy_mae": float(np.mean(np.abs(energy_error))),
        "energy_rmse": float(np.sqrt(np.mean(energy_error**2))),
        "energy_mae_per_atom": float(np.mean(np.abs(energy_error / n_atoms))),
        "energy_rmse_per_atom": float(np.sqrt(np.mean((energy_error / n_atoms) ** 2))),
        "force_mae": float(np.mean(np.abs(force_error))),
        "force_rmse": float(np.sqrt(np.mean(force_error**2))),
    }


def _structures(forces: ArrayLike | Sequence[ArrayLike]) -> list[np.ndarray]:
    return [np.asarray(structure, dtype=float).reshape(-1, 3) for structure in forces]
