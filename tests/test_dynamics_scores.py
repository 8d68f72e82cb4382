"""Scores of what the MD wrote, on analytic cases: NVE drift of a linear energy, VDOS error of harmonic
oscillators at equal and at distant frequencies (also across frame spacings), bond-angle distribution error
of a triangle against a chain, the total variation distance itself, and their BCa intervals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms, units

from egraffbench.md import MDProtocol, read_replica, simulate
from egraffbench.md.trajectory import ReplicaOutcome, ReplicaTrajectory
from egraffbench.metrics.similarity import total_variation_distance
from egraffbench.models.base import ForceField, TrainingStatistics
from egraffbench.models.graph import AtomicBatch
from egraffbench.runner.dynamics_scoring import (
    NOT_NVE,
    adf_cutoff,
    dynamics_scores,
    replica_dynamics,
    system_reference,
    vdos_error,
)
from egraffbench.runner.rollout_scoring import ReplicaValues
from test_md_support import LennardJones, argon_crystal, one_thread  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_thread")


def oscillators(frequency_thz: float, spacing_fs: float, frames: int, phase: float = 0.0) -> np.ndarray:
    """Three atoms, each oscillating along one axis at ``frequency_thz``; (frames, 3, 3) Å."""
    t = np.arange(frames) * spacing_fs / 1000.0  # ps
    positions = np.tile(np.eye(3) * 5.0, (frames, 1, 1))
    positions += 0.1 * np.cos(2 * np.pi * frequency_thz * t + phase)[:, None, None] * np.eye(3)[None]
    return positions


def test_total_variation_distance_of_known_densities() -> None:
    uniform = np.r_[np.ones(10), np.zeros(10)]
    assert total_variation_distance(uniform, 3 * uniform, 0.1) == 0.0  # normalised first
    assert total_variation_distance(uniform, uniform[::-1], 0.1) == pytest.approx(1.0)  # disjoint
    assert total_variation_distance(uniform, np.roll(uniform, 5), 0.1) == pytest.approx(0.5)  # half overlap


def test_vdos_error_is_zero_at_the_same_frequency_and_near_one_far_from_it() -> None:
    reference = oscillators(10.0, 1.0, 800)
    same = vdos_error(oscillators(10.0, 1.0, 400, phase=1.0), np.arange(400) * 1.0, reference, 1.0)
    far = vdos_error(oscillators(40.0, 1.0, 400), np.arange(400) * 1.0, reference, 1.0)
    assert same < 0.05 and far > 0.9
    # a rollout stored every 0.5 fs is compared at the reference's 1 fs: the same answer as one stored at 1 fs
    finer = vdos_error(oscillators(10.0, 0.5, 800, phase=1.0), np.arange(800) * 0.5, reference, 1.0)
    assert finer == pytest.approx(same, abs=1e-9)
    assert vdos_error(reference[:400], np.arange(400) * 0.7, reference, 1.0) is None  # 0.7 fs vs 1 fs
    assert vdos_error(reference[:10], np.arange(10) * 1.0, reference, 1.0) is None  # too short


def replica(
    positions: np.ndarray, energy: np.ndarray, time_fs: np.ndarray, numbers: list[int]
) -> ReplicaTrajectory:
    frames, n = positions.shape[:2]
    return ReplicaTrajectory(
        outcome=ReplicaOutcome(0, n, 300.0, "completed", frames=frames),
        atomic_numbers=np.array(numbers),
        masses=np.full(n, 12.0),
        pbc=np.zeros(3, dtype=bool),
        step=np.arange(frames),
        time_fs=time_fs,
        positions=positions,
        velocities=np.zeros_like(positions),
        forces=np.zeros_like(positions),
        energy=energy,
        cell=np.zeros((frames, 3, 3)),
    )


def test_nve_drift_of_a_linear_energy_and_adf_error_of_a_triangle_against_a_chain() -> None:
    side = 1.4  # Å: bonded (C–C cutoff 1.2 × 2 × 0.76 Å = 1.82 Å), the chain's ends are not
    triangle = np.array([[0, 0, 0], [side, 0, 0], [side / 2, side * np.sqrt(3) / 2, 0]])
    chain = np.array([[0, 0, 0], [side, 0, 0], [2 * side, 0, 0]])
    assert adf_cutoff([6, 6, 1]) == pytest.approx(1.2 * 2 * 0.76)
    times = np.arange(50) * 2.0  # fs
    energy = -3.0 + 3 * 0.004 * times / 1000.0  # +4 meV/atom per ps for 3 atoms
    reference = system_reference([Atoms("C3", positions=triangle)] * 5, None, periodic=False)
    values = replica_dynamics(
        replica(np.tile(triangle, (50, 1, 1)), energy, times, [6] * 3), reference, "nve"
    )
    assert values["nve_drift"] == pytest.approx(0.004)
    assert (
        values["adf_error"] == pytest.approx(0.0) and values["vdos_error"] is None
    )  # no contiguous reference
    chained = replica(np.tile(chain, (50, 1, 1)), energy, times, [6] * 3)
    values = replica_dynamics(chained, reference, "nvt-langevin")
    assert values["adf_error"] == pytest.approx(1.0)  # 180° against 60°: no overlap
    assert values["nve_drift"] is None  # a thermostat exchanges energy: no conservation to measure


def test_kinetic_energy_enters_the_drift() -> None:
    """Potential energy falls as kinetic energy rises by the same amount: the total, and the drift, is 0."""
    times = np.arange(20) * 1.0
    speeds = np.sqrt(np.linspace(1.0, 2.0, 20))  # Å/fs, ½ m v² rises linearly
    trajectory = replica(np.tile(np.eye(3), (20, 1, 1)), np.zeros(20), times, [6] * 3)
    velocities = np.zeros((20, 3, 3))
    velocities[:, 0, 0] = speeds
    kinetic = 0.5 * 12.0 * (speeds / units.fs) ** 2
    trajectory = ReplicaTrajectory(**{**trajectory.__dict__, "velocities": velocities, "energy": -kinetic})
    reference = system_reference([Atoms("C3", positions=np.eye(3))], None, periodic=False)
    assert replica_dynamics(trajectory, reference, "nve")["nve_drift"] == pytest.approx(0.0, abs=1e-9)


def test_scores_have_bca_intervals_and_say_why_a_score_is_missing() -> None:
    rng = np.random.default_rng(0)
    drifts = rng.normal(0.01, 0.002, size=10)
    replicas = [ReplicaValues("s", None, None, nve_drift=d, adf_error=0.1) for d in drifts]
    scores = dynamics_scores(replicas, seed=0)
    assert scores["nve_drift"]["value"] == pytest.approx(drifts.mean())
    assert scores["nve_drift"]["low"] < drifts.mean() < scores["nve_drift"]["high"]
    assert scores["adf_error"] == {"value": 0.1, "low": 0.1, "high": 0.1}  # all equal: zero width
    assert scores["vdos_error"] is None and "contiguous" in scores["vdos_error_reason"]
    assert dynamics_scores([ReplicaValues("s", None, None)], 0)["nve_drift_reason"] == NOT_NVE


class Pushed(ForceField):
    """Forces that are not the gradient of the energy: a constant push along x on every atom."""

    architecture = "pushed"

    def __init__(self, inner: ForceField, push: float) -> None:
        super().__init__(inner.species, inner.cutoff, TrainingStatistics())
        self.inner, self.push = inner, push

    def forward(self, batch: AtomicBatch, compute_stress: bool = False, training: bool = False):
        output = dict(self.inner(batch))
        output["forces"] = output["forces"] + self.push * torch.tensor(
            [1.0, 0.0, 0.0], dtype=batch.positions.dtype
        )
        return output


def test_engine_nve_conserves_energy_and_a_non_conservative_force_drifts(tmp_path: Path) -> None:
    """Velocity Verlet with LJ forces: drift below 0.1 meV/atom/ps over 200 fs; with a push of 0.01 eV/Å that
    no energy accounts for, the work done shows up as a drift orders of magnitude larger."""
    protocol = MDProtocol(
        ensemble="nve", temperature_K=80.0, timestep_fs=1.0, steps=200, dtype="float64", seed=1
    )
    start = argon_crystal(2, seed=0)
    reference = system_reference([start], None, periodic=True)
    drifts = []
    for name, model in (("lj", LennardJones()), ("pushed", Pushed(LennardJones(), 0.01))):
        simulate(model, [start], protocol, tmp_path / f"{name}.h5")
        drifts.append(
            replica_dynamics(read_replica(tmp_path / f"{name}.h5", 0), reference, "nve")["nve_drift"]
        )
    assert drifts[0] < 1e-4 and drifts[1] > 100 * drifts[0]
    assert reference.adf is None  # argon: no neighbour within 1.2 × 2 × its covalent radius (2.5 Å < 3.7 Å)
