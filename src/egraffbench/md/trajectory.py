"""Trajectory files of a batched MD run in H5MD 1.1 (https://www.nongnu.org/h5md/), one particle group per
replica, frames appended in chunks; readable by MDAnalysis's H5MD reader and by h5py.

Layout (time-dependent elements are groups of ``step`` (F,), ``time`` (F,) fs and ``value``; ``step`` and
``time`` are one dataset per replica, hard-linked into every element)::

    /h5md                                   attrs version [1, 1]; author/, creator/ (name, version)
    /particles/replica_<id>/
        species (n,) atomic numbers   mass (n,) u
        box/        attrs dimension 3, boundary ("periodic" | "none") × 3;  edges/  value (F, 3, 3) Å (rows)
        position/   value (F, n, 3) Å, unwrapped (never folded back into the cell)
        velocity/   value (F, n, 3) Å fs-1
        force/      value (F, n, 3) kJ mol-1 Å-1 (a unit MDAnalysis converts; read back here as eV/Å)
        potential_energy/  value (F,) eV
    /egraffbench                            attrs format, version, protocol (JSON), model, fingerprint,
                                                  complete (bool)
        replicas/<id>                       attrs status ("running" | "completed" | "failed"), failure_step
                                                  (−1 if none), failure_time_fs (NaN), failure_reason (""),
                                                  temperature_K

The potential energy sits in the particle group rather than /observables: MDAnalysis reads every observable
at the frame index of the first particle group, which fails once replicas stopped at different times.
Files of layout 1 (egraffbench ≤ 0.1.0: /replicas/<id> with plain datasets) are still read. The file is
opened and closed around each write so that a killed run leaves a readable file; frames past the last
checkpoint are cut on resume.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from ase import Atoms, units
from ase.calculators.singlepoint import SinglePointCalculator

from egraffbench import __version__
from egraffbench.errors import NO_SPACE_ERRNOS, TrajectoryError

FORMAT = "egraffbench-md-trajectory"
VERSION = 2
EXTRA = "egraffbench"  # the H5MD file's group of run metadata and replica outcomes
FORCE_UNIT = "kJ mol-1 Angstrom-1"
EV_PER_FORCE_UNIT = units.kJ / units.mol  # eV/Å in one kJ mol-1 Å-1
METADATA_BYTES = 1 << 16  # room kept for HDF5's own growth (chunk index nodes, headers) per append
# field → (element path in the particle group, unit); step and time_fs are the elements' step and time
ELEMENTS = {
    "positions": ("position", "Angstrom"),
    "velocities": ("velocity", "Angstrom fs-1"),
    "forces": ("force", FORCE_UNIT),
    "energy": ("potential_energy", "eV"),
    "cell": ("box/edges", "Angstrom"),
}
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
        h5md = file.create_group("h5md")
        h5md.attrs["version"] = np.array([1, 1])
        h5md.create_group("author").attrs["name"] = "egraffbench"
        h5md.create_group("creator").attrs.update({"name": "egraffbench", "version": __version__})
        extra = file.create_group(EXTRA)
        extra.attrs.update({"format": FORMAT, "version": VERSION, "complete": False, **header})
        for replica, atoms in structures.items():
            extra.create_group(f"replicas/{replica}").attrs.update(
                {
                    "status": "running",
                    "failure_step": -1,
                    "failure_time_fs": np.nan,
                    "failure_reason": "",
                    "temperature_K": float(temperatures_K[replica]),
                }
            )
            _create_particles(file.create_group(f"particles/{_group(replica)}"), atoms, dtype)


def _create_particles(group: h5py.Group, atoms: Atoms, dtype: np.dtype) -> None:
    group["species"] = atoms.numbers
    group["mass"] = atoms.get_masses()
    group["mass"].attrs["unit"] = "u"
    box = group.create_group("box")
    box.attrs["dimension"] = 3
    box.attrs["boundary"] = ["periodic" if p else "none" for p in atoms.pbc]
    n = len(atoms)
    step = _extensible(group, "position/step", (), np.int64)
    time = _extensible(group, "position/time", (), np.float64)
    time.attrs["unit"] = "fs"
    shapes = {"positions": (n, 3), "velocities": (n, 3), "forces": (n, 3), "energy": (), "cell": (3, 3)}
    for field, (element, unit) in ELEMENTS.items():
        kind = np.float64 if field == "energy" else dtype
        _extensible(group, f"{element}/value", shapes[field], kind).attrs["unit"] = unit
        if element != "position":
            group[f"{element}/step"], group[f"{element}/time"] = step, time  # hard links


def _extensible(group: h5py.Group, name: str, shape: tuple[int, ...], kind: Any) -> h5py.Dataset:
    chunk_frames = max(1, min(256, 65536 // max(1, int(np.prod(shape)))))
    return group.create_dataset(
        name, shape=(0, *shape), maxshape=(None, *shape), dtype=kind, chunks=(chunk_frames, *shape)
    )


def append_frames(path: Path, frames: Mapping[int, Mapping[str, np.ndarray]]) -> None:
    """Append frames per replica id (fields as in :class:`ReplicaTrajectory`, first axis = frames). Raises
    OSError(ENOSPC) before writing anything when the disk has no room for them (:func:`bytes_to_append`)."""
    needed = bytes_to_append(path, frames)
    free = shutil.disk_usage(path.parent).free
    if free < needed:
        raise _no_space(path, f"{needed} bytes needed for the next frames, {free} free")
    _reserve(path, needed)
    with _writing(path) as file:
        for replica, fields in frames.items():
            for field, values in fields.items():
                dataset = _dataset(file, replica, field)
                start = dataset.shape[0]
                dataset.resize(start + len(values), axis=0)
                dataset[start:] = values / EV_PER_FORCE_UNIT if field == "forces" else values


def _no_space(path: Path, detail: str = "") -> OSError:
    """OSError(ENOSPC) for ``path``, which the commands report as out of space."""
    return OSError(errno.ENOSPC, "No space left on device" + (f" ({detail})" if detail else ""), str(path))


def _reserve(path: Path, size: int) -> None:
    """Allocate ``size`` bytes of disk past the end of ``path``, where HDF5 puts what it appends: another
    process cannot take them between the space check and the write. HDF5 cuts the file back to what it used
    when it closes it, and opens a file longer than that as it is (a kill in between loses nothing). Where
    the system has no posix_fallocate (macOS, Windows) the space check alone guards the write."""
    allocate = getattr(os, "posix_fallocate", None)
    if allocate is None:
        return
    with open(path, "r+b") as handle:
        end = os.fstat(handle.fileno()).st_size
        try:
            allocate(handle.fileno(), end, size)
        except OSError as error:
            handle.truncate(end)
            if error.errno in NO_SPACE_ERRNOS:
                raise _no_space(
                    path, f"{size} bytes needed for the next frames could not be allocated"
                ) from None
            if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # no allocation here: the check must do
                raise


def bytes_to_append(path: Path, frames: Mapping[int, Mapping[str, np.ndarray]]) -> int:
    """Disk bytes that appending ``frames`` can take at most: every chunk the new frames reach into that is
    not allocated yet (HDF5 allocates whole chunks), plus METADATA_BYTES for chunk indexes and headers.

    Checked before a write because HDF5 does not survive a full disk mid-write: the write fails inside the
    library, closing the file fails again, and the process can crash when the objects are freed (seen: a
    segmentation fault after a full tmpfs); a check beforehand leaves the file as the last write left it."""
    needed = METADATA_BYTES
    with _open(path, "r") as file:
        for replica, fields in frames.items():
            for field, values in fields.items():
                dataset = _dataset(file, replica, field)
                per_chunk = dataset.chunks[0]
                start = dataset.shape[0]
                new_chunks = -(-(start + len(values)) // per_chunk) - -(-start // per_chunk)
                needed += new_chunks * int(np.prod(dataset.chunks)) * dataset.dtype.itemsize
    return needed


def truncate_frames(path: Path, frame_counts: Mapping[int, int]) -> None:
    """Cut each replica's frames to ``frame_counts[replica]`` (frames written after the last checkpoint)."""
    with _writing(path) as file:
        for replica, count in frame_counts.items():
            for field in (*PER_ATOM, *PER_FRAME):
                _dataset(file, replica, field).resize(count, axis=0)


