"""Equiformer physics beyond the conformance suite: equivariant features, smooth cutoff, attention, PBC."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from scipy.spatial.transform import Rotation

from egraffbench.errors import ConfigError
from egraffbench.models import TrainingStatistics, batch_from_atoms
from egraffbench.models.equiformer import EdgeGeometry, GraphAttention, scatter_softmax
from egraffbench.models.equiformer_adapter import EquiformerForceField
from egraffbench.models.presets import load_preset

SPECIES = [1, 8, 29, 79]
CUTOFF = 4.0
STATISTICS = TrainingStatistics(element_energies={1: -13.6, 8: -2040.0, 29: -1.3, 79: -2.1}, energy_scale=0.7)


def build(**overrides) -> EquiformerForceField:
    """A tiny float64 model, built under float64 so e3nn's Clebsch–Gordan buffers keep float64 precision."""
    torch.manual_seed(0)
    hyperparameters = {**load_preset("equiformer", "test").hyperparameters, **overrides}
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return EquiformerForceField(SPECIES, CUTOFF, STATISTICS, **hyperparameters).eval()
    finally:
        torch.set_default_dtype(previous)


@pytest.fixture(scope="module")
def model() -> EquiformerForceField:
    return build()


@pytest.fixture(scope="module")
def linear_message_model() -> EquiformerForceField:
    return build(nonlinear_messages=False)


def energy(model: EquiformerForceField, atoms: Atoms, compute_stress: bool = False) -> dict:
    return model(batch_from_atoms([atoms], model.cutoff, dtype=torch.float64), compute_stress=compute_stress)


def cluster() -> Atoms:
    rng = np.random.default_rng(4)
    return Atoms("OH2CuAu", positions=rng.uniform(-1.6, 1.6, size=(5, 3)))


# --- attention softmax --------------------------------------------------------------------------


def test_scatter_softmax_normalises_each_receiver_and_survives_large_logits() -> None:
    logits = torch.tensor(
        [[900.0, -3.0], [899.0, 2.0], [-1e4, 0.5], [1000.0, 1000.0], [0.0, 7.0], [1.0, -2.0]],
        dtype=torch.float64,
    )
    receivers = torch.tensor([0, 0, 0, 2, 3, 3])  # receiver 1 has no edge, receiver 2 a single one
    weights = scatter_softmax(logits, receivers, num_groups=4)
    assert torch.isfinite(weights).all()
    sums = torch.zeros(4, 2, dtype=torch.float64).index_add(0, receivers, weights)
    torch.testing.assert_close(sums[[0, 2, 3]], torch.ones(3, 2, dtype=torch.float64))
    torch.testing.assert_close(weights[3], torch.ones(2, dtype=torch.float64))
    for receiver in (0, 3):
        group = receivers == receiver
        torch.testing.assert_close(weights[group], torch.softmax(logits[group], dim=0))
    assert weights[0, 0].item() == pytest.approx(1 / (1 + np.exp(-1.0)), rel=1e-12)


def test_weighted_softmax_drops_zero_weight_edges_and_matches_log_weight_logits() -> None:
    logits = torch.tensor([0.3, -1.2, 2.0, 0.7], dtype=torch.float64)
    receivers = torch.tensor([0, 0, 0, 1])
    envelope = torch.tensor([0.5, 0.0, 0.9, 0.2], dtype=torch.float64)
    weights = scatter_softmax(logits, receivers, 2, weights=envelope)
    assert weights[1].item() == 0.0
    kept = torch.tensor([0, 2])
    torch.testing.assert_close(weights[kept], torch.softmax(logits[kept] + envelope[kept].log(), dim=0))
    assert weights[3].item() == pytest.approx(1.0)


def test_scatter_softmax_gradient_matches_finite_differences() -> None:
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(7, 2, dtype=torch.float64, generator=generator, requires_grad=True)
    receivers = torch.tensor([0, 1, 1, 2, 2, 2, 0])
    assert torch.autograd.gradcheck(lambda x: scatter_softmax(x, receivers, 3), (logits,))


