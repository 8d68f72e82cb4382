"""The batched MD state: R replicas (different systems, sizes, cells, masses, temperatures) as flat tensors.

Units are ASE's: positions Å (unwrapped, never folded back into the cell), momenta amu·Å per ASE time unit,
masses amu, energies eV, kT eV.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms, units


@dataclass(frozen=True)
class MDState:
    """R live replicas with N atoms in all; per-atom tensors are concatenated replica after replica."""

    positions: torch.Tensor  # (N, 3) Å
    momenta: torch.Tensor  # (N, 3) amu·Å/(ASE time)
    forces: torch.Tensor  # (N, 3) eV/Å, at ``positions``
    masses: torch.Tensor  # (N,) amu
    atomic_numbers: torch.Tensor  # (N,) long
    system_index: torch.Tensor  # (N,) long, position of each atom's replica in this batch
    energy: torch.Tensor  # (R,) eV, potential energy at ``positions``
    cell: torch.Tensor  # (R, 3, 3) Å, rows are cell vectors
    pbc: torch.Tensor  # (R, 3) bool
    kT: torch.Tensor  # (R,) eV, target temperature × k_B
    replica_id: torch.Tensor  # (R,) long, the replica's identity (its random stream and output record)
    chain_positions: torch.Tensor  # (R, M) Nosé–Hoover chain coordinates (M = 0 for other ensembles)
    chain_momenta: torch.Tensor  # (R, M) eV·(ASE time)
    chain_masses: torch.Tensor  # (R, M) eV·(ASE time)²

    @property
    def n_replicas(self) -> int:
        return int(self.cell.shape[0])

    @property
    def atom_counts(self) -> torch.Tensor:
        """Atoms per replica (R,)."""
        return torch.bincount(self.system_index, minlength=self.n_replicas)

    def per_replica_sum(self, per_atom: torch.Tensor) -> torch.Tensor:
        """Sum of a per-atom quantity (N,) or (N, k) over each replica's atoms."""
        total = torch.zeros(
            (self.n_replicas, *per_atom.shape[1:]), dtype=per_atom.dtype, device=per_atom.device
        )
        return total.index_add(0, self.system_index, per_atom)

    def kinetic_energy(self) -> torch.Tensor:
        """Kinetic energy per replica (R,), eV."""
        return 0.5 * self.per_replica_sum((self.momenta.square().sum(1)) / self.masses)

    def temperature_K(self) -> torch.Tensor:
        """Instantaneous temperature per replica (R,), K, with 3N degrees of freedom (as ASE)."""
        return 2.0 * self.kinetic_energy() / (3.0 * self.atom_counts.to(self.masses.dtype) * units.kB)

    def velocities_per_fs(self) -> torch.Tensor:
        """Velocities (N, 3) in Å/fs."""
        return self.momenta / self.masses[:, None] * units.fs


def select_replicas(state: MDState, keep: torch.Tensor) -> MDState:
    """The state restricted to replicas where ``keep`` (R,) is True, renumbered in their current order."""
    atom_keep = keep[state.system_index]
    new_position = torch.cumsum(keep.long(), 0) - 1
    values = {name: getattr(state, name)[atom_keep] for name in _PER_ATOM}
    values |= {name: getattr(state, name)[keep] for name in _PER_REPLICA}
    values["system_index"] = new_position[state.system_index[atom_keep]]
    return MDState(**values)


_PER_ATOM = ("positions", "momenta", "forces", "masses", "atomic_numbers")
_PER_REPLICA = (
    "energy",
    "cell",
    "pbc",
    "kT",
    "replica_id",
    "chain_positions",
    "chain_momenta",
    "chain_masses",
)


def state_from_structures(
    structures: Sequence[Atoms],
    momenta: Sequence[np.ndarray],
    temperatures_K: Sequence[float],
    replica_ids: Sequence[int],
    dtype: torch.dtype,
    device: torch.device | str,
) -> MDState:
    """A state at the structures' positions with the given momenta; forces and energy still zero."""
    floats = {"dtype": dtype, "device": device}
    counts = torch.tensor([len(atoms) for atoms in structures], device=device)
    n_replicas = len(structures)
    return MDState(
        positions=torch.as_tensor(np.concatenate([a.positions for a in structures]), **floats),
        momenta=torch.as_tensor(np.concatenate(list(momenta)), **floats),
        forces=torch.zeros((int(counts.sum()), 3), **floats),
        masses=torch.as_tensor(np.concatenate([a.get_masses() for a in structures]), **floats),
        atomic_numbers=torch.as_tensor(np.concatenate([a.numbers for a in structures]), device=device),
        system_index=torch.repeat_interleave(torch.arange(n_replicas, device=device), counts),
        energy=torch.zeros(n_replicas, **floats),
        cell=torch.as_tensor(np.stack([a.cell.array for a in structures]), **floats),
        pbc=torch.as_tensor(np.stack([a.pbc for a in structures]), dtype=torch.bool, device=device),
        kT=torch.as_tensor(np.asarray(temperatures_K, dtype=np.float64) * units.kB, **floats),
        replica_id=torch.as_tensor(list(replica_ids), dtype=torch.long, device=device),
        chain_positions=torch.zeros((n_replicas, 0), **floats),
        chain_momenta=torch.zeros((n_replicas, 0), **floats),
        chain_masses=torch.zeros((n_replicas, 0), **floats),
    )
