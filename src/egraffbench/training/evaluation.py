"""Static evaluation: energy and force errors of a model on reference structures."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from egraffbench.data.reference import reference_energy, reference_forces
from egraffbench.metrics.accuracy import energy_force_errors
from egraffbench.models.base import ForceField
from egraffbench.training.prediction import predict


def evaluate_force_field(
    model: ForceField, structures: Sequence[Atoms], batch_size: int = 16
) -> dict[str, float]:
    """Energy MAE/RMSE (per structure, per atom; eV) and force MAE/RMSE (per component; eV/Å)."""
    energies, forces = predict(model, structures, batch_size)
    boundaries = np.cumsum([len(a) for a in structures])[:-1]
    return energy_force_errors(
        energy=energies,
        reference_energy=[reference_energy(a) for a in structures],
        forces=np.split(forces, boundaries),
        reference_forces=[reference_forces(a) for a in structures],
    )
