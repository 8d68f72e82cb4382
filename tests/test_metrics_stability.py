"""Stability reasons on constructed replicas, the trajectory scan, and Kaplan–Meier survival."""

from __future__ import annotations

import numpy as np
import pytest
from ase import units
from ase.build import bulk, molecule

from egraffbench.metrics import (
    Failure,
    StabilityCriteria,
    bonded_pairs,
    censored_durations,
    check_stability,
    first_failure,
    fraction_stable,
    kaplan_meier,
    kinetic_temperature,
    median_time_to_failure,
    radial_distribution,
    windowed_rdf_mae,
)

DIMER = np.array([[0.0, 0.0, 0.0], [0.74, 0.0, 0.0]])  # H2, Å


def test_each_reason_is_triggered_by_its_own_replica() -> None:
    """Six two-atom replicas in one batch: fine, NaN, hot, too close, bond broken, RDF drifted."""
    start = np.tile(DIMER, (6, 1))
    now = start.copy()
    now[2] = [np.nan, 0.0, 0.0]  # replica 1 (atoms 2, 3)
    now[7] = [0.3, 0.0, 0.0]  # replica 3: 0.3 Å apart, below the 0.5 Å floor
    now[9] = [1.5, 0.0, 0.0]  # replica 4: bond 0.74 → 1.5 Å, deviation 0.76 > 0.5 Å
    reasons = check_stability(
        now,
        np.repeat(np.arange(6), 2),
        np.full(6, -1.0),
        target_temperatures=500.0,
        temperatures=[400.0, 400.0, 3000.0, 400.0, 400.0, 400.0],  # 3000 K > 5 × 500 K
        initial_positions=start,
        bonds=np.array([[2 * r, 2 * r + 1] for r in range(6)]),
        rdf_mae=[np.nan, np.nan, np.nan, np.nan, np.nan, 0.31],  # > 0.3 default bound
    )
    assert reasons == [None, "non-finite", "temperature", "pair-distance", "bond-deviation", "rdf-drift"]


def test_reason_priority_and_thresholds() -> None:
    """Non-finite wins over temperature; exactly at a bound is not a failure; custom criteria apply."""
    positions = np.tile(DIMER, (3, 1))
    common = {"target_temperatures": 300.0, "initial_positions": positions, "bonds": [[0, 1], [2, 3], [4, 5]]}
    reasons = check_stability(
        positions,
        np.repeat(np.arange(3), 2),
        [np.inf, -1.0, -1.0],
        temperatures=[1e4, 1500.0, 1501.0],
        **common,
    )
    assert reasons == ["non-finite", None, "temperature"]
    strict = StabilityCriteria(pair_floor=0.8)  # the 0.74 Å bond is now "too close"
    assert check_stability(positions[:2], [0, 0], [-1.0], criteria=strict) == ["pair-distance"]


def test_pair_floor_and_bonds_use_periodic_images() -> None:
    """Two atoms 0.2 Å apart through the cell boundary: too close when periodic, fine when not."""
    cell = np.eye(3) * 10.0
    positions = np.array([[0.1, 5.0, 5.0], [9.9, 5.0, 5.0]])
    batch = np.vstack([positions, positions])
    reasons = check_stability(
        batch, [0, 0, 1, 1], [-1.0, -1.0], cells=np.stack([cell, cell]), periodic=[True, False]
    )
    assert reasons == ["pair-distance", None]
    # a bond that crosses the boundary keeps its minimum-image length: no bond failure after wrapping
    initial = np.array([[9.8, 5.0, 5.0], [10.6, 5.0, 5.0]])  # bond 0.8 Å, unwrapped
    wrapped = np.array([[9.8, 5.0, 5.0], [0.6, 5.0, 5.0]])
    assert check_stability(
        wrapped, [0, 0], [-1.0], cells=cell[None], periodic=True, initial_positions=initial, bonds=[[0, 1]]
    ) == [None]


def test_kinetic_temperature_matches_ase() -> None:
    rng = np.random.default_rng(0)
    atoms = bulk("Cu", cubic=True).repeat(3)
    velocities = rng.normal(0.0, 0.01, (len(atoms), 3))  # Å/fs
    atoms.set_velocities(velocities / units.fs)  # ASE velocity unit: Å per ASE time unit
    temperatures = kinetic_temperature(
        np.vstack([velocities, 2 * velocities]), np.tile(atoms.get_masses(), 2), np.repeat([0, 1], len(atoms))
    )
    np.testing.assert_allclose(
        temperatures, [atoms.get_temperature(), 4 * atoms.get_temperature()], rtol=1e-12
    )


def test_bonded_pairs_of_water_and_methane() -> None:
    water = molecule("H2O")  # O is atom 0
    np.testing.assert_array_equal(bonded_pairs(water.positions, water.numbers), [[0, 1], [0, 2]])
    methane = molecule("CH4")
    assert len(bonded_pairs(methane.positions, methane.numbers)) == 4  # C–H only, no H–H


def test_windowed_rdf_mae_hand_computed() -> None:
    frames = np.array([[0.0, 0.0], [2.0, 2.0], [4.0, 4.0]])
    # windows of 2: frames (0, 1) → mean 1 → |1 − 1| = 0; frames (1, 2) → mean 3 → 2
    np.testing.assert_allclose(windowed_rdf_mae(frames, [1.0, 1.0], 2), [np.nan, 0.0, 2.0])
    assert np.isnan(windowed_rdf_mae(frames, [1.0, 1.0], 5)).all()


