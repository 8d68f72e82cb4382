"""The leaderboard: one row per job with its headline numbers (and confidence intervals), as a table,
JSON and CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from egraffbench.fileio import atomic_write_json, atomic_write_text

# (column key, header, scale to display units, digits): display units meV/atom, meV/Å, %, etc.
COLUMNS: list[tuple[str, str, float, int]] = [
    ("energy_mae_per_atom", "E MAE meV/atom", 1000.0, 2),
    ("force_mae", "F MAE meV/Å", 1000.0, 1),
    ("wf_percent", "WF %", 1.0, 2),
    ("jsd", "JSD", 1.0, 4),
    ("ev", "EV", 1.0, 5),
    ("fv", "FV", 1.0, 4),
    ("stable_fraction", "stable", 1.0, 2),
    ("median_time_to_failure_ps", "TTF ps", 1.0, 2),
    ("steps_per_s", "MD steps/s", 1.0, 1),
    ("training_seconds", "train s", 1.0, 0),
]


def leaderboard_rows(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flatten job results into rows of plain numbers; an interval becomes value, _low and _high columns."""
    rows = []
    for result in results:
        scores = result.get("scores", {})
        row: dict[str, Any] = {
            "model": result["model"],
            "dataset": result["dataset"],
            "seed": result["seed"],
            "energy_mae_per_atom": result["test_errors"]["energy_mae_per_atom"],
            "force_mae": result["test_errors"]["force_mae"],
            "stable_fraction": scores.get("stable_fraction"),
            "median_time_to_failure_ps": scores.get("median_time_to_failure_ps"),
            "steps_per_s": result["md"]["steps_per_s"],
            "us_per_atom_step": result["md"]["us_per_atom_step"],
            "training_seconds": result["training"].get("training_seconds"),
        }
        for key in ("wf_percent", "jsd", "ev", "fv", "rollout_energy_mae_per_atom", "rollout_force_mae"):
            interval = scores.get(key)
            row[key] = interval["value"] if interval else None
            row[f"{key}_low"] = interval["low"] if interval else None
            row[f"{key}_high"] = interval["high"] if interval else None
        row["violation_reference"] = scores.get("violation_reference")
        row["failure_reasons"] = ";".join(f"{k}:{v}" for k, v in sorted(scores.get("failure_reasons", {}).items()))
        rows.append(row)
    return sorted(rows, key=lambda r: (r["dataset"], -(r["stable_fraction"] or 0), r["wf_percent"] or 1e9))


def _cell(row: dict[str, Any], key: str, scale: float, digits: int) -> str:
    value = row.get(key)
    if value is None:
        return "n/a"
    text = f"{value * scale:.{digits}f}"
    low, high = row.get(f"{key}_low"), row.get(f"{key}_high")
    if low is not None and high is not None and high > low:
        text += f" [{low * scale:.{digits}f}, {high * scale:.{digits}f}]"
    return text


def leaderboard_table(rows: Sequence[dict[str, Any]], title: str) -> Table:
    """A rich table of ``rows`` (intervals shown as [low, high], 95 % bootstrap over replicas)."""
    table = Table(title=title, caption="[low, high]: 95% bootstrap interval over replicas")
    table.add_column("model", style="bold")
    table.add_column("dataset")
    for _, header, _, _ in COLUMNS:
        table.add_column(header, justify="right")
    for row in rows:
        table.add_row(row["model"], row["dataset"], *(_cell(row, k, s, d) for k, _, s, d in COLUMNS))
    return table


def write_results(rows: Sequence[dict[str, Any]], results: Sequence[dict[str, Any]], out_dir: Path) -> None:
    """`results.json` (leaderboard rows + every job's full results) and `results.csv` (the rows)."""
    atomic_write_json(out_dir / "results.json", {"leaderboard": list(rows), "jobs": list(results)})
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    atomic_write_text(out_dir / "results.csv", buffer.getvalue())


def print_leaderboard(rows: Sequence[dict[str, Any]], title: str, console: Console | None = None) -> None:
    """Print the leaderboard table."""
    (console or Console()).print(leaderboard_table(rows, title))
