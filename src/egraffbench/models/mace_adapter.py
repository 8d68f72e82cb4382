"""MACE and BOTNet from the `mace-torch` package (ScaleShiftMACE built from `mace.modules` blocks)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from e3nn import o3

with contextlib.redirect_stdout(
    io.StringIO()
):  # MACE prints a notice on import when cuequivariance is absent
    from mace.modules import interaction_classes
    from mace.modules.models import ScaleShiftMACE

from egraffbench.models.base import ForceField, TrainingStatistics
from egraffbench.models.foreign import ForeignForceField
from egraffbench.models.graph import AtomicBatch

DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "hidden_irreps": "16x0e+16x1o+16x2e",
    "mlp_irreps": "16x0e",
    "max_ell": 3,
    "correlation": 3,
    "num_interactions": 2,
    "num_bessel": 8,
    "num_polynomial_cutoff": 5,
    "radial_mlp": [64, 64, 64],
    "interaction": "RealAgnosticResidualInteractionBlock",
    "interaction_first": "RealAgnosticResidualInteractionBlock",
}


# Interaction blocks whose radial MLP takes both atoms' species embeddings beside the radial features:
# features that vanish at the cutoff do not make their weights vanish there, so with mace-torch's
# `apply_cutoff=True` (the envelope on the features) the energy jumped where a pair crossed the cutoff
# (BOTNet: up to 0.1 eV).
# With `apply_cutoff=False` such blocks multiply their weights and densities by the envelope instead; the
# plain blocks keep the default, which is continuous for them.
SPECIES_IN_RADIAL_MLP = frozenset({"RealAgnosticResidualNonLinearInteractionBlock"})


def mace_inputs(batch: AtomicBatch, types: torch.Tensor, n_types: int) -> dict[str, torch.Tensor]:
    """Our batch as the data dict of a mace-torch model (``types``: each atom's index in its element table);
    the edge shifts stay differentiable in the (possibly strained) cell."""
    n_systems = batch.n_systems
    counts = batch.n_atoms_per_system
    ptr = torch.zeros(n_systems + 1, dtype=torch.long, device=counts.device)
    ptr[1:] = torch.cumsum(counts, 0)
    return {
        "positions": batch.positions,
        "node_attrs": torch.nn.functional.one_hot(types, n_types).to(batch.positions.dtype),
        "edge_index": batch.edge_index,
        "shifts": batch.edge_shifts(),
        "unit_shifts": batch.unit_shifts,
        "cell": batch.cell.reshape(-1, 3),
        "batch": batch.system_index,
        "ptr": ptr,
        "head": torch.zeros(n_systems, dtype=torch.long, device=counts.device),
    }


class MACEForceField(ForceField):
    """MACE (Batatia et al., NeurIPS 2022): higher-order equivariant message passing.

    The package's ScaleShiftMACE is built with zero reference energies, unit scale and zero shift; the
    per-element reference energies and the energy scale are applied by :class:`ForceField`.
    """

    architecture = "mace"
    defaults: ClassVar[dict[str, Any]] = DEFAULT_HYPERPARAMETERS

    def __init__(
        self, species: Sequence[int], cutoff: float, statistics: TrainingStatistics, **hyperparameters: Any
    ) -> None:
        super().__init__(species, cutoff, statistics)
        settings = self.set_hyperparameters(hyperparameters)
        self.model = ScaleShiftMACE(
            r_max=self.cutoff,
            num_bessel=settings["num_bessel"],
            num_polynomial_cutoff=settings["num_polynomial_cutoff"],
            max_ell=settings["max_ell"],
            interaction_cls=interaction_classes[settings["interaction"]],
            interaction_cls_first=interaction_classes[settings["interaction_first"]],
            num_interactions=settings["num_interactions"],
            num_elements=len(self.species),
            hidden_irreps=o3.Irreps(settings["hidden_irreps"]),
            MLP_irreps=o3.Irreps(settings["mlp_irreps"]),
            atomic_energies=np.zeros(len(self.species)),
            avg_num_neighbors=statistics.avg_num_neighbors,
            atomic_numbers=self.species,
            correlation=settings["correlation"],
            gate=torch.nn.functional.silu,
            radial_MLP=list(settings["radial_mlp"]),
            atomic_inter_scale=1.0,
            atomic_inter_shift=0.0,
            apply_cutoff=not SPECIES_IN_RADIAL_MLP & {settings["interaction"], settings["interaction_first"]},
        )

    def atomic_energies(self, batch: AtomicBatch, species_index: torch.Tensor) -> torch.Tensor:
        data = mace_inputs(batch, species_index, len(self.species))
        return self.model(data, training=self.training, compute_force=False)["node_energy"]


class BOTNetForceField(MACEForceField):
    """BOTNet (Batatia et al., 2022) as the EGraFFBench code ran it: MACE with correlation order 1.

    Interaction blocks: `RealAgnosticResidualNonLinearInteractionBlock` (the residual non-linear
    interaction of the BOTNet paper), one body-order increment per layer (correlation 1), five layers.
    """

    architecture = "botnet"
    defaults: ClassVar[dict[str, Any]] = {
        **DEFAULT_HYPERPARAMETERS,
        "correlation": 1,
        "num_interactions": 5,
        "interaction": "RealAgnosticResidualNonLinearInteractionBlock",
        "interaction_first": "RealAgnosticResidualNonLinearInteractionBlock",
    }


class PretrainedMACEForceField(ForeignForceField):
    """A MACE model trained elsewhere (e.g. by `mace_run_train`): its per-atom energies, E0s included, in its
    own units; head 0 of a multi-head model."""

    architecture = "pretrained-mace"

    def __init__(
        self,
        model: torch.nn.Module,
        energy_unit: float = 1.0,
        length_unit: float = 1.0,
        description: dict[str, Any] | None = None,
    ) -> None:
        elements = [int(z) for z in model.atomic_numbers]
        super().__init__(elements, float(model.r_max), energy_unit, length_unit, description or {})
        self.model = model

    def atomic_energies(self, batch: AtomicBatch, species_index: torch.Tensor) -> torch.Tensor:
        types = self.model_types(batch.atomic_numbers)
        data = mace_inputs(self.in_model_units(batch), types, len(self.species))
        return self.model(data, training=self.training, compute_force=False)["node_energy"]
