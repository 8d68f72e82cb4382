"""The five findings of the EGraFFBench paper (arXiv 2310.02428) checked against a run's leaderboards, each
with our numbers and 95 % intervals and a verdict — reproduced, refuted or inconclusive — decided by the rule
printed beside it (the `RULE_*` text of each module; docs/report.md, docs/decisions.md). A finding the run
lacks the data for is inconclusive, "not in this run". Rendered by `report.paper.render`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from egraffbench.report.paper.correlation import error_vs_md
from egraffbench.report.paper.degradation import SharedSystems, SystemBoards, ood_degradation
from egraffbench.report.paper.gete import gete_baseline
from egraffbench.report.paper.leaders import no_single_best
from egraffbench.report.paper.ranks import structure_speed_stability
from egraffbench.report.paper.records import PaperFinding
from egraffbench.report.table import Leaderboard
from egraffbench.store.schema import TaskCard

__all__ = ["PaperFinding", "SharedSystems", "SystemBoards", "TaskLike", "findings_of", "paper_findings"]


class TaskLike(Protocol):
    """A task of a report: its name, leaderboard and spec (None for a task without one), and for an
    out-of-distribution task whose in-distribution task contains its data, both tasks' models on the test
    frames both test (else None)."""

    name: str
    board: Leaderboard
    spec: TaskCard | None
    shared_systems: SharedSystems | None


def paper_findings(
    boards: Mapping[str, Leaderboard],
    specs: Mapping[str, TaskCard],
    shared: Mapping[str, SharedSystems] | None = None,
) -> list[PaperFinding]:
    """The paper's five findings checked against the leaderboards of a run's tasks (name → leaderboard) and
    their specs (name → spec; a task without one counts as in-distribution); ``shared`` as
    :func:`~egraffbench.report.paper.degradation.ood_degradation` takes it."""
    return [
        no_single_best(boards, specs),
        error_vs_md(boards),
        ood_degradation(boards, specs, shared),
        structure_speed_stability(boards),
        gete_baseline(boards),
    ]


def findings_of(tasks: Iterable[TaskLike]) -> list[PaperFinding]:
    """:func:`paper_findings` of a report's tasks."""
    tasks = list(tasks)
    boards = {task.name: task.board for task in tasks}
    specs = {task.name: task.spec for task in tasks if task.spec is not None}
    shared = {task.name: task.shared_systems for task in tasks if task.shared_systems is not None}
    return paper_findings(boards, specs, shared)
