"""Energy and force violation (EV, FV) of a simulated trajectory against reference energies and forces.

Per frame t: EV_t = |Ê_t − E_t| / (|Ê_t| + |E_t|), FV_t = ‖F̂_t − F_t‖ / (‖F̂_t‖ + ‖F_t‖) with the Frobenius
norm over atoms; both are dimensionless, in [0, 1], and 0 when prediction and reference agree (0/0 is 0).
Frames and replicas are aggregated by a geometric mean. Exact zeros would send a plain geometric mean to 0,
so the shifted geometric mean exp(mean ln(v + ε)) − ε with ε = 1e-12 is used: it equals the plain geometric
mean to relative order ε / v for violations v ≫ ε, and is exactly 0 when every frame has zero violation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from egraffbench.errors import TrajectoryError
from egraffbench.metrics import libm

VIOLATION_EPSILON = 1e-12


def energy_violation(energy: ArrayLike, reference_energy: ArrayLike) -> np.ndarray:
    """EV_t per frame from predicted and reference total energies (eV), shape (n_frames,)."""
    energy = np.asarray(energy, dtype=float).reshape(-1)
    reference_energy = np.asarray(reference_energy, dtype=float).reshape(-1)
    if energy.shape != reference_energy.shape:
        raise TrajectoryError(
            f"energies have {energy.size} frames but the reference has {reference_energy.size}"
        )
    return _ratio(np.abs(energy - reference_energy), np.abs(energy) + np.abs(reference_energy))


def force_violation(forces: ArrayLike, reference_forces: ArrayLike) -> np.ndarray:
    """FV_t per frame from predicted and reference forces (eV/Å) of shape (n_frames, n_atoms, 3)."""
    forces = np.asarray(forces, dtype=float)
    reference_forces = np.asarray(reference_forces, dtype=float)
    if forces.shape != reference_forces.shape or forces.ndim != 3:
        raise TrajectoryError(
            f"forces {forces.shape} and reference {reference_forces.shape} must match as (frames, atoms, 3)"
        )
    difference = np.linalg.norm(forces - reference_forces, axis=(1, 2))
    scale = np.linalg.norm(forces, axis=(1, 2)) + np.linalg.norm(reference_forces, axis=(1, 2))
    return _ratio(difference, scale)


def geometric_mean(values: ArrayLike | Sequence[ArrayLike], epsilon: float = VIOLATION_EPSILON) -> float:
    """Shifted geometric mean exp(mean ln(v + ε)) − ε of all values (any shape, or ragged replicas)."""
    parts = [values] if isinstance(values, np.ndarray) else list(values)
    flat = np.concatenate([np.asarray(part, dtype=float).ravel() for part in parts]) if parts else np.empty(0)
    if flat.size == 0:
        raise TrajectoryError("geometric mean of no frames")
    if np.any(flat < 0) or not np.all(np.isfinite(flat)):
        raise TrajectoryError("violations must be finite and non-negative")
    return float(epsilon * libm.expm1(np.mean(libm.log1p(flat / epsilon))))


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)
