"""Edge-length features: exp-normal radial basis, polynomial cutoff envelope, radial MLP."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


class ExpNormalBasis(torch.nn.Module):
    """Exp-normal radial basis (PhysNet), the basis of Equiformer's MD17 runs.

    φ_k(r) = exp(−β (exp(−α r) − μ_k)²) with α = 5 / r_c (Å⁻¹), centres μ_k evenly spaced in
    [exp(−α r_c), 1] and one width β. It is not itself zero at the cutoff: smoothness at r_c comes from
    :class:`PolynomialEnvelope`, which weights every message.
    """

    def __init__(self, num_basis: int, cutoff: float) -> None:
        super().__init__()
        self.alpha = 5.0 / cutoff
        start = math.exp(-self.alpha * cutoff)
        self.register_buffer("centres", torch.linspace(start, 1.0, num_basis))
        self.beta = (2.0 / num_basis * (1.0 - start)) ** -2

    def forward(self, lengths: torch.Tensor) -> torch.Tensor:
        """Basis values (E, num_basis) of edge lengths (E,) in Å."""
        shifted = torch.exp(-self.alpha * lengths)[:, None] - self.centres
        return torch.exp(-self.beta * shifted**2)


class PolynomialEnvelope(torch.nn.Module):
    """Smooth cutoff u(x), x = r / r_c: 1 at x = 0, and u, u′, u″ vanish at x = 1 (DimeNet form).

    u(x) = 1 − (p+1)(p+2)/2 xᵖ + p(p+2) xᵖ⁺¹ − p(p+1)/2 xᵖ⁺², and 0 beyond the cutoff. It is evaluated
    factored, (1 − x)³ Σ_{k<p} C(k+2, 2) xᵏ (the triple root at x = 1 times the truncated series of
    (1 − x)⁻³): the expanded form cancels near x = 1 and rounds to negative weights (−1.8e-15 at
    r_c − 1e-5 Å), which broke the envelope-weighted softmax of a receiver with one edge.
    """

    def __init__(self, cutoff: float, exponent: int = 5) -> None:
        super().__init__()
        self.cutoff = cutoff
        self.exponent = exponent

    def forward(self, lengths: torch.Tensor) -> torch.Tensor:
        """Envelope (E,) of edge lengths (E,) in Å; never negative."""
        x = lengths / self.cutoff
        series = torch.zeros_like(x)
        for k in reversed(range(self.exponent)):  # Horner: Σ_{k<p} C(k+2, 2) xᵏ
            series = series * x + math.comb(k + 2, 2)
        value = (1.0 - x) ** 3 * series
        return torch.where(x < 1.0, value, torch.zeros_like(value))


class RadialMLP(torch.nn.Module):
    """Per-edge tensor-product weights from the radial basis: (Linear → LayerNorm → SiLU)ⁿ → Linear."""

    def __init__(self, num_basis: int, hidden: Sequence[int], num_outputs: int) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = []
        width = num_basis
        for size in hidden:
            layers += [torch.nn.Linear(width, size), torch.nn.LayerNorm(size), torch.nn.SiLU()]
            width = size
        layers.append(torch.nn.Linear(width, num_outputs))
        self.net = torch.nn.Sequential(*layers)

    def forward(self, basis: torch.Tensor) -> torch.Tensor:
        """Weights (E, num_outputs) from basis values (E, num_basis)."""
        return self.net(basis)
