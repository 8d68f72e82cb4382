"""The embedded dataset `emt-cu3au`: disordered fcc Cu3Au under ASE's EMT, generated locally and reproducibly.

A 2×2×2 conventional fcc cell (32 sites, a = 3.75 Å) holds 24 Cu and 8 Au on sites drawn with a fixed seed.
Langevin MD (1 fs step, friction 0.01 fs⁻¹) samples train and val at 600 K (every 20 fs of two independent
runs) and one contiguous 900 K test trajectory (every 1 fs step), each after its own equilibration. EMT gives
every energy (eV) and force (eV/Å), and can score any simulated frame afterwards: it is the dataset's oracle.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import write
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, thermalize_momenta

from egraffbench.data.cache import atomic_path
from egraffbench.data.reference import attach_reference


@dataclass(frozen=True)
class EmbeddedParameters:
    """Everything that defines the embedded dataset; changing a value changes the data."""

    seed: int = 20231004
    lattice_constant_A: float = 3.75
    cells_per_side: int = 2
    host: str = "Cu"
    guest: str = "Au"
    guest_count: int = 8
    timestep_fs: float = 1.0
    friction_per_fs: float = 0.01  # Langevin friction γ; ASE takes it as 0.01 / units.fs
    equilibration_fs: float = 500.0  # 5 thermostat relaxation times 1/γ, before each run samples
    train_temperature_K: float = 600.0
    train_frames: int = 200
    val_frames: int = 50
    train_interval_fs: float = 20.0  # spacing of train and val frames
    test_temperature_K: float = 900.0
    test_frames: int = 1000
    test_interval_fs: float = 1.0

    def as_dict(self) -> dict[str, float | int | str]:
        """The parameters as a plain dict (for docs and provenance records)."""
        return asdict(self)


EMBEDDED_PARAMETERS = EmbeddedParameters()


def alloy_lattice(params: EmbeddedParameters = EMBEDDED_PARAMETERS) -> Atoms:
    """The ideal fcc lattice with guests on seeded random sites, periodic, Å."""
    atoms = bulk(params.host, "fcc", a=params.lattice_constant_A, cubic=True).repeat(params.cells_per_side)
    rng = np.random.default_rng([params.seed, 0])
    symbols = np.array(atoms.get_chemical_symbols())
    symbols[rng.choice(len(atoms), size=params.guest_count, replace=False)] = params.guest
    atoms.set_chemical_symbols(symbols.tolist())
    return atoms


def _run(
    lattice: Atoms,
    params: EmbeddedParameters,
    temperature_K: float,
    frames: int,
    interval_fs: float,
    stream: int,
) -> list[Atoms]:
    """Equilibrate, then record `frames` frames every `interval_fs` of Langevin MD at `temperature_K`."""
    rng = np.random.default_rng([params.seed, stream])
    atoms = lattice.copy()
    atoms.calc = EMT()
    thermalize_momenta(atoms, temperature_K, rng=rng)
    Stationary(atoms)
    dynamics = Langevin(
        atoms,
        timestep=params.timestep_fs * units.fs,
        temperature_K=temperature_K,
        friction=params.friction_per_fs / units.fs,
        fixcm=False,
        rng=rng,
    )
    dynamics.run(round(params.equilibration_fs / params.timestep_fs))
    steps_per_frame = round(interval_fs / params.timestep_fs)
    recorded = []
    for index in range(1, frames + 1):
        dynamics.run(steps_per_frame)
        frame = Atoms(
            numbers=atoms.numbers,
            positions=atoms.positions,
            cell=atoms.cell,
            pbc=True,
            momenta=atoms.get_momenta(),
        )
        frame.info["time_fs"] = index * interval_fs
        recorded.append(attach_reference(frame, atoms.get_potential_energy(), atoms.get_forces()))
    return recorded


def generate_embedded(params: EmbeddedParameters = EMBEDDED_PARAMETERS) -> dict[str, list[Atoms]]:
    """The three splits (train, val, test) as frames with EMT reference energy/forces and momenta.

    About 7500 EMT steps in all (≈30 s on one core with the default parameters); each run has its own seeded
    random stream, so the runs are independent and the result is reproducible.
    """
    lattice = alloy_lattice(params)
    return {
        "train": _run(
            lattice, params, params.train_temperature_K, params.train_frames, params.train_interval_fs, 1
        ),
        "val": _run(
            lattice, params, params.train_temperature_K, params.val_frames, params.train_interval_fs, 2
        ),
        "test": _run(
            lattice, params, params.test_temperature_K, params.test_frames, params.test_interval_fs, 3
        ),
    }


def write_embedded(paths: dict[str, Path], params: EmbeddedParameters = EMBEDDED_PARAMETERS) -> None:
    """Generate the dataset and write each split to its extxyz path (atomically)."""
    for path in paths.values():  # an unwritable data root fails here, before minutes of generation
        path.parent.mkdir(parents=True, exist_ok=True)
    splits = generate_embedded(params)
    for name, path in paths.items():
        with atomic_path(path) as temporary:
            write(temporary, splits[name], format="extxyz")


def ensure_embedded(paths: dict[str, Path], params: EmbeddedParameters = EMBEDDED_PARAMETERS) -> None:
    """Generate the embedded dataset unless every split file already exists."""
    if not all(path.is_file() for path in paths.values()):
        write_embedded(paths, params)
