"""Scoring rollouts: structure, violation and stability values per replica, pooling over replicas (and so
over systems and seeds), and the two EV/FV references (oracle, reference trajectory)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from egraffbench.data.reference import attach_reference
from egraffbench.metrics.violation import energy_violation, geometric_mean
from egraffbench.models.registry import reference_potential
from egraffbench.runner.rollout_scoring import (
    NOT_APPLICABLE,
    ReferenceEnergies,
    ReplicaValues,
    Rollout,
    aggregate_replicas,
    structure_values,
    violation_values,
)
from egraffbench.runner.stages import oracle_reference, replica_plan, trajectory_reference
from egraffbench.tasks.sources import SystemConditions
from egraffbench.tasks.systems import SystemData


def _crystal_frames(count: int, seed: int, scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    atoms = bulk("Cu", "fcc", a=3.6 * scale, cubic=True).repeat((2, 2, 2))
    return np.array(
        [atoms.positions + rng.normal(scale=0.05, size=atoms.positions.shape) for _ in range(count)]
    )


def read_rollout(
    positions: np.ndarray, cell: float, failure: float | None = None, reason: str | None = None
) -> Rollout:
    frames, atoms = positions.shape[:2]
    return Rollout(
        positions=positions,
        cells=np.repeat(np.eye(3)[None] * cell, frames, axis=0),
        numbers=np.full(atoms, 29),
        times_fs=np.arange(frames, dtype=float),
        energies=np.zeros(frames),
        forces=np.zeros((frames, atoms, 3)),
        failure_time_fs=failure,
        failure_reason=reason,
    )


def test_a_rollout_sampling_the_reference_structure_scores_near_zero_and_an_expanded_one_does_not() -> None:
    reference = _crystal_frames(20, seed=0)
    cells = np.repeat(np.eye(3)[None] * 7.2, 20, axis=0)
    same = read_rollout(_crystal_frames(20, seed=1), 7.2)
    expanded = read_rollout(_crystal_frames(20, seed=2, scale=1.05), 7.56)
    ((same_wf, same_jsd, _), (expanded_wf, expanded_jsd, _)), _ = structure_values(
        [same, expanded], reference, cells, True
    )
    assert same_wf < 5.0 and same_jsd < 0.01
    assert expanded_wf > 10 * same_wf and expanded_jsd > 10 * same_jsd
    ((identical_wf, identical_jsd, _), _), _ = structure_values(
        [read_rollout(reference, 7.2), same], reference, cells, True
    )
    assert identical_wf == pytest.approx(0.0, abs=1e-12) and identical_jsd == pytest.approx(0.0, abs=1e-12)


def test_stability_counts_failures_censors_survivors_and_reads_the_median_off_the_km_curve() -> None:
    replicas = [
        ReplicaValues("a", 100.0, "temperature"),
        ReplicaValues("a", 300.0, "pair-distance"),
        ReplicaValues("b", None, None),
        ReplicaValues("b", None, None),
    ]
    scores = aggregate_replicas(replicas, 1000.0, seed=0, groups=["stability"])
    # 2 of 4 stable: Wilson 95 % interval p ± … = (0.150, 0.850)
    assert scores["stable_fraction"] == pytest.approx(
        {"value": 0.5, "low": 0.15004, "high": 0.84996}, abs=1e-5
    )
    assert scores["failure_reasons"] == {"temperature": 1, "pair-distance": 1}
    median = scores["median_time_to_failure_ps"]
    assert median["value"] == pytest.approx(0.3)  # S = 3/4 after 0.1 ps, 1/2 after 0.3 ps
    band = scores["survival"]
    assert median["low"] == next(t for t, s in zip(band["time_ps"], band["low"], strict=True) if s <= 0.5)
    assert median["high"] == 1.0  # the band's upper curve never falls to 1/2: the run length
    assert not scores["median_time_to_failure_censored"]
    survivors = aggregate_replicas(replicas[2:], 1000.0, seed=0, groups=["stability"])
    assert (
        survivors["median_time_to_failure_ps"]["value"] == 1.0
        and survivors["median_time_to_failure_censored"]
    )


def _violating(energies: list[float], reference: list[float], system: str) -> ReplicaValues:
    """A replica whose model energies/forces deviate from the reference by known amounts."""
    frames = len(energies)
    forces = np.ones((frames, 2, 3))
    rollout = read_rollout(np.zeros((frames, 2, 3)), 3.6)
    rollout.energies, rollout.forces = np.array(energies), forces
    values = ReplicaValues(system, None, None, violation_reference="oracle")
    found = violation_values(rollout, ReferenceEnergies(np.array(reference), 1.5 * forces), 0.0)
    for key, value in found.items():
        setattr(values, key, value)
    return values


def test_pooled_violations_are_the_geometric_mean_over_every_compared_frame() -> None:
    first = _violating([-10.0, -10.0], [-11.0, -12.0], "a")
    second = _violating([-5.0, np.nan, -5.0], [-5.5, -5.0, -5.0], "b")  # the NaN frame is left out
    scores = aggregate_replicas(
        [first, second, ReplicaValues("c", None, None)], 10.0, seed=0, groups=["violation"]
    )
    ev_frames = energy_violation([-10.0, -10.0, -5.0, -5.0], [-11.0, -12.0, -5.5, -5.0])
    assert second.compared_frames == 2
    assert scores["ev"]["value"] == pytest.approx(geometric_mean(ev_frames), rel=1e-9)
    assert scores["fv"]["value"] == pytest.approx(
        0.5 / 2.5, rel=1e-9
    )  # ‖F − 1.5F‖ / (‖F‖ + ‖1.5F‖) everywhere
    assert scores["ev"]["low"] <= scores["ev"]["value"] <= scores["ev"]["high"]
    assert scores["rollout_energy_mae_per_atom"]["value"] == pytest.approx((1.5 / 2 + 0.25 / 2) / 2)
    assert scores["violation_reference"] == "oracle"
    none = aggregate_replicas([ReplicaValues("c", None, None)], 10.0, seed=0, groups=["violation"])
    assert none["ev"] is None and none["violation_reason"] == NOT_APPLICABLE


def test_reference_trajectory_frames_are_matched_at_the_same_simulated_time() -> None:
    test = []
    for index in range(10):
        atoms = bulk("Cu", "fcc", a=3.6).repeat((1, 1, 2))
        attach_reference(atoms, float(index), np.full((2, 3), float(index)))
        test.append(atoms)
    rollout = read_rollout(np.zeros((6, 2, 3)), 3.6)  # frames every 1 fs
    trimmed, reference = trajectory_reference(rollout, test, start=3, spacing_fs=0.5)
    assert reference.energies.tolist() == [3.0, 5.0, 7.0, 9.0]  # test frame 3 + 2 per fs, up to the last one
    assert trimmed.times_fs.tolist() == [0.0, 1.0, 2.0, 3.0] and reference.forces.shape == (4, 2, 3)
    assert (
        trajectory_reference(rollout, test, start=0, spacing_fs=0.4) is None
    )  # 1 fs is not on a 0.4 fs grid


def test_the_oracle_reference_reproduces_emt_on_emt_frames() -> None:
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
    rng = np.random.default_rng(3)
    positions = np.array(
        [atoms.positions + rng.normal(scale=0.05, size=atoms.positions.shape) for _ in range(3)]
    )
    rollout = read_rollout(positions, 7.2)
    reference = oracle_reference(reference_potential("emt"), rollout)
    for frame, energy, forces in zip(positions, reference.energies, reference.forces, strict=True):
        check = atoms.copy()
        check.positions = frame
        check.calc = EMT()
        assert energy == pytest.approx(check.get_potential_energy(), abs=1e-8)
        assert np.allclose(forces, check.get_forces(), atol=1e-8)


def test_each_system_starts_its_replicas_from_its_own_first_frames() -> None:
    def system(name: str, frames: int) -> SystemData:
        return SystemData(SystemConditions(name, 300.0, True, None, None), [bulk("Cu")] * frames)

    plan = replica_plan([system("a", 5), system("b", 2)], replicas=3)
    assert [(p.system, p.frame) for p in plan] == [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1)]
