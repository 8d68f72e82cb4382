"""Langevin and Nosé–Hoover chain sample the canonical ensemble: the mean kinetic temperature matches the
target and the kinetic energy follows the canonical Gamma distribution (Kolmogorov–Smirnov test)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import units
from scipy import stats

from egraffbench.md import MDProtocol, read_replica
from test_md_support import LennardJones, argon_crystal, one_thread, simulate_in_batch_order  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_thread")

TARGET_K = 60.0  # argon FCC solid (32 atoms per replica)


def kinetic_samples(path: Path, replicas: int, skip_frames: int) -> tuple[np.ndarray, int]:
    """Kinetic energies (eV) of all replicas' frames after ``skip_frames``, and the atom count."""
    samples = []
    for replica in range(replicas):
        trajectory = read_replica(path, replica)
        velocities = trajectory.velocities[skip_frames:] / units.fs  # Å per ASE time unit
        samples.append(0.5 * np.sum(trajectory.masses[:, None] * velocities**2, axis=(1, 2)))
        assert trajectory.outcome.status == "completed"
    return np.concatenate(samples), len(trajectory.masses)


def zero_momentum_start(seed: int):
    """Argon crystal with Maxwell–Boltzmann momenta at the target, total momentum removed."""
    atoms = argon_crystal(2, rattle=0.05, seed=seed)
    rng = np.random.default_rng(seed)
    sigma = np.sqrt(atoms.get_masses() * units.kB * TARGET_K)[:, None]
    momenta = sigma * rng.standard_normal((len(atoms), 3))
    atoms.set_momenta(momenta - momenta.mean(0))
    return atoms


def run(protocol: MDProtocol, replicas: int, tmp_path: Path) -> Path:
    path = tmp_path / f"{protocol.ensemble}.h5"
    structures = [zero_momentum_start(seed) for seed in range(replicas)]
    simulate_in_batch_order(LennardJones(), structures, protocol, path)
    return path


def check_canonical(samples: np.ndarray, dof: int, temperature: float, mean_tolerance: float, p_floor: float):
    """Mean temperature within ``mean_tolerance`` of ``temperature``; KE ~ Gamma(dof/2, k_B T) (KS test)."""
    kinetic_temperature = 2 * samples / (dof * units.kB)
    assert abs(kinetic_temperature.mean() / temperature - 1) < mean_tolerance
    p_value = stats.kstest(samples, stats.gamma(a=dof / 2, scale=units.kB * temperature).cdf).pvalue
    assert p_value > p_floor


LANGEVIN_RUNS = [
    pytest.param(8, 400, 0.06, 1e-3, id="fast"),
    pytest.param(16, 6000, 0.03, 1e-2, id="long", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("replicas, steps, mean_tolerance, p_floor", LANGEVIN_RUNS)
def test_langevin_samples_the_canonical_kinetic_energy(replicas, steps, mean_tolerance, p_floor, tmp_path):
    """Strong friction (1 ASE unit ≈ 0.098 fs⁻¹) decorrelates the kinetic energy within ~10 fs; frames 40 fs
    apart are close to independent. All 3N momenta are thermalised."""
    protocol = MDProtocol(
        ensemble="nvt-langevin", temperature_K=TARGET_K, friction=1.0, timestep_fs=2.0, steps=steps, stride=20
    )
    samples, n_atoms = kinetic_samples(run(protocol, replicas, tmp_path), replicas, skip_frames=5)
    check_canonical(samples, 3 * n_atoms, TARGET_K, mean_tolerance, p_floor)


NOSE_HOOVER_RUNS = [
    pytest.param(8, 600, 0.06, 1e-3, id="fast"),
    pytest.param(16, 8000, 0.03, 1e-2, id="long", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("replicas, steps, mean_tolerance, p_floor", NOSE_HOOVER_RUNS)
def test_nose_hoover_samples_the_canonical_kinetic_energy(replicas, steps, mean_tolerance, p_floor, tmp_path):
    """The chain drives Σp²/m towards 3N k_B T (as ASE's). With zero total momentum, which the forces
    conserve, 3N − 3 momenta move: canonical at T' = T·3N/(3N − 3), so the mean 3N-temperature is T."""
    protocol = MDProtocol(
        ensemble="nvt-nose-hoover",
        temperature_K=TARGET_K,
        nose_hoover_tdamp_fs=50.0,
        timestep_fs=2.0,
        steps=steps,
        stride=20,
    )
    samples, n_atoms = kinetic_samples(run(protocol, replicas, tmp_path), replicas, skip_frames=10)
    moving = 3 * n_atoms - 3
    check_canonical(samples, moving, TARGET_K * 3 * n_atoms / moving, mean_tolerance, p_floor)
