"""Batched MD engine: many replicas in one model call, per-replica random streams and stability watch,
H5MD trajectories with checkpoints and exact resume."""

from egraffbench.md.engine import SimulationProgress, SimulationResult, simulate
from egraffbench.md.export import export_trajectory
from egraffbench.md.protocol import ENSEMBLES, MDProtocol, protocol_from_mapping
from egraffbench.md.trajectory import (
    ReplicaOutcome,
    ReplicaTrajectory,
    read_outcomes,
    read_replica,
    replica_ids,
)

__all__ = [
    "ENSEMBLES",
    "MDProtocol",
    "ReplicaOutcome",
    "ReplicaTrajectory",
    "SimulationProgress",
    "SimulationResult",
    "export_trajectory",
    "protocol_from_mapping",
    "read_outcomes",
    "read_replica",
    "replica_ids",
    "simulate",
]
