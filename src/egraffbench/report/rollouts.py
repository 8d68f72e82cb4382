"""The MD replicas of a run's jobs, read from their trajectory files, with the test system each belongs to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from egraffbench.md.trajectory import ReplicaTrajectory, read_replica
from egraffbench.report.collect import JobView


@dataclass
class Replica:
    """One replica of one job: its test system, start frame, seed, trajectory file and index there, and its
    recorded frames."""

    system: str
    start_frame: int
    seed: int
    path: Path
    index: int
    frames: ReplicaTrajectory

    @property
    def finite(self) -> np.ndarray:
        """Mask of the recorded frames with finite positions."""
        return np.isfinite(self.frames.positions).all(axis=(1, 2))

    @property
    def survived(self) -> bool:
        return self.frames.outcome.failure_step is None


def job_replicas(job: JobView) -> list[Replica]:
    """Every replica of a finished job (empty if it kept no trajectory)."""
    path = job.artifacts.get("trajectory")
    if path is None or not path.is_file():
        return []
    plan = (job.results.get("md") or {}).get("replicas") or []
    return [
        Replica(
            system=entry["system"],
            start_frame=int(entry["frame"]),
            seed=job.seed,
            path=path,
            index=index,
            frames=read_replica(path, index),
        )
        for index, entry in enumerate(plan)
    ]


def model_replicas(jobs: Sequence[JobView]) -> list[Replica]:
    """The replicas of all ``jobs`` (e.g. every seed of one model), in job order."""
    return [replica for job in jobs for replica in job_replicas(job)]
