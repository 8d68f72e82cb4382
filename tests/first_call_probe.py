"""Run in a fresh interpreter by test_models_first_call.py: a tiny model's MD forces and training gradients,
four calls each, the first of them the first call of this model in the process; with ``others``, every other
architecture's MD and training calls run first, as earlier jobs of one `egraffbench run` do. Prints, as JSON,
each path's largest difference of every call from the last one, and the sha256 of each path's last result."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable

import numpy as np
import torch
from ase.build import molecule

from egraffbench.models import (
    ARCHITECTURES,
    ForceField,
    TrainingStatistics,
    batch_from_atoms,
    build_force_field,
)
from egraffbench.models.presets import load_preset


def build(architecture: str) -> ForceField:
    torch.manual_seed(0)
    statistics = TrainingStatistics(
        element_energies={1: -13.6, 6: -1027.0, 8: -2040.0}, energy_scale=0.7, avg_num_neighbors=8.0
    )
    hyperparameters = load_preset(architecture, "test").hyperparameters
    return build_force_field(architecture, [1, 6, 8], 4.0, statistics, hyperparameters, torch.float32)


def model_paths(model: ForceField) -> dict[str, Callable[[], np.ndarray]]:
    """The MD path (forces) and the training path (parameter gradients of a force and energy loss)."""
    structures = []
    for seed in range(4):
        atoms = molecule("CH3CH2OH")
        atoms.rattle(0.1, seed=seed)
        structures.append(atoms)
    batch = batch_from_atoms(structures, model.cutoff, dtype=torch.float32)

    def md_forces() -> np.ndarray:
        return model(batch)["forces"].numpy().copy()

    def training_gradient() -> np.ndarray:
        output = model(batch, training=True)
        energy = output["energy"]
        loss = output["forces"].square().mean() + (energy - energy.detach().mean()).square().mean()
        gradients = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)
        return np.concatenate([g.flatten().numpy() for g in gradients if g is not None])

    return {"md": md_forces, "train": training_gradient}


def main(architecture: str, first: str, history: str = "alone") -> None:
    torch.set_num_threads(1)
    if history == "others":
        for other in sorted(set(ARCHITECTURES) - {architecture}):
            for path in model_paths(build(other)).values():
                for _ in range(3):
                    path()
    paths = model_paths(build(architecture))
    differences, digests = {}, {}
    for name in (first, *(p for p in paths if p != first)):
        values = [paths[name]() for _ in range(4)]
        differences[name] = [float(np.abs(value - values[-1]).max()) for value in values[:-1]]
        digests[name] = hashlib.sha256(values[-1].tobytes()).hexdigest()
    print(json.dumps({"differences": differences, "digests": digests}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
