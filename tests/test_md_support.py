"""Helpers of the MD tests (no tests here): a batched Lennard-Jones force field, a NaN-injecting wrapper,
small crystals, simulation in the run's batch order, the thread fixture."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk

from egraffbench.md import MDProtocol, SimulationResult, simulate
from egraffbench.models.base import ForceField, TrainingStatistics
from egraffbench.models.graph import AtomicBatch
from summation_order import in_batch_order, torch_threads

ARGON = 18
ARGON_EPSILON = 0.0104  # eV
ARGON_SIGMA = 3.40  # Å


class LennardJones(ForceField):
    """Shifted-force Lennard-Jones (energy and force continuous at the cutoff), batched through edges."""

    architecture = "lennard-jones"

    def __init__(self, epsilon: float = ARGON_EPSILON, sigma: float = ARGON_SIGMA, cutoff: float = 7.0):
        super().__init__([ARGON], cutoff, TrainingStatistics())
        self.epsilon, self.sigma = epsilon, sigma

    def _pair(self, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x6 = (self.sigma / r) ** 6
        energy = 4.0 * self.epsilon * (x6 * x6 - x6)
        derivative = 4.0 * self.epsilon * (-12.0 * x6 * x6 + 6.0 * x6) / r
        return energy, derivative

    def atomic_energies(self, batch: AtomicBatch, species_index: torch.Tensor) -> torch.Tensor:
        r = batch.edge_vectors().norm(dim=1)
        cut = torch.full_like(r, self.cutoff)
        energy, _ = self._pair(r)
        energy_cut, derivative_cut = self._pair(cut)
        shifted = energy - energy_cut - (r - cut) * derivative_cut
        per_atom = torch.zeros(len(batch.positions), dtype=r.dtype, device=r.device)
        return per_atom.index_add(0, batch.edge_index[1], 0.5 * shifted)


class PoisonAfter(ForceField):
    """Wraps a force field; after ``after`` calls, systems of ``n_atoms`` atoms get NaN energy and forces."""

    architecture = "poison"

    def __init__(self, inner: ForceField, n_atoms: int, after: int) -> None:
        super().__init__(inner.species, inner.cutoff, TrainingStatistics())
        self.inner, self.n_atoms, self.after, self.calls = inner, n_atoms, after, 0

    def forward(self, batch: AtomicBatch, compute_stress: bool = False, training: bool = False):
        output = dict(self.inner(batch))
        self.calls += 1
        if self.calls > self.after:
            poisoned = batch.n_atoms_per_system == self.n_atoms
            output["energy"] = torch.where(poisoned, torch.nan, output["energy"])
            output["forces"] = torch.where(poisoned[batch.system_index][:, None], torch.nan, output["forces"])
        return output


def argon_crystal(repeat: int = 2, rattle: float = 0.05, seed: int = 0) -> Atoms:
    """FCC argon, 4·repeat³ atoms (a = 5.26 Å), positions rattled by ``rattle`` Å."""
    atoms = bulk("Ar", "fcc", a=5.26, cubic=True) * (repeat, repeat, repeat)
    atoms.rattle(rattle, seed=seed)
    return atoms


def copper_gold(repeat: int = 2, gold_fraction: float = 0.25, seed: int = 0) -> Atoms:
    """FCC Cu with a random ``gold_fraction`` of Au (EMT elements), 4·repeat³ atoms, slightly rattled."""
    atoms = bulk("Cu", "fcc", a=3.7, cubic=True) * (repeat, repeat, repeat)
    rng = np.random.default_rng(seed)
    gold = rng.choice(len(atoms), size=round(gold_fraction * len(atoms)), replace=False)
    atoms.numbers[gold] = 79
    atoms.rattle(0.02, seed=seed)
    return atoms


def simulate_in_batch_order(
    model: ForceField,
    structures: Sequence[Atoms],
    protocol: MDProtocol,
    out_path: Path,
    replica_ids: Sequence[int] | None = None,
    **options,
) -> SimulationResult:
    """``simulate`` with the replicas in this test run's batch order ($EGRAFFBENCH_TEST_BATCH_ORDER), each
    keeping its id (default 0..R−1): records and random streams are by id, so results read by id agree."""
    ids = list(range(len(structures))) if replica_ids is None else list(replica_ids)
    if options.get("temperatures_K") is not None:
        options["temperatures_K"] = in_batch_order(options["temperatures_K"])
    return simulate(
        model, in_batch_order(structures), protocol, out_path, replica_ids=in_batch_order(ids), **options
    )


@pytest.fixture
def one_thread():
    """Small systems run fastest on one intra-op thread (and do not fight other processes for cores); a run
    with $EGRAFFBENCH_TEST_THREADS uses that count instead."""
    threads = torch.get_num_threads()
    torch.set_num_threads(torch_threads(1))
    yield
    torch.set_num_threads(threads)
