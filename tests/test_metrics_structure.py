"""g(r), h(r), ADF, default ranges, and the distances between structure functions (WF, JSD)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.geometry.analysis import Analysis
from ase.geometry.rdf import get_rdf
from scipy.spatial.distance import jensenshannon

from egraffbench.metrics import (
    angular_distribution,
    default_molecule_r_max,
    default_r_max,
    distance_histogram,
    jensen_shannon_divergence,
    radial_distribution,
    running_coordination,
    wright_factor,
)
from egraffbench.metrics.structure import partner_density

A_CU = 3.61  # Å, fcc lattice constant
# fcc coordination shells: (radius / a, number of neighbours)
FCC_SHELLS = [(1 / np.sqrt(2), 12), (1.0, 6), (np.sqrt(1.5), 24), (np.sqrt(2.0), 12), (np.sqrt(2.5), 24)]


def shell_count(coordination: np.ndarray, dr: float, radius: float, half_width: float = 0.1) -> float:
    """Neighbours between radius ± half_width from a running coordination number on bins of width dr."""
    return coordination[int((radius + half_width) / dr)] - coordination[int((radius - half_width) / dr)]


def test_ideal_gas_rdf_is_one_within_poisson_noise() -> None:
    """Uniform random points: g(r) = 1 with the exact N(N-1)/V normalisation.

    Tolerance: beyond 1 Å each bin lies within 5 Poisson standard deviations of its expected unordered pair
    count, the spread of those deviations is Poisson's (standard score 1 ± 0.15), and all pairs pooled give
    g = 1 within 1 % (4 pooled standard deviations).
    """
    rng = np.random.default_rng(1)
    n_frames, n_atoms, length, dr = 40, 150, 14.0, 0.05
    positions = rng.random((n_frames, n_atoms, 3)) * length
    rdf = radial_distribution(positions, np.eye(3) * length, dr=dr)
    assert rdf.r_max == pytest.approx(6.5)  # (14 − 1) / 2
    shells = 4 * np.pi / 3 * ((rdf.r + dr / 2) ** 3 - (rdf.r - dr / 2) ** 3)
    expected_pairs = n_frames * n_atoms * (n_atoms - 1) / 2 / length**3 * shells
    deviation = (rdf.values - 1.0) * np.sqrt(expected_pairs)
    far = rdf.r > 1.0
    assert np.max(np.abs(deviation[far])) < 5.0
    assert np.std(deviation[far]) == pytest.approx(1.0, abs=0.15)
    pooled = np.sum(rdf.values[far] * expected_pairs[far]) / np.sum(expected_pairs[far])
    assert pooled == pytest.approx(1.0, abs=0.01)


def test_ideal_gas_in_triclinic_cell_is_one() -> None:
    rng = np.random.default_rng(2)
    cell = np.array([[12.0, 0.0, 0.0], [4.0, 11.0, 0.0], [-3.0, 2.5, 13.0]])
    positions = rng.random((40, 150, 3)) @ cell
    rdf = radial_distribution(positions, cell, dr=0.25)
    assert np.mean(rdf.values[rdf.r > 1.0]) == pytest.approx(1.0, abs=0.01)
    assert np.max(np.abs(rdf.values[rdf.r > 2.0] - 1.0)) < 0.1


def test_fcc_coordination_shells_at_the_right_radii() -> None:
    crystal = bulk("Cu", "fcc", a=A_CU, cubic=True).repeat(4)
    rdf = radial_distribution(crystal.positions, crystal.cell.array)
    assert rdf.r_max == pytest.approx(min((4 * A_CU - 1) / 2, 10.0), abs=0.05)
    coordination = running_coordination(rdf, partner_density(crystal.numbers, crystal.get_volume()))
    for radius, count in FCC_SHELLS:
        assert shell_count(coordination, rdf.dr, radius * A_CU) == pytest.approx(count, abs=1e-9)
    # nothing between the shells: the first neighbour sits at a/√2, nothing closer
    assert coordination[int(0.95 * A_CU / np.sqrt(2) / rdf.dr)] == 0
    peak = rdf.r[np.argmax(rdf.values)]
    assert abs(peak - A_CU / np.sqrt(2)) < rdf.dr


def test_triclinic_cells_of_the_same_crystal_agree() -> None:
    """The fcc primitive cell (60° angles) and a sheared supercell give the cubic cell's g(r)."""
    rng = np.random.default_rng(3)
    cubic = bulk("Cu", "fcc", a=A_CU, cubic=True).repeat(4)
    positions = cubic.positions + rng.normal(0.0, 0.08, (3, len(cubic), 3))
    reference = radial_distribution(positions, cubic.cell.array, r_max=6.0)
    shear = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 1]])  # unimodular: the same lattice, a triclinic cell
    sheared_cell = shear @ cubic.cell.array
    fractional = positions @ np.linalg.inv(sheared_cell)
    wrapped = (fractional % 1.0) @ sheared_cell
    sheared = radial_distribution(wrapped, sheared_cell, r_max=6.0)
    np.testing.assert_allclose(sheared.values, reference.values, atol=1e-10)

    primitive = bulk("Cu", "fcc", a=A_CU).repeat(6)
    assert primitive.cell.angles() == pytest.approx([60.0, 60.0, 60.0])
    rdf = radial_distribution(primitive.positions, primitive.cell.array, r_max=6.0)
    coordination = running_coordination(rdf, partner_density(primitive.numbers, primitive.get_volume()))
    for radius, count in FCC_SHELLS:
        assert shell_count(coordination, rdf.dr, radius * A_CU) == pytest.approx(count, abs=1e-9)


