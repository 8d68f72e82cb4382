"""Reference (ground-truth) energy and forces carried by each frame, as an ASE SinglePointCalculator.

Keeping them in a `SinglePointCalculator` means `atoms.get_potential_energy()` (eV) and `atoms.get_forces()`
(eV/Å) work on every dataset frame and that `ase.io.write(..., format="extxyz")` round-trips them. ASE drops
the calculator on `atoms.copy()` and refuses to answer once the positions change: a reference belongs to
exactly the structure it was computed for.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from egraffbench.errors import DatasetError


def attach_reference(atoms: Atoms, energy: float, forces: np.ndarray) -> Atoms:
    """Attach the reference total energy (eV) and forces (N, 3; eV/Å) to `atoms`; returns the same object."""
    forces = np.asarray(forces, dtype=float)
    if forces.shape != (len(atoms), 3):
        raise DatasetError(f"reference forces have shape {forces.shape}, expected ({len(atoms)}, 3)")
    atoms.calc = SinglePointCalculator(atoms, energy=float(energy), forces=forces)
    return atoms


def _reference(atoms: Atoms, name: str) -> float | np.ndarray:
    value = None
    if isinstance(atoms.calc, SinglePointCalculator):
        value = atoms.calc.get_property(name, atoms, allow_calculation=False)
    if value is None:
        raise DatasetError(
            f"frame {atoms.get_chemical_formula()} carries no reference {name} "
            "(none attached, or the structure changed since it was attached)"
        )
    return value


def reference_energy(atoms: Atoms) -> float:
    """The reference total energy of the frame, eV."""
    return float(_reference(atoms, "energy"))


def reference_forces(atoms: Atoms) -> np.ndarray:
    """The reference forces of the frame, shape (N, 3), eV/Å (a copy)."""
    return np.asarray(_reference(atoms, "forces"), dtype=float)
