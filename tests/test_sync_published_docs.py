"""What scripts/sync_published_docs.py writes besides copies: the seeds table of results/standard/README.md
(one row per shipped task, one column per architecture, the seeds a leaderboard row pooled, how many cells
are published) and README's verdict table (the generated findings' first table, whole and alone)."""

from __future__ import annotations

import csv
from pathlib import Path

from egraffbench.models import ARCHITECTURES
from egraffbench.tasks.loader import list_tasks
from repository_scripts import load_script


def _leaderboard(path: Path, rows: list[tuple[str, str, int]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("task", "model", "seeds"))
        writer.writerows(rows)
    return path


def _cells(table: str) -> dict[str, dict[str, str]]:
    """task → architecture → cell, from the table's markdown rows."""
    header, _, *rows = [line for line in table.splitlines() if line.startswith("|")]
    models = [cell.strip() for cell in header.strip("|").split("|")][2:]
    cells = {}
    for row in rows:
        task, _, *values = [cell.strip() for cell in row.strip("|").split("|")]
        cells[task] = dict(zip(models, values, strict=True))
    return cells


def test_each_shipped_task_and_architecture_shows_the_seeds_published(tmp_path: Path) -> None:
    board = _leaderboard(
        tmp_path / "leaderboard.csv",
        [
            ("md17-ethanol", "mace", 3),
            ("md17-ethanol", "nequip", 1),
            ("emt-cu3au", "emt", 1),  # a reference potential: no architecture's cell
            ("lips20", "allegro", 1),
        ],
    )
    table = load_script("scripts/sync_published_docs.py").coverage_table(board)
    cells = _cells(table)
    assert list(cells) == list_tasks() and all(list(row) == list(ARCHITECTURES) for row in cells.values())
    assert cells["md17-ethanol"]["mace"] == "3" and cells["md17-ethanol"]["nequip"] == "1"
    assert cells["lips20"]["allegro"] == "1" and cells["emt-cu3au"]["mace"] == "—"
    filled = sum(value != "—" for row in cells.values() for value in row.values())
    assert filled == 3
    total = len(list_tasks()) * len(ARCHITECTURES)
    assert table.rstrip().endswith(
        f"3 of the {total} cells ({len(list_tasks())} shipped tasks × "
        f"{len(ARCHITECTURES)} architectures) published: 2 with 1 seed, 1 with 3 seeds."
    )


def test_the_verdict_table_is_the_findings_first_table_alone(tmp_path: Path) -> None:
    verdicts = [
        "| # | the paper says | verdict |",
        "|---|---|---|",
        "| 1 | No single model wins. | **reproduced** |",
    ]
    findings = tmp_path / "findings.md"
    findings.write_text(
        "# The paper's findings, checked\n\nSome prose | with a bar.\n\n"
        + "\n".join(verdicts)
        + "\n\n## 1. No single model wins.\n\n| task | leader |\n|---|---|\n| 3bpa | mace |\n"
    )
    assert load_script("scripts/sync_published_docs.py").verdict_table(findings) == "\n".join(verdicts) + "\n"
