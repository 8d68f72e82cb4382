"""Static evaluation: energy and force errors of a model on reference structures."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from egraffbench.data.reference import reference_energy, reference_forces
from egraffbench.metrics.accuracy import energy_force_errors, structure_errors
from egraffbench.metrics.accuracy_intervals import error_intervals
from egraffbench.models.base import ForceField
from egraffbench.training.prediction import predict


def _compared(model: ForceField, structures: Sequence[Atoms], batch_size: int) -> dict:
    energies, forces = predict(model, structures, batch_size)
    boundaries = np.cumsum([len(a) for a in structures])[:-1]
    return {
        "energy": energies,
        "reference_energy": [reference_energy(a) for a in structures],
        "forces": np.split(forces, boundaries),
        "reference_forces": [reference_forces(a) for a in structures],
    }


def evaluate_force_field(
    model: ForceField, structures: Sequence[Atoms], batch_size: int = 16
) -> dict[str, float]:
    """Energy MAE/RMSE (per structure, per atom; eV) and force MAE/RMSE (per component; eV/Å)."""
    return energy_force_errors(**_compared(model, structures, batch_size))


def evaluate_with_intervals(
    model: ForceField, structures: Sequence[Atoms], batch_size: int = 16, seed: int = 0
) -> tuple[dict[str, float], dict[str, tuple[float, float] | None]]:
    """The errors of :func:`evaluate_force_field` and their 95 % bootstrap intervals over ``structures``, in
    blocks as long as consecutive structures' errors stay correlated (metrics.accuracy_intervals; None where
    an error is not finite)."""
    compared = _compared(model, structures, batch_size)
    return energy_force_errors(**compared), error_intervals([[structure_errors(**compared)]], seed)
