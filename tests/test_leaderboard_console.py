"""The terminal leaderboard: every value and interval readable in full on an 80-column console, in the
catalog's number format, the rows in the ranking rule's order."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from egraffbench.report.leaderboard import print_leaderboard, ranked
from egraffbench.store.catalog import COLUMNS, format_interval, format_number


def _row(model: str, task: str, offset: float) -> dict:
    row = {"model": model, "task": task, "seeds": 2, "kind": "trained"}
    for index, column in enumerate(COLUMNS):
        value = (0.1234567 + index + offset) / column.scale
        row.update({column.key: value, f"{column.key}_low": 0.9 * value, f"{column.key}_high": 1.1 * value})
    return row


@pytest.mark.parametrize("width", [80, 120, 160, 200, 240])
@pytest.mark.parametrize("tasks", [["md17-ethanol"], ["md17-salicylic-acid", "lips20-unseen-composition"]])
def test_no_value_or_interval_is_cut(width: int, tasks: list[str]) -> None:
    rows = ranked(
        [
            _row(model, task, i)
            for i, (model, task) in enumerate((m, t) for m in ("equiformer", "mace") for t in tasks)
        ]
    )
    console = Console(width=width, record=True, color_system=None)
    print_leaderboard(rows, "egraffbench — test", console)
    text = console.export_text()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    numbers = set(re.findall(r"\d+(?:\.\d+)?(?:e[-+]\d+)?", text))
    for row in rows:
        assert f"{row['mean_rank']:.2f}" in numbers
        for column in COLUMNS:
            value = row[column.key]
            interval = format_interval(value, row[f"{column.key}_low"], row[f"{column.key}_high"], column)
            assert interval is not None
            for shown in (format_number(value, column), *interval.strip("[]").split(", ")):
                assert shown in numbers, (column.key, shown, width)
    for column in COLUMNS:
        assert column.header in text
    assert "↓" in text and "↑" in text


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.7, "0.700"), (11.0, "11.0"), (999.4, "999"), (999.6, "1000"), (1234.0, "1234"), (0.0, "0.00")],
)
def test_three_significant_digits_and_no_exponent_above_one(value: float, shown: str) -> None:
    """Trailing zeros are kept; a value that rounds up to 1000 at three digits prints as the integer, not as
    1.00e+03 (acac-600K's zero-force baseline, 999.6 meV/Å, did)."""
    force = next(column for column in COLUMNS if column.key == "force_mae")
    assert format_number(value / force.scale, force) == shown
