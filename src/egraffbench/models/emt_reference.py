"""ASE's EMT as a (non-learned) force field: the embedded dataset's oracle and a classical reference model."""

from __future__ import annotations

import numpy as np
import torch
from ase import Atoms
from ase.calculators.emt import EMT, parameters

from egraffbench.models.base import ForceField, TrainingStatistics
from egraffbench.models.graph import AtomicBatch

EMT_SPECIES = sorted(Atoms(list(parameters)).numbers.tolist())


class EMTForceField(ForceField):
    """Effective-medium theory (ASE) evaluated system by system; exact forces and stress, no parameters."""

    architecture = "emt"

    def __init__(self, species: list[int] | None = None, cutoff: float = 1.0) -> None:
        """``cutoff`` only sizes the batch graph, which EMT ignores (ASE builds its own neighbour list)."""
        super().__init__(species or EMT_SPECIES, cutoff, TrainingStatistics())
        self.calculator = EMT()

    def forward(
        self, batch: AtomicBatch, compute_stress: bool = False, training: bool = False
    ) -> dict[str, torch.Tensor]:
        self.species_index(batch.atomic_numbers)
        positions = batch.positions.detach().cpu().double().numpy()
        numbers = batch.atomic_numbers.cpu().numpy()
        system_index = batch.system_index.cpu().numpy()
        energies, forces, stresses = [], np.zeros_like(positions), []
        for system in range(batch.n_systems):
            mask = system_index == system
            atoms = Atoms(
                numbers=numbers[mask],
                positions=positions[mask],
                cell=batch.cell[system].detach().cpu().double().numpy(),
                pbc=batch.pbc[system].cpu().numpy(),
            )
            atoms.calc = self.calculator
            energies.append(atoms.get_potential_energy())
            forces[mask] = atoms.get_forces()
            if compute_stress:
                stresses.append(atoms.get_stress(voigt=False))
        like = {"dtype": batch.positions.dtype, "device": batch.positions.device}
        result = {"energy": torch.tensor(energies, **like), "forces": torch.tensor(forces, **like)}
        if compute_stress:
            result["stress"] = torch.tensor(np.array(stresses), **like)
        return result
