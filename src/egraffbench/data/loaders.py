"""Readers for the three on-disk formats (npz, extxyz, DeePMD), each returning validated `ase.Atoms` frames.

Every frame carries its reference energy (eV) and forces (eV/Å) through `attach_reference`; positions and
cells are in Å. Array formats are read and checked whole (vectorised), then cut into frames.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Literal

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers
from ase.io import read

from egraffbench.data.reference import attach_reference
from egraffbench.data.validation import FrameBlock, check_finite, check_numbers, check_shape, require
from egraffbench.errors import DatasetError

Format = Literal["npz", "extxyz", "deepmd"]
NPZ_FIELDS = ("pos", "energy", "forces", "cell", "atomic_numbers", "pbc")
DEEPMD_ARRAYS = ("box", "coord", "energy", "force")
XYZ_ENERGY_KEYS = ("energy", "REF_energy", "DFT_energy", "dft_energy")
XYZ_FORCE_KEYS = ("forces", "REF_forces", "DFT_forces", "dft_forces")
_NPZ_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


def display_name(path: Path) -> str:
    """Short name of a data file for messages: its folder and its own name (e.g. `lips/val.npz`)."""
    return f"{path.parent.name}/{path.name}"


def _energy_vector(source: str, field: str, energy: np.ndarray, n_frames: int) -> np.ndarray:
    """Energy as shape (F,), accepting (F,) or (F, 1) on disk."""
    if energy.shape not in ((n_frames,), (n_frames, 1)):
        expected = f"({n_frames}, 1) or ({n_frames},)"
        raise DatasetError(f"{source}: field '{field}' has shape {energy.shape}, expected {expected}")
    return energy.reshape(n_frames).astype(float)


def _open_npz(path: Path) -> np.lib.npyio.NpzFile:
    """``np.load`` of an archive; DatasetError for a single .npy array (e.g. renamed to .npz)."""
    archive = np.load(path, allow_pickle=False)
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DatasetError(f"{display_name(path)}: is a single .npy array, expected an .npz archive")
    return archive


def read_npz(path: Path) -> FrameBlock:
    """Read and validate an EGraFFBench-style npz (keys pos, energy, forces, cell, atomic_numbers, pbc)."""
    source = display_name(path)
    try:
        with _open_npz(path) as archive:
            missing = [key for key in NPZ_FIELDS if key not in archive.files]
            if missing:
                expected = ", ".join(NPZ_FIELDS)
                raise DatasetError(f"{source}: missing field(s) {', '.join(missing)}; expected {expected}")
            arrays = {key: archive[key] for key in NPZ_FIELDS}
    except _NPZ_READ_ERRORS as error:
        raise DatasetError(f"{source}: not a readable .npz file ({type(error).__name__}: {error})") from error
    positions, numbers = arrays["pos"], arrays["atomic_numbers"]
    require(
        [
            None
            if numbers.ndim == 1
            else f"{source}: field 'atomic_numbers' has shape {numbers.shape}, expected (N,)",
            None
            if positions.ndim == 3
            else f"{source}: field 'pos' has shape {positions.shape}, expected (F, N, 3)",
        ]
    )
    n_frames, n_atoms = positions.shape[0], numbers.shape[0]
    cells = arrays["cell"]
    if cells.shape == (3, 3):
        cells = np.broadcast_to(cells, (n_frames, 3, 3))
    require(
        [
            check_shape(source, "pos", positions, (n_frames, n_atoms, 3)),
            check_shape(source, "forces", arrays["forces"], (n_frames, n_atoms, 3)),
            None if n_frames else f"{source}: holds no frames",
            check_shape(source, "cell", cells, (n_frames, 3, 3)),
            check_shape(source, "pbc", arrays["pbc"], (3,)),
        ]
    )
    block = FrameBlock(
        positions=positions.astype(float),
        energy=_energy_vector(source, "energy", arrays["energy"], n_frames),
        forces=arrays["forces"].astype(float),
        numbers=numbers,
        cells=cells.astype(float),
        pbc=arrays["pbc"].astype(bool),
    )
    _check_block_values(source, block, ("atomic_numbers", "pos", "energy", "forces", "cell"))
    return block


def _check_block_values(source: str, block: FrameBlock, fields: tuple[str, str, str, str, str]) -> None:
    numbers_field, positions_field, energy_field, forces_field, cell_field = fields
    require(
        [
            check_numbers(source, numbers_field, block.numbers),
            check_finite(source, positions_field, block.positions),
            check_finite(source, energy_field, block.energy),
            check_finite(source, forces_field, block.forces),
            check_finite(source, cell_field, block.cells),
        ]
    )


def _read_deepmd_numbers(folder: Path, source: str) -> np.ndarray:
    try:
        type_map = (folder / "type_map.raw").read_text().split()
        types = np.loadtxt(folder / "type.raw", dtype=int, ndmin=1)
    except (OSError, ValueError) as error:
        raise DatasetError(f"{source}: unreadable type_map.raw/type.raw ({error})") from error
    unknown = [symbol for symbol in type_map if symbol not in atomic_numbers]
    if unknown:
        raise DatasetError(
            f"{source}/type_map.raw: unknown element symbol(s) {unknown}, expected symbols known to ASE"
        )
    out_of_range = (types < 0) | (types >= len(type_map))
    if out_of_range.any():
        raise DatasetError(
            f"{source}/type.raw: type index {int(types[out_of_range][0])} outside type_map.raw "
            f"(expected 0–{len(type_map) - 1})"
        )
    return np.array([atomic_numbers[type_map[t]] for t in types], dtype=int)


def _read_deepmd_set(set_dir: Path, source: str, n_atoms: int) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for name in DEEPMD_ARRAYS:
        path = set_dir / f"{name}.npy"
        try:
            arrays[name] = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as error:
            raise DatasetError(f"{source}/{set_dir.name}/{name}.npy: unreadable ({error})") from error
    n_frames = arrays["coord"].shape[0] if arrays["coord"].ndim else 0
    prefix = f"{source}/{set_dir.name}"
    require(
        [
            check_shape(prefix, "coord", arrays["coord"], (n_frames, 3 * n_atoms)),
            check_shape(prefix, "force", arrays["force"], (n_frames, 3 * n_atoms)),
            check_shape(prefix, "box", arrays["box"], (n_frames, 9)),
        ]
    )
    arrays["energy"] = _energy_vector(prefix, "energy", arrays["energy"], n_frames)
    return arrays


def read_deepmd(folder: Path) -> FrameBlock:
    """Read and validate a DeePMD-kit system: type_map.raw, type.raw, set.*/{box,coord,energy,force}.npy."""
    source = display_name(folder)
    if not folder.is_dir():
        raise DatasetError(f"{source}: not a DeePMD system folder")
    numbers = _read_deepmd_numbers(folder, source)
    set_dirs = sorted(folder.glob("set.*"))
    if not set_dirs:
        raise DatasetError(f"{source}: no set.* folders, expected set.000/{{box,coord,energy,force}}.npy")
    sets = [_read_deepmd_set(set_dir, source, len(numbers)) for set_dir in set_dirs]
    n_frames = sum(len(s["energy"]) for s in sets)
    block = FrameBlock(
        positions=np.concatenate([s["coord"] for s in sets]).reshape(n_frames, len(numbers), 3).astype(float),
        energy=np.concatenate([s["energy"] for s in sets]),
        forces=np.concatenate([s["force"] for s in sets]).reshape(n_frames, len(numbers), 3).astype(float),
        numbers=numbers,
        cells=np.concatenate([s["box"] for s in sets]).reshape(n_frames, 3, 3).astype(float),
        pbc=np.full(3, not (folder / "nopbc").exists()),
    )
    require([None if n_frames else f"{source}: holds no frames"])
    _check_block_values(source, block, ("type.raw", "coord", "energy", "force", "box"))
    return block


def block_to_atoms(block: FrameBlock, pbc: bool | None = None) -> list[Atoms]:
    """One `Atoms` per frame with its reference attached; `pbc` overrides the stored periodicity."""
    periodicity = block.pbc if pbc is None else np.full(3, pbc)
    frames = []
    for index in range(len(block)):
        atoms = Atoms(
            numbers=block.numbers, positions=block.positions[index], cell=block.cells[index], pbc=periodicity
        )
        frames.append(attach_reference(atoms, block.energy[index], block.forces[index]))
    return frames


def scan_extxyz(path: Path) -> int:
    """Number of frames in an (ext)xyz file; DatasetError if a frame is incomplete or a header is bad."""
    source = display_name(path)
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        raise DatasetError(f"{source}: file ends mid-line (truncated?)")
    lines = data.split(b"\n")[:-1]
    line, n_frames = 0, 0
    while line < len(lines):
        header = lines[line].strip()
        if not header:
            line += 1
            continue
        try:
            n_atoms = int(header)
        except ValueError:
            found = header[:40].decode(errors="replace")
            raise DatasetError(
                f"{source}: line {line + 1} should hold the atom count of frame {n_frames}, found {found!r}"
            ) from None
        present = len(lines) - line - 2
        if present < n_atoms:
            lines_present = max(present, 0)
            raise DatasetError(
                f"{source}: frame {n_frames} is truncated: {lines_present} of {n_atoms} atom lines"
            )
        line += n_atoms + 2
        n_frames += 1
    return n_frames


def _xyz_reference(atoms: Atoms, source: str) -> tuple[float, np.ndarray]:
    """Energy and forces of a parsed extxyz frame: from the calculator ASE attached, or REF_*-style keys."""
    results = atoms.calc.results if atoms.calc is not None else {}
    energy = results.get("energy")
    if energy is None:
        energy = next((atoms.info[key] for key in XYZ_ENERGY_KEYS if key in atoms.info), None)
    forces = results.get("forces")
    if forces is None:
        forces = next((atoms.arrays[key] for key in XYZ_FORCE_KEYS if key in atoms.arrays), None)
    require(
        [
            None
            if energy is not None
            else f"{source}: no energy, expected one of the keys {XYZ_ENERGY_KEYS}",
            None if forces is not None else f"{source}: no forces, expected one of the keys {XYZ_FORCE_KEYS}",
        ]
    )
    try:
        energy_value = float(energy)
    except (TypeError, ValueError):
        raise DatasetError(f"{source}: field 'energy' is {energy!r}, expected a number") from None
    return energy_value, np.asarray(forces, dtype=float)


def read_extxyz(path: Path, pbc: bool | None = None) -> list[Atoms]:
    """Read and validate an extxyz file; `pbc` overrides the stored periodicity."""
    source = display_name(path)
    scan_extxyz(path)
    try:
        frames = read(path, index=":", format="extxyz")
    except KeyError as error:
        raise DatasetError(f"{source}: unknown element or property {error}") from error
    except (OSError, ValueError, IndexError) as error:
        raise DatasetError(f"{source}: not a readable extxyz file ({error})") from error
    for index, atoms in enumerate(frames):
        where = f"{source} frame {index}"
        energy, forces = _xyz_reference(atoms, where)
        require(
            [
                check_shape(where, "forces", forces, (len(atoms), 3)),
                check_finite(where, "pos", atoms.positions),
                check_finite(where, "energy", np.array(energy)),
                check_finite(where, "forces", forces),
            ]
        )
        if pbc is not None:
            atoms.pbc = pbc
        attach_reference(atoms, energy, forces)
    return frames


def count_frames(path: Path, file_format: Format) -> int:
    """Number of frames in a data file or DeePMD folder, read cheaply (no Atoms built)."""
    if file_format == "extxyz":
        return scan_extxyz(path)
    if file_format == "deepmd":
        return sum(np.load(p, mmap_mode="r").shape[0] for p in sorted(path.glob("set.*/energy.npy")))
    try:
        with _open_npz(path) as archive:
            return int(archive["energy"].shape[0])
    except _NPZ_READ_ERRORS as error:
        raise DatasetError(f"{display_name(path)}: not a readable .npz file ({error})") from error


def load_frames(
    path: Path, file_format: Format, pbc: bool | None = None, frame_range: tuple[int, int] | None = None
) -> list[Atoms]:
    """Frames of one file or DeePMD folder, optionally only frames start … stop − 1, as validated `Atoms`."""
    if not path.exists():
        raise DatasetError(f"{path}: not found")
    if file_format == "extxyz":
        frames = read_extxyz(path, pbc)
        n_frames = len(frames)
    else:
        block = read_npz(path) if file_format == "npz" else read_deepmd(path)
        n_frames = len(block)
    if frame_range is not None:
        start, stop = frame_range
        if stop > n_frames:
            wanted = f"frames {start}–{stop - 1}"
            raise DatasetError(
                f"{display_name(path)}: holds {n_frames} frames, expected at least {stop} ({wanted})"
            )
    if file_format == "extxyz":
        return frames if frame_range is None else frames[frame_range[0] : frame_range[1]]
    if frame_range is not None:
        block = block.select(*frame_range)
    return block_to_atoms(block, pbc)
