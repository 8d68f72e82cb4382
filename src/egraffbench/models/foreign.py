"""Base of force fields trained elsewhere (a user's MACE or deployed NequIP file): the model's own element
order and its own energy and length units, converted to eV and Å around it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from egraffbench.models.base import ForceField, TrainingStatistics
from egraffbench.models.graph import AtomicBatch


class ForeignForceField(ForceField):
    """A pretrained network behind the batched interface.

    ``elements``: atomic numbers in the order of the network's type index; ``cutoff`` in the network's
    length unit; ``energy_unit`` and ``length_unit``: eV and Å per unit of the network's energy and length.
    The energy unit is applied as :class:`ForceField`'s energy scale (reference energies are zero: the
    network's energies are absolute), the length unit by :meth:`in_model_units`.
    """

    def __init__(
        self,
        elements: Sequence[int],
        cutoff: float,
        energy_unit: float,
        length_unit: float,
        description: dict[str, Any],
    ) -> None:
        super().__init__(elements, cutoff * length_unit, TrainingStatistics(energy_scale=energy_unit))
        self.length_unit = float(length_unit)
        self.hyperparameters = description
        type_of = torch.full((119,), -1, dtype=torch.long)
        type_of[list(elements)] = torch.arange(len(elements))
        self.register_buffer("type_of_element", type_of, persistent=False)

    def model_types(self, atomic_numbers: torch.Tensor) -> torch.Tensor:
        """The network's type index of each atom (ModelError on an element it does not know)."""
        self.species_index(atomic_numbers)
        return self.type_of_element[atomic_numbers]

    def in_model_units(self, batch: AtomicBatch) -> AtomicBatch:
        """``batch`` with positions and cell in the network's length unit (differentiable)."""
        if self.length_unit == 1.0:
            return batch
        return batch.with_positions(batch.positions / self.length_unit, batch.cell / self.length_unit)