def test_first_failure_of_a_stretching_molecule() -> None:
    """A bond lengthening by 0.12 Å per frame exceeds the 0.5 Å deviation at frame 5 (0.60 Å)."""
    frames = np.stack([DIMER + np.array([[0, 0, 0], [0.12 * t, 0, 0]]) for t in range(10)])
    energies = -np.ones(10)
    assert first_failure(frames, energies, bonds=[[0, 1]]) == Failure(5, "bond-deviation")
    assert first_failure(frames, energies, bonds=[[0, 1]], check_every=3) == Failure(6, "bond-deviation")
    assert first_failure(frames[:5], energies[:5], bonds=[[0, 1]]) is None
    broken = frames.copy()
    broken[3:] = np.nan  # everything after frame 3 is NaN, e.g. an exploded integration
    assert first_failure(broken, energies, bonds=[[0, 1]]) == Failure(3, "non-finite")


def test_first_failure_from_velocities() -> None:
    masses = np.array([1.008, 1.008])
    velocities = np.zeros((6, 2, 3))
    velocities[4:] = [[0.5, 0.0, 0.0], [-0.5, 0.0, 0.0]]  # Å/fs: ~ 6800 K, above 5 × 300 K
    frames = np.repeat(DIMER[None], 6, axis=0)
    failure = first_failure(
        frames, -np.ones(6), velocities=velocities, masses=masses, target_temperature=300.0
    )
    assert failure == Failure(4, "temperature")


def test_first_failure_detects_rdf_drift_of_an_expanding_crystal() -> None:
    """120 frames of a thermal Cu crystal, then 120 frames of the same crystal 5 % expanded.

    The 100-frame window g(r) drifts away only once enough expanded frames enter it; the crystal alone passes.
    """
    rng = np.random.default_rng(2)
    crystal = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(3)
    cell = crystal.cell.array

    def thermal(scale: float) -> np.ndarray:
        return scale * crystal.positions[None] + rng.normal(0.0, 0.08, (120, len(crystal), 3))

    reference = radial_distribution(thermal(1.0), cell)
    positions = np.concatenate([thermal(1.0), thermal(1.05)])
    cells = np.concatenate([np.repeat(cell[None], 120, axis=0), np.repeat(1.05 * cell[None], 120, axis=0)])
    energies = -np.ones(240)
    crystal_only = first_failure(
        positions[:120], energies[:120], cell=cells[:120], periodic=True, reference_rdf=reference
    )
    assert crystal_only is None
    failure = first_failure(positions, energies, cell=cells, periodic=True, reference_rdf=reference)
    assert failure is not None and failure.reason == "rdf-drift"
    assert 120 < failure.frame < 220


def test_kaplan_meier_hand_worked_example() -> None:
    """Six replicas: failures at t = 2, 3, 3, 6; censored (survived the run of its length) at 5 and 8.

    t = 2: 6 at risk, 1 fails → S = 5/6;            Greenwood Σ d/(n(n−d)) = 1/(6·5) = 1/30
    t = 3: 5 at risk, 2 fail  → S = 5/6 · 3/5 = 1/2; Σ = 1/30 + 2/(5·3) = 1/6
    t = 5: censored, leaves the risk set
    t = 6: 2 at risk, 1 fails → S = 1/2 · 1/2 = 1/4; Σ = 1/6 + 1/(2·1) = 2/3
    Var S(3) = S² Σ = 1/24. Log–log band at t = 3: σ = √(1/6) / |ln ½| = 0.58898, z = 1.95996,
    exp(zσ) = 3.1720 → lower = ½^3.1720 = 0.1111, upper = ½^(1/3.1720) = 0.8037. Median: S ≤ ½ first at t = 3.
    """
    durations, failed = censored_durations([2.0, 3.0, 3.0, None, 6.0, None], run_length=8.0)
    durations[3] = 5.0  # this replica's run stopped at t = 5 without failing (shorter run)
    curve = kaplan_meier(durations, failed)
    np.testing.assert_allclose(curve.times, [0, 2, 3, 6])
    np.testing.assert_allclose(curve.survival, [1, 5 / 6, 1 / 2, 1 / 4])
    np.testing.assert_array_equal(curve.at_risk, [6, 6, 5, 2])
    np.testing.assert_array_equal(curve.failures, [0, 1, 2, 1])
    np.testing.assert_allclose(curve.variance, [0, (5 / 6) ** 2 / 30, 1 / 24, (1 / 16) * (2 / 3)])
    assert curve.lower[2] == pytest.approx(0.1111, abs=2e-4)
    assert curve.upper[2] == pytest.approx(0.8037, abs=2e-4)
    assert np.all(curve.lower <= curve.survival) and np.all(curve.survival <= curve.upper)
    assert median_time_to_failure(curve) == 3.0
    assert fraction_stable(failed) == pytest.approx(2 / 6)


def test_kaplan_meier_without_failures_and_with_all_failing() -> None:
    survived = kaplan_meier([10.0, 10.0, 10.0], [False, False, False])
    np.testing.assert_array_equal(survived.survival, [1.0])
    assert median_time_to_failure(survived) is None
    all_fail = kaplan_meier([1.0, 2.0], [True, True])
    np.testing.assert_allclose(all_fail.survival, [1.0, 0.5, 0.0])
    assert all_fail.lower[-1] == all_fail.upper[-1] == 0.0
