"""One conformance suite for every force field: symmetry, energy/force/stress consistency, batching,
save/load, unknown elements, the ASE calculator."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, molecule
from scipy.spatial.transform import Rotation

from egraffbench.errors import ConfigError, ModelError
from egraffbench.models import (
    ARCHITECTURES,
    TrainingStatistics,
    batch_from_atoms,
    build_force_field,
    load_force_field,
    save_force_field,
)
from summation_order import in_batch_order, in_given_order

SPECIES = [1, 6, 8, 29, 79]
CUTOFF = 4.0


def tiny_hyperparameters(name: str) -> dict:
    from egraffbench.models.presets import load_preset

    return load_preset(name, "test").hyperparameters


@pytest.fixture(params=sorted(ARCHITECTURES), scope="module")
def model(request: pytest.FixtureRequest):
    torch.manual_seed(0)
    statistics = TrainingStatistics(
        element_energies={1: -13.6, 6: -1027.0, 8: -2040.0, 29: -0.1, 79: -0.2},
        energy_scale=0.7,
        avg_num_neighbors=8.0,
    )
    hyperparameters = tiny_hyperparameters(request.param)
    return build_force_field(
        request.param, SPECIES, CUTOFF, statistics, hyperparameters, torch.float64
    ).eval()


def alloy() -> Atoms:
    atoms = bulk("Cu", "fcc", a=3.75, cubic=True).repeat((2, 1, 1))
    atoms.numbers[[1, 5]] = 79
    atoms.cell[1] += [0.4, 0.0, 0.0]  # make the cell triclinic
    atoms.rattle(0.15, seed=1)
    return atoms


def ethanol() -> Atoms:
    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.05, seed=2)
    return atoms


def evaluate(model, structures, compute_stress=False):
    return model(
        batch_from_atoms(structures, model.cutoff, dtype=torch.float64), compute_stress=compute_stress
    )


@pytest.mark.parametrize("make", [alloy, ethanol])
def test_rotation_invariance_and_force_equivariance(model, make) -> None:
    atoms = make()
    rotation = Rotation.random(random_state=3).as_matrix()
    rotated = atoms.copy()
    rotated.positions = atoms.positions @ rotation.T
    rotated.cell = atoms.cell.array @ rotation.T
    original, turned = evaluate(model, [atoms]), evaluate(model, [rotated])
    assert torch.allclose(original["energy"], turned["energy"], atol=1e-9, rtol=1e-9)
    expected = original["forces"].numpy() @ rotation.T
    np.testing.assert_allclose(turned["forces"].numpy(), expected, atol=1e-8)


def test_periodic_translation_and_wrapping_invariance(model) -> None:
    atoms = alloy()
    moved = atoms.copy()
    moved.positions += [1.3, -2.1, 0.7]
    moved.wrap()
    a, b = evaluate(model, [atoms]), evaluate(model, [moved])
    assert torch.allclose(a["energy"], b["energy"], atol=1e-9)
    np.testing.assert_allclose(a["forces"].numpy(), b["forces"].numpy(), atol=1e-8)


@pytest.mark.parametrize("make", [alloy, ethanol])
def test_forces_are_minus_energy_gradient(model, make) -> None:
    atoms = make()
    forces = evaluate(model, [atoms])["forces"].numpy()
    step = 1e-5
    for atom, axis in [(0, 0), (3, 2), (len(atoms) - 1, 1)]:
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[atom, axis] += step
        minus.positions[atom, axis] -= step
        derivative = (evaluate(model, [plus])["energy"] - evaluate(model, [minus])["energy"]).item() / (
            2 * step
        )
        assert forces[atom, axis] == pytest.approx(-derivative, abs=1e-6, rel=1e-5)


def third_atom_energy(model, distance: float) -> float:
    """Energy of Cu–Au 2.5 Å apart with a third atom (Cu) ``distance`` from the first, at right angles."""
    atoms = Atoms("CuAuCu", positions=[[0, 0, 0], [2.5, 0, 0], [0, distance, 0]])
    return float(evaluate(model, [atoms])["energy"].sum())


def test_energy_is_continuous_where_a_pair_crosses_the_cutoff(model) -> None:
    """MD moves pairs across the cutoff all the time: the energy must not jump there (a jump is invisible to
    the forces and breaks energy conservation). A third atom leaves or enters the cutoff sphere of the first
    across r_max ± 1e-7 Å; the change must be as small as the energy's slope allows (botnet, before the
    envelope scaled its interaction weights: 3.8 meV; equiformer, with its envelope expanded: 0.076 eV)."""
    inside, outside = third_atom_energy(model, CUTOFF - 1e-7), third_atom_energy(model, CUTOFF + 1e-7)
    slope = (
        abs(third_atom_energy(model, CUTOFF - 0.05) - third_atom_energy(model, CUTOFF - 0.05 - 1e-3)) / 1e-3
    )  # eV/Å just inside
    assert abs(outside - inside) <= 2e-7 * max(slope, 1.0) + 1e-12


def test_mace_with_botnets_interaction_block_is_continuous_at_the_cutoff() -> None:
    """The envelope's place follows the interaction block, not the architecture's name: a MACE configured
    with BOTNet's non-linear block is continuous across r_max as well."""
    torch.manual_seed(0)
    statistics = TrainingStatistics(
        element_energies={29: -0.1, 79: -0.2}, energy_scale=0.7, avg_num_neighbors=8.0
    )
    block = "RealAgnosticResidualNonLinearInteractionBlock"
    hyperparameters = {**tiny_hyperparameters("mace"), "interaction": block, "interaction_first": block}
    model = build_force_field("mace", [29, 79], CUTOFF, statistics, hyperparameters, torch.float64).eval()

    assert third_atom_energy(model, CUTOFF - 1e-7) != third_atom_energy(
        model, CUTOFF - 0.05
    )  # the third atom does count inside
    assert abs(third_atom_energy(model, CUTOFF + 1e-7) - third_atom_energy(model, CUTOFF - 1e-7)) <= 1e-9


