"""The one interface every force field implements: energy, forces (−∂E/∂r), stress, for a batch of systems."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import torch
from ase import Atoms
from ase.data import chemical_symbols

from egraffbench.errors import ModelError
from egraffbench.models.calculator import ForceFieldCalculator
from egraffbench.models.graph import AtomicBatch


@dataclass
class TrainingStatistics:
    """What a model needs to know of its training data before it is built (fitted by the trainer)."""

    element_energies: dict[int, float] = field(default_factory=dict)  # E0 per atomic number, eV
    energy_scale: float = 1.0  # eV; RMS of force components × 1 Å, the unit of the learned interaction
    avg_num_neighbors: float = 10.0
    mean_atoms_per_structure: float = 10.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["element_energies"] = {str(k): v for k, v in self.element_energies.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainingStatistics:
        values = dict(data)
        values["element_energies"] = {int(k): float(v) for k, v in data.get("element_energies", {}).items()}
        return cls(**values)


class ForceField(torch.nn.Module):
    """Base of all force fields.

    A subclass implements :meth:`atomic_energies` (learned per-atom energies in units of
    ``energy_scale``); this class adds per-element reference energies, sums per system and differentiates:
    forces = −∂E/∂r, stress = (1/V) ∂E/∂ε for periodic systems (ASE's sign convention, eV/Å³).
    """

    architecture: ClassVar[str] = ""
    implements_stress: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {}  # the hyperparameters a subclass accepts, with their defaults

    def __init__(self, species: Sequence[int], cutoff: float, statistics: TrainingStatistics) -> None:
        super().__init__()
        self.species = sorted(int(z) for z in species)
        self.cutoff = float(cutoff)
        self.statistics = statistics
        self.hyperparameters: dict[str, Any] = {}
        species_to_index = torch.full((119,), -1, dtype=torch.long)
        species_to_index[self.species] = torch.arange(len(self.species))
        self.register_buffer("species_to_index", species_to_index, persistent=False)
        reference = torch.zeros(119, dtype=torch.float64)
        for z, energy in statistics.element_energies.items():
            reference[int(z)] = energy
        # Plain attributes, not buffers: `.to(float32)` must not round absolute reference energies
        # (e.g. −2040 eV per O atom); the energy is assembled in float64 whatever the network's dtype.
        self.reference_energies = reference
        self.energy_scale = float(statistics.energy_scale)

    def set_hyperparameters(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Keep ``given`` over :attr:`defaults` as :attr:`hyperparameters` and return them; TypeError naming
        any hyperparameter the architecture does not have."""
        unknown = set(given) - set(self.defaults)
        if unknown:
            raise TypeError(f"unknown {self.architecture} hyperparameters {sorted(unknown)}")
        self.hyperparameters = {**self.defaults, **given}
        return self.hyperparameters

    def atomic_energies(self, batch: AtomicBatch, species_index: torch.Tensor) -> torch.Tensor:
        """Learned per-atom energies (N,), dimensionless; ``batch`` positions/cell may carry gradients."""
        raise NotImplementedError

    def species_index(self, atomic_numbers: torch.Tensor) -> torch.Tensor:
        """Index of each atom's element in ``self.species``; ModelError on elements the model never saw."""
        index = self.species_to_index[atomic_numbers]
        if bool((index < 0).any()):
            unknown = sorted({chemical_symbols[int(z)] for z in atomic_numbers[index < 0].unique()})
            known = [chemical_symbols[z] for z in self.species]
            raise ModelError(f"{self.architecture} model knows elements {known} only; got unknown {unknown}")
        return index

    def check_elements(self, structures: Sequence[Atoms]) -> None:
        """ModelError naming the elements of ``structures`` this model does not know, before any work."""
        numbers = sorted({int(z) for atoms in structures for z in atoms.numbers})
        self.species_index(torch.as_tensor(numbers, device=self.species_to_index.device))

    def forward(
        self, batch: AtomicBatch, compute_stress: bool = False, training: bool = False
    ) -> dict[str, torch.Tensor]:
        """Energy (B,) eV in float64, forces (N, 3) eV/Å and stress (B, 3, 3) eV/Å³ in the input dtype.

        ``training=True`` keeps the graph of the force computation so a force loss can be differentiated.
        """
        species_index = self.species_index(batch.atomic_numbers)
        positions = batch.positions.detach().requires_grad_(True)
        cell = batch.cell.detach()
        inputs = [positions]
        if compute_stress:
            strain = torch.zeros_like(cell, requires_grad=True)
            symmetric = 0.5 * (strain + strain.transpose(1, 2))
            identity = torch.eye(3, dtype=cell.dtype, device=cell.device)
            positions = torch.einsum("ni,nij->nj", positions, identity + symmetric[batch.system_index])
            cell = torch.einsum("bki,bij->bkj", cell, identity + symmetric)
            inputs.append(strain)
        with torch.enable_grad(), unoptimised_torchscript():
            graph = batch.with_positions(positions, cell)
            learned = self.atomic_energies(graph, species_index).to(torch.float64)
            reference = self.reference_energies.to(positions.device)[batch.atomic_numbers]
            per_atom = reference + self.energy_scale * learned
            energy = torch.zeros(batch.n_systems, dtype=torch.float64, device=positions.device)
            energy = energy.index_add(0, batch.system_index, per_atom)
            gradients = torch.autograd.grad(energy.sum(), inputs, create_graph=training, allow_unused=True)
        forces = _zero_if_none(gradients[0], inputs[0]).neg()
        result = {"energy": energy if training else energy.detach(), "forces": forces}
        if compute_stress:
            volume = torch.linalg.det(batch.cell).abs().clamp_min(1e-12)
            stress = _zero_if_none(gradients[1], inputs[1]) / volume[:, None, None]
            result["stress"] = stress
        return result

    def as_ase_calculator(
        self, dtype: torch.dtype = torch.float64, device: str = "cpu"
    ) -> ForceFieldCalculator:
        """This model as an ASE calculator (float64 by default), for ASE's MD, optimisers and
        `atoms.get_forces()`."""
        return ForceFieldCalculator(self, dtype=dtype, device=device)

    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this model (weights aside)."""
        return {
            "architecture": self.architecture,
            "species": self.species,
            "cutoff": self.cutoff,
            "statistics": self.statistics.to_json(),
            "hyperparameters": self.hyperparameters,
            "dtype": str(next(self.parameters(), torch.zeros(())).dtype),
        }


def unoptimised_torchscript() -> AbstractContextManager[None]:
    """Run the TorchScript code of a model call (e3nn's, nequip's and mace's scripted functions, a deployed
    model) unoptimised, so that every call computes the same numbers.

    TorchScript's profiling executor runs a function's first call(s) plainly, then an optimised graph whose
    autodiff rounds differently: the first call in a process gave forces up to 2.7e-6 eV/Å (allegro, float32)
    off every later call, so a run that started or resumed cold differed bitwise from one that had called the
    model before; it also re-specialises for every new graph size (seconds per new batch shape in training).
    Unoptimised execution is the same plan on every call; it costs mace's, botnet's and nequip's MD calls
    1.2–1.6× on CPU (benchmarks/torchscript_execution.py).
    """
    return torch.jit.optimized_execution(False)


def _zero_if_none(gradient: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(like) if gradient is None else gradient
