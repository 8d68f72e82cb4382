"""Equivariant graph attention (Equiformer): MLP attention over each receiver's incoming edges."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from e3nn import o3

from egraffbench.models.equiformer.equivariant import DepthwiseTensorProduct, gated_activation
from egraffbench.models.equiformer.radial import RadialMLP


@dataclass(frozen=True)
class EdgeGeometry:
    """Per-edge inputs shared by every layer: endpoints, harmonics, radial basis and cutoff envelope."""

    sender: torch.Tensor  # (E,) long
    receiver: torch.Tensor  # (E,) long
    harmonics: torch.Tensor  # (E, irreps_sh), spherical harmonics of the edge direction
    basis: torch.Tensor  # (E, num_basis), radial basis of the edge length
    envelope: torch.Tensor  # (E,), smooth cutoff, 1 at r = 0 and 0 at r = r_c


def scatter_softmax(
    logits: torch.Tensor, index: torch.Tensor, num_groups: int, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Softmax of ``logits`` (E, ...) over the entries sharing an ``index`` (E,) value; same shape as logits.

    With ``weights`` (E,), the weighted softmax w_e exp(a_e) / Σ w_k exp(a_k) over the group. The group
    maximum is subtracted first (a constant per group, so it carries no gradient): large logits stay finite.
    """
    group_shape = (num_groups, *logits.shape[1:])
    expanded = index.reshape(-1, *([1] * (logits.dim() - 1))).expand_as(logits)
    maxima = logits.new_full(group_shape, float("-inf"))
    maxima = maxima.scatter_reduce(0, expanded, logits.detach(), "amax", include_self=True)
    terms = torch.exp(logits - maxima[index])
    if weights is not None:
        terms = terms * weights.reshape(-1, *([1] * (logits.dim() - 1)))
    totals = scatter_sum(terms, index, num_groups)
    return terms / totals.clamp_min(torch.finfo(logits.dtype).tiny)[index]


def scatter_sum(values: torch.Tensor, index: torch.Tensor, num_groups: int) -> torch.Tensor:
    """Sum of the rows of ``values`` (E, ...) sharing an ``index`` (E,) value: (num_groups, ...)."""
    return values.new_zeros(num_groups, *values.shape[1:]).index_add(0, index, values)


def smooth_leaky_relu(x: torch.Tensor, negative_slope: float = 0.2) -> torch.Tensor:
    """x·((1+s)/2 + (1−s)/2·tanh(x/2)): leaky ReLU with slope s below 0, smooth at 0."""
    return x * ((1 + negative_slope) / 2 + (1 - negative_slope) / 2 * torch.tanh(x / 2))


class GraphAttention(torch.nn.Module):
    """Equivariant graph attention with MLP attention and (optionally) non-linear messages.

    For edge s → r: message = Linear_src(x_s) + Linear_dst(x_r), then a depth-wise tensor product with the
    edge harmonics, weighted by a radial MLP. Its even scalars give per-head attention logits through a smooth
    leaky ReLU and a learned vector per head. Values are either a linear map of the same product (linear
    messages) or, for non-linear messages, gate → second depth-wise tensor product (learned shared weights)
    → linear. Per head, values are averaged over the receiver's edges with envelope-weighted softmax weights
    (see :meth:`edge_weights`), heads are concatenated and projected back to ``irreps_node``.
    """

    def __init__(
        self,
        irreps_node: o3.Irreps,
        irreps_sh: o3.Irreps,
        irreps_head: o3.Irreps,
        num_heads: int,
        num_basis: int,
        radial_hidden: Sequence[int],
        nonlinear_messages: bool,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.irreps_heads = o3.Irreps([(mul * num_heads, ir) for mul, ir in irreps_head])
        self.logits_per_head = irreps_head.count("0e")
        self.nonlinear_messages = nonlinear_messages
        self.merge_sender = o3.Linear(irreps_node, irreps_node, biases=True)
        self.merge_receiver = o3.Linear(irreps_node, irreps_node)
        self.message_tp = DepthwiseTensorProduct(irreps_node, irreps_sh, irreps_node, per_edge_weights=True)
        self.radial = RadialMLP(num_basis, radial_hidden, self.message_tp.weight_numel)
        alpha_irreps = o3.Irreps(f"{num_heads * self.logits_per_head}x0e")
        self.to_logits = o3.Linear(self.message_tp.irreps_out, alpha_irreps)
        self.logit_vectors = torch.nn.Parameter(torch.empty(num_heads, self.logits_per_head))
        torch.nn.init.xavier_uniform_(self.logit_vectors)
        if nonlinear_messages:
            self.gate = gated_activation(irreps_node)
            self.to_gate = o3.Linear(self.message_tp.irreps_out, self.gate.irreps_in)
            self.value_tp = DepthwiseTensorProduct(
                self.gate.irreps_out, irreps_sh, self.irreps_heads, per_edge_weights=False
            )
            self.to_values = o3.Linear(self.value_tp.irreps_out, self.irreps_heads)
        else:
            self.to_values = o3.Linear(self.message_tp.irreps_out, self.irreps_heads)
        self.project = o3.Linear(self.irreps_heads, irreps_node)
        # within each irrep block of irreps_heads, head h owns the h-th run of that irrep's per-head channels
        heads = [torch.arange(num_heads).repeat_interleave(mul * ir.dim) for mul, ir in irreps_head]
        self.register_buffer("head_of_component", torch.cat(heads), persistent=False)

    def forward(self, features: torch.Tensor, edges: EdgeGeometry) -> torch.Tensor:
        """Attention update (N, irreps_node) of node features (N, irreps_node)."""
        message = self.merge_sender(features)[edges.sender] + self.merge_receiver(features)[edges.receiver]
        message = self.message_tp(message, edges.harmonics, self.radial(edges.basis))
        scalars = smooth_leaky_relu(self.to_logits(message)).reshape(-1, self.num_heads, self.logits_per_head)
        logits = (scalars * self.logit_vectors).sum(dim=-1)
        if self.nonlinear_messages:
            gated = self.gate(self.to_gate(message))
            values = self.to_values(self.value_tp(gated, edges.harmonics))
        else:
            values = self.to_values(message)
        weights = self.edge_weights(logits, edges, features.shape[0])
        weighted = values * weights[:, self.head_of_component]
        return self.project(scatter_sum(weighted, edges.receiver, features.shape[0]))

    @staticmethod
    def edge_weights(logits: torch.Tensor, edges: EdgeGeometry, num_nodes: int) -> torch.Tensor:
        """Attention weights (E, heads): u_e · softmax over the receiver of (a_e + ln u_e), u the envelope.

        The envelope enters twice so the energy is smooth when an edge crosses the cutoff: inside the softmax
        (as ln u) a vanishing edge stops taking weight from its neighbours, and as a factor a receiver's last
        edge fades out instead of keeping weight 1 until it disappears.
        """
        normalised = scatter_softmax(logits, edges.receiver, num_nodes, weights=edges.envelope)
        return normalised * edges.envelope[:, None]
