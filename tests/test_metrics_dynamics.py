"""MSD, diffusion coefficients, unwrapping, VACF/VDOS and NVE drift on signals with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from egraffbench.metrics import (
    diffusion_coefficients,
    energy_drift,
    mean_squared_displacement,
    unwrap_positions,
    velocity_autocorrelation,
    vibrational_density_of_states,
)
from egraffbench.metrics.dynamics import msd_per_atom


def random_walk(
    rng: np.random.Generator, n_frames: int, n_atoms: int, frame_fs: float, d: float
) -> np.ndarray:
    """3D Gaussian random walk with diffusion coefficient d (Å²/ps): step variance 2·d·Δt per component."""
    sigma = np.sqrt(2.0 * d * frame_fs / 1000.0)
    steps = rng.normal(0.0, sigma, (n_frames - 1, n_atoms, 3))
    return np.concatenate([np.zeros((1, n_atoms, 3)), np.cumsum(steps, axis=0)])


def test_msd_of_ballistic_motion_is_exact() -> None:
    """r(t) = r0 + v·t gives MSD(m) = |v|² m² for every lag, whatever the time origin."""
    rng = np.random.default_rng(0)
    velocities = rng.normal(size=(5, 3))
    frames = rng.normal(size=(1, 5, 3)) + np.arange(50)[:, None, None] * velocities[None]
    lags = np.arange(50)
    np.testing.assert_allclose(
        msd_per_atom(frames), lags[:, None] ** 2 * np.sum(velocities**2, axis=1), atol=1e-8
    )


def test_diffusion_coefficient_of_a_random_walk_per_element() -> None:
    """Two species with D = 0.5 and 0.125 Å²/ps; 1000 walkers each, fit over 10–50 % of 4 ps.

    The estimator's spread over seeds is about 1.6 % for these sizes: 5 % is a 3σ tolerance.
    """
    rng = np.random.default_rng(1)
    walk = np.concatenate(
        [random_walk(rng, 400, 1000, 10.0, 0.5), random_walk(rng, 400, 1000, 10.0, 0.125)], axis=1
    )
    numbers = np.array([3] * 1000 + [16] * 1000)
    coefficients = diffusion_coefficients(walk, numbers, frame_interval=10.0)
    assert coefficients["Li"] == pytest.approx(0.5, rel=0.05)
    assert coefficients["S"] == pytest.approx(0.125, rel=0.05)
    msd = mean_squared_displacement(walk, numbers)
    # MSD(t) = 6 D t: at a lag of 100 frames (1 ps), 3 Å² for Li
    assert msd["Li"][100] == pytest.approx(3.0, rel=0.05)


def test_unwrapping_recovers_a_trajectory_folded_into_a_triclinic_cell() -> None:
    rng = np.random.default_rng(2)
    walk = random_walk(rng, 300, 50, 10.0, 0.5) + rng.random((1, 50, 3)) * 8.0
    cell = np.array([[8.0, 0.0, 0.0], [2.0, 7.5, 0.0], [-1.0, 1.0, 9.0]])
    wrapped = (walk @ np.linalg.inv(cell) % 1.0) @ cell
    assert np.ptp(walk[..., 0]) > 8.0  # atoms really crossed the cell
    unwrapped = unwrap_positions(wrapped, cell)
    np.testing.assert_allclose(unwrapped - unwrapped[0], walk - walk[0], atol=1e-9)
    numbers = np.full(50, 3)
    assert diffusion_coefficients(wrapped, numbers, 10.0, cells=cell)["Li"] == pytest.approx(
        diffusion_coefficients(walk, numbers, 10.0)["Li"], rel=1e-9
    )


def test_vdos_of_a_harmonic_oscillator_peaks_at_its_frequency() -> None:
    """v(t) = cos(2π f t + φ) with f = 12 THz sampled every 1 fs; VACF = cos(2π f τ), VDOS peak at 12 THz."""
    rng = np.random.default_rng(3)
    frequency_thz, frame_fs = 12.0, 1.0
    times_fs = np.arange(2000) * frame_fs
    phases = rng.uniform(0, 2 * np.pi, (20, 3))
    velocities = np.cos(2 * np.pi * frequency_thz / 1000.0 * times_fs[:, None, None] + phases[None])
    vacf = velocity_autocorrelation(velocities)
    assert vacf.size == 1000 and vacf[0] == 1.0
    lags = np.arange(50) * frame_fs
    np.testing.assert_allclose(vacf[:50], np.cos(2 * np.pi * frequency_thz / 1000.0 * lags), atol=0.02)
    frequencies, vdos = vibrational_density_of_states(vacf, frame_fs)
    resolution = frequencies[1] - frequencies[0]  # 1 / (2·999 fs) ≈ 0.5 THz
    assert frequencies[np.argmax(vdos)] == pytest.approx(frequency_thz, abs=resolution)
    assert np.sum(vdos) * resolution == pytest.approx(1.0)


def test_energy_drift_of_a_linear_total_energy() -> None:
    """E(t) = E0 + N · 0.002 eV/atom/ps · t (+ zero-mean oscillation) → drift 0.002 eV/atom/ps."""
    n_atoms = 64
    times_ps = np.linspace(0.0, 1.0, 1001)
    energies = -230.0 + n_atoms * 0.002 * times_ps + 1e-3 * np.sin(2 * np.pi * 40 * times_ps)
    assert energy_drift(times_ps, energies, n_atoms) == pytest.approx(0.002, rel=0.01)
    assert energy_drift(times_ps, np.full(1001, -230.0), n_atoms) == pytest.approx(0.0, abs=1e-12)