def _dataset(file: h5py.File, replica: int, field: str) -> h5py.Dataset:
    """The dataset of replica ``replica`` that holds ``field`` (a field of :class:`ReplicaTrajectory`)."""
    if EXTRA not in file:
        raise TrajectoryError(
            f"{file.filename}: written by egraffbench 0.1.0 (layout 1); it can be read and exported but not "
            "extended: run again with overwrite"
        )
    group = file[f"particles/{_group(replica)}"]
    if field in ("step", "time_fs"):
        return group["position/step" if field == "step" else "position/time"]
    return group[f"{ELEMENTS[field][0]}/value"]


def write_outcomes(path: Path, outcomes: Mapping[int, ReplicaOutcome], complete: bool) -> None:
    """Record each replica's status (and failure) and whether the run is complete."""
    with _writing(path) as file:
        extra = _extra(file)
        extra.attrs["complete"] = complete
        for replica, outcome in outcomes.items():
            extra[f"replicas/{replica}"].attrs.update(
                {
                    "status": outcome.status,
                    "failure_step": -1 if outcome.failure_step is None else outcome.failure_step,
                    "failure_time_fs": np.nan if outcome.failure_time_fs is None else outcome.failure_time_fs,
                    "failure_reason": outcome.failure_reason or "",
                }
            )


