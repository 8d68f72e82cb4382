"""Verlet neighbour lists with a skin, per replica: built by vesin within cutoff + skin, rebuilt for a replica
only when one of its atoms moved more than skin/2 since that replica's last build; the model sees only the
edges shorter than its cutoff (filtered at each call).

Why not vesin's own skin (``NeighborList(skin=...)``, vesin ≥ 0.6) or its CUDA path: vesin caches one list per
``NeighborList`` instance and returns only the pairs within the cutoff at each ``compute``, so a batch of R
replicas would need R vesin calls (each a host round trip for the pair count) at every step, where this class
makes one batched device filter per step and calls vesin only for the replicas that went stale; positions
reach the CPU only at those rebuilds. vesin's CUDA path is left unused because it is untested here (no GPU
in CI); the rebuild count this class keeps is also reported by the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from egraffbench.md.state import MDState
from egraffbench.models.graph import AtomicBatch, neighbour_pairs


@dataclass(frozen=True)
class ReplicaEdges:
    """One replica's edges in its own atom numbering: senders, receivers, integer cell shifts."""

    senders: np.ndarray
    receivers: np.ndarray
    unit_shifts: np.ndarray


class SkinNeighbourList:
    """Edges of a batch within ``cutoff + skin`` (Å), kept per replica and concatenated in batch order."""

    def __init__(
        self, state: MDState, cutoff: float, skin: float, reference: torch.Tensor | None = None
    ) -> None:
        """Build every replica's list at ``reference`` positions (the state's by default), Å."""
        self.cutoff, self.skin = float(cutoff), float(skin)
        self.reference = (state.positions if reference is None else reference).detach().clone()
        self.counts = state.atom_counts.tolist()
        self.builds = 0
        self.edges = [self._build(state, replica, self.reference) for replica in range(state.n_replicas)]
        self._concatenate(state)

    def update(self, state: MDState, positions: torch.Tensor) -> int:
        """Rebuild the lists of replicas with an atom at ``positions`` moved > skin/2; returns how many."""
        moved = (positions - self.reference).square().sum(1).nan_to_num(nan=torch.inf)  # a NaN atom: inf
        largest = torch.zeros(state.n_replicas, dtype=moved.dtype, device=moved.device)
        largest = largest.scatter_reduce(0, state.system_index, moved, reduce="amax")
        stale = (largest > (0.5 * self.skin) ** 2) & torch.isfinite(largest)  # non-finite: left to the watch
        replicas = torch.nonzero(stale).flatten().tolist()
        if not replicas:
            return 0
        atoms = stale[state.system_index]
        self.reference = torch.where(atoms[:, None], positions.detach(), self.reference)
        for replica in replicas:
            self.edges[replica] = self._build(state, replica, self.reference)
        self._concatenate(state)
        return len(replicas)

    def select(self, keep: torch.Tensor, state: MDState) -> None:
        """Drop the lists of retired replicas; ``keep`` (R,) over the old batch, ``state`` the new batch."""
        kept = torch.nonzero(keep).flatten().tolist()
        counts = torch.tensor(self.counts, device=keep.device)
        self.reference = self.reference[torch.repeat_interleave(keep, counts)]
        self.edges = [self.edges[replica] for replica in kept]
        self.counts = [self.counts[replica] for replica in kept]
        self._concatenate(state)

    def graph(self, state: MDState, positions: torch.Tensor) -> AtomicBatch:
        """The batch at ``positions`` with only the edges shorter than the model cutoff."""
        senders, receivers = self.edge_index
        vectors = positions[receivers] - positions[senders] + self.shifts
        within = vectors.square().sum(1) < self.cutoff**2
        return AtomicBatch(
            positions=positions,
            atomic_numbers=state.atomic_numbers,
            cell=state.cell,
            pbc=state.pbc,
            system_index=state.system_index,
            edge_index=self.edge_index[:, within],
            unit_shifts=self.unit_shifts[within],
        )

    def _build(self, state: MDState, replica: int, positions: torch.Tensor) -> ReplicaEdges:
        self.builds += 1
        start = sum(self.counts[:replica])
        local = positions[start : start + self.counts[replica]].detach().cpu().double().numpy()
        senders, receivers, shifts = neighbour_pairs(
            local,
            state.cell[replica].detach().cpu().double().numpy(),
            state.pbc[replica].cpu().numpy(),
            self.cutoff + self.skin,
        )
        return ReplicaEdges(senders, receivers, shifts)

    def _concatenate(self, state: MDState) -> None:
        offsets = np.cumsum([0, *self.counts[:-1]])
        senders = np.concatenate([e.senders + o for e, o in zip(self.edges, offsets, strict=True)])
        receivers = np.concatenate([e.receivers + o for e, o in zip(self.edges, offsets, strict=True)])
        shifts = np.concatenate([e.unit_shifts for e in self.edges]).reshape(-1, 3)
        device, dtype = state.positions.device, state.positions.dtype
        self.edge_index = torch.as_tensor(np.stack([senders, receivers]), dtype=torch.long, device=device)
        self.unit_shifts = torch.as_tensor(shifts, dtype=dtype, device=device)
        edge_cell = state.cell[state.system_index[self.edge_index[0]]]
        self.shifts = torch.einsum("ei,eij->ej", self.unit_shifts, edge_cell)  # Å; the cell is fixed in a run
