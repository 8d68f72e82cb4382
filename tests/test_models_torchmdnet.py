"""TorchMD-Net ET adapter: the package's own TorchMD_ET numbers, periodic images, smoothness, presets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, molecule
from torchmdnet.models.output_modules import EquivariantScalar
from torchmdnet.models.torchmd_et import TorchMD_ET

from egraffbench.errors import ConfigError
from egraffbench.models import TrainingStatistics, batch_from_atoms
from egraffbench.models.presets import load_preset
from egraffbench.models.torchmdnet_adapter import TorchMDNetForceField

SMALL = {"hidden_channels": 16, "num_layers": 2, "num_heads": 4, "num_rbf": 8}
UNIT_STATISTICS = TrainingStatistics(energy_scale=1.0)  # model energy = sum of the learned atomic energies


def small_model(species: list[int], cutoff: float, seed: int = 0, **overrides) -> TorchMDNetForceField:
    torch.manual_seed(seed)
    return TorchMDNetForceField(species, cutoff, UNIT_STATISTICS, **{**SMALL, **overrides}).double().eval()


def perturb_weights(model: torch.nn.Module, scale: float = 0.3, seed: int = 1) -> None:
    """Make every weight and bias non-trivial, as after training (the package zero-initialises biases)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))


def package_twin(model: TorchMDNetForceField) -> tuple[TorchMD_ET, EquivariantScalar]:
    """The package's TorchMD_ET and output head with ``model``'s settings; ``model`` takes their weights."""
    settings = model.hyperparameters
    representation = TorchMD_ET(
        hidden_channels=settings["hidden_channels"],
        num_layers=settings["num_layers"],
        num_rbf=settings["num_rbf"],
        rbf_type=settings["rbf_type"],
        trainable_rbf=settings["trainable_rbf"],
        activation=settings["activation"],
        attn_activation=settings["attn_activation"],
        neighbor_embedding=settings["neighbor_embedding"],
        num_heads=settings["num_heads"],
        distance_influence=settings["distance_influence"],
        cutoff_upper=model.cutoff,
        max_num_neighbors=64,
        vector_cutoff=settings["vector_cutoff"],
        dtype=torch.float64,
    )
    head = EquivariantScalar(
        settings["hidden_channels"], activation=settings["activation"], dtype=torch.float64
    )
    perturb_weights(representation, seed=2)
    perturb_weights(head, seed=3)
    state = {key: value for key, value in representation.state_dict().items() if key != "distance.box"}
    for key in ("embedding.weight", "neighbor_embedding.embedding.weight"):
        state[key] = state[key][model.species]  # the package indexes elements by atomic number
    state.update({f"output_model.{key}": value for key, value in head.state_dict().items()})
    incompatible = model.load_state_dict(state, strict=False)
    assert not incompatible.missing_keys
    assert not incompatible.unexpected_keys
    return representation, head


def package_energy_and_forces(
    representation: TorchMD_ET, head: EquivariantScalar, atoms: Atoms, box: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    numbers = torch.as_tensor(atoms.numbers, dtype=torch.long)
    positions = torch.tensor(atoms.positions, dtype=torch.float64, requires_grad=True)
    system = torch.zeros(len(atoms), dtype=torch.long)
    features, vectors, *_ = representation(numbers, positions, system, box=box)
    atomic = head.pre_reduce(features, vectors, numbers, positions, system).squeeze(-1)
    forces = -torch.autograd.grad(atomic.sum(), positions)[0]
    return atomic.detach(), forces


def evaluate(
    model: TorchMDNetForceField, atoms: list[Atoms], cutoff: float | None = None, stress: bool = False
):
    graph = batch_from_atoms(atoms, model.cutoff if cutoff is None else cutoff, dtype=torch.float64)
    return model(graph, compute_stress=stress)


def learned_atomic_energies(model: TorchMDNetForceField, atoms: Atoms) -> torch.Tensor:
    graph = batch_from_atoms([atoms], model.cutoff, dtype=torch.float64)
    with torch.no_grad():
        return model.atomic_energies(graph, model.species_index(graph.atomic_numbers))


@pytest.mark.parametrize("vector_cutoff", [False, True])
def test_matches_the_package_torchmd_et_on_a_molecule(vector_cutoff: bool) -> None:
    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.05, seed=2)
    model = small_model(
        [1, 6, 8], cutoff=2.5, vector_cutoff=vector_cutoff
    )  # 2.5 Å: not every pair is an edge
    representation, head = package_twin(model)
    atomic, forces = package_energy_and_forces(representation, head, atoms)
    torch.testing.assert_close(learned_atomic_energies(model, atoms), atomic, atol=1e-10, rtol=0)
    torch.testing.assert_close(evaluate(model, [atoms])["forces"], forces, atol=1e-10, rtol=0)


def test_matches_the_package_in_a_periodic_box_it_supports() -> None:
    """A lower-triangular cell wider than twice the cutoff: the package's minimum image finds every pair."""
    atoms = bulk("Cu", "fcc", a=4.2, cubic=True).repeat(2)
    atoms.numbers[::3] = 79
    atoms.cell[1] += [0.6, 0.0, 0.0]
    atoms.rattle(0.2, seed=4)
    model = small_model([29, 79], cutoff=4.0)
    representation, head = package_twin(model)
    box = torch.tensor(atoms.cell.array, dtype=torch.float64)
    atomic, forces = package_energy_and_forces(representation, head, atoms, box=box)
    torch.testing.assert_close(learned_atomic_energies(model, atoms), atomic, atol=1e-10, rtol=0)
    torch.testing.assert_close(evaluate(model, [atoms])["forces"], forces, atol=1e-10, rtol=0)


