"""What a dataset holds: frames per split, elements, sizes, and energy/force statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from egraffbench.data.cache import data_root
from egraffbench.data.dataset import load_dataset, split_available
from egraffbench.data.reference import reference_energy, reference_forces
from egraffbench.data.registry import get_dataset_spec


def frame_statistics(frames: list[Atoms]) -> dict[str, Any]:
    """Counts, elements and reference statistics of a list of frames (energies eV, forces eV/Å)."""
    sizes = np.array([len(atoms) for atoms in frames])
    energy_per_atom = np.array([reference_energy(atoms) for atoms in frames]) / sizes
    forces = np.concatenate([reference_forces(atoms) for atoms in frames])
    symbols = {symbol for atoms in frames for symbol in atoms.symbols.species()}
    return {
        "frames": len(frames),
        "atoms_per_frame_min": int(sizes.min()),
        "atoms_per_frame_max": int(sizes.max()),
        "elements": sorted(symbols, key=lambda symbol: Atoms(symbol).numbers[0]),
        "energy_per_atom_mean_eV": float(energy_per_atom.mean()),
        "energy_per_atom_std_eV": float(energy_per_atom.std()),
        "force_component_rms_eV_per_A": float(np.sqrt(np.mean(forces**2))),
        "force_max_norm_eV_per_A": float(np.linalg.norm(forces, axis=1).max()),
    }


def dataset_info(name: str, root: Path | None = None) -> dict[str, Any]:
    """The registry facts of `name` and, for each split present under the data root, its statistics.

    Splits not present are listed with `"available": false`. The embedded dataset is generated if needed.
    """
    spec = get_dataset_spec(name)
    root = data_root() if root is None else Path(root)
    splits: dict[str, Any] = {}
    for split, split_spec in spec.splits.items():
        entry: dict[str, Any] = {
            "description": split_spec.description,
            "temperature_K": split_spec.temperature_K,
        }
        if spec.generator is not None or split_available(spec, split, root):
            entry |= {"available": True, **frame_statistics(load_dataset(name, split, root))}
        else:
            entry |= {"available": False, "frames_expected": split_spec.frames}
        splits[split] = entry
    return {
        "name": spec.name,
        "description": spec.description,
        "root": str(root),
        "periodic": spec.periodic,
        "temperature_K": spec.temperature_K,
        "temperature_note": spec.temperature_note,
        "test_frame_spacing_fs": spec.test_frame_spacing_fs,
        "oracle": spec.oracle,
        "elements": list(spec.elements),
        "units": spec.units.model_dump(),
        "citation": spec.citation,
        "licence": spec.licence,
        "splits": splits,
    }
