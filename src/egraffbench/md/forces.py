"""The one batched model call per MD step: refresh stale neighbour lists, filter edges, call the model."""

from __future__ import annotations

import torch

from egraffbench.errors import ModelError
from egraffbench.md.neighbours import SkinNeighbourList
from egraffbench.md.state import MDState
from egraffbench.models.base import ForceField


def evaluate_forces(
    model: ForceField, neighbours: SkinNeighbourList, state: MDState, positions: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Potential energy (R,) eV and forces (N, 3) eV/Å of the batch ``state`` at ``positions`` (Å)."""
    neighbours.update(state, positions)
    output = model(neighbours.graph(state, positions))
    energy, forces = output["energy"].detach(), output["forces"].detach()
    if energy.shape != (state.n_replicas,) or forces.shape != positions.shape:
        raise ModelError(
            f"{type(model).__name__} returned energy {tuple(energy.shape)} and forces {tuple(forces.shape)}; "
            f"expected ({state.n_replicas},) and {tuple(positions.shape)}"
        )
    return energy.to(positions.dtype), forces.to(positions.dtype)
