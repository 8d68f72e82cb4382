"""The terminal leaderboard: every value and interval readable in full on an 80-column console."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from egraffbench.report.leaderboard import COLUMNS, print_leaderboard


def _row(model: str, task: str, offset: float) -> dict:
    row = {"model": model, "task": task, "seeds": 2}
    for index, (name, _, scale, _) in enumerate(COLUMNS):
        value = (0.1234567 + index + offset) / scale
        row.update({name: value, f"{name}_low": 0.9 * value, f"{name}_high": 1.1 * value})
    return row


@pytest.mark.parametrize("width", [80, 120, 160, 200, 240])
@pytest.mark.parametrize("tasks", [["md17-ethanol"], ["md17-salicylic-acid", "lips20-unseen-composition"]])
def test_no_value_or_interval_is_cut(width: int, tasks: list[str]) -> None:
    rows = [
        _row(model, task, i)
        for i, (model, task) in enumerate((m, t) for m in ("equiformer", "mace") for t in tasks)
    ]
    console = Console(width=width, record=True, color_system=None)
    print_leaderboard(rows, "egraffbench — test", console)
    text = console.export_text()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    numbers = set(re.findall(r"\d+(?:\.\d+)?(?:e[-+]\d+)?", text))
    for row in rows:
        for name, _, scale, number in COLUMNS:
            for key in (name, f"{name}_low", f"{name}_high"):
                assert f"{row[key] * scale:{number}}" in numbers, (key, width)
