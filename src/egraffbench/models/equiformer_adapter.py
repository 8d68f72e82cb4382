"""Equiformer behind the ForceField interface (own e3nn implementation in `models/equiformer/`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from egraffbench.models.base import ForceField, TrainingStatistics
from egraffbench.models.equiformer import EquiformerNetwork
from egraffbench.models.graph import AtomicBatch

# The original code's MD17 model (`graph_attention_transformer_nonlinear_exp_l2_md17`, 32 basis functions),
# with O(3) parities (1o vectors; the original labels them 1e and is SE(3)-equivariant only).
DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "irreps_node": "128x0e+64x1o+32x2e",  # node features
    "irreps_head": "32x0e+16x1o+8x2e",  # one attention head's values; its 0e count = logits per head
    "irreps_mlp": "384x0e+192x1o+96x2e",  # hidden layer of the feed-forward network
    "irreps_feature": "512x0e",  # output of the last block, input of the energy head (scalars only)
    "num_heads": 4,
    "num_blocks": 6,
    "sh_lmax": 2,  # spherical harmonics of edge directions up to this degree
    "num_radial_basis": 32,  # exp-normal radial basis functions on [0, cutoff]
    "radial_hidden": [64, 64],  # hidden widths of the radial MLPs giving tensor-product weights
    "envelope_exponent": 5,  # polynomial cutoff envelope; u, u′, u″ vanish at the cutoff
    "nonlinear_messages": True,  # gate + second depth-wise tensor product on attention values
}


class EquiformerForceField(ForceField):
    """Equiformer (Liao & Smidt, ICLR 2023): equivariant graph attention transformer.

    Periodic images are ordinary edges of the batch's neighbour list, so periodic cells are handled exactly.
    Hyperparameters (keyword arguments, defaults in :data:`DEFAULT_HYPERPARAMETERS`) are those of the original
    MD17 model; per-element reference energies and the energy scale are applied by :class:`ForceField`.
    """

    architecture = "equiformer"
    defaults: ClassVar[dict[str, Any]] = DEFAULT_HYPERPARAMETERS

    def __init__(
        self, species: Sequence[int], cutoff: float, statistics: TrainingStatistics, **hyperparameters: Any
    ) -> None:
        super().__init__(species, cutoff, statistics)
        settings = self.set_hyperparameters(hyperparameters)
        self.network = EquiformerNetwork(
            num_species=len(self.species),
            cutoff=self.cutoff,
            avg_num_neighbors=statistics.avg_num_neighbors,
            irreps_node=settings["irreps_node"],
            irreps_head=settings["irreps_head"],
            irreps_mlp=settings["irreps_mlp"],
            irreps_feature=settings["irreps_feature"],
            num_heads=int(settings["num_heads"]),
            num_blocks=int(settings["num_blocks"]),
            sh_lmax=int(settings["sh_lmax"]),
            num_radial_basis=int(settings["num_radial_basis"]),
            radial_hidden=[int(width) for width in settings["radial_hidden"]],
            envelope_exponent=int(settings["envelope_exponent"]),
            nonlinear_messages=bool(settings["nonlinear_messages"]),
        )

    def atomic_energies(self, batch: AtomicBatch, species_index: torch.Tensor) -> torch.Tensor:
        return self.network(species_index, batch.edge_index, batch.edge_vectors())
