"""Per-replica random streams: one seeded torch.Generator per replica, so that a replica's noise does not
depend on which other replicas share its batch (nor on their sizes or retirement)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def replica_seed(seed: int, replica: int) -> int:
    """A 63-bit seed for replica ``replica`` of a run seeded with ``seed`` (independent streams per pair)."""
    return int(np.random.SeedSequence([seed, replica]).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


class ReplicaNoise:
    """Standard normal numbers drawn replica by replica, each from its own generator."""

    def __init__(self, seed: int, replica_ids: Sequence[int], device: torch.device | str) -> None:
        self.device = torch.device(device)
        self.generators = {
            int(r): torch.Generator(self.device).manual_seed(replica_seed(seed, int(r))) for r in replica_ids
        }

    def normal(self, layout: Sequence[tuple[int, int]], dtype: torch.dtype) -> torch.Tensor:
        """(N, 3) standard normals for ``layout`` = [(replica id, atom count), ...] in batch order."""
        draws = [
            torch.randn((count, 3), generator=self.generators[replica], dtype=dtype, device=self.device)
            for replica, count in layout
        ]
        return torch.cat(draws)

    def get_state(self) -> dict[int, torch.Tensor]:
        """Generator states by replica id (for checkpoints)."""
        return {replica: generator.get_state() for replica, generator in self.generators.items()}

    def set_state(self, states: dict[int, torch.Tensor]) -> None:
        """Restore the states written by :meth:`get_state`."""
        for replica, state in states.items():
            self.generators[int(replica)].set_state(state)
