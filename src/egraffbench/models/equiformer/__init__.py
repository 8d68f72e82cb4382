"""Equiformer (Liao & Smidt, ICLR 2023) on e3nn: equivariant graph attention transformer for atomic graphs.

The modules of this package import e3nn; the package imports `torch_setup` first, which e3nn 0.4.4 needs.
"""

import egraffbench.models.torch_setup  # noqa: F401  (must precede e3nn's import in the modules below)
from egraffbench.models.equiformer.attention import EdgeGeometry, GraphAttention, scatter_softmax
from egraffbench.models.equiformer.network import EquiformerNetwork

__all__ = ["EdgeGeometry", "EquiformerNetwork", "GraphAttention", "scatter_softmax"]
