"""HDF5 trajectory files of a batched MD run: one group per replica, frames appended in chunks.

Layout (units: Å, Å/fs, eV, eV/Å, fs)::

    /                      attrs: format, version, protocol (JSON), model, fingerprint, complete (bool)
    /replicas/<id>/        attrs: status ("running" | "completed" | "failed"), failure_step (−1 if none),
                                  failure_time_fs (NaN if none), failure_reason ("" if none), temperature_K
        atomic_numbers (n,)  masses (n,) amu  pbc (3,)
        step (F,) int  time_fs (F,)  positions (F, n, 3)  velocities (F, n, 3)  forces (F, n, 3)
        energy (F,) potential energy  cell (F, 3, 3)

Positions are unwrapped (never folded back into the cell). The file is opened and closed around each write so
that a killed run leaves a readable file; frames past the last checkpoint are cut on resume.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from ase import Atoms, units
from ase.calculators.singlepoint import SinglePointCalculator

from egraffbench.errors import TrajectoryError

FORMAT = "egraffbench-md-trajectory"
VERSION = 1
PER_ATOM = ("positions", "velocities", "forces")
PER_FRAME = ("step", "time_fs", "energy", "cell")


@dataclass(frozen=True)
class ReplicaOutcome:
    """What happened to one replica: status, and for a failure its step, time (fs) and reason."""

    replica: int
    n_atoms: int
    temperature_K: float
    status: str
    failure_step: int | None = None
    failure_time_fs: float | None = None
    failure_reason: str | None = None
    frames: int = 0


@dataclass(frozen=True)
class ReplicaTrajectory:
    """One replica's recorded frames (F frames of n atoms) and outcome."""

    outcome: ReplicaOutcome
    atomic_numbers: np.ndarray
    masses: np.ndarray
    pbc: np.ndarray
    step: np.ndarray
    time_fs: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray
    forces: np.ndarray
    energy: np.ndarray
    cell: np.ndarray

    def atoms(self, frame: int) -> Atoms:
        """Frame ``frame`` as ASE Atoms with momenta and a single-point calculator (energy, forces)."""
        atoms = Atoms(
            numbers=self.atomic_numbers,
            positions=self.positions[frame],
            cell=self.cell[frame],
            pbc=self.pbc,
            masses=self.masses,
        )
        atoms.set_momenta(self.velocities[frame] * self.masses[:, None] / units.fs)
        atoms.calc = SinglePointCalculator(
            atoms, energy=float(self.energy[frame]), forces=np.array(self.forces[frame])
        )
        atoms.info["step"] = int(self.step[frame])
        atoms.info["time_fs"] = float(self.time_fs[frame])
        return atoms


def create_trajectory(
    path: Path,
    header: Mapping[str, str],
    structures: Mapping[int, Atoms],
    temperatures_K: Mapping[int, float],
    dtype: np.dtype,
) -> None:
    """Write an empty trajectory for the replicas ``structures`` (keyed by replica id), replacing any file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as file:
        file.attrs.update({"format": FORMAT, "version": VERSION, "complete": False, **header})
        for replica, atoms in structures.items():
            group = file.create_group(f"replicas/{replica}")
            group.attrs.update(
                {
                    "status": "running",
                    "failure_step": -1,
                    "failure_time_fs": np.nan,
                    "failure_reason": "",
                    "temperature_K": float(temperatures_K[replica]),
                }
            )
            n = len(atoms)
            group["atomic_numbers"] = atoms.numbers
            group["masses"] = atoms.get_masses()
            group["pbc"] = atoms.pbc
            for name, shape, kind in (
                ("step", (), np.int64),
                ("time_fs", (), np.float64),
                ("positions", (n, 3), dtype),
                ("velocities", (n, 3), dtype),
                ("forces", (n, 3), dtype),
                ("energy", (), np.float64),
                ("cell", (3, 3), dtype),
            ):
                chunk_frames = max(1, min(256, 65536 // max(1, int(np.prod(shape)))))
                group.create_dataset(
                    name,
                    shape=(0, *shape),
                    maxshape=(None, *shape),
                    dtype=kind,
                    chunks=(chunk_frames, *shape),
                )


def append_frames(path: Path, frames: Mapping[int, Mapping[str, np.ndarray]]) -> None:
    """Append frames per replica id (arrays named as in the layout, first axis = frames)."""
    with _open(path, "a") as file:
        for replica, fields in frames.items():
            group = file[f"replicas/{replica}"]
            for name, values in fields.items():
                dataset = group[name]
                start = dataset.shape[0]
                dataset.resize(start + len(values), axis=0)
                dataset[start:] = values


def truncate_frames(path: Path, frame_counts: Mapping[int, int]) -> None:
    """Cut each replica's frames to ``frame_counts[replica]`` (frames written after the last checkpoint)."""
    with _open(path, "a") as file:
        for replica, count in frame_counts.items():
            group = file[f"replicas/{replica}"]
            for name in (*PER_ATOM, *PER_FRAME):
                group[name].resize(count, axis=0)


