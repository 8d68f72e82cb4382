"""Node-wise layers of an Equiformer block: equivariant layer norm and the gated feed-forward network."""

from __future__ import annotations

import torch
from e3nn import o3

from egraffbench.models.equiformer.equivariant import gated_activation


class EquivariantLayerNorm(torch.nn.Module):
    """Layer norm on irreps features, per node and per irrep type.

    Even scalars are centred over their channels; every irrep block is divided by the root mean square of its
    components over all its channels, then scaled by a learned weight per channel (plus a bias for even
    scalars). Norms of l > 0 features are rotation invariant, so the layer is equivariant.
    """

    def __init__(self, irreps: o3.Irreps, eps: float = 1e-5) -> None:
        super().__init__()
        self.irreps = o3.Irreps(irreps)
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(self.irreps.num_irreps))
        n_scalars = sum(mul for mul, ir in self.irreps if ir == o3.Irrep("0e"))
        self.bias = torch.nn.Parameter(torch.zeros(n_scalars))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Normalised (N, irreps) features."""
        blocks, channel, scalar = [], 0, 0
        for (mul, ir), block_slice in zip(self.irreps, self.irreps.slices(), strict=True):
            field = features[:, block_slice].reshape(-1, mul, ir.dim)
            is_scalar = ir == o3.Irrep("0e")
            if is_scalar:
                field = field - field.mean(dim=1, keepdim=True)
            scale = (field.pow(2).mean(dim=(1, 2), keepdim=True) + self.eps).rsqrt()
            field = field * scale * self.weight[channel : channel + mul, None]
            channel += mul
            if is_scalar:
                field = field + self.bias[scalar : scalar + mul, None]
                scalar += mul
            blocks.append(field.reshape(-1, mul * ir.dim))
        return torch.cat(blocks, dim=1)


class FeedForward(torch.nn.Module):
    """Linear → gate → linear, per node: irreps_in → irreps_hidden → irreps_out (biases on even scalars)."""

    def __init__(self, irreps_in: o3.Irreps, irreps_hidden: o3.Irreps, irreps_out: o3.Irreps) -> None:
        super().__init__()
        self.gate = gated_activation(irreps_hidden)
        self.linear_in = o3.Linear(irreps_in, self.gate.irreps_in, biases=True)
        self.linear_out = o3.Linear(self.gate.irreps_out, irreps_out, biases=True)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(N, irreps_in) → (N, irreps_out)."""
        return self.linear_out(self.gate(self.linear_in(features)))
