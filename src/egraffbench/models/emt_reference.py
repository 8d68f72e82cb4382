"""ASE's EMT as a (non-learned) force field: the embedded dataset's oracle and a classical reference model."""

from __future__ import annotations

from ase import Atoms
from ase.calculators.emt import EMT, parameters

from egraffbench.models.ase_calculator import ASECalculatorForceField

EMT_SPECIES = sorted(Atoms(list(parameters)).numbers.tolist())


class EMTForceField(ASECalculatorForceField):
    """Effective-medium theory (ASE) evaluated system by system; exact forces and stress, no parameters."""

    architecture = "emt"

    def __init__(self, species: list[int] | None = None, cutoff: float = 1.0) -> None:
        """``cutoff`` only sizes the batch graph, which EMT ignores (ASE builds its own neighbour list)."""
        super().__init__(EMT(), species or EMT_SPECIES, cutoff=cutoff, description={})
