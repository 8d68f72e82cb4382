"""Scores of what the MD wrote beyond structure and stability, per replica and over any set of replicas:
NVE energy drift, the error of the vibrational density of states against a contiguous reference
trajectory, and the error of the bond-angle distribution against the reference frames.

Definitions (docs/metrics.md): drift = |slope| of (E_pot + E_kin)/N against time (eV/atom/ps), NVE runs
only; VDOS error and ADF error = total variation distance ½∫|p − p_ref| (0 identical … 1 disjoint) of the
VDOS (from finite-difference velocities of positions, both at the coarser of the two frame spacings) and of
the bond-angle distribution (neighbours within 1.2 × the largest sum of covalent radii present). Intervals
are BCa bootstrap intervals over replicas (percentile where BCa is undefined).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from ase import Atoms, units
from ase.data import covalent_radii

from egraffbench.errors import TrajectoryError
from egraffbench.metrics.dynamics import (
    energy_drift,
    unwrap_positions,
    velocity_autocorrelation,
    vibrational_density_of_states,
)
from egraffbench.metrics.similarity import total_variation_distance
from egraffbench.metrics.structure import angular_distribution
from egraffbench.metrics.uncertainty import bootstrap_ci

if TYPE_CHECKING:  # the md package imports torch: summaries and the report must not need it
    from egraffbench.md.trajectory import ReplicaTrajectory

DYNAMICS_KEYS = ("nve_drift", "vdos_error", "adf_error")
MAX_ADF_FRAMES = (
    200  # frames (evenly spaced) of a rollout or of the reference that enter a bond-angle density
)
ADF_CUTOFF_FACTOR = 1.2  # × the largest sum of covalent radii of the elements present
MIN_VDOS_LAGS = 8  # VACF lags needed for a VDOS
NOT_NVE = "the task's MD is not NVE (energy is exchanged with a thermostat)"
NO_CONTIGUOUS_REFERENCE = "the test frames are not a contiguous trajectory with a known frame spacing"
NO_BONDS = "no two neighbours of an atom within 1.2 × the covalent-radius sum in the reference frames"


@dataclass(frozen=True)
class SystemReference:
    """What a test system's reference frames give the dynamics scores."""

    periodic: bool
    adf_cutoff: float  # Å
    adf: np.ndarray | None  # bond-angle density per degree (1° bins); None: no two bonds share an atom
    positions: np.ndarray | None  # (F, N, 3) unwrapped, when the frames are a contiguous trajectory
    spacing_fs: float | None


def adf_cutoff(numbers: Sequence[int]) -> float:
    """Neighbour cutoff of the bond-angle distribution (Å): 1.2 × the largest sum of covalent radii."""
    return ADF_CUTOFF_FACTOR * 2.0 * float(np.max(covalent_radii[np.unique(numbers)]))


def system_reference(frames: Sequence[Atoms], spacing_fs: float | None, periodic: bool) -> SystemReference:
    """The bond-angle density of reference ``frames``; their positions when contiguous (``spacing_fs``)."""
    positions = np.array([a.positions for a in frames])
    cells = np.array([a.cell.array for a in frames])
    cutoff = adf_cutoff(frames[0].numbers)
    try:
        adf = _adf(positions, cells if periodic else None, cutoff)
    except TrajectoryError:  # no two neighbours within the cutoff (e.g. a noble-gas crystal)
        adf = None
    contiguous = None
    if spacing_fs:
        contiguous = unwrap_positions(positions, cells) if periodic else positions
    return SystemReference(periodic, cutoff, adf, contiguous, spacing_fs)


def replica_dynamics(replica: ReplicaTrajectory, reference: SystemReference, ensemble: str) -> dict[str, Any]:
    """The replica's NVE drift (NVE runs), VDOS error (contiguous reference) and ADF error; None where
    undefined (too few finite frames, no neighbours)."""
    finite = np.isfinite(replica.positions).all(axis=(1, 2)) & np.isfinite(replica.energy)
    count = int(np.argmin(finite)) if not finite.all() else len(finite)  # the leading finite frames
    values: dict[str, Any] = dict.fromkeys(DYNAMICS_KEYS)
    if count < 2:
        return values
    positions, cells = replica.positions[:count], replica.cell[:count]
    if ensemble == "nve":
        values["nve_drift"] = nve_drift(replica, count)
    if reference.positions is not None and reference.spacing_fs:
        values["vdos_error"] = vdos_error(
            positions, replica.time_fs[:count], reference.positions, reference.spacing_fs
        )
    if reference.adf is not None:
        try:
            adf = _adf(positions, cells if reference.periodic else None, reference.adf_cutoff)
            values["adf_error"] = total_variation_distance(adf, reference.adf, 1.0)
        except TrajectoryError:  # no two neighbours within the cutoff in any frame of the rollout
            values["adf_error"] = 1.0  # the reference has bond angles and the rollout none: no overlap
    return values


