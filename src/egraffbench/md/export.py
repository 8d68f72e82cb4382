"""Export of trajectory files to other formats (extended XYZ) for visualisation and other tools."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import ase.io

from egraffbench.errors import ConfigError
from egraffbench.fileio import atomic_write_text
from egraffbench.md.trajectory import read_replica, replica_ids

EXPORT_FORMATS = ("extxyz",)


def export_trajectory(
    path: Path, out: Path, file_format: str = "extxyz", replicas: Sequence[int] | None = None
) -> int:
    """Write the frames of ``replicas`` (all by default), replica after replica, to ``out``; returns frames.

    Each frame carries positions (Å), momenta (ASE units), potential energy (eV), forces (eV/Å), cell, pbc,
    and `replica`, `step`, `time_fs` in its info.
    """
    if file_format not in EXPORT_FORMATS:
        raise ConfigError(
            f"export format '{file_format}' is not supported; formats: {', '.join(EXPORT_FORMATS)}"
        )
    chosen = replica_ids(path) if replicas is None else list(replicas)
    frames = []
    for replica in chosen:
        trajectory = read_replica(path, replica)
        for frame in range(len(trajectory.step)):
            atoms = trajectory.atoms(frame)
            atoms.info["replica"] = replica
            frames.append(atoms)
    text = io.StringIO()
    ase.io.write(text, frames, format=file_format)
    atomic_write_text(out, text.getvalue())
    return len(frames)
