"""The live stability watch: the criteria of docs/metrics.md (``metrics.stability``) applied to the batch."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from ase import Atoms, units

from egraffbench.md.state import MDState
from egraffbench.metrics.stability import StabilityCriteria, bonded_pairs, check_stability, windowed_rdf_mae
from egraffbench.metrics.structure import StructureFunction, rdf_frames


class StabilityWatch:
    """Per-replica memory the criteria need (initial structure, bonds, recent g(r)) and the batched check.

    Bonds (pairs within 1.2 × the sum of covalent radii at the start) are watched for molecules, up to a
    relabelling of their atoms (``StabilityCriteria.bond_relabelling``); the windowed g(r) drift for periodic
    replicas that have a reference g(r).
    """

    def __init__(
        self,
        criteria: StabilityCriteria,
        structures: Mapping[int, Atoms],
        reference_rdfs: Mapping[int, StructureFunction] | None = None,
    ) -> None:
        """``structures`` and ``reference_rdfs`` are keyed by replica id."""
        self.criteria = criteria
        self.initial = {r: np.array(atoms.positions, dtype=float) for r, atoms in structures.items()}
        self.numbers = {r: np.array(atoms.numbers) for r, atoms in structures.items()}
        self.bonds = {
            r: bonded_pairs(atoms.positions, atoms.numbers) if not atoms.pbc.any() else np.zeros((0, 2), int)
            for r, atoms in structures.items()
        }
        self.references = {
            r: rdf for r, rdf in (reference_rdfs or {}).items() if bool(structures[r].pbc.all())
        }
        self.windows: dict[int, deque[np.ndarray]] = {
            r: deque(maxlen=criteria.rdf_window) for r in self.references
        }

    @property
    def needs_frames(self) -> bool:
        """Whether :meth:`observe` must see every recorded frame (some replica has a g(r) reference)."""
        return bool(self.references)

    def observe(self, replica_ids: Sequence[int], positions: Sequence[np.ndarray], cells: np.ndarray) -> None:
        """Add one recorded frame (per-replica positions, Å; cells (R, 3, 3), Å) to the g(r) windows."""
        for replica, replica_positions, cell in zip(replica_ids, positions, cells, strict=True):
            reference = self.references.get(replica)
            if reference is None or not np.all(np.isfinite(replica_positions)):
                continue
            frame = rdf_frames(replica_positions, cell, r_max=reference.r_max, dr=reference.dr)[0]
            self.windows[replica].append(frame)

    def check(self, state: MDState, replica_ids: Sequence[int]) -> list[str | None]:
        """Failure reason or None for each live replica of ``state`` (ids in batch order)."""
        counts = state.atom_counts.cpu().numpy()
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        bonds = np.concatenate(
            [self.bonds[r] + offset for r, offset in zip(replica_ids, offsets, strict=True)]
        ).reshape(-1, 2)
        rdf_mae = np.array([self._rdf_mae(r) for r in replica_ids])
        return check_stability(
            state.positions.detach().cpu().double().numpy(),
            state.system_index.cpu().numpy(),
            state.energy.detach().cpu().double().numpy(),
            target_temperatures=(state.kT / units.kB).cpu().double().numpy(),
            temperatures=state.temperature_K().detach().cpu().double().numpy(),
            cells=state.cell.detach().cpu().double().numpy(),
            periodic=state.pbc.all(1).cpu().numpy(),
            initial_positions=np.concatenate([self.initial[r] for r in replica_ids]),
            bonds=bonds,
            numbers=np.concatenate([self.numbers[r] for r in replica_ids]),
            rdf_mae=rdf_mae,
            criteria=self.criteria,
        )

    def _rdf_mae(self, replica: int) -> float:
        window = self.windows.get(replica)
        if window is None or len(window) < self.criteria.rdf_window:
            return float("nan")
        return float(windowed_rdf_mae(np.stack(window), self.references[replica].values, len(window))[-1])

    def get_state(self) -> dict[int, torch.Tensor]:
        """The g(r) windows by replica id, (frames, bins) each (for checkpoints)."""
        return {
            r: torch.as_tensor(np.array(list(window)).reshape(len(window), -1))
            for r, window in self.windows.items()
        }

    def set_state(self, windows: Mapping[int, torch.Tensor]) -> None:
        """Restore the windows written by :meth:`get_state`."""
        for replica, frames in windows.items():
            self.windows[int(replica)].clear()
            self.windows[int(replica)].extend(frames.numpy())
