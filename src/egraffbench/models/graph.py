"""Batched atomic graphs: many systems of different sizes and cells in one set of flat tensors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
import vesin
from ase import Atoms


@dataclass(frozen=True)
class AtomicBatch:
    """B systems with N atoms in all and E directed edges.

    Edge e goes from atom ``edge_index[0, e]`` (sender) to ``edge_index[1, e]`` (receiver); its vector is
    ``positions[edge_index[1]] - positions[edge_index[0]] + unit_shifts @ cell`` of the edge's system (Å).
    """

    positions: torch.Tensor  # (N, 3) Å
    atomic_numbers: torch.Tensor  # (N,) long
    cell: torch.Tensor  # (B, 3, 3) Å, rows are cell vectors
    pbc: torch.Tensor  # (B, 3) bool
    system_index: torch.Tensor  # (N,) long, system of each atom
    edge_index: torch.Tensor  # (2, E) long
    unit_shifts: torch.Tensor  # (E, 3) integer-valued, same dtype as positions

    @property
    def n_systems(self) -> int:
        return int(self.cell.shape[0])

    @property
    def n_atoms_per_system(self) -> torch.Tensor:
        return torch.bincount(self.system_index, minlength=self.n_systems)

    def edge_shifts(self, cell: torch.Tensor | None = None) -> torch.Tensor:
        """Cartesian shift of each edge (E, 3), Å, from its integer cell offsets."""
        cell = self.cell if cell is None else cell
        edge_cell = cell[self.system_index[self.edge_index[0]]]
        return torch.einsum("ei,eij->ej", self.unit_shifts, edge_cell)

    def edge_vectors(
        self, positions: torch.Tensor | None = None, cell: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Edge vectors (E, 3), Å, sender → receiver; differentiable in positions and cell."""
        positions = self.positions if positions is None else positions
        sender, receiver = self.edge_index
        return positions[receiver] - positions[sender] + self.edge_shifts(cell)

    def with_positions(self, positions: torch.Tensor, cell: torch.Tensor | None = None) -> AtomicBatch:
        """The same graph with new positions (and cell), e.g. within a neighbour-list skin."""
        return replace(self, positions=positions, cell=self.cell if cell is None else cell)

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> AtomicBatch:
        """Move to a device and cast the floating-point tensors to ``dtype``."""
        float_kwargs = {"device": device, "dtype": dtype}
        return AtomicBatch(
            positions=self.positions.to(**float_kwargs),
            atomic_numbers=self.atomic_numbers.to(device),
            cell=self.cell.to(**float_kwargs),
            pbc=self.pbc.to(device),
            system_index=self.system_index.to(device),
            edge_index=self.edge_index.to(device),
            unit_shifts=self.unit_shifts.to(**float_kwargs),
        )


def neighbour_pairs(
    positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full neighbour list (i, j, integer shifts S) of one system: |r_j - r_i + S·cell| < cutoff."""
    periodic = bool(np.all(pbc))
    if np.any(pbc) and not periodic:
        raise ValueError(f"mixed periodicity {pbc.tolist()} is not supported; use all True or all False")
    box = cell if periodic else np.zeros((3, 3))
    calculator = vesin.NeighborList(cutoff=cutoff, full_list=True)
    i, j, shifts = calculator.compute(
        points=np.ascontiguousarray(positions, dtype=np.float64),
        box=np.ascontiguousarray(box, dtype=np.float64),
        periodic=periodic,
        quantities="ijS",
    )
    return i.astype(np.int64), j.astype(np.int64), shifts.astype(np.int64)


def batch_from_arrays(
    positions: Sequence[np.ndarray],
    atomic_numbers: Sequence[np.ndarray],
    cells: Sequence[np.ndarray],
    pbcs: Sequence[np.ndarray],
    cutoff: float,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> AtomicBatch:
    """Build a batch from per-system arrays, with a full neighbour list within ``cutoff`` (Å)."""
    senders, receivers, shifts, offsets = [], [], [], 0
    for system_positions, cell, pbc in zip(positions, cells, pbcs, strict=True):
        i, j, unit_shifts = neighbour_pairs(system_positions, cell, np.asarray(pbc, dtype=bool), cutoff)
        senders.append(i + offsets)
        receivers.append(j + offsets)
        shifts.append(unit_shifts)
        offsets += len(system_positions)
    n_atoms = [len(p) for p in positions]
    return AtomicBatch(
        positions=torch.as_tensor(np.concatenate(positions), dtype=dtype, device=device),
        atomic_numbers=torch.as_tensor(np.concatenate(atomic_numbers), dtype=torch.long, device=device),
        cell=torch.as_tensor(np.stack(cells), dtype=dtype, device=device),
        pbc=torch.as_tensor(np.stack(pbcs), dtype=torch.bool, device=device),
        system_index=torch.repeat_interleave(
            torch.arange(len(n_atoms), device=device), torch.tensor(n_atoms, device=device)
        ),
        edge_index=torch.as_tensor(
            np.stack([np.concatenate(senders), np.concatenate(receivers)]), device=device
        ),
        unit_shifts=torch.as_tensor(np.concatenate(shifts), dtype=dtype, device=device),
    )


def batch_from_atoms(
    structures: Sequence[Atoms],
    cutoff: float,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> AtomicBatch:
    """Build a batch from ASE structures (molecules with pbc False keep no periodic images)."""
    return batch_from_arrays(
        positions=[a.positions for a in structures],
        atomic_numbers=[a.numbers for a in structures],
        cells=[a.cell.array for a in structures],
        pbcs=[a.pbc for a in structures],
        cutoff=cutoff,
        dtype=dtype,
        device=device,
    )


def collate(graphs: Sequence[AtomicBatch]) -> AtomicBatch:
    """Concatenate batches (e.g. precomputed one-structure graphs) into one, renumbering atoms and systems."""
    atom_offsets = np.cumsum([0] + [len(g.positions) for g in graphs[:-1]])
    system_offsets = np.cumsum([0] + [g.n_systems for g in graphs[:-1]])
    return AtomicBatch(
        positions=torch.cat([g.positions for g in graphs]),
        atomic_numbers=torch.cat([g.atomic_numbers for g in graphs]),
        cell=torch.cat([g.cell for g in graphs]),
        pbc=torch.cat([g.pbc for g in graphs]),
        system_index=torch.cat(
            [g.system_index + int(o) for g, o in zip(graphs, system_offsets, strict=True)]
        ),
        edge_index=torch.cat(
            [g.edge_index + int(o) for g, o in zip(graphs, atom_offsets, strict=True)], dim=1
        ),
        unit_shifts=torch.cat([g.unit_shifts for g in graphs]),
    )
