"""Equiformer (Liao & Smidt, ICLR 2023) on e3nn: equivariant graph attention transformer for atomistic graphs."""

from egraffbench.models.equiformer.attention import EdgeGeometry, GraphAttention, scatter_softmax
from egraffbench.models.equiformer.network import EquiformerNetwork

__all__ = ["EdgeGeometry", "EquiformerNetwork", "GraphAttention", "scatter_softmax"]
