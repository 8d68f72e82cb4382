"""Finding 4 of the paper, "NequIP preserves structure best; TorchMD-Net is fastest but less stable", checked
against a run: every model's structure, speed and stability ranks per task and averaged over tasks."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

import numpy as np

from egraffbench.report.paper.records import (
    MIN_MODELS,
    NEQUIP,
    NOT_IN_RUN,
    TORCHMDNET,
    Estimate,
    FindingRow,
    PaperClaim,
    PaperFinding,
    Verdict,
    better_side,
    conjunction,
    estimate,
    rank_or_last,
    ranked_rows,
)
from egraffbench.report.table import Leaderboard

CLAIM_4 = "NequIP preserves the structure best; TorchMD-Net is the fastest in inference but less stable."
RULE_4 = (
    "Per task, each ranked model's structure rank (mean of its WF and JSD ranks), speed rank (MD steps/s) "
    "and stability rank (mean of its stable-fraction and median-time-to-failure ranks); a model without a "
    "value where another has one counts as last. Each is averaged over the tasks that have it. NequIP "
    "best on structure, TorchMD-Net fastest: reproduced when its average is the lowest alone, refuted "
    "when another model's is lower, inconclusive on a tie. TorchMD-Net less stable: reproduced when its "
    "average stability rank is above the median of the models' averages, refuted when below, inconclusive "
    "when equal. The ranks give the direction; the intervals decide whether it counts: a reproduced or "
    "refuted part needs, in more than half of the tasks it covers, the named model's values on the part's "
    "metrics separated (non-overlapping 95 % intervals) from another model's in that direction, else it is "
    "inconclusive. MD speed is wall-clock time, which depends on the machine and its load when each job "
    "ran: it separates only with intervals over seeds, never as one measurement per model. Finding: "
    "reproduced when all three parts are, refuted when one is, else inconclusive. "
    f"Needs {MIN_MODELS} ranked models and the named model."
)
STRUCTURE_SPEED_STABILITY = PaperClaim("structure-speed-stability", 4, CLAIM_4, RULE_4)
_PARTS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("structure (WF, JSD rank)", NEQUIP, ("wf_percent", "jsd"), "best"),
    ("speed (MD steps/s rank)", TORCHMDNET, ("live_steps_per_s",), "best"),
    (
        "stability (stable, median TTF rank)",
        TORCHMDNET,
        ("stable_fraction", "median_time_to_failure_ps"),
        "worse",
    ),
)


def _average_ranks(boards: Mapping[str, Leaderboard], keys: Sequence[str]) -> dict[str, dict[str, float]]:
    """Model → task → mean of its ranks in ``keys`` (missing values counted last)."""
    found: dict[str, dict[str, float]] = {}
    for task, board in boards.items():
        for row in ranked_rows(board):
            ranks = [rank_or_last(board, row, key) for key in keys]
            present = [rank for rank in ranks if rank is not None]
            if present:
                found.setdefault(row.model, {})[task] = float(np.mean(present))
    return found


def _separated_side(board: Leaderboard, model: str, other: str, keys: Sequence[str]) -> set[int]:
    """+1 where ``model`` is better than ``other`` on a key with separated intervals, −1 where worse."""
    rows = {row.model: row for row in ranked_rows(board)}
    sides = set()
    for key in keys:
        column = next((c for c in board.columns if c.key == key), None)
        if column is None:
            continue
        mine, theirs = estimate(rows[model].cells[key]), estimate(rows[other].cells[key])
        if mine is None or theirs is None:
            continue
        if not column.in_mean_rank and not (mine.has_interval and theirs.has_interval):
            continue  # a wall-clock figure measured once: it says as much about the machine's load
        side = better_side(mine, theirs, column.better)
        if side:
            sides.add(side)
    return sides


def _resolved_tasks(boards: Mapping[str, Leaderboard], model: str, keys: Sequence[str], side: int) -> int:
    """Tasks where ``model`` is separated from at least one other model in direction ``side`` (+1 better)."""
    count = 0
    for board in boards.values():
        others = [row.model for row in ranked_rows(board) if row.model != model]
        if len(others) < len(ranked_rows(board)) and any(
            side in _separated_side(board, model, other, keys) for other in others
        ):
            count += 1
    return count


def _resolved(
    verdict: Verdict, why: str, boards: Mapping[str, Leaderboard], model: str, keys: Sequence[str], side: int
) -> tuple[Verdict, str]:
    """``verdict`` if the intervals separate ``model`` in direction ``side`` in most of its tasks."""
    if verdict == "inconclusive":
        return verdict, why
    covered = sum(model in {row.model for row in ranked_rows(board)} for board in boards.values())
    resolved = _resolved_tasks(boards, model, keys, side)
    if 2 * resolved > covered:
        return verdict, f"{why}; resolved by the intervals in {resolved} of {covered} tasks"
    return "inconclusive", f"{why}, but resolved by the intervals in only {resolved} of {covered} tasks"


def _part_verdict(model: str, means: Mapping[str, float], want: str) -> tuple[Verdict, str]:
    mine = means[model]
    if want == "best":
        best = min(means.values())
        if mine > best:
            leaders = ", ".join(m for m, v in means.items() if v == best)
            return "refuted", f"{leaders} has a better average rank ({best:.2f} vs {mine:.2f})"
        tied = [m for m, v in means.items() if v == best and m != model]
        if tied:
            return "inconclusive", f"tied with {', '.join(tied)} at {best:.2f}"
        return "reproduced", f"best average rank ({mine:.2f})"
    middle = statistics.median(means.values())
    if mine > middle:
        return "reproduced", f"average rank {mine:.2f}, worse than the median {middle:.2f}"
    if mine < middle:
        return "refuted", f"average rank {mine:.2f}, better than the median {middle:.2f}"
    return "inconclusive", f"average rank {mine:.2f} equals the median"


def structure_speed_stability(boards: Mapping[str, Leaderboard]) -> PaperFinding:
    """Finding 4: NequIP's structure ranks, TorchMD-Net's speed and stability ranks, against every model's."""
    counted = {t: b for t, b in boards.items() if len(ranked_rows(b)) >= MIN_MODELS}
    rows, verdicts, reasons = [], [], []
    for part, model, keys, want in _PARTS:
        ranks = _average_ranks(counted, keys)
        means = {m: float(np.mean(list(per_task.values()))) for m, per_task in ranks.items()}
        for name, per_task in sorted(ranks.items(), key=lambda item: (means[item[0]], item[0])):
            detail = " · ".join(f"{task} {rank:g}" for task, rank in per_task.items())
            rows.append(FindingRow(labels=(part, name, detail), values=(Estimate(value=means[name]),)))
        if model not in means:
            verdict: Verdict = "inconclusive"
            why = f"{NOT_IN_RUN}: no {model} in a task with {MIN_MODELS} ranked models and these metrics"
        else:
            verdict, why = _part_verdict(model, means, want)
            # the direction the verdict claims: "best" reproduced / "worse" refuted mean the model is better
            better = (verdict == "reproduced") == (want == "best")
            verdict, why = _resolved(verdict, why, counted, model, keys, 1 if better else -1)
        verdicts.append(verdict)
        reasons.append(f"{model} {part}: {verdict} — {why}")
    headers = (("part", "model", "rank per task"), ("average rank over tasks",))
    return STRUCTURE_SPEED_STABILITY.checked(headers, rows, conjunction(verdicts), "; ".join(reasons) + ".")
