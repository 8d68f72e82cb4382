"""Any ASE calculator as a force field: evaluated system by system (replica by replica in MD), in the
calculator's own units converted to eV and Å."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.data import chemical_symbols

from egraffbench.errors import ModelError
from egraffbench.models.base import ForceField, TrainingStatistics
from egraffbench.models.graph import AtomicBatch

ALL_ELEMENTS = list(range(1, len(chemical_symbols)))


class ASECalculatorForceField(ForceField):
    """An ASE calculator behind the batched interface; no parameters, no learned energies.

    ``species``: the elements it may be asked about (default: all); ``energy_unit`` and ``length_unit``:
    eV and Å per unit of the calculator's energy and length; ``cutoff`` only sizes the batch graph, which
    the calculator ignores (it builds its own neighbour list).
    """

    architecture = "ase"

    def __init__(
        self,
        calculator: Calculator,
        species: Sequence[int] | None = None,
        energy_unit: float = 1.0,
        length_unit: float = 1.0,
        cutoff: float = 1.0,
        description: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(ALL_ELEMENTS if species is None else species, cutoff, TrainingStatistics())
        self.calculator = calculator
        self.energy_unit, self.length_unit = float(energy_unit), float(length_unit)
        named = {"calculator": type(calculator).__name__}
        self.hyperparameters = named if description is None else description

    def _system(self, batch: AtomicBatch, mask: np.ndarray, system: int) -> Atoms:
        positions = batch.positions[torch.as_tensor(mask)].detach().cpu().double().numpy()
        return Atoms(
            numbers=batch.atomic_numbers[torch.as_tensor(mask)].cpu().numpy(),
            positions=positions / self.length_unit,
            cell=batch.cell[system].detach().cpu().double().numpy() / self.length_unit,
            pbc=batch.pbc[system].cpu().numpy(),
        )

    def forward(
        self, batch: AtomicBatch, compute_stress: bool = False, training: bool = False
    ) -> dict[str, torch.Tensor]:
        self.species_index(batch.atomic_numbers)
        system_index = batch.system_index.cpu().numpy()
        energies, forces, stresses = [], np.zeros(tuple(batch.positions.shape)), []
        for system in range(batch.n_systems):
            mask = system_index == system
            atoms = self._system(batch, mask, system)
            atoms.calc = self.calculator
            try:
                energies.append(atoms.get_potential_energy())
                forces[mask] = atoms.get_forces()
                if compute_stress:
                    stresses.append(atoms.get_stress(voigt=False))
            except Exception as error:  # a foreign calculator may raise anything; name it and what failed
                name, formula = type(self.calculator).__name__, atoms.get_chemical_formula()
                raise ModelError(f"ASE calculator {name} failed on a {formula} system ({error})") from error
        like = {"dtype": batch.positions.dtype, "device": batch.positions.device}
        energy, length = self.energy_unit, self.length_unit
        result = {
            "energy": torch.tensor(energies, **like) * energy,
            "forces": torch.tensor(forces, **like) * (energy / length),
        }
        if compute_stress:
            result["stress"] = torch.tensor(np.array(stresses), **like) * (energy / length**3)
        return result
