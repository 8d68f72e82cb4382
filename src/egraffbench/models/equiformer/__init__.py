"""Equiformer (Liao & Smidt, ICLR 2023) on e3nn: equivariant graph attention transformer for atomic graphs.

(`egraffbench.models` imports `torch_setup` before any of its subpackages import e3nn.)
"""

from egraffbench.models.equiformer.attention import EdgeGeometry, GraphAttention, scatter_softmax
from egraffbench.models.equiformer.network import EquiformerNetwork

__all__ = ["EdgeGeometry", "EquiformerNetwork", "GraphAttention", "scatter_softmax"]
