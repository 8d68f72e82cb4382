"""Recorded frames held on the state's device between flushes, so recording costs no host synchronisation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from egraffbench.md.state import MDState

FRAME_FIELDS = ("positions", "velocities", "forces", "energy", "cell")


@dataclass(frozen=True)
class _Entry:
    step: int
    time_fs: float
    layout: tuple[tuple[int, int], ...]  # (replica id, atom count) in batch order
    tensors: dict[str, torch.Tensor]


class FrameBuffer:
    """Frames of the live replicas, split per replica when drained."""

    def __init__(self) -> None:
        self.entries: list[_Entry] = []

    def record(self, state: MDState, step: int, time_fs: float, layout: Sequence[tuple[int, int]]) -> None:
        """Copy the batch at ``step``: positions Å, velocities Å/fs, forces eV/Å, energy eV, cell Å."""
        tensors = {
            "positions": state.positions.clone(),
            "velocities": state.velocities_per_fs(),
            "forces": state.forces.clone(),
            "energy": state.energy.clone(),
            "cell": state.cell.clone(),
        }
        self.entries.append(_Entry(step, time_fs, tuple(layout), tensors))

    def drain(self) -> dict[int, dict[str, np.ndarray]]:
        """All buffered frames by replica id: step (F,), time_fs (F,) and each of :data:`FRAME_FIELDS`."""
        pieces: dict[int, dict[str, list[np.ndarray]]] = {}
        start = 0
        while start < len(self.entries):
            layout = self.entries[start].layout
            stop = start
            while stop < len(self.entries) and self.entries[stop].layout == layout:
                stop += 1
            self._split(self.entries[start:stop], layout, pieces)
            start = stop
        self.entries = []
        return {
            replica: {name: np.concatenate(chunks) for name, chunks in fields.items()}
            for replica, fields in pieces.items()
        }

    @staticmethod
    def _split(
        entries: list[_Entry],
        layout: tuple[tuple[int, int], ...],
        pieces: dict[int, dict[str, list[np.ndarray]]],
    ) -> None:
        stacked = {
            name: torch.stack([e.tensors[name] for e in entries]).cpu().numpy() for name in FRAME_FIELDS
        }
        steps = np.array([e.step for e in entries], dtype=np.int64)
        times = np.array([e.time_fs for e in entries], dtype=np.float64)
        offset = 0
        for index, (replica, count) in enumerate(layout):
            fields = pieces.setdefault(replica, {})
            atoms = slice(offset, offset + count)
            fields.setdefault("step", []).append(steps)
            fields.setdefault("time_fs", []).append(times)
            for name in ("positions", "velocities", "forces"):
                fields.setdefault(name, []).append(stacked[name][:, atoms])
            for name in ("energy", "cell"):
                fields.setdefault(name, []).append(stacked[name][:, index])
            offset += count
