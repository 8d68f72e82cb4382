"""Loaders on the real EGraFFBench files (shapes, units, physics) and on broken files made here."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms, units
from ase.data import atomic_masses
from ase.io import write

from egraffbench.data import attach_reference, load_dataset, reference_energy, reference_forces
from egraffbench.data.loaders import count_frames, load_frames, read_deepmd, read_extxyz, read_npz
from egraffbench.errors import DatasetError


def _force_rms(frames: list[Atoms]) -> float:
    return float(np.sqrt(np.mean(np.concatenate([reference_forces(a) for a in frames]) ** 2)))


def _composition(atoms: Atoms) -> dict[str, int]:
    return dict(Counter(atoms.get_chemical_symbols()))


def _unwrapped(frames: list[Atoms]) -> np.ndarray:
    """Positions (F, N, 3) with periodic jumps between consecutive frames removed (minimum image)."""
    positions = np.array([a.positions for a in frames])
    steps = np.diff(positions, axis=0)
    if frames[0].pbc.any():
        cell = frames[0].cell.array
        fractional = steps @ np.linalg.inv(cell)
        steps = (fractional - np.round(fractional)) @ cell
    return np.concatenate([positions[:1], positions[:1] + np.cumsum(steps, axis=0)])


def _spacing_and_temperature(frames: list[Atoms]) -> tuple[float, float]:
    """Frame spacing (fs) fitted to x(t+Δ) − 2x(t) + x(t−Δ) = (F/m) Δ², and the kinetic temperature (K)."""
    x = _unwrapped(frames)
    masses = atomic_masses[frames[0].numbers][None, :, None]
    acceleration = np.array([reference_forces(a) for a in frames[1:-1]]) / masses
    second_difference = x[2:] - 2 * x[1:-1] + x[:-2]
    dt2 = np.sum(second_difference * acceleration) / np.sum(acceleration**2)
    velocity = (x[2:] - x[:-2]) / (2 * np.sqrt(dt2))
    temperature = np.sum(masses * velocity**2) / (3 * velocity.shape[0] * velocity.shape[1] * units.kB)
    return float(np.sqrt(dt2) / units.fs), float(temperature)


def _write_npz(path: Path, n_frames: int = 5, n_atoms: int = 4, **overrides: np.ndarray) -> Path:
    rng = np.random.default_rng(0)
    arrays = {
        "pos": rng.uniform(0, 5, (n_frames, n_atoms, 3)),
        "energy": rng.normal(-10, 1, (n_frames, 1)),
        "forces": rng.normal(0, 1, (n_frames, n_atoms, 3)),
        "cell": np.eye(3) * 10.0,
        "atomic_numbers": np.array([1, 6, 8, 1][:n_atoms]),
        "pbc": np.array([True, True, True]),
    }
    arrays.update(overrides)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


# --- real files -------------------------------------------------------------------------------------------


def test_md17_aspirin_test_split(shared_datasets: Path) -> None:
    frames = load_dataset("md17-aspirin", "test", root=shared_datasets)
    assert len(frames) == 1000
    assert all(len(a) == 21 for a in frames)
    assert _composition(frames[0]) == {"C": 9, "H": 8, "O": 4}
    assert not frames[0].pbc.any()
    energies = np.array([reference_energy(a) for a in frames])
    assert np.all((energies / 21 > -900) & (energies / 21 < -800))  # DFT total energy, eV/atom
    assert energies.std() < 1.0  # one 500 K trajectory: fluctuations of a few tenths of an eV
    assert 0.3 < _force_rms(frames) < 3.0  # eV/Å: thermal forces, not Hartree/Bohr or kcal/mol/Å
    assert frames[0].get_potential_energy() == pytest.approx(energies[0])  # ASE sees the reference


def test_md17_test_split_is_the_contiguous_500_K_trajectory(shared_datasets: Path) -> None:
    frames = load_dataset("md17-ethanol", "test", root=shared_datasets)
    steps = np.linalg.norm(np.diff([a.positions for a in frames], axis=0), axis=2)
    assert steps.max() < 0.05  # Å per frame: consecutive MD frames
    spacing, temperature = _spacing_and_temperature(frames)
    assert spacing == pytest.approx(0.5, rel=0.05)  # the registry's test_frame_spacing_fs
    assert temperature == pytest.approx(500, rel=0.1)  # the registry's temperature_K

    train = load_dataset("md17-ethanol", "train", root=shared_datasets)
    train_steps = np.linalg.norm(np.diff([a.positions for a in train[:100]], axis=0), axis=2)
    assert train_steps.max() > 10 * steps.max()  # random frames: no such continuity


def test_molecules_in_a_box_are_not_periodic(shared_datasets: Path) -> None:
    on_disk = read_npz(shared_datasets / "3bpa" / "train.npz")
    assert on_disk.pbc.all()  # the file says periodic (50 Å box) ...
    frames = load_dataset("3bpa", "train", root=shared_datasets)
    assert not frames[0].pbc.any()  # ... the registry treats 3BPA as a molecule
    assert np.allclose(frames[0].cell.lengths(), 50.0)
    assert _composition(frames[0]) == {"C": 12, "H": 12, "N": 2, "O": 1}  # C12H12N2O


def test_force_scale_follows_temperature(shared_datasets: Path) -> None:
    """Equipartition: ⟨F²⟩ ∝ T, so 600 K splits have √2 larger RMS forces than 300 K ones."""
    acac_300 = load_dataset("acac", "test", root=shared_datasets)  # npz
    acac_600 = load_dataset("acac", "test_600K", root=shared_datasets)  # BOTNet extxyz
    assert len(acac_600) == 650 and all(len(a) == 15 for a in acac_600)
    assert _composition(acac_600[0]) == {"C": 5, "H": 8, "O": 2}
    assert 1.2 < _force_rms(acac_600) / _force_rms(acac_300) < 1.6
    bpa_300 = load_dataset("3bpa", "train", root=shared_datasets)
    bpa_600 = load_dataset("3bpa", "test", root=shared_datasets)
    assert 1.2 < _force_rms(bpa_600) / _force_rms(bpa_300) < 1.6


def test_lips_triclinic_cell(shared_datasets: Path) -> None:
    frames = load_dataset("lips", "val", root=shared_datasets)
    atoms = frames[0]
    assert len(frames) == 1000 and len(atoms) == 83
    assert _composition(atoms) == {"Li": 27, "P": 12, "S": 44}  # Li6.75P3S11 × 4
    assert atoms.pbc.all()
    angles = atoms.cell.angles()
    assert np.all(np.abs(angles - 90) > 5)  # non-orthogonal
    distances = atoms.get_all_distances(mic=True)
    np.fill_diagonal(distances, np.inf)
    assert 1.8 < distances.min() < 2.2  # P–S bond: the cell is read with the right orientation
    assert 0.3 < _force_rms(frames) < 1.5


def test_gete_cubic_glass_and_contiguous_test(shared_datasets: Path) -> None:
    frames = load_dataset("gete", "test", root=shared_datasets)
    atoms = frames[0]
    assert len(frames) == 300 and len(atoms) == 200
    assert _composition(atoms) == {"Ge": 40, "Te": 160}
    assert np.allclose(atoms.cell.array, np.eye(3) * 19.1)
    assert reference_energy(atoms) / 200 == pytest.approx(-199.1, abs=0.5)  # absolute pseudopotential scale
    steps = np.linalg.norm(np.diff(_unwrapped(frames), axis=0), axis=2)
    assert np.sqrt((steps**2).mean(axis=1)).max() < 0.01  # Å RMS per frame: one contiguous trajectory


def test_lips20_deepmd_system(shared_datasets: Path) -> None:
    folder = shared_datasets / "lips20" / "Li7P3S11" / "3000K" / "deepmd" / "Li28P12S44"
    start = time.perf_counter()
    frames = load_frames(folder, "deepmd")
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0  # vectorised: 1000 frames of 84 atoms
    assert len(frames) == 1000 == count_frames(folder, "deepmd")
    assert _composition(frames[0]) == {"Li": 28, "P": 12, "S": 44}
    coord = np.load(folder / "set.000" / "coord.npy")
    box = np.load(folder / "set.000" / "box.npy")
    energy = np.load(folder / "set.000" / "energy.npy")
    assert np.array_equal(frames[7].positions, coord[7].reshape(84, 3))
    assert np.array_equal(frames[7].cell.array, box[7].reshape(3, 3))
    assert reference_energy(frames[7]) == energy[7]
    assert frames[0].pbc.all()
    assert 0.5 < _force_rms(frames) < 3.0  # 3000 K: larger forces than LiPS at 520 K


def test_lips20_split_is_a_frame_range(shared_datasets: Path) -> None:
    whole = load_dataset("lips20/Li2PS3-hex", "all", root=shared_datasets)
    test = load_dataset("lips20/Li2PS3-hex", "test", root=shared_datasets)
    assert len(test) == 100
    assert np.array_equal(test[0].positions, whole[900].positions)


# --- extxyz specifics ---------------------------------------------------------------------------------------


def _frame(energy: float = -3.5) -> Atoms:
    atoms = Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    return attach_reference(atoms, energy, np.arange(9.0).reshape(3, 3) / 10)


def test_reference_round_trips_through_extxyz(tmp_path: Path) -> None:
    path = tmp_path / "frames.xyz"
    write(path, [_frame(-3.5), _frame(-4.25)], format="extxyz")
    frames = read_extxyz(path)
    assert [reference_energy(a) for a in frames] == [-3.5, -4.25]
    assert np.allclose(reference_forces(frames[1]), np.arange(9.0).reshape(3, 3) / 10)


def test_extxyz_ref_energy_keys(tmp_path: Path) -> None:
    atoms = Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    atoms.info["REF_energy"] = -7.0
    atoms.arrays["REF_forces"] = np.ones((3, 3))
    path = tmp_path / "ref.xyz"
    write(path, atoms, format="extxyz")
    (frame,) = read_extxyz(path)
    assert reference_energy(frame) == -7.0
    assert np.array_equal(reference_forces(frame), np.ones((3, 3)))


def test_reference_is_refused_once_the_structure_moves() -> None:
    atoms = _frame()
    atoms.positions[0, 0] += 0.1
    with pytest.raises(DatasetError, match="no reference energy"):
        reference_energy(atoms)
    with pytest.raises(DatasetError, match=r"shape \(2, 3\), expected \(3, 3\)"):
        attach_reference(_frame(), 0.0, np.zeros((2, 3)))


# --- broken inputs ----------------------------------------------------------------------------------------


def test_wrong_shape_names_file_field_and_expectation(tmp_path: Path) -> None:
    path = _write_npz(tmp_path / "lips" / "val.npz", forces=np.zeros((5, 3, 3)))
    with pytest.raises(DatasetError) as error:
        read_npz(path)
    assert str(error.value) == "lips/val.npz: field 'forces' has shape (5, 3, 3), expected (5, 4, 3)"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"energy": np.array([[1.0], [np.nan], [2.0], [3.0], [4.0]])}, "energy"),
        ({"pos": np.full((5, 4, 3), np.inf)}, "pos"),
        ({"atomic_numbers": np.array([1, 6, 0, 1])}, "atomic_numbers"),
        ({"atomic_numbers": np.array([1, 6, 200, 1])}, "atomic_numbers"),
        ({"energy": np.zeros((5, 2))}, "energy"),
        ({"cell": np.eye(2)}, "cell"),
    ],
)
def test_bad_npz_values(tmp_path: Path, overrides: dict[str, np.ndarray], field: str) -> None:
    path = _write_npz(tmp_path / "set" / "bad.npz", **overrides)
    with pytest.raises(DatasetError, match=rf"^set/bad\.npz: field '{field}'"):
        read_npz(path)


def test_missing_npz_key(tmp_path: Path) -> None:
    path = tmp_path / "x" / "bad.npz"
    path.parent.mkdir()
    np.savez(path, pos=np.zeros((1, 1, 3)))
    with pytest.raises(DatasetError, match=r"x/bad\.npz: missing field\(s\) energy, forces"):
        read_npz(path)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_npz(tmp_path: Path, damage: str) -> None:
    path = _write_npz(tmp_path / "x" / "corrupt.npz")
    data = path.read_bytes()
    path.write_bytes(b"not an archive at all" * 20 if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"x/corrupt\.npz: not a readable \.npz file"):
        load_frames(path, "npz")


@pytest.mark.parametrize("cut", ["mid_frame", "mid_line"])
def test_truncated_extxyz(tmp_path: Path, cut: str) -> None:
    path = tmp_path / "x" / "short.xyz"
    path.parent.mkdir()
    write(path, [_frame(), _frame()], format="extxyz")
    lines = path.read_text().splitlines(keepends=True)
    text = "".join(lines[:-2]) if cut == "mid_frame" else "".join(lines)[:-9]
    path.write_text(text)
    with pytest.raises(DatasetError, match=r"x/short\.xyz: "):
        read_extxyz(path)


def test_extxyz_without_forces(tmp_path: Path) -> None:
    atoms = Atoms("H2", positions=[[0, 0, 0], [0.74, 0, 0]])
    atoms.info["energy_kcal"] = 1.0
    path = tmp_path / "x" / "noforces.xyz"
    path.parent.mkdir()
    write(path, atoms, format="extxyz")
    with pytest.raises(DatasetError, match=r"noforces\.xyz frame 0: no energy.*no forces"):
        read_extxyz(path)


def _write_deepmd(folder: Path, type_map: str = "Li P S", n_frames: int = 3, coord_atoms: int = 2) -> Path:
    (folder / "set.000").mkdir(parents=True)
    (folder / "type_map.raw").write_text(type_map + "\n")
    (folder / "type.raw").write_text("0\n2\n")
    np.save(folder / "set.000" / "box.npy", np.tile(np.eye(3).ravel() * 8, (n_frames, 1)))
    np.save(folder / "set.000" / "coord.npy", np.zeros((n_frames, 3 * coord_atoms)))
    np.save(folder / "set.000" / "force.npy", np.zeros((n_frames, 6)))
    np.save(folder / "set.000" / "energy.npy", np.full(n_frames, -5.0))
    return folder


def test_deepmd_checks(tmp_path: Path) -> None:
    block = read_deepmd(_write_deepmd(tmp_path / "ok"))
    assert block.numbers.tolist() == [3, 16] and len(block) == 3
    with pytest.raises(DatasetError, match=r"type_map\.raw: unknown element symbol\(s\) \['Qq'\]"):
        read_deepmd(_write_deepmd(tmp_path / "bad_symbol", type_map="Li P Qq"))
    with pytest.raises(
        DatasetError, match=r"bad_coord/set\.000: field 'coord' has shape \(3, 9\), expected \(3, 6\)"
    ):
        read_deepmd(_write_deepmd(tmp_path / "bad_coord", coord_atoms=3))
