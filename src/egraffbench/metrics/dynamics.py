"""Dynamics of a trajectory: MSD and diffusion coefficient per element, VACF, VDOS, NVE energy drift.

Time averages use every time origin; correlations are computed by FFT (zero-padded, so not circular).
Diffusion: D = slope / 6 of a least-squares line through MSD(t) for lag times between 10 % and 50 % of the
trajectory length by default, leaving out the short-time ballistic regime and the long lags that few time
origins average. The VDOS is the cosine transform of the normalised VACF, tapered by a half Hann window.
"""

from __future__ import annotations

import numpy as np
from ase.data import chemical_symbols
from numpy.typing import ArrayLike

from egraffbench.errors import TrajectoryError

DIFFUSION_WINDOW = (0.1, 0.5)  # fraction of the trajectory length


def unwrap_positions(positions: ArrayLike, cells: ArrayLike) -> np.ndarray:
    """Continuous positions (Å) from positions wrapped into periodic cells (3, 3) or (n_frames, 3, 3).

    Each step between frames is taken as its minimum image, so atoms must move less than half a cell width
    between stored frames.
    """
    positions = np.asarray(positions, dtype=float)
    cells = np.broadcast_to(np.asarray(cells, dtype=float), (positions.shape[0], 3, 3))
    steps = np.diff(positions, axis=0)
    frame_cells = cells[1:, None, :, :]
    fractional = np.linalg.solve(np.swapaxes(frame_cells, -1, -2), steps[..., None])[..., 0]
    fractional -= np.round(fractional)
    steps = np.einsum("fni,fnij->fnj", fractional, np.broadcast_to(frame_cells, (*steps.shape[:2], 3, 3)))
    return np.concatenate([positions[:1], positions[:1] + np.cumsum(steps, axis=0)])


def msd_per_atom(positions: ArrayLike) -> np.ndarray:
    """MSD(m) = ⟨|r(t+m) − r(t)|²⟩ over time origins t, per atom, from unwrapped positions (Å); shape
    (n_frames, n_atoms) in Å², lag m in frames."""
    positions = _frames(positions)
    n_frames = positions.shape[0]
    squared = np.sum(positions**2, axis=-1)
    cumulative = np.concatenate([np.zeros((1, positions.shape[1])), np.cumsum(squared, axis=0)])
    lags = np.arange(n_frames)
    origins = (n_frames - lags)[:, None]
    norms = cumulative[n_frames - lags] + cumulative[n_frames] - cumulative[lags]
    return (norms - 2.0 * _lagged_products(positions)) / origins


def mean_squared_displacement(positions: ArrayLike, numbers: ArrayLike) -> dict[str, np.ndarray]:
    """MSD (Å²) per element symbol, averaged over that element's atoms; index m is the lag in frames."""
    per_atom = msd_per_atom(positions)
    numbers = np.asarray(numbers)
    return {chemical_symbols[z]: per_atom[:, numbers == z].mean(axis=1) for z in np.unique(numbers)}


def diffusion_coefficient(
    times: ArrayLike, msd: ArrayLike, window: tuple[float, float] = DIFFUSION_WINDOW
) -> float:
    """D = slope / 6 (Å²/ps) of MSD (Å²) against lag time (ps), fitted over ``window`` × the longest lag."""
    times = np.asarray(times, dtype=float)
    msd = np.asarray(msd, dtype=float)
    fitted = (times >= window[0] * times[-1]) & (times <= window[1] * times[-1])
    if np.count_nonzero(fitted) < 2:
        raise TrajectoryError(f"too few frames ({times.size}) to fit MSD over the window {window}")
    slope = np.polyfit(times[fitted], msd[fitted], 1)[0]
    return float(slope / 6.0)


def diffusion_coefficients(
    positions: ArrayLike,
    numbers: ArrayLike,
    frame_interval: float,
    cells: ArrayLike | None = None,
    window: tuple[float, float] = DIFFUSION_WINDOW,
) -> dict[str, float]:
    """Diffusion coefficient (Å²/ps) per element from a trajectory (n_frames, n_atoms, 3) Å.

    ``frame_interval`` is the time between stored frames in fs; when ``cells`` is given the positions are
    taken as wrapped and unwrapped first.
    """
    unwrapped = _frames(positions) if cells is None else unwrap_positions(positions, cells)
    times = np.arange(unwrapped.shape[0]) * frame_interval / 1000.0
    return {
        symbol: diffusion_coefficient(times, msd, window)
        for symbol, msd in mean_squared_displacement(unwrapped, numbers).items()
    }


def velocity_autocorrelation(velocities: ArrayLike, max_lag: int | None = None) -> np.ndarray:
    """Normalised VACF C(m)/C(0), C(m) = ⟨v(t)·v(t+m)⟩ over atoms and time origins; lags 0..max_lag−1 frames
    (default: half the trajectory)."""
    velocities = _frames(velocities)
    n_frames = velocities.shape[0]
    max_lag = n_frames // 2 if max_lag is None else min(max_lag, n_frames)
    products = _lagged_products(velocities).sum(axis=1)[:max_lag] / (n_frames - np.arange(max_lag))
    if products[0] <= 0:
        raise TrajectoryError("VACF undefined: all velocities are zero")
    return products / products[0]


def vibrational_density_of_states(vacf: ArrayLike, frame_interval: float) -> tuple[np.ndarray, np.ndarray]:
    """VDOS from a normalised VACF sampled every ``frame_interval`` fs.

    Returns frequencies (THz) and the density (1/THz, unit area): the real FFT of the even extension of the
    VACF tapered by a half Hann window.
    """
    vacf = np.asarray(vacf, dtype=float)
    if vacf.size < 2:
        raise TrajectoryError("a VDOS needs a VACF of at least two lags")
    taper = 0.5 * (1.0 + np.cos(np.pi * np.arange(vacf.size) / (vacf.size - 1)))
    tapered = vacf * taper
    even = np.concatenate([tapered, tapered[-2:0:-1]])
    spectrum = np.fft.rfft(even).real
    frequencies = np.fft.rfftfreq(even.size, d=frame_interval) * 1000.0
    area = np.sum(spectrum) * (frequencies[1] - frequencies[0])
    return frequencies, spectrum / area


def energy_drift(times: ArrayLike, total_energies: ArrayLike, n_atoms: int) -> float:
    """NVE drift (eV/atom/ps): least-squares slope of total energy per atom (eV) against time (ps)."""
    times = np.asarray(times, dtype=float)
    total_energies = np.asarray(total_energies, dtype=float)
    if times.size < 2 or times.shape != total_energies.shape:
        raise TrajectoryError(f"energy drift needs ≥ 2 matching times and energies, got {times.size}")
    return float(np.polyfit(times, total_energies / n_atoms, 1)[0])


def _frames(values: ArrayLike) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim != 3 or values.shape[-1] != 3:
        raise TrajectoryError(f"expected an array (n_frames, n_atoms, 3), got shape {values.shape}")
    return values


def _lagged_products(values: np.ndarray) -> np.ndarray:
    """Σ_t x(t)·x(t+m) for every lag m and atom, by zero-padded FFT; shape (n_frames, n_atoms)."""
    n_frames = values.shape[0]
    size = 2 * n_frames
    transform = np.fft.rfft(values, n=size, axis=0)
    power = np.sum(np.abs(transform) ** 2, axis=-1)
    return np.fft.irfft(power, n=size, axis=0)[:n_frames]
