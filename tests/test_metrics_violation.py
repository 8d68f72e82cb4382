"""EV/FV per frame and their geometric mean, static energy/force errors, bootstrap intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from egraffbench.errors import TrajectoryError
from egraffbench.metrics import (
    bootstrap_ci,
    energy_force_errors,
    energy_violation,
    force_violation,
    geometric_mean,
    libm,
)
from egraffbench.metrics.accuracy import ERROR_NAMES
from egraffbench.metrics.violation import VIOLATION_EPSILON


def test_energy_violation_hand_computed() -> None:
    # |−10 − (−9)| / (10 + 9) = 1/19; equal energies → 0; both zero → 0 (0/0 defined as agreement)
    ev = energy_violation([-10.0, -5.0, 0.0, 2.0], [-9.0, -5.0, 0.0, -2.0])
    np.testing.assert_allclose(ev, [1 / 19, 0.0, 0.0, 1.0])


def test_force_violation_hand_computed() -> None:
    predicted = np.array([[[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    reference = np.array([[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    # frame 0: ‖(3,4,0)‖ = 5 over 5 + 0 → 1; frame 1: ‖Δ‖ = 1 over √2 + 1
    np.testing.assert_allclose(force_violation(predicted, reference), [1.0, 1.0 / (np.sqrt(2.0) + 1.0)])
    np.testing.assert_array_equal(force_violation(reference, reference), [0.0, 0.0])


def test_geometric_mean_over_frames_and_ragged_replicas() -> None:
    assert geometric_mean(np.array([0.1, 0.001])) == pytest.approx(0.01, rel=1e-9)
    # replicas of different lengths pool their frames: (0.1 · 0.001 · 0.01)^(1/3) = 0.01
    assert geometric_mean([np.array([0.1, 0.001]), np.array([0.01])]) == pytest.approx(0.01, rel=1e-9)
    assert geometric_mean(np.zeros(7)) == 0.0  # identical trajectories: exactly zero
    # an exact zero counts as ε = 1e-12: (1e-12 · 1e-2)^(1/2) ≈ 1e-7, not 0
    assert geometric_mean([0.0, 0.01]) == pytest.approx(1e-7, rel=1e-3)
    with pytest.raises(TrajectoryError):
        geometric_mean([np.nan, 0.1])


def test_the_geometric_mean_is_the_c_librarys_on_every_cpu() -> None:
    """EV/FV aggregates take ln(1 + v/ε) and exp(x) − 1 from the C library, element by element: numpy's own
    loops on AVX-512 CPUs (SVML) round some of these inputs otherwise, and a report rebuilt there from the
    committed records gave other last digits. Here the values must equal :mod:`math`'s on any CPU."""
    rng = np.random.default_rng(11)
    violations = 10 ** rng.uniform(-7.0, -0.5, 5000)
    logs = [math.log1p(v / VIOLATION_EPSILON) for v in violations]
    assert libm.log1p(violations / VIOLATION_EPSILON).tolist() == logs
    exponents = rng.uniform(0.0, 30.0, (50, 100))
    assert libm.expm1(exponents).tolist() == [[math.expm1(x) for x in row] for row in exponents.tolist()]
    expected = VIOLATION_EPSILON * math.expm1(float(np.mean(np.array(logs))))
    assert geometric_mean(violations) == expected


def test_energy_force_errors_hand_computed() -> None:
    # structure 0 has 2 atoms, structure 1 has 4 atoms (ragged)
    forces_reference = [np.zeros((2, 3)), np.ones((4, 3))]
    forces_predicted = [np.zeros((2, 3)), np.ones((4, 3))]
    forces_predicted[0][1, 2] = 0.3
    forces_predicted[1][3, 0] -= 0.6
    errors = energy_force_errors([1.0, 2.0], [0.0, 4.0], forces_predicted, forces_reference)
    assert tuple(errors) == ERROR_NAMES  # the names every stored error and interval uses
    # energy errors (1, −2) eV; per atom (0.5, −0.5) eV/atom; force errors 0.3 and −0.6 among 18 components
    assert errors["energy_mae"] == pytest.approx(1.5)
    assert errors["energy_rmse"] == pytest.approx(np.sqrt(2.5))
    assert errors["energy_mae_per_atom"] == pytest.approx(0.5)
    assert errors["energy_rmse_per_atom"] == pytest.approx(0.5)
    assert errors["force_mae"] == pytest.approx(0.9 / 18)
    assert errors["force_rmse"] == pytest.approx(np.sqrt((0.09 + 0.36) / 18))


def test_energy_force_errors_of_equal_size_structures_as_arrays() -> None:
    rng = np.random.default_rng(0)
    forces = rng.normal(size=(5, 3, 3))
    errors = energy_force_errors(np.arange(5.0), np.arange(5.0) + 0.3, forces, forces)
    assert errors["energy_mae"] == pytest.approx(0.3)
    assert errors["energy_mae_per_atom"] == pytest.approx(0.1)
    assert errors["force_rmse"] == 0.0
    with pytest.raises(TrajectoryError, match="same number"):
        energy_force_errors(np.arange(4.0), np.arange(5.0), forces, forces)


def test_bootstrap_interval_is_seeded_and_covers_the_mean() -> None:
    rng = np.random.default_rng(1)
    samples = rng.normal(2.0, 1.0, size=200)
    estimate, low, high = bootstrap_ci(samples, seed=3)
    assert estimate == pytest.approx(np.mean(samples))
    assert low < estimate < high
    # width ≈ 2 · 1.96 · σ/√n for a normal sample mean
    assert high - low == pytest.approx(2 * 1.96 * np.std(samples) / np.sqrt(200), rel=0.15)
    assert bootstrap_ci(samples, seed=3) == (estimate, low, high)
    assert bootstrap_ci([0.7], statistic=np.median) == (0.7, 0.7, 0.7)
