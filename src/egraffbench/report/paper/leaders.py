"""Finding 1 of the paper, "no single model is best across tasks", checked against a run: per task the model
with the best mean rank, the model in second place, and whether the lead is resolved by the 95 % intervals."""

from __future__ import annotations

from collections.abc import Mapping

from egraffbench.report.paper.records import (
    Estimate,
    FindingRow,
    PaperClaim,
    PaperFinding,
    Verdict,
    better_side,
    estimate,
    not_in_run,
    point_note,
    ranked_rows,
)
from egraffbench.report.table import Leaderboard, Row
from egraffbench.store.schema import TaskCard

CLAIM_1 = "No single model consistently outperforms the others across all tasks and datasets."
RULE_1 = (
    "Per task, the leader is the model with the best mean rank (place 1 alone; a shared place 1 is a tie). "
    "Its lead over the model(s) in second place is resolved when, over the quality columns, it is better "
    "with non-overlapping 95 % intervals in more columns than it is worse (a missing value counts as worse). "
    "Reproduced: at least two different models lead a task by a resolved margin. Refuted: one model leads "
    "every task, each by a resolved margin. Otherwise inconclusive. Needs two tasks with two ranked models."
)
NO_SINGLE_BEST = PaperClaim("no-single-best", 1, CLAIM_1, RULE_1)


def _column_duel(board: Leaderboard, leader: Row, other: Row) -> tuple[int, int, bool]:
    """Quality columns where ``leader`` is better / worse than ``other`` with separated intervals, and
    whether a value without an interval was compared."""
    wins = losses = 0
    points = False
    for column in board.columns:
        if not column.in_mean_rank:
            continue
        mine, theirs = estimate(leader.cells[column.key]), estimate(other.cells[column.key])
        if mine is None or theirs is None:
            wins += mine is not None
            losses += theirs is not None
            continue
        points |= mine.compared_as_point or theirs.compared_as_point
        side = better_side(mine, theirs, column.better)
        wins += side > 0
        losses += side < 0
    return wins, losses, points


def no_single_best(boards: Mapping[str, Leaderboard], specs: Mapping[str, TaskCard]) -> PaperFinding:
    """Finding 1: per task the leader, its runner-up and whether the lead is resolved."""
    rows, resolved_by, leaders, points = [], {}, {}, False
    for task, board in boards.items():
        ranked = [row for row in ranked_rows(board) if row.place is not None]
        if len(ranked) < 2:
            continue
        first = [row for row in ranked if row.place == 1]
        leaders[task] = first[0].model if len(first) == 1 else None
        runners, duels = [], []
        if len(first) == 1:
            second_place = min(row.place for row in ranked if row.place != 1)
            runners = [row for row in ranked if row.place == second_place]
            duels = [_column_duel(board, first[0], runner) for runner in runners]
        points |= any(duel[2] for duel in duels)
        resolved = bool(duels) and all(wins > losses for wins, losses, _ in duels)
        if resolved:
            resolved_by[task] = first[0].model
        lead = "resolved" if resolved else ("tied" if len(first) > 1 else "not resolved")
        counts = (Estimate(value=duels[0][0]), Estimate(value=duels[0][1])) if duels else (None, None)
        second = Estimate(value=runners[0].mean_rank) if runners else None
        labels = (task, specs[task].kind if task in specs else "", " = ".join(r.model for r in first))
        rows.append(
            FindingRow(
                labels=(*labels, ", ".join(r.model for r in runners), lead),
                values=(Estimate(value=first[0].mean_rank), second, *counts),
            )
        )
    headers = (
        ("task", "kind", "leader", "second", "lead"),
        (
            "leader's mean rank",
            "second's mean rank",
            "columns better (resolved)",
            "columns worse (resolved)",
        ),
    )
    verdict, reason = _verdict_1(leaders, resolved_by)
    return NO_SINGLE_BEST.checked(
        headers, rows, verdict, reason + (point_note(points) if len(leaders) >= 2 else "")
    )


def _verdict_1(leaders: Mapping[str, str | None], resolved_by: Mapping[str, str]) -> tuple[Verdict, str]:
    if len(leaders) < 2:
        return "inconclusive", not_in_run("fewer than two tasks with at least two ranked models")
    winners: dict[str, list[str]] = {}
    for task, model in resolved_by.items():
        winners.setdefault(model, []).append(task)
    listed = "; ".join(f"{model} ({', '.join(tasks)})" for model, tasks in winners.items())
    if len(winners) >= 2:
        return "reproduced", f"{len(winners)} different models lead a task by a resolved margin: {listed}."
    if len(winners) == 1 and len(resolved_by) == len(leaders):
        return "refuted", f"One model leads all {len(leaders)} tasks, each by a resolved margin: {listed}."
    found = f"only {listed} leads by a resolved margin" if winners else "no task has a resolved lead"
    return "inconclusive", f"Of {len(leaders)} tasks, {found}; the other leads are ties or not resolved."
