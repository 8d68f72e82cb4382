"""The embedded EMT Cu3Au dataset: composition, determinism, EMT consistency, a contiguous test trajectory."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms, units
from ase.calculators.emt import EMT

from egraffbench.data import dataset_info, load_dataset, reference_energy, reference_forces
from egraffbench.data import embedded as embedded_module
from egraffbench.data.embedded import EMBEDDED_PARAMETERS, alloy_lattice, ensure_embedded, generate_embedded
from egraffbench.data.loaders import read_extxyz

SMALL = replace(EMBEDDED_PARAMETERS, train_frames=4, val_frames=2, test_frames=30, equilibration_fs=30)
TINY = replace(EMBEDDED_PARAMETERS, train_frames=2, val_frames=1, test_frames=4, equilibration_fs=10)


@pytest.fixture(scope="module")
def small_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("embedded")
    paths = {split: folder / f"{split}.extxyz" for split in ("train", "val", "test")}
    ensure_embedded(paths, SMALL)
    return paths


def _arrays(frames: list[Atoms]) -> tuple[np.ndarray, ...]:
    return (
        np.array([a.positions for a in frames]),
        np.array([a.get_momenta() for a in frames]),
        np.array([reference_energy(a) for a in frames]),
        np.array([reference_forces(a) for a in frames]),
    )


def test_lattice() -> None:
    atoms = alloy_lattice()
    assert len(atoms) == 32 and Counter(atoms.get_chemical_symbols()) == {"Cu": 24, "Au": 8}
    assert np.allclose(atoms.cell.array, np.eye(3) * 7.5) and atoms.pbc.all()
    assert np.array_equal(alloy_lattice().numbers, atoms.numbers)  # the same sites every time
    assert not np.array_equal(alloy_lattice(replace(EMBEDDED_PARAMETERS, seed=1)).numbers, atoms.numbers)


def test_generation_is_deterministic() -> None:
    first, second = generate_embedded(TINY), generate_embedded(TINY)
    for split in ("train", "val", "test"):
        for a, b in zip(_arrays(first[split]), _arrays(second[split]), strict=True):
            assert np.array_equal(a, b)  # bit for bit: the same computation twice in one process
    assert not np.array_equal(_arrays(first["train"])[0], _arrays(first["val"])[0])  # independent runs


def test_split_sizes_and_times(small_files: dict[str, Path]) -> None:
    splits = {split: read_extxyz(path) for split, path in small_files.items()}
    assert [len(splits[s]) for s in ("train", "val", "test")] == [4, 2, 30]
    assert [a.info["time_fs"] for a in splits["train"]] == [20.0, 40.0, 60.0, 80.0]
    assert np.allclose(np.diff([a.info["time_fs"] for a in splits["test"]]), 1.0)


def test_stored_reference_is_emt(small_files: dict[str, Path]) -> None:
    """Energies and forces read back from disk equal ASE's EMT on the stored positions (the oracle)."""
    for path in small_files.values():
        for atoms in read_extxyz(path)[::3]:
            stored_energy, stored_forces = reference_energy(atoms), reference_forces(atoms)
            fresh = atoms.copy()
            fresh.calc = EMT()
            assert fresh.get_potential_energy() == pytest.approx(stored_energy, abs=1e-6)  # eV
            assert np.allclose(fresh.get_forces(), stored_forces, atol=1e-5)  # eV/Å


def test_test_split_is_one_trajectory(small_files: dict[str, Path]) -> None:
    """Consecutive test frames advance by the mean of their velocities × 1 fs (stored momenta agree)."""
    frames = read_extxyz(small_files["test"])
    positions = np.array([a.positions for a in frames])
    velocities = np.array([a.get_velocities() for a in frames])  # Å per ASE time unit
    steps = np.diff(positions, axis=0)
    predicted = 0.5 * (velocities[1:] + velocities[:-1]) * units.fs
    relative = np.linalg.norm(steps - predicted) / np.linalg.norm(steps)
    assert relative < 0.1  # Langevin noise and O(dt²) terms only
    shuffled = np.diff(positions[[0, 5, 1, 9, 3]], axis=0)
    assert np.linalg.norm(shuffled - predicted[:4]) / np.linalg.norm(shuffled) > 0.5  # not contiguous


def test_existing_files_are_not_regenerated(
    small_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("regenerated although cached")

    monkeypatch.setattr(embedded_module, "write_embedded", refuse)
    ensure_embedded(small_files, SMALL)


@pytest.mark.slow
def test_full_dataset_through_load_dataset(data_cache: Path) -> None:
    """First use generates and caches the registry's dataset; temperatures are those promised."""
    test = load_dataset("emt-cu3au", "test")
    assert (data_cache / "emt-cu3au" / "test.extxyz").is_file()
    train = load_dataset("emt-cu3au", "train")
    assert len(train) == 200 and len(load_dataset("emt-cu3au", "val")) == 50 and len(test) == 1000
    assert np.mean([a.get_temperature() for a in test]) == pytest.approx(900, rel=0.1)
    assert np.mean([a.get_temperature() for a in train]) == pytest.approx(600, rel=0.1)
    info = dataset_info("emt-cu3au")
    assert info["splits"]["test"]["frames"] == 1000 and info["oracle"] == "emt"
    assert (
        info["splits"]["test"]["force_component_rms_eV_per_A"]
        > info["splits"]["train"]["force_component_rms_eV_per_A"]
    )
