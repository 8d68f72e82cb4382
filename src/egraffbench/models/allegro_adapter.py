"""Allegro from the `nequip-allegro` 0.3 package, built by its ``Allegro`` builder on nequip 0.6."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from egraffbench.models.graph import AtomicBatch
from egraffbench.models.nequip_adapter import NequIPFamilyForceField

from allegro.model import Allegro  # isort: skip  (after nequip_adapter, which prepares torch and nequip)
from nequip.utils import Config  # isort: skip

DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "num_layers": 2,  # tensor-product layers
    "l_max": 2,  # highest rotation order of the edge tensors
    "parity": "o3_full",  # "o3_full", "o3_restricted" or "so3"
    "num_tensor_features": 64,  # edge-tensor multiplicity (`env_embed_multiplicity` before Allegro 0.3)
    "tensors_mixing_mode": "uuulin",  # tensor-product paths mixed as in the Allegro paper
    "num_bessels_per_basis": 8,  # Bessel radial basis functions
    "bessel_trainable": True,  # train the Bessel frequencies
    "polynomial_cutoff_p": 6,  # exponent p of the polynomial envelope
    "two_body_latent_mlp_latent_dimensions": [128, 256, 512, 1024],
    "two_body_latent_mlp_nonlinearity": "silu",
    "latent_mlp_latent_dimensions": [1024, 1024, 1024],
    "latent_mlp_nonlinearity": "silu",
    "latent_resnet": True,  # residual update of the scalar latent space
    "env_embed_mlp_latent_dimensions": [],  # none: one linear layer
    "env_embed_mlp_nonlinearity": None,
    "edge_eng_mlp_latent_dimensions": [128],  # read-out MLP from the final latents to edge energies
    "edge_eng_mlp_nonlinearity": None,
}


class AllegroForceField(NequIPFamilyForceField):
    """Allegro (Musaelian et al., Nat. Commun. 2023): a strictly local equivariant model, no message passing.

    Every ordered pair (i, j) within the cutoff carries scalar latents and equivariant tensors built only from
    i's neighbourhood; an MLP turns the final latents into pair energies, summed onto the centre atom i and
    divided by √(avg_num_neighbors). Atom i's energy therefore depends only on atoms within the cutoff of i.
    """

    architecture = "allegro"
    defaults: ClassVar[dict[str, Any]] = DEFAULT_HYPERPARAMETERS
    config_names: ClassVar[dict[str, str]] = {
        "bessel_trainable": "AllegroBesselBasis_trainable",
        "polynomial_cutoff_p": "PolynomialCutoff_p",
    }

    @staticmethod
    def build(config: Config) -> torch.nn.Module:
        return Allegro(config, initialize=False)

    def atomic_energies(self, batch: AtomicBatch, species_index: torch.Tensor) -> torch.Tensor:
        if batch.edge_index.shape[1] == 0:
            # No pair within the cutoff: no learned energy. nequip-allegro 0.3 cannot run an edgeless graph;
            # zeros times positions keep the result a function of positions, so autograd gives zero forces.
            return 0.0 * batch.positions.sum(dim=1)
        return super().atomic_energies(batch, species_index)
