"""NequIP and Allegro beyond the shared conformance suite: symmetries, layer count, strict locality."""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk

from egraffbench.errors import ConfigError, ModelError
from egraffbench.models import TrainingStatistics, batch_from_atoms, build_force_field
from egraffbench.models.presets import load_preset

SPECIES = [1, 6, 8, 29, 79]
CUTOFF = 4.0
STATISTICS = TrainingStatistics(
    element_energies={1: -13.6, 6: -1027.0, 8: -2040.0, 29: -0.1, 79: -0.2},
    energy_scale=0.7,
    avg_num_neighbors=8.0,
)


def build(name: str, preset: str = "test", dtype: torch.dtype = torch.float64):
    """One model per (architecture, preset, dtype), seeded; tests only evaluate it."""
    return _build(name, preset, dtype)


@functools.cache
def _build(name: str, preset: str, dtype: torch.dtype):
    torch.manual_seed(0)
    hyperparameters = load_preset(name, preset).hyperparameters
    return build_force_field(name, SPECIES, CUTOFF, STATISTICS, hyperparameters, dtype).eval()


@pytest.fixture(params=["nequip", "allegro"], scope="module")
def model(request: pytest.FixtureRequest):
    return build(request.param)


def alloy() -> Atoms:
    atoms = bulk("Cu", "fcc", a=3.75, cubic=True).repeat((2, 1, 1))
    atoms.numbers[[1, 5]] = 79
    atoms.cell[2] += [0.3, -0.2, 0.0]  # triclinic
    atoms.rattle(0.15, seed=4)
    return atoms


def per_atom_energies(model, atoms: Atoms) -> torch.Tensor:
    """Learned per-atom energies (dimensionless, before reference energies and scale)."""
    batch = batch_from_atoms([atoms], model.cutoff, dtype=torch.float64)
    return model.atomic_energies(batch, model.species_index(batch.atomic_numbers)).detach()


def evaluate(model, atoms: Atoms) -> dict[str, torch.Tensor]:
    return model(batch_from_atoms([atoms], model.cutoff, dtype=torch.float64))


def test_invariant_under_lattice_shifts_of_single_atoms_and_same_element_permutation(model) -> None:
    atoms = alloy()
    order = np.array([2, 5, 0, 3, 4, 1, 7, 6])  # Au at 1 and 5 swap; Cu atoms shuffled among themselves
    assert np.array_equal(atoms.numbers[order], atoms.numbers)
    changed = atoms[order]
    shifts = np.array(
        [[1, 0, 0], [0, -1, 2], [0, 0, 0], [-1, 1, 0], [0, 0, -1], [2, 0, 0], [0, 0, 0], [1, 1, 1]]
    )
    changed.positions += shifts @ atoms.cell.array  # each atom to another periodic image
    original, moved = evaluate(model, atoms), evaluate(model, changed)
    assert moved["energy"].item() == pytest.approx(original["energy"].item(), abs=1e-9)
    np.testing.assert_allclose(moved["forces"].numpy(), original["forces"].numpy()[order], atol=1e-8)
    np.testing.assert_allclose(
        per_atom_energies(model, changed), per_atom_energies(model, atoms)[order], atol=1e-10
    )


def test_float32_model_agrees_with_float64(model) -> None:
    atoms = alloy()
    single = copy.deepcopy(model).to(torch.float32)  # same weights (a float32 build draws other ones)
    low = single(batch_from_atoms([atoms], CUTOFF, dtype=torch.float32))
    high = evaluate(model, atoms)
    assert low["energy"].dtype == torch.float64  # energies are always assembled in float64
    assert low["forces"].dtype == torch.float32
    # energies carry reference energies of order 1 eV here, so float32 resolves them to ~1e-6 eV
    assert low["energy"].item() == pytest.approx(high["energy"].item(), abs=1e-4)
    np.testing.assert_allclose(low["forces"].numpy(), high["forces"].numpy(), atol=1e-4)


PRESETS = ["test", "dev", pytest.param("paper", marks=pytest.mark.slow)]


@pytest.mark.parametrize("preset", PRESETS)
def test_nequip_builds_as_many_interaction_blocks_as_its_preset(preset: str) -> None:
    modules = list(build("nequip", preset).modules())
    wanted = load_preset("nequip", preset).hyperparameters["num_layers"]
    assert sum(type(m).__name__ == "ConvNetLayer" for m in modules) == wanted
    blocks = [m for m in modules if type(m).__name__ == "InteractionBlock"]
    assert len(blocks) == wanted
    assert all(block.avg_num_neighbors == STATISTICS.avg_num_neighbors for block in blocks)


@pytest.mark.parametrize("preset", PRESETS)
def test_allegro_builds_its_presets_layers_and_tensor_features(preset: str) -> None:
    settings = load_preset("allegro", preset).hyperparameters
    (module,) = [m for m in build("allegro", preset).modules() if type(m).__name__ == "Allegro_Module"]
    assert module.num_layers == len(module.tps) == settings["num_layers"]
    assert module.num_tensor_features == settings["num_tensor_features"]
    assert module.avg_num_neighbors == STATISTICS.avg_num_neighbors