def test_default_r_max_uses_the_perpendicular_width() -> None:
    assert default_r_max(np.eye(3) * 19.1) == pytest.approx(9.05)
    assert default_r_max(np.eye(3) * 40.0) == 10.0
    # a 60° rhombohedral cell of edge 10 Å: faces are 10·√(2/3) ≈ 8.165 Å apart
    primitive = bulk("Cu", "fcc", a=10 * np.sqrt(2)).cell.array
    assert default_r_max(primitive) == pytest.approx((10 * np.sqrt(2 / 3) - 1) / 2)


def test_agrees_with_ase_rdf_total_and_partial() -> None:
    """ASE normalises by N·N_b/V (we use N·(N_b − δ_ab)/V so an ideal gas gives 1); otherwise identical.

    Totals via ``Analysis.get_rdf``; partials via ``ase.geometry.rdf.get_rdf`` (Analysis refuses those).
    """
    rng = np.random.default_rng(4)
    cell = np.array([[13.0, 0.0, 0.0], [2.0, 12.0, 0.0], [1.0, -1.5, 12.5]])
    numbers = np.array([3] * 40 + [16] * 25)
    frames = [
        Atoms(numbers=numbers, scaled_positions=rng.random((65, 3)), cell=cell, pbc=True) for _ in range(3)
    ]
    positions = np.stack([atoms.positions for atoms in frames])
    n_bins, dr = 100, 0.05
    ase_total = np.mean(Analysis(frames).get_rdf(n_bins * dr, n_bins), axis=0)
    ours = radial_distribution(positions, cell, r_max=n_bins * dr, dr=dr, numbers=numbers)
    np.testing.assert_allclose(ours.values * (65 - 1) / 65, ase_total, rtol=1e-10, atol=1e-12)

    ase_li_s = get_rdf(frames, n_bins * dr, n_bins, elements=[3, 16], no_dists=True)
    ours_li_s = radial_distribution(positions, cell, r_max=n_bins * dr, numbers=numbers, pair=(3, 16))
    np.testing.assert_allclose(ours_li_s.values, ase_li_s, rtol=1e-10, atol=1e-12)

    ase_s_s = get_rdf(frames, n_bins * dr, n_bins, elements=[16, 16], no_dists=True)
    ours_s_s = radial_distribution(positions, cell, r_max=n_bins * dr, numbers=numbers, pair=(16, 16))
    np.testing.assert_allclose(ours_s_s.values * (25 - 1) / 25, ase_s_s, rtol=1e-10, atol=1e-12)


def test_partial_rdfs_sum_to_the_total() -> None:
    """g = Σ_ab c_a (N_b − δ_ab)/(N − 1) g_ab: the partials add up to the total with pair weights."""
    rng = np.random.default_rng(5)
    numbers = np.array([3] * 30 + [15] * 10 + [16] * 20)
    positions = rng.random((2, 60, 3)) * 12.0
    cell = np.eye(3) * 12.0
    total = radial_distribution(positions, cell, numbers=numbers).values
    summed = np.zeros_like(total)
    for a in (3, 15, 16):
        for b in (3, 15, 16):
            n_a, n_b = np.sum(numbers == a), np.sum(numbers == b) - (a == b)
            weight = n_a * n_b / (60 * 59)
            summed += weight * radial_distribution(positions, cell, numbers=numbers, pair=(a, b)).values
    np.testing.assert_allclose(summed, total, atol=1e-12)


