"""The five findings of the EGraFFBench paper (arXiv 2310.02428) checked against a run's leaderboards, each
with our numbers and 95 % intervals and a verdict — reproduced, refuted or inconclusive — decided by the rule
printed beside it (the `RULE_*` text of each module; docs/report.md, docs/decisions.md). A finding the run
lacks the data for is inconclusive, "not in this run". Rendered by `report.paper.render`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from egraffbench.report.paper.correlation import error_vs_md
from egraffbench.report.paper.degradation import ood_degradation
from egraffbench.report.paper.gete import gete_baseline
from egraffbench.report.paper.leaders import no_single_best
from egraffbench.report.paper.ranks import structure_speed_stability
from egraffbench.report.paper.records import PaperFinding
from egraffbench.report.table import Leaderboard
from egraffbench.store.schema import TaskCard

__all__ = ["PaperFinding", "TaskLike", "findings_of", "paper_findings"]


class TaskLike(Protocol):
    """A task of a report: its name, leaderboard and spec (None for a task without one)."""

    name: str
    board: Leaderboard
    spec: TaskCard | None


def paper_findings(boards: Mapping[str, Leaderboard], specs: Mapping[str, TaskCard]) -> list[PaperFinding]:
    """The paper's five findings checked against the leaderboards of a run's tasks (name → leaderboard) and
    their specs (name → spec; a task without one counts as in-distribution)."""
    return [
        no_single_best(boards, specs),
        error_vs_md(boards),
        ood_degradation(boards, specs),
        structure_speed_stability(boards),
        gete_baseline(boards),
    ]


def findings_of(tasks: Iterable[TaskLike]) -> list[PaperFinding]:
    """:func:`paper_findings` of a report's tasks."""
    tasks = list(tasks)
    boards = {task.name: task.board for task in tasks}
    return paper_findings(boards, {task.name: task.spec for task in tasks if task.spec is not None})
