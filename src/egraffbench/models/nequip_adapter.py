"""NequIP from the `nequip` 0.6 package: its EnergyModel builder, fed our batch as an AtomicDataDict."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from ase.data import atomic_numbers, chemical_symbols

from egraffbench.errors import ModelError
from egraffbench.models.base import ForceField, TrainingStatistics, unoptimised_torchscript
from egraffbench.models.foreign import ForeignForceField
from egraffbench.models.graph import AtomicBatch

with warnings.catch_warnings():
    # nequip warns on import about CUDA slow-downs seen with torch ≥ 1.13; irrelevant to which torch we pin.
    warnings.filterwarnings("ignore", message=r"!! PyTorch version")
    from nequip.model import EnergyModel, SimpleIrrepsConfig
    from nequip.scripts.deploy import load_deployed_model
    from nequip.utils import Config

DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "num_layers": 6,  # interaction blocks
    "l_max": 2,  # highest rotation order of the features and edge spherical harmonics
    "parity": True,  # keep odd-parity features as well
    "num_features": 32,  # multiplicity of every irrep in the hidden features
    "num_basis": 8,  # Bessel radial basis functions
    "bessel_trainable": True,  # train the Bessel frequencies
    "polynomial_cutoff_p": 6,  # exponent p of the polynomial envelope
    "invariant_layers": 3,  # hidden layers of the radial MLP
    "invariant_neurons": 64,  # width of the radial MLP
    "use_sc": True,  # self-connection in each interaction block
    "resnet": False,  # residual update of the node features
    "nonlinearity_type": "gate",  # "gate" or "norm"
}


def nequip_inputs(batch: AtomicBatch, species_index: torch.Tensor) -> dict[str, torch.Tensor]:
    """Our batch as nequip's AtomicDataDict, with edge vectors (Å) precomputed.

    nequip keeps an ``edge_vectors`` entry it is given, so the vectors stay differentiable in our (possibly
    strained) positions and cell; ``edge_index[0]`` is the centre atom in nequip, our sender, and both define
    the vector as r[edge_index[1]] − r[edge_index[0]] + shift.
    """
    counts = batch.n_atoms_per_system
    ptr = torch.zeros(batch.n_systems + 1, dtype=torch.long, device=counts.device)
    ptr[1:] = torch.cumsum(counts, 0)
    return {
        "pos": batch.positions,
        "edge_index": batch.edge_index,
        "edge_vectors": batch.edge_vectors(),
        "atom_types": species_index.unsqueeze(-1),
        "batch": batch.system_index,
        "ptr": ptr,
    }


class NequIPFamilyForceField(ForceField):
    """A model assembled by nequip's builders from a config dict; learned per-atom energies are its output.

    Only the energy model is built: nequip's ForceOutput, PerSpeciesRescale and RescaleEnergyEtc are left
    out, since :class:`ForceField` takes forces and stress by autograd and applies reference energies and
    the energy scale.
    """

    config_names: ClassVar[dict[str, str]] = {}  # hyperparameter → nequip config key, where they differ

    def __init__(
        self, species: Sequence[int], cutoff: float, statistics: TrainingStatistics, **hyperparameters: Any
    ) -> None:
        super().__init__(species, cutoff, statistics)
        self.set_hyperparameters(hyperparameters)
        config = Config.from_dict(
            {
                "r_max": self.cutoff,
                "num_types": len(self.species),
                "type_names": [chemical_symbols[z] for z in self.species],
                "avg_num_neighbors": float(statistics.avg_num_neighbors),
                **{self.config_names.get(key, key): value for key, value in self.hyperparameters.items()},
            }
        )
        try:
            self.model = self.build(config)
        except (AssertionError, RuntimeError, ValueError, KeyError) as error:
            settings = self.hyperparameters
            raise ModelError(
                f"{self.architecture}: cannot build the model from hyperparameters {settings} ({error})"
            ) from error

    @staticmethod
    def build(config: Config) -> torch.nn.Module:
        """The nequip module computing ``atomic_energy`` from an AtomicDataDict."""
        raise NotImplementedError

    def atomic_energies(self, batch: AtomicBatch, species_index: torch.Tensor) -> torch.Tensor:
        output = self.model(nequip_inputs(batch, species_index))
        return output["atomic_energy"].squeeze(-1)


class NequIPForceField(NequIPFamilyForceField):
    """NequIP (Batzner et al., Nat. Commun. 2022): E(3)-equivariant message passing, gated tensor products.

    Built by nequip 0.6.2's ``SimpleIrrepsConfig`` + ``EnergyModel``: one-hot species embedding,
    ``num_layers`` interaction blocks (``ConvNetLayer``), and a per-atom linear read-out.
    """

    architecture = "nequip"
    defaults: ClassVar[dict[str, Any]] = DEFAULT_HYPERPARAMETERS
    config_names: ClassVar[dict[str, str]] = {
        "bessel_trainable": "BesselBasis_trainable",
        "polynomial_cutoff_p": "PolynomialCutoff_p",
    }

    @staticmethod
    def build(config: Config) -> torch.nn.Module:
        SimpleIrrepsConfig(config)
        return EnergyModel(config, initialize=False)


class DeployedNequIPForceField(ForeignForceField):
    """A model deployed with `nequip-deploy` (TorchScript): the whole batch in one call, its own forces.

    The deployed module differentiates its energy itself (nequip's ForceOutput), so its forces are used
    as they are; it takes positions, cell and integer cell shifts of each edge, and gives no stress.
    """

    architecture = "pretrained-nequip"
    implements_stress = False

    def __init__(
        self,
        model: torch.nn.Module,
        elements: Sequence[int],
        cutoff: float,
        dtype: torch.dtype,
        energy_unit: float = 1.0,
        length_unit: float = 1.0,
        description: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(elements, cutoff, energy_unit, length_unit, description or {})
        self.model = model
        self.model_dtype = dtype

    def _apply(
        self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True
    ) -> DeployedNequIPForceField:
        """Devices move the TorchScript module; dtype casts leave it in the dtype it was deployed in."""
        model = self._modules.pop("model")
        try:
            super()._apply(fn, recurse)
        finally:
            self._modules["model"] = model
        probe = fn(torch.zeros(()))
        model.to(probe.device)
        return self

    def forward(
        self, batch: AtomicBatch, compute_stress: bool = False, training: bool = False
    ) -> dict[str, torch.Tensor]:
        types = self.model_types(batch.atomic_numbers)
        graph = self.in_model_units(batch).to(dtype=self.model_dtype)
        counts = batch.n_atoms_per_system
        ptr = torch.zeros(batch.n_systems + 1, dtype=torch.long, device=counts.device)
        ptr[1:] = torch.cumsum(counts, 0)
        with unoptimised_torchscript():
            output = self.model(
                {
                    "pos": graph.positions.detach(),
                    "edge_index": graph.edge_index,
                    "cell": graph.cell,
                    "edge_cell_shift": graph.unit_shifts,
                    "pbc": graph.pbc,
                    "batch": graph.system_index,
                    "ptr": ptr,
                    "atom_types": types.unsqueeze(-1),
                }
            )
        energy_unit = self.energy_scale
        energy = output["total_energy"].detach().reshape(-1).to(torch.float64) * energy_unit
        forces = output["forces"].detach() * (energy_unit / self.length_unit)
        return {"energy": energy, "forces": forces.to(batch.positions.dtype)}


def load_deployed_nequip(
    file: Path,
    energy_unit: float,
    length_unit: float,
    description: dict[str, Any],
    device: str | torch.device = "cpu",
) -> DeployedNequIPForceField:
    """A `nequip-deploy` TorchScript file (loading it runs its code) with its metadata: cut-off, type names
    (chemical symbols), dtype."""
    try:
        model, metadata = load_deployed_model(file, device=device, freeze=False, set_global_options=False)
    except (ValueError, RuntimeError) as error:
        raise ModelError(f"{file}: not a model deployed by nequip-deploy ({error})") from error
    names = metadata["type_names"].split()
    unknown = [name for name in names if name not in atomic_numbers]
    if unknown:
        raise ModelError(f"{file}: type names {unknown} are not chemical symbols")
    return DeployedNequIPForceField(
        model,
        [atomic_numbers[name] for name in names],
        float(metadata["r_max"]),
        getattr(torch, metadata.get("model_dtype") or "float32"),
        energy_unit,
        length_unit,
        description,
    )