def test_molecule_distance_histogram_of_a_rigid_triangle() -> None:
    """A 3-4-5 triangle: three distances, each 1/3 of the normalised histogram; Σ h·dr = 1."""
    triangle = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 4.0, 0.0]])
    frames = np.stack([triangle + shift for shift in ([0, 0, 0], [5.0, -2.0, 1.0])])
    dr = 0.05
    hr = distance_histogram(frames, dr=dr)
    assert hr.r_max == pytest.approx(5.05)  # the multiple of dr just above the largest distance
    assert np.sum(hr.values) * dr == pytest.approx(1.0)
    for distance in (3.0, 4.0, 5.0):
        assert hr.values[int(distance / dr + 1e-9)] == pytest.approx(1 / (3 * dr))
    partial = distance_histogram(
        np.array([[[0, 0, 0], [1.1, 0, 0], [0, 0, 2.0]]]), numbers=[6, 1, 8], pair=(8, 1), dr=dr
    )
    assert partial.r[np.argmax(partial.values)] == pytest.approx(np.hypot(1.1, 2.0), abs=dr)
    assert default_molecule_r_max(triangle, dr=0.1) == pytest.approx(5.1)


def test_angular_distribution_of_fcc_first_shell() -> None:
    """12 nearest neighbours of an fcc site form 66 pairs: 24 at 60°, 12 at 90°, 24 at 120°, 6 at 180°."""
    crystal = bulk("Cu", "fcc", a=A_CU, cubic=True).repeat(3)
    angles, density = angular_distribution(crystal.positions, cutoff=3.0, cells=crystal.cell.array)
    width = angles[1] - angles[0]
    assert np.sum(density) * width == pytest.approx(1.0)
    near = {angle: np.abs(angles - angle) < 2.0 for angle in (60, 90, 120, 180)}
    fractions = {angle: np.sum(density[mask]) * width for angle, mask in near.items()}
    assert fractions == pytest.approx({60: 24 / 66, 90: 12 / 66, 120: 24 / 66, 180: 6 / 66})


def test_angular_distribution_of_a_molecule() -> None:
    water = Atoms(
        "OH2", positions=[[0, 0, 0], [0.9572, 0, 0], [0.9572 * np.cos(1.824), 0.9572 * np.sin(1.824), 0]]
    )
    angles, density = angular_distribution(water.positions, cutoff=1.2, numbers=water.numbers, centre=8)
    assert angles[np.argmax(density)] == pytest.approx(np.degrees(1.824), abs=0.5)


def test_wright_factor_hand_computed_and_zero_for_identical() -> None:
    # Σ(s − s_ref)² = 0 + 1 + 1 = 2, Σ s_ref² = 1 + 4 + 4 = 9 → 22.2 %
    assert wright_factor([1.0, 1.0, 3.0], [1.0, 2.0, 2.0]) == pytest.approx(200 / 9)
    assert wright_factor([0.5, 2.0, 1.0], [0.5, 2.0, 1.0]) == 0.0


def test_jsd_properties_and_value() -> None:
    p, q = np.array([1.0, 0.0]), np.array([0.5, 0.5])
    # M = (0.75, 0.25); KL(P‖M) = ln(4/3); KL(Q‖M) = ½ ln(2/3) + ½ ln 2; JSD = ½ (sum)
    expected = 0.5 * np.log(4 / 3) + 0.5 * (0.5 * np.log(2 / 3) + 0.5 * np.log(2))
    assert jensen_shannon_divergence(p, q) == pytest.approx(expected)
    rng = np.random.default_rng(6)
    s, t = rng.random(200), rng.random(200)
    assert jensen_shannon_divergence(s, t) == pytest.approx(jensen_shannon_divergence(t, s))
    assert jensen_shannon_divergence(s, t) == pytest.approx(jensenshannon(s, t) ** 2)  # SciPy, natural log
    assert 0 < jensen_shannon_divergence(s, t) <= np.log(2)
    assert jensen_shannon_divergence(3 * s, s) == pytest.approx(
        0.0, abs=1e-15
    )  # scale-free: normalised to probabilities
    assert jensen_shannon_divergence([0, 0, 2.0, 5.0], [1.0, 3.0, 0, 0]) == pytest.approx(
        np.log(2), abs=1e-15
    )
