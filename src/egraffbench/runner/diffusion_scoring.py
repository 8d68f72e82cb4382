"""Diffusivity of a model's MD, where it is defined: for a periodic test system whose frames are one
contiguous reference trajectory. The element compared is the most mobile one of the reference (Li in LiPS).
D (Å²/ps) comes from `metrics.dynamics` over the same time window for the reference and each replica that
stayed stable for the whole run; a replica's diffusivity error is |D_model − D_ref|, averaged over replicas
with a bootstrap interval by `runner.rollout_scoring.aggregate_replicas`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from egraffbench.errors import TrajectoryError
from egraffbench.metrics.dynamics import diffusion_coefficient, mean_squared_displacement, unwrap_positions

MIN_FRAMES = 20  # fewer frames in the window give no usable MSD fit


def _diffusion(positions: np.ndarray, cells: np.ndarray, numbers: np.ndarray, times_fs: np.ndarray) -> dict:
    msd = mean_squared_displacement(unwrap_positions(positions, cells), numbers)
    lags_ps = (times_fs - times_fs[0]) / 1000.0
    return {symbol: diffusion_coefficient(lags_ps, values) for symbol, values in msd.items()}


@dataclass(frozen=True)
class DiffusionReference:
    """D (Å²/ps) of the most mobile element of a reference trajectory over ``window_fs``."""

    system: str
    element: str
    reference: float
    window_fs: float


def diffusion_reference(
    system: str, frames: Sequence[Atoms], periodic: bool, spacing_fs: float | None, run_length_fs: float
) -> DiffusionReference | None:
    """The reference D of test system ``system`` (its ``frames``, every ``spacing_fs``) over the MD run
    length (or the whole reference if shorter); None where the diffusivity error is not defined (not
    periodic, or no contiguous reference trajectory)."""
    if not periodic or not spacing_fs:
        return None
    count = min(len(frames), int(np.floor(run_length_fs / spacing_fs + 1e-9)) + 1)
    if count < MIN_FRAMES:
        return None
    chosen = frames[:count]
    values = _diffusion(
        np.array([a.positions for a in chosen]),
        np.array([a.cell.array for a in chosen]),
        chosen[0].numbers,
        spacing_fs * np.arange(count),
    )
    element = max(values, key=values.get)
    return DiffusionReference(system, element, values[element], spacing_fs * (count - 1))


def replica_diffusivity(
    reference: DiffusionReference,
    positions: np.ndarray,
    cells: np.ndarray,
    numbers: np.ndarray,
    times_fs: np.ndarray,
) -> float | None:
    """D (Å²/ps) of the reference's element in a stable replica's frames within the reference's window;
    None with too few frames there or no such element."""
    inside = times_fs - times_fs[0] <= reference.window_fs + 1e-6
    if np.count_nonzero(inside) < MIN_FRAMES:
        return None
    try:
        values = _diffusion(positions[inside], cells[inside], numbers, times_fs[inside])
    except TrajectoryError:
        return None
    return values.get(reference.element)
