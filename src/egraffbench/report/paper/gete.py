"""Finding 5 of the paper, "on GeTe, Equiformer and TorchMD-Net never beat the zero-force baseline", checked
against a run: every model's GeTe force MAE as a multiple of the mean |F| of the test split."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from egraffbench.report.paper.records import (
    EQUIFORMER,
    NOT_IN_RUN,
    TORCHMDNET,
    Estimate,
    FindingRow,
    PaperClaim,
    PaperFinding,
    Verdict,
    conjunction,
    estimate,
    not_in_run,
    ranked_rows,
)
from egraffbench.report.table import Leaderboard

GETE_TASKS = ("gete", "gete-offline")  # the first one in the run is used


CLAIM_5 = (
    "On GeTe, Equiformer and TorchMD-Net never beat the zero-force baseline: their force MAE is at least the "
    "mean |F| of the test set."
)
RULE_5 = (
    "Every model's test force MAE divided by the zero-force baseline (the mean |F| per Cartesian component "
    "of the test split), with its 95 % interval divided by the same baseline, on the task gete (the paper's "
    "split), else gete-offline. Equiformer and TorchMD-Net each: agrees when the interval of the ratio lies "
    "at or above 1, disagrees when it lies below 1, else not resolved (a value without an interval is "
    "compared as a point). Reproduced when both agree, refuted when one disagrees, else inconclusive."
)
GETE_ZERO_FORCE = PaperClaim("gete-zero-force", 5, CLAIM_5, RULE_5)


def _zero_force(board: Leaderboard) -> float | None:
    """The force MAE of zero forces (mean |F| per component of the test split, eV/Å), if the board has it."""
    return board.baselines.of("force_mae") if board.baselines is not None else None


def _gete_rows(task: str, board: Leaderboard, baseline: float) -> list[FindingRow]:
    rows = []
    for row in ranked_rows(board):
        found = estimate(row.cells["force_mae"], 1.0 / baseline)
        if found is not None:
            rows.append(FindingRow(labels=(task, row.model), values=(found, Estimate(value=1000 * baseline))))
    return rows


def gete_baseline(boards: Mapping[str, Leaderboard]) -> PaperFinding:
    """Finding 5: each model's GeTe force MAE as a multiple of the zero-force baseline."""
    present = [task for task in GETE_TASKS if task in boards]
    baselines = {task: _zero_force(boards[task]) for task in present}
    baselines = {task: value for task, value in baselines.items() if value}
    rows = [row for task, value in baselines.items() for row in _gete_rows(task, boards[task], value)]
    headers = (("task", "model"), ("force MAE / zero-force baseline", "zero-force baseline mean |F| (meV/Å)"))
    if not present:
        verdict: Verdict = "inconclusive"
        reason = not_in_run("neither gete nor gete-offline")
    elif not baselines:
        verdict, reason = "inconclusive", "No zero-force baseline: the task's test data were not available."
    else:
        verdict, reason = _verdict_5(next(iter(baselines)), rows)
    return GETE_ZERO_FORCE.checked(headers, rows, verdict, reason)


def _verdict_5(task: str, rows: Sequence[FindingRow]) -> tuple[Verdict, str]:
    ratios = {row.labels[1]: row.values[0] for row in rows if row.labels[0] == task}
    verdicts, parts = [], []
    for model in (EQUIFORMER, TORCHMDNET):
        ratio = ratios.get(model)
        if ratio is None:
            verdicts.append("inconclusive")
            parts.append(f"{model}: {NOT_IN_RUN} (no force MAE)")
            continue
        low, high = ratio.bounds
        kind = "" if ratio.has_interval else ", one seed: no interval"
        if low >= 1:
            verdicts.append("reproduced")
            parts.append(f"{model} does not beat it (ratio {ratio.value:.2f}{kind})")
        elif high < 1:
            verdicts.append("refuted")
            parts.append(f"{model} beats it (ratio {ratio.value:.2f}{kind})")
        else:
            verdicts.append("inconclusive")
            parts.append(f"{model}: the interval of its ratio contains 1 ({low:.2f} … {high:.2f})")
    return conjunction(verdicts), f"On {task}: " + "; ".join(parts) + "."