def test_a_receivers_last_edge_fades_out_with_the_envelope() -> None:
    envelope = torch.tensor([1e-3, 0.8, 0.6], dtype=torch.float64)
    edges = EdgeGeometry(
        sender=torch.tensor([1, 0, 2]),
        receiver=torch.tensor([0, 1, 1]),
        harmonics=torch.zeros(3, 9, dtype=torch.float64),
        basis=torch.zeros(3, 4, dtype=torch.float64),
        envelope=envelope,
    )
    weights = GraphAttention.edge_weights(
        torch.tensor([[50.0], [1.0], [-1.0]], dtype=torch.float64), edges, 3
    )
    assert weights[0, 0].item() == pytest.approx(1e-3)  # single edge: weight u, not 1
    softmax = torch.softmax(torch.tensor([1.0, -1.0], dtype=torch.float64) + envelope[1:].log(), dim=0)
    torch.testing.assert_close(weights[1:, 0], softmax * envelope[1:])


# --- symmetry -----------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["model", "linear_message_model"])
@pytest.mark.parametrize("improper", [False, True])
def test_block_features_transform_with_wigner_d(which: str, improper: bool, request) -> None:
    model = request.getfixturevalue(which)
    network = model.network
    atoms = cluster()
    batch = batch_from_atoms([atoms], CUTOFF, dtype=torch.float64)
    species = model.species_index(batch.atomic_numbers)
    rotation = torch.as_tensor(Rotation.random(random_state=7).as_matrix())
    if improper:
        rotation = -rotation
    vectors = batch.edge_vectors()
    original = network.block_features(species, batch.edge_index, vectors)
    turned = network.block_features(species, batch.edge_index, vectors @ rotation.T)
    layouts = [network.irreps_node] * (len(original) - 1) + [network.irreps_feature]
    for features, rotated, layout in zip(original, turned, layouts, strict=True):
        expected = features @ layout.D_from_matrix(rotation).T
        torch.testing.assert_close(rotated, expected, atol=1e-10, rtol=1e-9)
    node = network.irreps_node
    for (_, ir), block in zip(node, node.slices(), strict=True):
        if ir.l > 0:  # the l = 1 and l = 2 features must be non-zero, or the check above is vacuous
            assert original[1][:, block].abs().max() > 1e-3, f"{ir} features are zero"


def test_mirror_image_has_the_same_energy_and_mirrored_forces(model) -> None:
    atoms = cluster()
    mirrored = atoms.copy()
    mirrored.positions[:, 0] *= -1
    original, reflected = energy(model, atoms), energy(model, mirrored)
    torch.testing.assert_close(reflected["energy"], original["energy"], atol=1e-10, rtol=1e-12)
    flip = torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(reflected["forces"], original["forces"] * flip)


# --- smoothness at the cutoff --------------------------------------------------------------------

X_CROSSING = float(np.sqrt(CUTOFF**2 - 0.3**2))  # O's x (Å) at which the Cu–O distance equals the cutoff


def dimer(x: float) -> Atoms:
    """Cu–O pair: each atom's only edge is the one that crosses the cutoff."""
    return Atoms("CuO", positions=[[0.0, 0.0, 0.0], [x, 0.3, 0.0]])


def trimer(x: float) -> Atoms:
    """Cu–O crosses the cutoff while both stay about 2 Å from Au, so Cu's softmax keeps another edge."""
    return Atoms("CuAuO", positions=[[0.0, 0.0, 0.0], [1.9, 0.4, 0.0], [x, 0.3, 0.0]])


def energy_and_force_along_x(model: EquiformerForceField, make, xs: np.ndarray) -> tuple[np.ndarray, ...]:
    """Energies (eV) and x-forces on the O atom (eV/Å) with O at each x (Å)."""
    results = [energy(model, make(x)) for x in xs]
    return (
        np.array([r["energy"].item() for r in results]),
        np.array([r["forces"][-1, 0].item() for r in results]),
    )


