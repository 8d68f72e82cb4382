"""What a finished job hands to the results store: its stages, metrics, artifacts and outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STAGES: tuple[str, ...] = ("fetch", "baselines", "train", "evaluate", "simulate", "replay", "score")


@dataclass(frozen=True)
class StageRecord:
    """One stage of one job: `done` (computed now), `cached` (reused) or `failed`; wall time in s."""

    stage: str
    status: str
    key: str | None
    started_at: float  # Unix time, s
    seconds: float


@dataclass(frozen=True)
class MetricValue:
    """One number of a job, with its 95 % interval when it has one; ``system`` "" means all systems pooled."""

    name: str
    value: float | None
    low: float | None = None
    high: float | None = None
    unit: str = ""
    system: str = ""


@dataclass
class JobRecord:
    """The outcome of one job: `done` or `failed` (with the error and its traceback)."""

    job_id: str
    model: str
    task: str
    seed: int
    mode: str
    status: str
    started_at: float
    seconds: float
    stages: list[StageRecord] = field(default_factory=list)
    metrics: list[MetricValue] = field(default_factory=list)
    artifacts: dict[str, str] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    out_of_space: bool = False  # it failed because the disk is full (not stored: the error says so)

    @property
    def reused_stages(self) -> int:
        """Stages (fetch excluded) taken from the cache."""
        return sum(1 for s in self.stages if s.status == "cached" and s.stage != "fetch")

    @property
    def fully_cached(self) -> bool:
        """True if the job finished without computing any stage: everything came from earlier runs."""
        return self.status == "done" and all(s.status == "cached" for s in self.stages)
