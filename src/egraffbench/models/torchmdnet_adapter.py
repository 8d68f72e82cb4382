"""TorchMD-Net's equivariant transformer (ET) from the `torchmd-net` package, run on this project's graphs.

The package's ``TorchMD_ET`` searches its own neighbours (minimum image only, restricted triclinic boxes,
cutoff below half the box). Here its blocks (embedding, RBF expansion, neighbour embedding, attention layers,
output head) are fed the edges of :class:`AtomicBatch` instead, so every periodic image within the cutoff
takes part, any triclinic cell works, and stress follows from the same autograd as forces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import warp
from torch import nn

from egraffbench.errors import ConfigError
from egraffbench.models.base import ForceField, TrainingStatistics
from egraffbench.models.graph import AtomicBatch

# torchmdnet calls warp.init() on import, which prints warp's device table to stdout at the default log level.
warp.config.log_level = warp.LOG_WARNING

from torchmdnet.models.output_modules import EquivariantScalar  # noqa: E402
from torchmdnet.models.torchmd_et import EquivariantMultiHeadAttention  # noqa: E402
from torchmdnet.models.utils import NeighborEmbedding, act_class_mapping, rbf_class_mapping  # noqa: E402

# The EGraFFBench configuration, except vector_cutoff (see presets/torchmdnet.yaml).
DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "hidden_channels": 128,  # width of the scalar and of each vector feature
    "num_layers": 6,  # equivariant attention layers
    "num_heads": 8,  # attention heads; must divide hidden_channels
    "num_rbf": 32,  # radial basis functions of the interatomic distance
    "rbf_type": "expnorm",  # "expnorm" (PhysNet's exponential normal) or "gauss"
    "trainable_rbf": False,  # learn the RBF centres and widths (torchmd-net's default; off in the paper)
    "activation": "silu",  # activation of the MLPs and of the distance filters
    "attn_activation": "silu",  # activation applied to the attention weights
    "distance_influence": "both",  # distance filter on "keys", "values", "both" or "none"
    "neighbor_embedding": True,  # the initial embedding of the neighbours' elements
    "vector_cutoff": True,  # cut the value pathway too, making the energy continuous at the cutoff
}
DISTANCE_INFLUENCES = ("keys", "values", "both", "none")


class TorchMDNetForceField(ForceField):
    """TorchMD-Net equivariant transformer (Thölke & De Fabritiis, ICLR 2022) with an equivariant scalar head.

    Submodule names follow ``TorchMD_ET`` and ``TorchMD_Net.output_model``, so the package's weights map onto
    this model key by key (the element embeddings indexed by ``species`` instead of by atomic number).

    Neighbours are all pairs and periodic images closer than ``cutoff`` (Å), plus each atom's self-loop as in
    ``TorchMD_ET``; there is no ``max_num_neighbors`` cap: the package's value is the capacity of its own
    neighbour search, and truncating neighbours would make the energy discontinuous.
    """

    architecture = "torchmdnet"
    defaults: ClassVar[dict[str, Any]] = DEFAULT_HYPERPARAMETERS

    def __init__(
        self, species: Sequence[int], cutoff: float, statistics: TrainingStatistics, **hyperparameters: Any
    ) -> None:
        super().__init__(species, cutoff, statistics)
        settings = self.set_hyperparameters(hyperparameters)
        _check_choices(settings)
        n_species, hidden, num_rbf = len(self.species), settings["hidden_channels"], settings["num_rbf"]
        self.embedding = nn.Embedding(n_species, hidden)
        self.distance_expansion = rbf_class_mapping[settings["rbf_type"]](
            0.0, self.cutoff, num_rbf, settings["trainable_rbf"]
        )
        self.neighbor_embedding = (
            NeighborEmbedding(hidden, num_rbf, 0.0, self.cutoff, n_species)
            if settings["neighbor_embedding"]
            else None
        )
        self.attention_layers = nn.ModuleList(
            EquivariantMultiHeadAttention(
                hidden,
                num_rbf,
                settings["distance_influence"],
                settings["num_heads"],
                act_class_mapping[settings["activation"]],
                settings["attn_activation"],
                0.0,
                self.cutoff,
                settings["vector_cutoff"],
            )
            for _ in range(settings["num_layers"])
        )
        self.out_norm = nn.LayerNorm(hidden)
        self.output_model = EquivariantScalar(hidden, activation=settings["activation"])

    def atomic_energies(self, batch: AtomicBatch, species_index: torch.Tensor) -> torch.Tensor:
        edge_index, lengths, directions = _edges_with_self_loops(batch, self.cutoff)
        n_edges = edge_index.shape[1] - len(species_index)
        expansion = self.distance_expansion(lengths)
        features = self.embedding(species_index)
        if self.neighbor_embedding is not None:
            features = _embed_neighbours(
                self.neighbor_embedding,
                species_index,
                features,
                edge_index[:, :n_edges],
                lengths[:n_edges],
                expansion[:n_edges],
            )
        vectors = features.new_zeros(features.shape[0], 3, features.shape[1])
        for layer in self.attention_layers:
            d_features, d_vectors = layer(features, vectors, edge_index, lengths, expansion, directions)
            features, vectors = features + d_features, vectors + d_vectors
        features = self.out_norm(features)
        energies = self.output_model.pre_reduce(
            features, vectors, species_index, batch.positions, batch.system_index
        )
        return energies.squeeze(-1)


def _check_choices(settings: dict[str, Any]) -> None:
    """ConfigError naming the hyperparameter whose value the ET cannot take."""
    choices = {
        "rbf_type": tuple(rbf_class_mapping),
        "activation": tuple(act_class_mapping),
        "attn_activation": tuple(act_class_mapping),
        "distance_influence": DISTANCE_INFLUENCES,
    }
    for name, allowed in choices.items():
        if settings[name] not in allowed:
            raise ConfigError(
                f"torchmdnet hyperparameter '{name}' is {settings[name]!r}; expected one of {allowed}"
            )
    for name in ("hidden_channels", "num_layers", "num_heads", "num_rbf"):
        if not isinstance(settings[name], int) or settings[name] < 1:
            raise ConfigError(
                f"torchmdnet hyperparameter '{name}' is {settings[name]!r}; expected a positive integer"
            )
    if settings["hidden_channels"] % settings["num_heads"]:
        raise ConfigError(
            f"torchmdnet hyperparameter 'num_heads' ({settings['num_heads']}) must divide "
            f"'hidden_channels' ({settings['hidden_channels']})"
        )


def _edges_with_self_loops(
    batch: AtomicBatch, cutoff: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Edges within ``cutoff`` then one self-loop per atom: (sender, receiver), lengths (Å), directions.

    Directions are unit vectors receiver → sender (``TorchMD_ET``'s sign), zero on the self-loops. Edges of
    a neighbour list built with a skin beyond ``cutoff`` are dropped, so the energy does not depend on it.
    """
    vectors = batch.edge_vectors()
    lengths = torch.linalg.vector_norm(vectors, dim=1)
    inside = lengths < cutoff
    n_atoms = batch.positions.shape[0]
    atoms = torch.arange(n_atoms, device=batch.positions.device)
    edge_index = torch.cat([batch.edge_index[:, inside], torch.stack([atoms, atoms])], dim=1)
    lengths = lengths[inside]
    directions = -vectors[inside] / lengths[:, None]
    return (
        edge_index,
        torch.cat([lengths, lengths.new_zeros(n_atoms)]),
        torch.cat([directions, directions.new_zeros(n_atoms, 3)]),
    )


def _embed_neighbours(
    module: NeighborEmbedding,
    species_index: torch.Tensor,
    features: torch.Tensor,
    edge_index: torch.Tensor,
    lengths: torch.Tensor,
    expansion: torch.Tensor,
) -> torch.Tensor:
    """``NeighborEmbedding`` on edges without self-loops, keeping an atom's own periodic images.

    The package's forward drops every edge whose two ends are the same atom index, which would also drop the
    genuine neighbours that periodic images of an atom are in cells narrower than twice the cutoff.
    """
    sender, receiver = edge_index
    filters = module.distance_proj(expansion) * module.cutoff(lengths)[:, None]
    messages = filters * module.embedding(species_index)[sender]
    neighbours = torch.zeros_like(features).index_add(0, receiver, messages)
    return module.combine(torch.cat([features, neighbours], dim=1))
