"""The Equiformer network: embeddings, transformer blocks and energy head; per-atom energies from edges."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from e3nn import o3

from egraffbench.errors import ConfigError
from egraffbench.models.equiformer.attention import EdgeGeometry, GraphAttention, scatter_sum
from egraffbench.models.equiformer.equivariant import DepthwiseTensorProduct
from egraffbench.models.equiformer.layers import EquivariantLayerNorm, FeedForward
from egraffbench.models.equiformer.radial import ExpNormalBasis, PolynomialEnvelope, RadialMLP


def _require(condition: bool, field: str, expected: str, value: object) -> None:
    if not condition:
        raise ConfigError(f"equiformer hyperparameter '{field}': expected {expected}, got {value!r}")


class EdgeDegreeEmbedding(torch.nn.Module):
    """Geometry-aware initial features: Σ over incoming edges of a depth-wise tensor product of learned
    constant scalars with the edge harmonics (radial-MLP weights), times the envelope, over √(mean degree)."""

    def __init__(
        self,
        irreps_node: o3.Irreps,
        irreps_sh: o3.Irreps,
        num_basis: int,
        radial_hidden: Sequence[int],
        avg_num_neighbors: float,
    ) -> None:
        super().__init__()
        scalars = o3.Irreps(f"{irreps_node.count('0e')}x0e")
        self.constant = o3.Linear("1x0e", scalars, biases=True)
        self.tp = DepthwiseTensorProduct(scalars, irreps_sh, irreps_node, per_edge_weights=True)
        self.radial = RadialMLP(num_basis, radial_hidden, self.tp.weight_numel)
        self.project = o3.Linear(self.tp.irreps_out, irreps_node)
        self.norm = avg_num_neighbors**0.5

    def forward(self, num_nodes: int, edges: EdgeGeometry) -> torch.Tensor:
        """Initial features (N, irreps_node) from the edges alone."""
        one = edges.basis.new_ones(1, 1)
        sent = self.constant(one).expand(edges.basis.shape[0], -1)
        messages = self.project(self.tp(sent, edges.harmonics, self.radial(edges.basis)))
        messages = messages * edges.envelope[:, None]
        return scatter_sum(messages, edges.receiver, num_nodes) / self.norm


class TransformerBlock(torch.nn.Module):
    """Pre-norm block: x + attention(norm(x)), then (shortcut of) that + feed-forward(norm(·))."""

    def __init__(
        self,
        irreps_node: o3.Irreps,
        irreps_out: o3.Irreps,
        irreps_sh: o3.Irreps,
        irreps_head: o3.Irreps,
        irreps_mlp: o3.Irreps,
        num_heads: int,
        num_basis: int,
        radial_hidden: Sequence[int],
        nonlinear_messages: bool,
    ) -> None:
        super().__init__()
        self.norm_attention = EquivariantLayerNorm(irreps_node)
        self.attention = GraphAttention(
            irreps_node, irreps_sh, irreps_head, num_heads, num_basis, radial_hidden, nonlinear_messages
        )
        self.norm_feed_forward = EquivariantLayerNorm(irreps_node)
        self.feed_forward = FeedForward(irreps_node, irreps_mlp, irreps_out)
        same = irreps_out == irreps_node
        self.shortcut = torch.nn.Identity() if same else o3.Linear(irreps_node, irreps_out, biases=True)

    def forward(self, features: torch.Tensor, edges: EdgeGeometry) -> torch.Tensor:
        """(N, irreps_node) → (N, irreps_out)."""
        features = features + self.attention(self.norm_attention(features), edges)
        return self.shortcut(features) + self.feed_forward(self.norm_feed_forward(features))


class EquiformerNetwork(torch.nn.Module):
    """Equiformer (Liao & Smidt, ICLR 2023) mapping species and edge vectors to per-atom energies.

    Species one-hot → linear embedding, plus an edge-degree embedding; ``num_blocks`` transformer blocks (the
    last maps to the scalar ``irreps_feature``); layer norm; MLP head → one energy per atom.
    """

    def __init__(
        self,
        num_species: int,
        cutoff: float,
        avg_num_neighbors: float,
        irreps_node: str,
        irreps_head: str,
        irreps_mlp: str,
        irreps_feature: str,
        num_heads: int,
        num_blocks: int,
        sh_lmax: int,
        num_radial_basis: int,
        radial_hidden: Sequence[int],
        envelope_exponent: int,
        nonlinear_messages: bool,
    ) -> None:
        super().__init__()
        node, feature = o3.Irreps(irreps_node), o3.Irreps(irreps_feature)
        _require(num_blocks >= 1, "num_blocks", "at least 1", num_blocks)
        _require(num_heads >= 1, "num_heads", "at least 1", num_heads)
        _require(node.count("0e") > 0, "irreps_node", "some even scalars (0e)", irreps_node)
        head = o3.Irreps(irreps_head)
        _require(head.count("0e") > 0, "irreps_head", "even scalars (0e) for the logits", irreps_head)
        _require(feature.count("0e") == feature.dim, "irreps_feature", "even scalars only", irreps_feature)
        self.irreps_node, self.irreps_feature = node, feature
        self.irreps_sh = o3.Irreps.spherical_harmonics(sh_lmax)
        self.num_species = num_species
        self.basis = ExpNormalBasis(num_radial_basis, cutoff)
        self.envelope = PolynomialEnvelope(cutoff, envelope_exponent)
        self.species_embedding = o3.Linear(f"{num_species}x0e", node, biases=True)
        self.degree_embedding = EdgeDegreeEmbedding(
            node, self.irreps_sh, num_radial_basis, radial_hidden, avg_num_neighbors
        )
        self.blocks = torch.nn.ModuleList(
            TransformerBlock(
                node,
                feature if index == num_blocks - 1 else node,
                self.irreps_sh,
                head,
                o3.Irreps(irreps_mlp),
                num_heads,
                num_radial_basis,
                radial_hidden,
                nonlinear_messages,
            )
            for index in range(num_blocks)
        )
        self.norm = EquivariantLayerNorm(feature)
        self.head = torch.nn.Sequential(
            torch.nn.Linear(feature.dim, feature.dim), torch.nn.SiLU(), torch.nn.Linear(feature.dim, 1)
        )

    def edge_geometry(self, edge_index: torch.Tensor, vectors: torch.Tensor) -> EdgeGeometry:
        """Harmonics, radial basis and envelope of edges with vectors (E, 3) in Å, sender → receiver."""
        lengths = vectors.norm(dim=-1)
        harmonics = o3.spherical_harmonics(self.irreps_sh, vectors, normalize=True, normalization="component")
        return EdgeGeometry(
            sender=edge_index[0],
            receiver=edge_index[1],
            harmonics=harmonics,
            basis=self.basis(lengths),
            envelope=self.envelope(lengths),
        )

    def block_features(
        self, species_index: torch.Tensor, edge_index: torch.Tensor, vectors: torch.Tensor
    ) -> list[torch.Tensor]:
        """Node features after the embedding and each block: (N, irreps_node), ..., (N, irreps_feature)."""
        edges = self.edge_geometry(edge_index, vectors)
        one_hot = torch.nn.functional.one_hot(species_index, self.num_species).to(vectors.dtype)
        # one-hot rows have unit norm, not unit variance per component: rescale to the linear's fan-in
        features = self.species_embedding(one_hot * self.num_species**0.5)
        features = features + self.degree_embedding(species_index.shape[0], edges)
        outputs = [features]
        for block in self.blocks:
            features = block(features, edges)
            outputs.append(features)
        return outputs

    def forward(
        self, species_index: torch.Tensor, edge_index: torch.Tensor, vectors: torch.Tensor
    ) -> torch.Tensor:
        """Per-atom energies (N,), dimensionless, of species indices (N,), edges (2, E), vectors (E, 3) Å."""
        features = self.block_features(species_index, edge_index, vectors)[-1]
        return self.head(self.norm(features)).squeeze(-1)