def work_mismatch(energies: np.ndarray, forces: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """|ΔE + ∫F dx| per interval (trapezoid rule): a jump in E shows up here at full size."""
    return np.abs(np.diff(energies) + np.diff(xs) * (forces[1:] + forces[:-1]) / 2)


@pytest.mark.parametrize("make", [dimer, trimer])
def test_energy_and_forces_are_continuous_when_a_neighbour_crosses_the_cutoff(model, make) -> None:
    xs = X_CROSSING + 2e-4 * (np.arange(6) - 2.5)
    energies, forces = energy_and_force_along_x(model, make, xs)
    assert work_mismatch(energies, forces, xs).max() < 1e-10
    _, edge_forces = energy_and_force_along_x(model, make, X_CROSSING + np.array([-1e-7, 1e-7]))
    assert abs(edge_forces[1] - edge_forces[0]) < 1e-6  # 2e-7 Å × |∂F/∂x|, no jump
    inside = energy(model, make(X_CROSSING - 1.0))["energy"].item()
    assert abs(inside - energies[-1]) > 1e-4, "the Cu–O pair should interact well inside the cutoff"


@pytest.mark.parametrize("make", [dimer, trimer])
def test_without_the_envelope_the_cutoff_would_be_a_jump(model, make, monkeypatch) -> None:
    monkeypatch.setattr(model.network.envelope, "forward", lambda lengths: torch.ones_like(lengths))
    xs = X_CROSSING + np.array([-1e-7, 1e-7])
    energies, forces = energy_and_force_along_x(model, make, xs)
    assert work_mismatch(energies, forces, xs).max() > 1e-6


# --- periodic cells ------------------------------------------------------------------------------


def small_cell() -> Atoms:
    """Two-atom hcp cell with a = 2.6 Å < cutoff: each atom sees several images of itself and its partner."""
    atoms = bulk("Cu", "hcp", a=2.6, c=4.2)
    atoms.numbers[1] = 79
    atoms.cell[2] += [0.3, 0.1, 0.0]
    atoms.positions += [[0.05, -0.1, 0.02], [-0.07, 0.04, 0.11]]
    return atoms


def test_supercell_energy_is_the_sum_of_its_cells(model) -> None:
    cell = small_cell()
    supercell = cell.repeat((2, 1, 1))
    one, two = energy(model, cell, compute_stress=True), energy(model, supercell, compute_stress=True)
    assert two["energy"].item() == pytest.approx(2 * one["energy"].item(), abs=1e-9, rel=1e-12)
    torch.testing.assert_close(two["forces"], one["forces"].repeat(2, 1), atol=1e-10, rtol=1e-9)
    torch.testing.assert_close(two["stress"], one["stress"], atol=1e-10, rtol=1e-9)
    assert one["forces"].abs().max() > 1e-4, "a rattled cell should carry forces"


def test_cutoff_beyond_the_cell_uses_periodic_images(model) -> None:
    cell = small_cell()
    batch = batch_from_atoms([cell], CUTOFF, dtype=torch.float64)
    assert batch.edge_index.shape[1] > 2 * 10, "expected many periodic-image edges"
    isolated = cell.copy()
    isolated.pbc = False
    assert abs((energy(model, cell)["energy"] - energy(model, isolated)["energy"]).item()) > 1e-4


# --- configuration -------------------------------------------------------------------------------


def test_invalid_hyperparameters_are_clear_errors() -> None:
    with pytest.raises(TypeError, match="unknown equiformer hyperparameters"):
        EquiformerForceField(SPECIES, CUTOFF, STATISTICS, num_layers=3)
    with pytest.raises(ConfigError, match="irreps_feature"):
        build(irreps_feature="4x0e+2x1o")
    with pytest.raises(ConfigError, match="irreps_head"):
        build(irreps_head="2x1o")


def test_paper_preset_is_the_original_md17_setting() -> None:
    paper = load_preset("equiformer", "paper")
    settings = paper.hyperparameters
    assert paper.cutoff == 5.0
    assert (
        settings["num_blocks"],
        settings["num_heads"],
        settings["sh_lmax"],
        settings["num_radial_basis"],
    ) == (
        6,
        4,
        2,
        32,
    )
    assert settings["irreps_node"] == "128x0e+64x1o+32x2e" and settings["nonlinear_messages"]
    training = paper.training
    assert (training.learning_rate, training.batch_size, training.weight_decay, training.optimizer) == (
        5e-4,
        8,
        1e-6,
        "adamw",
    )
    assert training.force_weight / training.energy_weight == 80