def write_outcomes(path: Path, outcomes: Mapping[int, ReplicaOutcome], complete: bool) -> None:
    """Record each replica's status (and failure) and whether the run is complete."""
    with _open(path, "a") as file:
        file.attrs["complete"] = complete
        for replica, outcome in outcomes.items():
            file[f"replicas/{replica}"].attrs.update(
                {
                    "status": outcome.status,
                    "failure_step": -1 if outcome.failure_step is None else outcome.failure_step,
                    "failure_time_fs": np.nan if outcome.failure_time_fs is None else outcome.failure_time_fs,
                    "failure_reason": outcome.failure_reason or "",
                }
            )


def read_header(path: Path) -> dict[str, Any]:
    """The file-level attributes (format, version, protocol JSON, model, fingerprint, complete)."""
    with _open(path, "r") as file:
        return {key: _plain(value) for key, value in file.attrs.items()}


def replica_ids(path: Path) -> list[int]:
    """Replica ids stored in ``path``, ascending."""
    with _open(path, "r") as file:
        return sorted(int(name) for name in file["replicas"])


def read_outcomes(path: Path) -> dict[int, ReplicaOutcome]:
    """Outcome of every replica, by replica id."""
    with _open(path, "r") as file:
        groups = sorted((int(name), group) for name, group in file["replicas"].items())
        return {replica: _outcome(replica, group) for replica, group in groups}


def read_replica(path: Path, replica: int) -> ReplicaTrajectory:
    """All frames of replica ``replica``."""
    with _open(path, "r") as file:
        if f"replicas/{replica}" not in file:
            raise TrajectoryError(
                f"{path}: no replica {replica} (replicas: {sorted(int(r) for r in file['replicas'])})"
            )
        group = file[f"replicas/{replica}"]
        arrays = {
            name: group[name][()] for name in (*PER_ATOM, *PER_FRAME, "atomic_numbers", "masses", "pbc")
        }
        return ReplicaTrajectory(outcome=_outcome(replica, group), **arrays)


def read_protocol(path: Path) -> dict[str, Any]:
    """The MD protocol the file was written with, as a mapping."""
    return json.loads(read_header(path)["protocol"])


def _outcome(replica: int, group: h5py.Group) -> ReplicaOutcome:
    attrs = group.attrs
    failed = int(attrs["failure_step"]) >= 0
    return ReplicaOutcome(
        replica=replica,
        n_atoms=int(group["atomic_numbers"].shape[0]),
        temperature_K=float(attrs["temperature_K"]),
        status=str(_plain(attrs["status"])),
        failure_step=int(attrs["failure_step"]) if failed else None,
        failure_time_fs=float(attrs["failure_time_fs"]) if failed else None,
        failure_reason=str(_plain(attrs["failure_reason"])) if failed else None,
        frames=int(group["step"].shape[0]),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _open(path: Path, mode: str) -> h5py.File:
    try:
        file = h5py.File(path, mode)
    except (OSError, FileNotFoundError) as error:
        raise TrajectoryError(f"{path}: cannot open trajectory file ({error})") from error
    if file.attrs.get("format") != FORMAT:
        file.close()
        raise TrajectoryError(f"{path}: not an egraffbench MD trajectory (attribute 'format' != '{FORMAT}')")
    return file
