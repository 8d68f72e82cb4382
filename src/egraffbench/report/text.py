"""The report's tables as text: markdown (leaderboards with intervals, ranks and baseline ratios, then the
findings) and CSV (one row per task and model, every metric in store units with interval, rank and ratio)."""

from __future__ import annotations

import csv
import io
from typing import Any

from egraffbench.report.assemble import Report
from egraffbench.report.sensitivity import sensitivity_section
from egraffbench.report.table import Cell, Leaderboard, format_interval, format_value
from egraffbench.store.catalog import COLUMNS, PRETRAINED_NOTE, Column, format_number


def _markdown_cell(cell: Cell, column: Column) -> str:
    text = format_value(cell, column)
    interval = format_interval(cell, column)
    if interval is not None:
        text += f" {interval}"
    if cell.rank is not None:
        text += f" #{cell.rank}"
    if cell.baseline_ratio is not None:
        text += f" ({cell.baseline_ratio:.2f}× baseline)"
    return f"**{text}**" if cell.best else text


def _header(column: Column) -> str:
    unit = f" ({column.unit})" if column.unit else ""
    return f"{column.header}{unit} {column.arrow}"


def leaderboard_markdown(board: Leaderboard) -> str:
    """A markdown table of one task's leaderboard."""
    headers = ["place", "model", "seeds", "mean rank", *(_header(c) for c in board.columns)]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in board.rows:
        name = f"*{row.model} (reference)*" if row.reference else row.model
        name += " (pretrained†)" if row.pretrained else ""
        mean = "—" if row.mean_rank is None else f"{row.mean_rank:.2f}"
        cells = [_markdown_cell(row.cells[c.key], c) for c in board.columns]
        lines.append("| " + " | ".join([str(row.place or ""), name, str(row.seeds), mean, *cells]) + " |")
    if board.baselines is not None:
        cells = [
            "" if board.baselines.of(c.key) is None else format_number(board.baselines.of(c.key), c)
            for c in board.columns
        ]
        lines.append("| | trivial baseline | | | " + " | ".join(cells) + " |")
    if any(row.pretrained for row in board.rows):
        lines += ["", f"† {PRETRAINED_NOTE}."]
    return "\n".join(lines)


def report_markdown(report: Report) -> str:
    """Leaderboards of every task, then the findings."""
    parts = [f"# egraffbench report — run {report.view.run_id}", ""]
    if report.view.merged:
        parts += ["Runs merged:", "", *(f"- {source.describe()}" for source in report.view.sources), ""]
    parts.append(
        "Values over all seeds with 95 % intervals in brackets; #n = rank among trained models; **bold** = "
        "best; errors also as a multiple of the trivial baseline (zero forces; per-element mean energy)."
    )
    for task in report.tasks:
        parts += ["", f"## {task.name}", ""]
        if task.spec is not None:
            parts += [f"*{task.spec.kind}.* {task.spec.description}", ""]
        parts.append(leaderboard_markdown(task.board))
        parts += [f"- {note}" for note in task.notes]
    parts += ["", "## Findings", ""]
    parts += [f"- **{finding.topic}.** {finding.text}" for finding in report.findings]
    return "\n".join(parts) + "\n" + sensitivity_section(report.sensitivity)


def report_csv(report: Report) -> str:
    """One CSV row per (task, model): place, mean rank, then per metric value/low/high/rank/baseline ratio
    in store units (eV, eV/Å, ps, s ...), and the task's trivial baselines."""
    rows: list[dict[str, Any]] = []
    for task in report.tasks:
        board = task.board
        for row in board.rows:
            record: dict[str, Any] = {
                "task": task.name,
                "model": row.model,
                "reference_potential": row.reference,
                "pretrained": row.pretrained,
                "seeds": row.seeds,
                "place": row.place,
                "mean_rank": row.mean_rank,
            }
            for column in COLUMNS:
                cell = row.cells[column.key]
                record[column.key] = cell.value
                record[f"{column.key}_low"] = cell.low
                record[f"{column.key}_high"] = cell.high
                record[f"{column.key}_rank"] = cell.rank
            for key in ("energy_mae_per_atom", "force_mae"):
                record[f"{key}_baseline"] = board.baselines.of(key) if board.baselines else None
                record[f"{key}_baseline_ratio"] = row.cells[key].baseline_ratio
            rows.append(record)
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()