def test_stress_is_strain_derivative(model) -> None:
    if not model.implements_stress:
        pytest.skip(f"{model.architecture} does not compute stress")
    atoms = alloy()
    stress = evaluate(model, [atoms], compute_stress=True)["stress"][0].numpy()
    step, volume = 1e-6, atoms.get_volume()
    for i, j in [(0, 0), (1, 2), (2, 1)]:
        energies = []
        for sign in (1, -1):
            strain = np.eye(3)
            strain[i, j] += sign * step / 2
            strain[j, i] += sign * step / 2
            strained = atoms.copy()
            strained.set_cell(atoms.cell.array @ strain, scale_atoms=True)
            energies.append(evaluate(model, [strained])["energy"].item())
        assert stress[i, j] == pytest.approx((energies[0] - energies[1]) / (2 * step) / volume, abs=1e-7)


def test_batch_equals_separate_calls(model) -> None:
    """Structures in one batch (in this run's batch order) get the energies and forces of separate calls."""
    structures = [alloy(), ethanol(), alloy()[:5]]
    batched = in_batch_order(structures)
    together = evaluate(model, batched)
    energies = torch.stack(in_given_order(list(together["energy"])))
    forces = torch.cat(in_given_order(torch.split(together["forces"], [len(s) for s in batched])))
    separate = [evaluate(model, [s]) for s in structures]
    expected_energies = torch.cat([output["energy"] for output in separate])
    expected_forces = torch.cat([output["forces"] for output in separate])
    # A batch sums in another order (vector-loop tails): differences up to 4e-16 eV and 3e-16 eV/Å seen;
    # allow 1e-12 of each quantity's scale (energies ~4e3 eV from the element references, forces ≲ 0.5 eV/Å).
    energy_tolerance = 1e-12 * expected_energies.abs().max().item()
    force_tolerance = 1e-12 * expected_forces.abs().max().item()
    torch.testing.assert_close(energies, expected_energies, rtol=0, atol=energy_tolerance)
    torch.testing.assert_close(forces, expected_forces, rtol=0, atol=force_tolerance)


def test_save_load_round_trip(model, tmp_path) -> None:
    folder = save_force_field(model, tmp_path / "model")
    loaded = load_force_field(folder).double()
    structures = [alloy(), ethanol()]
    assert torch.allclose(
        evaluate(model, structures)["energy"], evaluate(loaded, structures)["energy"], atol=1e-9
    )


def test_unknown_element_is_a_clear_error(model) -> None:
    with pytest.raises(ModelError, match=r"unknown \['Fe'\]"):
        evaluate(model, [Atoms("Fe2", positions=[[0, 0, 0], [0, 0, 2.0]])])


def test_unknown_hyperparameter_is_a_clear_error_and_known_ones_keep_their_defaults(model) -> None:
    name = model.architecture
    given = tiny_hyperparameters(name)
    assert model.hyperparameters == {**type(model).defaults, **given}
    with pytest.raises(ConfigError, match=rf"{name}: .*unknown {name} hyperparameters \['num_layerz'\]"):
        build_force_field(name, SPECIES, CUTOFF, TrainingStatistics(), {**given, "num_layerz": 2})


def test_ase_calculator_matches_model(model) -> None:
    atoms = alloy()
    atoms.calc = model.as_ase_calculator()
    direct = evaluate(model, [atoms])
    assert atoms.get_potential_energy() == pytest.approx(direct["energy"].item(), abs=1e-9)
    np.testing.assert_allclose(atoms.get_forces(), direct["forces"].numpy(), atol=1e-9)
