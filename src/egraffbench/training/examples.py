"""Training examples: precomputed one-structure graphs with their reference energies and forces."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms

from egraffbench.data.reference import reference_energy, reference_forces
from egraffbench.models.graph import AtomicBatch, batch_from_atoms, collate


@dataclass
class Examples:
    """Graphs built once (neighbour lists are the costly part) and their targets."""

    graphs: list[AtomicBatch]
    energies: torch.Tensor  # (S,) eV
    forces: list[torch.Tensor]  # per structure (n_i, 3) eV/Å

    def __len__(self) -> int:
        return len(self.graphs)

    def batch(self, indices: Sequence[int]) -> tuple[AtomicBatch, torch.Tensor, torch.Tensor]:
        """Collated graph, energies (B,) and forces (N, 3) of the structures at ``indices``."""
        graph = collate([self.graphs[i] for i in indices])
        return graph, self.energies[list(indices)], torch.cat([self.forces[i] for i in indices])

    def minibatches(self, batch_size: int, generator: torch.Generator | None = None) -> list[list[int]]:
        """Index lists covering all examples; shuffled when a generator is given."""
        order = (
            torch.randperm(len(self), generator=generator)
            if generator is not None
            else torch.arange(len(self))
        )
        return [order[i : i + batch_size].tolist() for i in range(0, len(self), batch_size)]


def build_examples(
    structures: Sequence[Atoms], cutoff: float, dtype: torch.dtype, targets: bool = True
) -> Examples:
    """Graphs within ``cutoff`` (Å) and, when ``targets``, the reference energies and forces."""
    graphs = [batch_from_atoms([atoms], cutoff, dtype=dtype) for atoms in structures]
    if not targets:
        return Examples(
            graphs, torch.zeros(len(graphs), dtype=torch.float64), [g.positions * 0 for g in graphs]
        )
    return Examples(
        graphs=graphs,
        energies=torch.tensor([reference_energy(a) for a in structures], dtype=torch.float64),
        forces=[torch.as_tensor(reference_forces(a), dtype=dtype) for a in structures],
    )


def species_of(structures: Sequence[Atoms]) -> list[int]:
    """Sorted atomic numbers present in ``structures``."""
    return sorted({int(z) for atoms in structures for z in np.unique(atoms.numbers)})
