"""Equivariant building blocks on e3nn irreps: depth-wise tensor product and gated activation."""

from __future__ import annotations

import torch
from e3nn import nn, o3


class DepthwiseTensorProduct(torch.nn.Module):
    """Channel-wise ('uvu') tensor product of node-like features with edge spherical harmonics.

    Every input channel is multiplied with every harmonic; of each product only the irreps present in
    ``irreps_target`` (and even scalars) are kept, each as an output block of the input's multiplicity.
    Weights are given per edge (``per_edge_weights=True``, e.g. by a radial MLP) or learned and shared.
    """

    def __init__(
        self, irreps_in: o3.Irreps, irreps_sh: o3.Irreps, irreps_target: o3.Irreps, per_edge_weights: bool
    ) -> None:
        super().__init__()
        wanted = {ir for _, ir in irreps_target} | {o3.Irrep("0e")}
        paths = [
            (ir_out, mul, i, j)
            for i, (mul, ir_in) in enumerate(irreps_in)
            for j, (_, ir_sh) in enumerate(irreps_sh)
            for ir_out in ir_in * ir_sh
            if ir_out in wanted
        ]
        # outputs grouped by irrep so that consecutive blocks of one irrep merge into one (simplified) block
        paths.sort(key=lambda path: path[0])
        self.tp = o3.TensorProduct(
            irreps_in,
            irreps_sh,
            o3.Irreps([(mul, ir_out) for ir_out, mul, _, _ in paths]),
            [(i, j, k, "uvu", True) for k, (_, _, i, j) in enumerate(paths)],
            internal_weights=not per_edge_weights,
            shared_weights=not per_edge_weights,
        )
        self.irreps_out = self.tp.irreps_out.simplify()

    @property
    def weight_numel(self) -> int:
        return self.tp.weight_numel

    def forward(
        self, features: torch.Tensor, harmonics: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(E, irreps_in) ⊗ (E, irreps_sh) → (E, irreps_out)."""
        return self.tp(features, harmonics, weights)


def gated_activation(irreps_out: o3.Irreps) -> torch.nn.Module:
    """Equivariant non-linearity ending in ``irreps_out`` (up to order of blocks; see ``.irreps_out``).

    Scalars pass through SiLU (tanh for odd scalars); each l > 0 channel is scaled by the sigmoid of an extra
    gate scalar. The module's ``irreps_in`` is what the preceding linear layer must produce.
    """
    scalars = o3.Irreps([(mul, ir) for mul, ir in irreps_out if ir.l == 0])
    gated = o3.Irreps([(mul, ir) for mul, ir in irreps_out if ir.l > 0])
    activations = [torch.nn.functional.silu if ir.p == 1 else torch.tanh for _, ir in scalars]
    if gated.num_irreps == 0:
        return nn.Activation(scalars, activations)
    gates = o3.Irreps(f"{gated.num_irreps}x0e")
    return nn.Gate(scalars, activations, gates, [torch.sigmoid], gated)