def read_header(path: Path) -> dict[str, Any]:
    """The run metadata (format, version, protocol JSON, model, fingerprint, complete)."""
    with _open(path, "r") as file:
        return {key: _plain(value) for key, value in _extra(file).attrs.items()}


def replica_ids(path: Path) -> list[int]:
    """Replica ids stored in ``path``, ascending."""
    with _open(path, "r") as file:
        return sorted(int(name) for name in _extra(file)["replicas"])


def read_outcomes(path: Path) -> dict[int, ReplicaOutcome]:
    """Outcome of every replica, by replica id."""
    with _open(path, "r") as file:
        replicas = sorted(int(name) for name in _extra(file)["replicas"])
        return {replica: _outcome(file, replica) for replica in replicas}


def read_replica(path: Path, replica: int, frames: slice = slice(None)) -> ReplicaTrajectory:
    """The frames ``frames`` (default: all) of replica ``replica``, read from the file without the others
    (forces in eV/Å whatever unit the file stores)."""
    with _open(path, "r") as file:
        if str(replica) not in _extra(file)["replicas"]:
            raise TrajectoryError(
                f"{path}: no replica {replica} (replicas: {sorted(int(r) for r in _extra(file)['replicas'])})"
            )
        if _extra(file) is file:  # layout 1: plain datasets in /replicas/<id>
            group = file[f"replicas/{replica}"]
            series = {n: group[n][frames] for n in (*PER_ATOM, *PER_FRAME)}
            constant = {n: group[n][()] for n in ("atomic_numbers", "masses", "pbc")}
            return ReplicaTrajectory(outcome=_outcome(file, replica), **series, **constant)
        group = file[f"particles/{_group(replica)}"]
        arrays = {field: group[f"{element}/value"][frames] for field, (element, _) in ELEMENTS.items()}
        arrays["forces"] = arrays["forces"] * EV_PER_FORCE_UNIT
        return ReplicaTrajectory(
            outcome=_outcome(file, replica),
            atomic_numbers=group["species"][()],
            masses=group["mass"][()],
            pbc=np.array([_plain(b) == "periodic" for b in group["box"].attrs["boundary"]]),
            step=group["position/step"][frames],
            time_fs=group["position/time"][frames],
            **arrays,
        )


def read_protocol(path: Path) -> dict[str, Any]:
    """The MD protocol the file was written with, as a mapping."""
    return json.loads(read_header(path)["protocol"])


def _group(replica: int) -> str:
    return f"replica_{replica}"


def _extra(file: h5py.File) -> h5py.Group:
    """The group of run metadata and replica outcomes: /egraffbench, or the root in layout 1."""
    return file.get(EXTRA, file)


def _outcome(file: h5py.File, replica: int) -> ReplicaOutcome:
    attrs = _extra(file)[f"replicas/{replica}"].attrs
    if EXTRA in file:
        group = file[f"particles/{_group(replica)}"]
        n_atoms, frames = group["species"].shape[0], group["position/step"].shape[0]
    else:
        group = file[f"replicas/{replica}"]
        n_atoms, frames = group["atomic_numbers"].shape[0], group["step"].shape[0]
    failed = int(attrs["failure_step"]) >= 0
    return ReplicaOutcome(
        replica=replica,
        n_atoms=int(n_atoms),
        temperature_K=float(attrs["temperature_K"]),
        status=str(_plain(attrs["status"])),
        failure_step=int(attrs["failure_step"]) if failed else None,
        failure_time_fs=float(attrs["failure_time_fs"]) if failed else None,
        failure_reason=str(_plain(attrs["failure_reason"])) if failed else None,
        frames=int(frames),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


@contextmanager
def _writing(path: Path) -> Iterator[h5py.File]:
    """The trajectory opened for writing; a full disk that HDF5 reports (as OSError or RuntimeError naming
    errno 28 or 122) is raised as OSError(ENOSPC), which the commands report as out of space."""
    try:
        with _open(path, "a") as file:
            yield file
    except (OSError, RuntimeError) as error:
        if getattr(error, "errno", None) in NO_SPACE_ERRNOS or any(
            f"errno = {n}," in str(error) for n in NO_SPACE_ERRNOS
        ):
            raise _no_space(path) from None
        raise


def _open(path: Path, mode: str) -> h5py.File:
    try:
        file = h5py.File(path, mode)
    except (OSError, FileNotFoundError) as error:
        raise TrajectoryError(f"{path}: cannot open trajectory file ({error})") from error
    if _extra(file).attrs.get("format") != FORMAT:
        file.close()
        raise TrajectoryError(
            f"{path}: not an egraffbench MD trajectory (no '{EXTRA}' group with format '{FORMAT}'); "
            "read other files with ase.io or MDAnalysis"
        )
    return file
