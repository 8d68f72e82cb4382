"""Checkpoints of a batched MD run (state, random streams, watch memory, outcomes, frames written), written
atomically beside the trajectory, and the fingerprint that says whether a file belongs to a given run."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from ase import Atoms

from egraffbench.errors import TrajectoryError
from egraffbench.fileio import TORCH_FILE_ERRORS, atomic_write_bytes
from egraffbench.md.protocol import MDProtocol
from egraffbench.md.state import MDState
from egraffbench.md.trajectory import ReplicaOutcome
from egraffbench.models.base import ForceField


@dataclass(frozen=True)
class Checkpoint:
    """Everything needed to continue a run after ``step`` exactly as if it had not stopped."""

    fingerprint: str
    step: int
    state: MDState
    neighbour_reference: torch.Tensor  # (N, 3) Å, positions at each replica's last neighbour-list build
    noise: dict[int, torch.Tensor]  # generator state by replica id
    watch: dict[int, torch.Tensor]  # g(r) windows by replica id
    outcomes: dict[int, ReplicaOutcome]
    frame_counts: dict[int, int]  # frames in the trajectory file at ``step``, by replica id
    wall_seconds: float = 0.0  # MD wall time up to ``step``, over every attempt (absent in old checkpoints)
    cpu_seconds: float | None = None  # MD CPU time up to ``step``, every attempt; None: not carried (older)


def checkpoint_path(trajectory: Path) -> Path:
    """Where the checkpoint of ``trajectory`` lives (``TRAJ.h5`` → ``TRAJ.h5.checkpoint``)."""
    return trajectory.with_name(trajectory.name + ".checkpoint")


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` atomically (readers see the previous one or this one, never a partial file)."""
    payload = {
        "fingerprint": checkpoint.fingerprint,
        "step": checkpoint.step,
        "state": {f.name: getattr(checkpoint.state, f.name).detach().cpu() for f in fields(MDState)},
        "neighbour_reference": checkpoint.neighbour_reference.detach().cpu(),
        "noise": checkpoint.noise,
        "watch": checkpoint.watch,
        "outcomes": {replica: asdict(outcome) for replica, outcome in checkpoint.outcomes.items()},
        "frame_counts": checkpoint.frame_counts,
        "wall_seconds": checkpoint.wall_seconds,
        "cpu_seconds": checkpoint.cpu_seconds,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def read_checkpoint(path: Path, device: torch.device | str) -> Checkpoint | None:
    """The checkpoint at ``path``, its tensors on ``device``; None when there is none."""
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        state = MDState(**{name: tensor.to(device) for name, tensor in payload["state"].items()})
        return Checkpoint(
            fingerprint=payload["fingerprint"],
            step=int(payload["step"]),
            state=state,
            neighbour_reference=payload["neighbour_reference"].to(device),
            noise=payload["noise"],
            watch=payload["watch"],
            outcomes={int(r): ReplicaOutcome(**o) for r, o in payload["outcomes"].items()},
            frame_counts={int(r): int(n) for r, n in payload["frame_counts"].items()},
            wall_seconds=float(payload.get("wall_seconds", 0.0)),
            cpu_seconds=None if payload.get("cpu_seconds") is None else float(payload["cpu_seconds"]),
        )
    except TORCH_FILE_ERRORS as error:
        raise TrajectoryError(
            f"{path}: unreadable MD checkpoint ({error}); delete it to start over"
        ) from error


def run_fingerprint(
    model: ForceField,
    structures: Sequence[Atoms],
    momenta: Sequence[np.ndarray | None],
    temperatures_K: Sequence[float],
    replica_ids: Sequence[int],
    protocol: MDProtocol,
) -> str:
    """sha256 of everything that determines the trajectory: model (config and weights), initial structures
    and velocities, temperatures, replica ids and protocol."""
    digest = hashlib.sha256()
    digest.update(protocol.identity_json().encode())
    digest.update(repr(model.config()).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    for atoms, p, temperature, replica in zip(structures, momenta, temperatures_K, replica_ids, strict=True):
        digest.update(f"{replica}:{float(temperature)!r}".encode())
        for array in (atoms.numbers, atoms.positions, atoms.cell.array, atoms.pbc, atoms.get_masses()):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(b"drawn" if p is None else np.ascontiguousarray(p, dtype=np.float64).tobytes())
    return digest.hexdigest()
