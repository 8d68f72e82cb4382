"""The batched integrators reproduce ASE's (VelocityVerlet, Langevin, NoseHooverChainNVT) with the `emt` model
in float64, step by step; NVE conserves energy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms, units
from ase.calculators.emt import EMT
from ase.md.langevin import Langevin
from ase.md.nose_hoover_chain import NoseHooverChainNVT
from ase.md.verlet import VelocityVerlet

from egraffbench.md import MDProtocol, read_replica, simulate
from egraffbench.md.noise import replica_seed
from egraffbench.models import load_force_field
from test_md_support import LennardJones, argon_crystal, copper_gold, one_thread  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_thread")

STEPS = 200


class TorchNormal:
    """An ASE `rng` drawing from the torch generator the engine gives replica 0 (same calls, same order)."""

    def __init__(self, seed: int) -> None:
        self.generator = torch.Generator().manual_seed(replica_seed(seed, 0))

    def standard_normal(self, size: tuple[int, int]) -> np.ndarray:
        return torch.randn(size, generator=self.generator, dtype=torch.float64).numpy()


def thermalised(atoms: Atoms, temperature_K: float, seed: int = 1) -> Atoms:
    atoms = atoms.copy()
    rng = np.random.default_rng(seed)
    sigma = np.sqrt(atoms.get_masses() * units.kB * temperature_K)[:, None]
    atoms.set_momenta(sigma * rng.standard_normal((len(atoms), 3)))
    return atoms


def ase_positions(atoms: Atoms, make_dynamics, steps: int) -> np.ndarray:
    """Positions (steps + 1, n, 3) of an ASE run (frame 0 = start)."""
    atoms = atoms.copy()
    atoms.calc = EMT()
    dynamics = make_dynamics(atoms)
    frames = []
    dynamics.attach(lambda: frames.append(atoms.get_positions()), interval=1)  # also called at step 0
    dynamics.run(steps)
    return np.array(frames)


def engine_positions(atoms: Atoms, protocol: MDProtocol, tmp_path: Path) -> np.ndarray:
    simulate(load_force_field("emt"), [atoms], protocol, tmp_path / "run.h5")
    return read_replica(tmp_path / "run.h5", 0).positions


def crystal(size: str) -> Atoms:
    """8-atom Cu6Au2 (fast) or 32-atom Cu24Au8 (slow) crystal at 300 K."""
    atoms = copper_gold(repeat=1) * (2, 1, 1) if size == "small" else copper_gold(repeat=2)
    return thermalised(atoms, 300.0)


SIZES = ["small", pytest.param("large", marks=pytest.mark.slow)]


@pytest.mark.parametrize("size", SIZES)
def test_velocity_verlet_reproduces_ase(size: str, tmp_path: Path) -> None:
    atoms = crystal(size)
    expected = ase_positions(atoms, lambda a: VelocityVerlet(a, 1.0 * units.fs), STEPS)
    protocol = MDProtocol(ensemble="nve", timestep_fs=1.0, steps=STEPS, dtype="float64", temperature_K=300)
    got = engine_positions(atoms, protocol, tmp_path)
    assert got.shape == expected.shape == (STEPS + 1, len(atoms), 3)
    assert np.abs(got - expected).max() < 1e-8
    assert np.abs(got[-1] - got[0]).max() > 0.05  # the atoms did move


@pytest.mark.parametrize("size", SIZES)
def test_langevin_reproduces_ase_with_the_same_random_numbers(size: str, tmp_path: Path) -> None:
    atoms = crystal(size)
    seed, friction = 7, 0.05  # a strong friction (ASE units) so that the noise matters within 200 steps
    expected = ase_positions(
        atoms,
        lambda a: Langevin(
            a, 1.0 * units.fs, temperature_K=500, friction=friction, fixcm=False, rng=TorchNormal(seed)
        ),
        STEPS,
    )
    protocol = MDProtocol(
        ensemble="nvt-langevin", friction=friction, temperature_K=500, steps=STEPS, dtype="float64", seed=seed
    )
    got = engine_positions(atoms, protocol, tmp_path)
    assert np.abs(got - expected).max() < 1e-8


@pytest.mark.parametrize("size", SIZES)
def test_nose_hoover_chain_reproduces_ase(size: str, tmp_path: Path) -> None:
    atoms = crystal(size)
    expected = ase_positions(
        atoms, lambda a: NoseHooverChainNVT(a, 1.0 * units.fs, temperature_K=600, tdamp=20 * units.fs), STEPS
    )
    protocol = MDProtocol(
        ensemble="nvt-nose-hoover", temperature_K=600, nose_hoover_tdamp_fs=20, steps=STEPS, dtype="float64"
    )
    got = engine_positions(atoms, protocol, tmp_path)
    assert np.abs(got - expected).max() < 1e-8


def test_langevin_friction_means_what_it_means_in_ase() -> None:
    """Free particles (F = 0): after one step ASE's scheme gives ⟨v'⟩ = (1 − c2)² v and a known variance; the
    batched step gives the same moments, for two replicas at different temperatures and masses."""
    from dataclasses import replace

    from egraffbench.md.integrators import langevin_step
    from egraffbench.md.state import state_from_structures

    samples, friction, dt = 200_000, 5e-3, 1.0 * units.fs
    light, heavy = Atoms("H", cell=np.eye(3) * 10), Atoms("Au", cell=np.eye(3) * 10)
    velocity = 0.01  # Å per ASE time unit
    momenta = [np.full((1, 3), velocity * a.get_masses()[0]) for a in (light, heavy)]
    state = state_from_structures([light, heavy], momenta, [300.0, 1000.0], [0, 1], torch.float64, "cpu")
    state = replace(
        state,
        positions=state.positions.repeat(samples, 1),
        momenta=state.momenta.repeat(samples, 1),
        forces=torch.zeros(2 * samples, 3, dtype=torch.float64),
        masses=state.masses.repeat(samples),
        atomic_numbers=state.atomic_numbers.repeat(samples),
        system_index=state.system_index.repeat(samples),
    )
    generator = torch.Generator().manual_seed(0)
    after = langevin_step(
        state,
        dt,
        friction,
        compute=lambda p: (torch.zeros(2, dtype=torch.float64), torch.zeros_like(p)),
        noise=lambda: torch.randn((2 * samples, 3), generator=generator, dtype=torch.float64),
    )
    velocities = (after.momenta / after.masses[:, None]).reshape(samples, 2, 3)
    for replica, (atoms, temperature) in enumerate(((light, 300.0), (heavy, 1000.0))):
        mass = atoms.get_masses()[0]
        sigma = np.sqrt(2 * units.kB * temperature * friction / mass)
        c2 = dt * friction / 2 - dt**2 * friction**2 / 8
        c3 = np.sqrt(dt) * sigma / 2 - dt**1.5 * friction * sigma / 8
        c4 = friction / 2 * dt**1.5 * sigma / (2 * np.sqrt(3))
        mean = (1 - c2) ** 2 * velocity
        variance = (2 - c2) ** 2 * (c3**2 + c4**2)  # the same ξ, η enter both half steps
        observed = velocities[:, replica]
        assert np.allclose(observed.mean(0), mean, atol=5 * np.sqrt(variance / samples))
        assert np.allclose(observed.var(0), variance, rtol=0.02)


@pytest.mark.parametrize("dtype, bound", [("float64", 2e-4), ("float32", 2e-3)])
def test_nve_energy_drift_is_small(dtype: str, bound: float, tmp_path: Path) -> None:
    """Argon FCC crystal (32 atoms, shifted-force Lennard-Jones) at ~40 K, 2 fs steps for 2 ps: the total
    energy stays within ``bound`` eV/atom of its start (a thermal kinetic energy is ~5e-3 eV/atom)."""
    atoms = thermalised(argon_crystal(2, rattle=0.0), 80.0)
    protocol = MDProtocol(ensemble="nve", timestep_fs=2.0, steps=1000, stride=10, dtype=dtype)
    simulate(LennardJones(), [atoms], protocol, tmp_path / "nve.h5")
    trajectory = read_replica(tmp_path / "nve.h5", 0)
    kinetic = 0.5 * np.sum(trajectory.masses[:, None] * (trajectory.velocities / units.fs) ** 2, axis=(1, 2))
    total = (trajectory.energy + kinetic) / len(atoms)
    assert kinetic.mean() / len(atoms) > 2e-3  # really moving: T ≈ 40 K
    assert np.abs(total - total[0]).max() < bound
