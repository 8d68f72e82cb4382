"""Diffusivity error of a model's MD, where it is defined: for a periodic test system whose frames are one
contiguous reference trajectory. The element compared is the most mobile one of the reference (Li in LiPS).
D (Å²/ps) comes from `metrics.dynamics` over the same time window for the reference and each replica that
stayed stable for the whole run; the error is |D_model − D_ref| per replica, averaged with a bootstrap
interval over replicas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from egraffbench.errors import TrajectoryError
from egraffbench.metrics.dynamics import diffusion_coefficient, mean_squared_displacement, unwrap_positions
from egraffbench.metrics.uncertainty import bootstrap_ci
from egraffbench.report.rollouts import Replica
from egraffbench.runner.stages import SystemData

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


def diffusion_reference(system: SystemData, run_length_fs: float) -> DiffusionReference | None:
    """The reference D of ``system`` over the MD run length (or the whole reference if shorter); None where
    the diffusivity error is not defined (not periodic, or no contiguous reference trajectory)."""
    spacing = system.conditions.frame_spacing_fs
    if not system.conditions.periodic or not spacing:
        return None
    count = min(len(system.frames), int(np.floor(run_length_fs / spacing + 1e-9)) + 1)
    if count < MIN_FRAMES:
        return None
    frames = system.frames[:count]
    values = _diffusion(
        np.array([a.positions for a in frames]),
        np.array([a.cell.array for a in frames]),
        frames[0].numbers,
        spacing * np.arange(count),
    )
    element = max(values, key=values.get)
    return DiffusionReference(system.conditions.name, element, values[element], spacing * (count - 1))


def diffusivity_error(
    references: Sequence[DiffusionReference], replicas: Sequence[Replica]
) -> dict[str, float] | None:
    """Mean |D_model − D_ref| (Å²/ps) over the stable replicas of the systems that have a reference, with
    its 95 % bootstrap interval over replicas ({value, low, high}); None if no replica qualifies."""
    by_system = {reference.system: reference for reference in references}
    errors = []
    for replica in replicas:
        reference = by_system.get(replica.system)
        if reference is None or not replica.survived:
            continue
        frames = replica.frames
        inside = frames.time_fs - frames.time_fs[0] <= reference.window_fs + 1e-6
        if np.count_nonzero(inside) < MIN_FRAMES:
            continue
        try:
            values = _diffusion(
                frames.positions[inside], frames.cell[inside], frames.atomic_numbers, frames.time_fs[inside]
            )
        except TrajectoryError:
            continue
        errors.append(abs(values[reference.element] - reference.reference))
    if not errors:
        return None
    value, low, high = bootstrap_ci(np.array(errors))
    return {"value": value, "low": low, "high": high}
