"""Batched inference of a force field on a list of structures."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from ase import Atoms

from egraffbench.models.base import ForceField
from egraffbench.training.examples import Examples, build_examples


def predict_examples(
    model: ForceField, examples: Examples, batch_size: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted energies (S,) eV and forces (N_total, 3) eV/Å of precomputed examples, computed on the
    model's device."""
    device = model_device(model)
    energies, forces = [], []
    for indices in examples.minibatches(batch_size):
        graph, _, _ = examples.batch(indices)
        output = model(graph.to(device))
        energies.append(output["energy"].detach().double().cpu().numpy())
        forces.append(output["forces"].detach().double().cpu().numpy())
    return np.concatenate(energies), np.concatenate(forces)


def model_device(model: torch.nn.Module) -> torch.device:
    """Where ``model``'s parameters (or buffers) are; the CPU for a model with neither (ASE calculators)."""
    tensor = next(model.parameters(), None)
    if tensor is None:
        tensor = next(model.buffers(), None)
    return torch.device("cpu") if tensor is None else tensor.device


def predict(
    model: ForceField, structures: Sequence[Atoms], batch_size: int = 16, dtype: torch.dtype | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted energies (S,) eV and forces (N_total, 3) eV/Å of ``structures`` (reference not needed)."""
    dtype = dtype or next((p.dtype for p in model.parameters()), torch.float64)
    return predict_examples(model, build_examples(structures, model.cutoff, dtype, targets=False), batch_size)
