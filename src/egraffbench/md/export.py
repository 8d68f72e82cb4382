"""Export of trajectory files to any format ``ase.io.write`` can write, streamed frame by frame."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import ase.io
from ase import Atoms
from ase.io.formats import UnknownFileTypeError, filetype, ioformats

from egraffbench.errors import ConfigError, TrajectoryError
from egraffbench.md.trajectory import read_replica, replica_ids


def export_formats() -> list[str]:
    """Names of the formats ``ase.io.write`` can write (the choices of ``export --format``)."""
    return sorted(name for name, io in ioformats.items() if io.can_write)


def trajectory_frames(
    path: Path, replicas: Sequence[int] | None = None, frame: int | None = None
) -> Iterator[Atoms]:
    """The frames of ``replicas`` (all by default), replica after replica, one replica in memory at a time;
    only frame index ``frame`` of each (negative: from the end) when given.

    Each frame carries positions (Å), momenta (ASE units), potential energy (eV), forces (eV/Å), cell, pbc,
    and `replica`, `step`, `time_fs` in its info.
    """
    for replica in replica_ids(path) if replicas is None else replicas:
        trajectory = read_replica(path, replica)
        indices = range(len(trajectory.step))
        if frame is not None:
            if not -len(indices) <= frame < len(indices):
                raise TrajectoryError(
                    f"{path}: replica {replica} has {len(indices)} frames, no frame {frame}"
                )
            indices = [indices[frame]]
        for index in indices:
            atoms = trajectory.atoms(index)
            atoms.info["replica"] = replica
            yield atoms


def export_trajectory(
    path: Path,
    out: Path,
    file_format: str | None = None,
    replicas: Sequence[int] | None = None,
    frame: int | None = None,
) -> int:
    """Write the frames of ``replicas`` (only frame index ``frame`` of each, when given; negative counts from
    the end) to ``out`` in ``file_format`` (default: from the suffix of ``out``); returns the frame count.

    Frames go to the writer one at a time, one replica in memory; the few ASE writers that index their images
    (json, xsf, proteindatabank, ...) get them as a list. ``out`` appears only when complete.
    """
    file_format = file_format or _format_of(out)
    io = ioformats.get(file_format)
    if io is None or not io.can_write:
        raise ConfigError(
            f"export format '{file_format}' is not one ase.io.write writes; "
            f"formats: {', '.join(export_formats())}"
        )
    partial = out.with_name(f".{out.stem}.part{out.suffix}")  # same suffix: some writers read it
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        counted = _Counted(trajectory_frames(path, replicas, frame))
        try:
            _write(partial, counted, file_format, io.single)
        except TypeError:  # the writer indexes or measures its images: give it a list
            counted = _Counted(trajectory_frames(path, replicas, frame))
            _write(partial, list(counted), file_format, io.single)
        os.replace(partial, out)
    finally:  # what a failed writer left (bundletrajectory writes a folder)
        if partial.is_dir():
            shutil.rmtree(partial, ignore_errors=True)
        else:
            partial.unlink(missing_ok=True)
    return counted.count


def _write(partial: Path, frames: Iterable[Atoms], file_format: str, single: bool) -> None:
    try:
        ase.io.write(partial, _only_frame(frames, file_format) if single else frames, format=file_format)
    except (ImportError, OSError) as error:
        raise ConfigError(f"cannot write format '{file_format}' here ({error})") from error


class _Counted:
    """An iterator of frames that counts what it handed out."""

    def __init__(self, frames: Iterator[Atoms]) -> None:
        self.frames, self.count = frames, 0

    def __iter__(self) -> Iterator[Atoms]:
        for atoms in self.frames:
            self.count += 1
            yield atoms


def _only_frame(frames: Iterable[Atoms], file_format: str) -> Atoms:
    chosen = list(frames)
    if len(chosen) != 1:
        raise ConfigError(
            f"format '{file_format}' holds one structure but {len(chosen)} frames were chosen; "
            "pass one --replica and a --frame, or use a multi-frame format such as extxyz"
        )
    return chosen[0]


def _format_of(out: Path) -> str:
    try:
        return filetype(str(out), read=False)
    except (UnknownFileTypeError, ValueError) as error:
        raise TrajectoryError(f"{out}: cannot tell the export format from the name; pass --format") from error