def narrow_triclinic_cell() -> Atoms:
    atoms = bulk("Cu", "fcc", a=3.7, cubic=True)
    atoms.numbers[1] = 79
    atoms.cell[1] += [0.5, 0.0, 0.3]
    atoms.rattle(0.1, seed=5)
    return atoms


def test_a_cell_narrower_than_twice_the_cutoff_equals_its_supercell() -> None:
    """Atoms see their own periodic images; energy is extensive, forces and stress repeat with the cell."""
    cell = narrow_triclinic_cell()
    model = small_model([29, 79], cutoff=4.5)
    perturb_weights(model)
    graph = batch_from_atoms([cell], model.cutoff, dtype=torch.float64)
    assert bool((graph.edge_index[0] == graph.edge_index[1]).any()), (
        "test needs an atom's own image as neighbour"
    )
    supercell = cell.repeat((2, 1, 3))
    small, large = evaluate(model, [cell], stress=True), evaluate(model, [supercell], stress=True)
    assert large["energy"].item() == pytest.approx(6 * small["energy"].item(), rel=1e-10, abs=1e-10)
    np.testing.assert_allclose(large["forces"].numpy(), np.tile(small["forces"].numpy(), (6, 1)), atol=1e-10)
    np.testing.assert_allclose(large["stress"].numpy(), small["stress"].numpy(), atol=1e-10)


@pytest.mark.filterwarnings(
    "ignore:Skipping gradients"
)  # the package's head warns on atoms with no neighbour
@pytest.mark.parametrize("vector_cutoff", [True, False])
def test_energy_is_continuous_at_the_cutoff_only_with_the_vector_cutoff(vector_cutoff: bool) -> None:
    cutoff = 3.0
    model = small_model([1, 8], cutoff, vector_cutoff=vector_cutoff)
    perturb_weights(model)
    energies = [
        evaluate(model, [Atoms("OH", positions=[[0, 0, 0], [0, 0, cutoff + shift]])])["energy"].item()
        for shift in (-1e-7, 1e-7)
    ]
    jump = abs(energies[0] - energies[1])
    if vector_cutoff:
        assert jump < 1e-9
    else:
        assert jump > 1e-4  # the ET as originally published: the value pathway is not cut off


@pytest.mark.parametrize("vector_cutoff", [True, False])
def test_neighbours_beyond_the_cutoff_do_not_count(vector_cutoff: bool) -> None:
    """A neighbour list with a skin (as MD reuses) gives the same energy and forces as one at the cutoff."""
    atoms = narrow_triclinic_cell()
    model = small_model([29, 79], cutoff=3.5, vector_cutoff=vector_cutoff)
    perturb_weights(model)
    exact, skinned = evaluate(model, [atoms]), evaluate(model, [atoms], cutoff=5.0)
    torch.testing.assert_close(skinned["energy"], exact["energy"], atol=1e-10, rtol=0)
    torch.testing.assert_close(skinned["forces"], exact["forces"], atol=1e-10, rtol=0)


def test_force_loss_trains_every_parameter() -> None:
    model = small_model([29, 79], cutoff=4.0, trainable_rbf=True).train()
    output = model(
        batch_from_atoms([narrow_triclinic_cell()], model.cutoff, dtype=torch.float64), training=True
    )
    (output["forces"].square().sum() + output["energy"].square().sum()).backward()
    assert "distance_expansion.means" in dict(model.named_parameters())
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert bool(torch.isfinite(parameter.grad).all()), name
    assert all(float(layer.q_proj.weight.grad.abs().sum()) > 0 for layer in model.attention_layers)


def test_hyperparameter_errors_name_the_field() -> None:
    with pytest.raises(TypeError, match="max_num_neighbors"):
        TorchMDNetForceField([1], 5.0, UNIT_STATISTICS, max_num_neighbors=32)
    with pytest.raises(ConfigError, match="'num_heads' \\(3\\) must divide 'hidden_channels' \\(16\\)"):
        TorchMDNetForceField([1], 5.0, UNIT_STATISTICS, hidden_channels=16, num_heads=3)
    with pytest.raises(ConfigError, match="'rbf_type' is 'bessel'"):
        TorchMDNetForceField([1], 5.0, UNIT_STATISTICS, rbf_type="bessel")


def test_paper_preset_is_the_egraffbench_configuration() -> None:
    config = load_preset("torchmdnet", "paper")
    settings = {**TorchMDNetForceField.defaults, **config.hyperparameters}
    assert config.cutoff == 5.0
    expected = {"num_layers": 6, "hidden_channels": 128, "num_heads": 8, "num_rbf": 32, "rbf_type": "expnorm"}
    assert {key: settings[key] for key in expected} == expected
    training = config.training
    assert (training.learning_rate, training.batch_size, training.optimizer) == (1e-3, 8, "adamw")
    assert (training.energy_weight, training.force_weight) == (0.2, 0.8)


@pytest.mark.parametrize("preset", ["paper", "dev", "test"])
def test_presets_build_models_with_their_hyperparameters(preset: str) -> None:
    config = load_preset("torchmdnet", preset)
    model = TorchMDNetForceField([1, 6, 8], config.cutoff, UNIT_STATISTICS, **config.hyperparameters)
    assert len(model.attention_layers) == model.hyperparameters["num_layers"]
    assert model.out_norm.normalized_shape == (model.hyperparameters["hidden_channels"],)
    energies = model(batch_from_atoms([molecule("H2O")], config.cutoff))["energy"]
    assert bool(torch.isfinite(energies).all())