def four_atoms(far_atom: list[float]) -> Atoms:
    """Atoms i (0), j (1), l (2) within the 4 Å cutoff of i, and k (3) within j's cutoff but beyond i's."""
    positions = [[0.0, 0.0, 0.0], [2.5, 0.5, 0.0], [1.0, 2.0, 0.3], far_atom]
    return Atoms("COHC", positions=positions)


def test_allegro_is_strictly_local_and_nequip_passes_messages() -> None:
    before, after = four_atoms([5.5, 1.0, 0.5]), four_atoms([5.8, 0.8, 0.9])
    for far in (before, after):
        distances = far.get_distances(3, [0, 1])
        assert distances[0] > CUTOFF > distances[1]
    allegro_change = per_atom_energies(build("allegro"), after) - per_atom_energies(build("allegro"), before)
    assert abs(allegro_change[0].item()) < 1e-12  # k moved, but never within the cutoff of i
    assert abs(allegro_change[1].item()) > 1e-6  # j sees k
    nequip_change = per_atom_energies(build("nequip"), after) - per_atom_energies(build("nequip"), before)
    assert abs(nequip_change[0].item()) > 1e-8  # two message-passing layers reach k → j → i


def test_allegro_atoms_beyond_cutoff_keep_their_reference_energies() -> None:
    model = build("allegro")
    apart = Atoms("CuO", positions=[[0.0, 0.0, 0.0], [CUTOFF + 0.3, 0.2, -0.1]])
    result = evaluate(model, apart)
    assert result["energy"].item() == pytest.approx(-0.1 - 2040.0, abs=1e-12)
    assert torch.count_nonzero(result["forces"]) == 0
    close = apart.copy()
    close.positions[1] = [2.0, 0.2, -0.1]
    assert evaluate(model, close)["energy"].item() != pytest.approx(-0.1 - 2040.0, abs=1e-6)


def test_paper_presets_follow_the_egraffbench_configs() -> None:
    nequip, allegro = load_preset("nequip", "paper"), load_preset("allegro", "paper")
    assert nequip.cutoff == allegro.cutoff == 5.0
    assert {k: nequip.hyperparameters[k] for k in ("num_layers", "l_max", "num_features", "num_basis")} == {
        "num_layers": 6,
        "l_max": 2,
        "num_features": 32,
        "num_basis": 8,
    }
    assert (
        nequip.hyperparameters["polynomial_cutoff_p"] == allegro.hyperparameters["polynomial_cutoff_p"] == 6
    )
    assert allegro.hyperparameters["num_layers"] == 2 and allegro.hyperparameters["num_tensor_features"] == 64
    assert allegro.hyperparameters["two_body_latent_mlp_latent_dimensions"] == [128, 256, 512, 1024]
    assert allegro.hyperparameters["latent_mlp_latent_dimensions"] == [1024] * 3
    for config in (nequip, allegro):
        training = config.training
        assert (training.learning_rate, training.batch_size, training.ema_decay) == (0.005, 1, 0.99)
        assert (training.energy_weight, training.force_weight, training.optimizer) == (1.0, 1.0, "amsgrad")


@pytest.mark.parametrize("name", ["nequip", "allegro"])
def test_hyperparameter_errors(name: str) -> None:
    with pytest.raises(ConfigError, match="num_interactions"):
        build_force_field(name, SPECIES, CUTOFF, STATISTICS, {"num_interactions": 2})
    bad_value = {"nequip": {"nonlinearity_type": "relu"}, "allegro": {"parity": "o2"}}[name]
    with pytest.raises(ModelError, match=f"{name}: cannot build"):
        build_force_field(name, SPECIES, CUTOFF, STATISTICS, bad_value)


def test_force_loss_parameter_gradient_matches_finite_difference(model) -> None:
    """Training differentiates forces w.r.t. parameters (double backward through the package's modules)."""
    atoms = alloy()
    batch = batch_from_atoms([atoms], CUTOFF, dtype=torch.float64)
    trial = copy.deepcopy(model)
    parameters = [p for p in trial.parameters() if p.requires_grad]
    generator = torch.Generator().manual_seed(5)
    direction = [torch.randn(p.shape, generator=generator, dtype=p.dtype) for p in parameters]

    def force_loss() -> torch.Tensor:
        return (trial(batch, training=True)["forces"] ** 2).sum()

    gradients = torch.autograd.grad(force_loss(), parameters, allow_unused=True)
    analytic = sum(float((g * d).sum()) for g, d in zip(gradients, direction, strict=True) if g is not None)
    step, losses = 1e-6, []
    for sign in (1, -1):
        with torch.no_grad():
            for p, d in zip(parameters, direction, strict=True):
                p.add_(sign * step * d)
        losses.append(force_loss().item())
        with torch.no_grad():
            for p, d in zip(parameters, direction, strict=True):
                p.sub_(sign * step * d)
    assert analytic != 0.0
    assert analytic == pytest.approx((losses[0] - losses[1]) / (2 * step), rel=1e-5, abs=1e-8)