def nve_drift(replica: ReplicaTrajectory, count: int) -> float:
    """|d(E_pot + E_kin)/dt| per atom over the first ``count`` frames, eV/atom/ps."""
    velocities = replica.velocities[:count] / units.fs  # Å per ASE time unit
    kinetic = 0.5 * np.sum(replica.masses[:, None] * velocities**2, axis=(1, 2))
    total = replica.energy[:count] + kinetic
    return abs(energy_drift(replica.time_fs[:count] / 1000.0, total, len(replica.masses)))


def vdos_error(
    positions: np.ndarray, times_fs: np.ndarray, reference: np.ndarray, spacing_fs: float
) -> float | None:
    """Total variation distance between the VDOS of a rollout (unwrapped positions at ``times_fs``) and of a
    reference trajectory stored every ``spacing_fs``; both from forward-difference velocities at the coarser
    spacing, with as many VACF lags (half the shorter trajectory). None when the spacings are not integer
    multiples of each other or the trajectories are too short."""
    steps = np.diff(times_fs)
    if steps.size == 0 or not np.allclose(steps, steps[0]):
        return None
    interval = float(steps[0])
    coarse = max(interval, spacing_fs)
    every_rollout, every_reference = coarse / interval, coarse / spacing_fs
    if not (_whole(every_rollout) and _whole(every_reference)):
        return None
    rollout = positions[:: round(every_rollout)]
    reference = reference[:: round(every_reference)]
    lags = min(len(rollout), len(reference)) // 2
    if lags < MIN_VDOS_LAGS:
        return None
    densities = []
    for trajectory in (rollout, reference):
        vacf = velocity_autocorrelation(np.diff(trajectory, axis=0) / coarse, max_lag=lags)
        frequencies, density = vibrational_density_of_states(vacf, coarse)
        densities.append(np.clip(density, 0.0, None))  # spectral leakage below zero is not a density
    return total_variation_distance(densities[0], densities[1], float(frequencies[1] - frequencies[0]))


def dynamics_scores(replicas: Sequence[Any], seed: int) -> dict[str, Any]:
    """Mean of each dynamics value over ``replicas`` (objects with :data:`DYNAMICS_KEYS` attributes) with
    its BCa bootstrap interval; a key is None (with a `<key>_reason`) when no replica has a value."""
    scores: dict[str, Any] = {}
    for key in DYNAMICS_KEYS:
        values = np.array([v for r in replicas if (v := getattr(r, key, None)) is not None], dtype=float)
        values = values[np.isfinite(values)]
        if values.size:
            estimate, low, high = bootstrap_ci(values, seed=seed, method="BCa")
            scores[key] = {"value": estimate, "low": low, "high": high}
        else:
            scores[key] = None
    if scores["nve_drift"] is None:
        scores["nve_drift_reason"] = NOT_NVE
    if scores["vdos_error"] is None:
        scores["vdos_error_reason"] = NO_CONTIGUOUS_REFERENCE
    if scores["adf_error"] is None:
        scores["adf_error_reason"] = NO_BONDS
    return scores


def _adf(positions: np.ndarray, cells: np.ndarray | None, cutoff: float) -> np.ndarray:
    chosen = np.unique(np.linspace(0, len(positions) - 1, min(len(positions), MAX_ADF_FRAMES)).astype(int))
    return angular_distribution(
        positions[chosen], cutoff=cutoff, cells=None if cells is None else cells[chosen]
    )[1]


def _whole(ratio: float) -> bool:
    return ratio >= 1.0 - 1e-9 and abs(ratio - round(ratio)) < 1e-6
