"""Any ForceField as an ASE calculator; users get one from :meth:`ForceField.as_ase_calculator`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from egraffbench.models.graph import batch_from_atoms

if TYPE_CHECKING:  # base.py imports this module for ForceField.as_ase_calculator
    from egraffbench.models.base import ForceField


class ForceFieldCalculator(Calculator):
    """ASE calculator around a :class:`ForceField`: energy eV, forces eV/Å, stress eV/Å³ (periodic cells)."""

    implemented_properties = ("energy", "free_energy", "forces", "stress")

    def __init__(self, model: ForceField, dtype: torch.dtype = torch.float64, device: str = "cpu") -> None:
        super().__init__()
        self.model = model.to(device=device, dtype=dtype).eval()
        self.dtype, self.device = dtype, device

    def calculate(
        self, atoms: Atoms | None = None, properties=("energy",), system_changes=all_changes
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        want_stress = "stress" in properties and bool(self.atoms.pbc.all()) and self.model.implements_stress
        batch = batch_from_atoms([self.atoms], self.model.cutoff, dtype=self.dtype, device=self.device)
        output = self.model(batch, compute_stress=want_stress)
        energy = float(output["energy"][0])
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": output["forces"].detach().cpu().double().numpy(),
        }
        if want_stress:
            stress = output["stress"][0].detach().cpu().double().numpy()
            self.results["stress"] = stress.reshape(9)[[0, 4, 8, 5, 2, 1]].astype(np.float64)
