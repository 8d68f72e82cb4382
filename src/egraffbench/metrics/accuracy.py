"""Static energy and force errors: MAE and RMSE per structure, per atom, and per force component; and the
per-structure sums they are ratios of, which a bootstrap over structures resamples
(metrics.accuracy_intervals)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from egraffbench.errors import TrajectoryError

ERROR_NAMES = (
    "energy_mae",
    "energy_rmse",
    "energy_mae_per_atom",
    "energy_rmse_per_atom",
    "force_mae",
    "force_rmse",
)


class StructureErrors(NamedTuple):
    """Per test structure: energy error predicted − reference (eV), atom count, and the sums of the absolute
    and squared force-component errors (eV/Å, eV²/Å²). Every error metric is a function of their sums."""

    energy_error: np.ndarray
    atoms: np.ndarray
    force_abs_sum: np.ndarray
    force_sq_sum: np.ndarray


def structure_errors(
    energy: ArrayLike,
    reference_energy: ArrayLike,
    forces: ArrayLike | Sequence[ArrayLike],
    reference_forces: ArrayLike | Sequence[ArrayLike],
) -> StructureErrors:
    """Per-structure errors of predicted against reference energies (eV) and forces (eV/Å).

    ``forces`` is an array (n_structures, n_atoms, 3) or, for structures of different sizes, a sequence of
    (n_atoms_i, 3) arrays; the atom counts come from it.
    """
    energy_error, differences = _differences(energy, reference_energy, forces, reference_forces)
    return StructureErrors(
        energy_error=energy_error,
        atoms=np.array([len(d) for d in differences], dtype=int),
        force_abs_sum=np.array([np.abs(d).sum() for d in differences]),
        force_sq_sum=np.array([np.square(d).sum() for d in differences]),
    )


def error_columns(errors: StructureErrors) -> np.ndarray:
    """(8, n_structures): per structure the terms every error metric sums, in the rows of
    :func:`error_sums`."""
    per_atom = errors.energy_error / errors.atoms
    return np.stack(
        [
            np.ones_like(errors.energy_error),
            np.abs(errors.energy_error),
            np.square(errors.energy_error),
            np.abs(per_atom),
            np.square(per_atom),
            errors.force_abs_sum,
            errors.force_sq_sum,
            3.0 * errors.atoms,
        ]
    )


def error_sums(errors: StructureErrors) -> np.ndarray:
    """The sums over structures every error metric is a ratio of; rows: structures, Σ|e|, Σe², Σ|e/n|,
    Σ(e/n)², Σ|ΔF|, ΣΔF², force components."""
    return error_columns(errors).sum(axis=-1)


def errors_from_sums(sums: np.ndarray) -> dict[str, np.ndarray]:
    """The six error metrics (ERROR_NAMES) from :func:`error_sums` (rows first; any trailing shape)."""
    count, e_abs, e_sq, a_abs, a_sq, f_abs, f_sq, components = sums
    return {
        "energy_mae": e_abs / count,
        "energy_rmse": np.sqrt(e_sq / count),
        "energy_mae_per_atom": a_abs / count,
        "energy_rmse_per_atom": np.sqrt(a_sq / count),
        "force_mae": f_abs / components,
        "force_rmse": np.sqrt(f_sq / components),
    }


def energy_force_errors(
    energy: ArrayLike,
    reference_energy: ArrayLike,
    forces: ArrayLike | Sequence[ArrayLike],
    reference_forces: ArrayLike | Sequence[ArrayLike],
) -> dict[str, float]:
    """Errors of predicted against reference energies (eV) and forces (eV/Å) (arguments as
    :func:`structure_errors`). Returns ``energy_mae``, ``energy_rmse`` (eV), ``energy_mae_per_atom``,
    ``energy_rmse_per_atom`` (eV/atom), ``force_mae``, ``force_rmse`` (eV/Å, over all Cartesian components
    of all atoms). Summed in its own order, not through :func:`error_sums`: training's validation errors
    come from here, and stored trainings reproduce only with the same bits."""
    energy_error, differences = _differences(energy, reference_energy, forces, reference_forces)
    per_atom = energy_error / np.array([len(d) for d in differences], dtype=float)
    force_error = np.concatenate([d.ravel() for d in differences])
    return {
        "energy_mae": float(np.mean(np.abs(energy_error))),
        "energy_rmse": float(np.sqrt(np.mean(energy_error**2))),
        "energy_mae_per_atom": float(np.mean(np.abs(per_atom))),
        "energy_rmse_per_atom": float(np.sqrt(np.mean(per_atom**2))),
        "force_mae": float(np.mean(np.abs(force_error))),
        "force_rmse": float(np.sqrt(np.mean(force_error**2))),
    }


def _differences(
    energy: ArrayLike,
    reference_energy: ArrayLike,
    forces: ArrayLike | Sequence[ArrayLike],
    reference_forces: ArrayLike | Sequence[ArrayLike],
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Energy errors (n_structures,) and per-structure force errors (n_atoms_i, 3), predicted − reference,
    after checking that the arguments describe the same structures."""
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
    return energy - reference_energy, [p - r for p, r in zip(predicted, reference, strict=True)]


def _structures(forces: ArrayLike | Sequence[ArrayLike]) -> list[np.ndarray]:
    return [np.asarray(structure, dtype=float).reshape(-1, 3) for structure in forces]
