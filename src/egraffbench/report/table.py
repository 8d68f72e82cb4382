"""The ranked leaderboard of one task as the report shows it: the store's metrics (over seeds, with 95 %
intervals) per model, each model's rank per metric, its mean rank and place (`report.ranking`), the best value
per column, and every error beside its trivial baseline. Columns and formats are `store.catalog`'s."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from egraffbench.report import ranking
from egraffbench.store import catalog
from egraffbench.store.catalog import COLUMNS, Column
from egraffbench.store.schema import Baselines


@dataclass
class Cell:
    """One metric of one model: stored value (store units) and interval, rank, best flag, baseline ratio."""

    value: float | None
    low: float | None = None
    high: float | None = None
    rank: int | None = None
    best: bool = False
    baseline_ratio: float | None = None  # value / trivial baseline (errors only)
    censored: bool = False  # the value is a lower bound (median time to failure beyond the run length)


@dataclass
class Row:
    model: str
    seeds: int
    reference: bool
    cells: dict[str, Cell]
    pretrained: bool = False  # trained elsewhere: not under the benchmark's protocol, training data unknown
    mean_rank: float | None = None
    place: int | None = None


@dataclass
class Leaderboard:
    """The ranked table of one task, with the columns that hold at least one value."""

    task: str
    columns: list[Column]
    rows: list[Row]
    baselines: Baselines | None
    missing: dict[str, str] = field(default_factory=dict)  # column key → why no model has a value


def _cell(row: Mapping[str, Any], extra: Mapping[str, Any], key: str) -> Cell:
    """The stored value and interval of ``key``; ``extra`` fills only what the row lacks."""
    value, low, high = row.get(key), row.get(f"{key}_low"), row.get(f"{key}_high")
    added = extra.get(key) or {}
    if value is None:
        value = added.get("value")
    if low is None and high is None:
        low, high = added.get("low"), added.get("high")
    return Cell(value, low, high, censored=bool(row.get(f"{key}_censored") or added.get("censored")))


def build_leaderboard(
    task: str,
    rows: Sequence[Mapping[str, Any]],
    references: set[str],
    extras: Mapping[str, Mapping[str, Any]],
    baselines: Baselines | None,
    missing: Mapping[str, str] | None = None,
    pretrained: Set[str] = frozenset(),
) -> Leaderboard:
    """The leaderboard of ``task`` from its store rows (one per model, from `report.leaderboard`).

    ``references`` names the reference potentials (shown, not ranked); ``extras`` maps model → metric →
    {value, low, high, censored} and fills only what the rows lack (a stored value or interval wins);
    ``missing`` says why a metric has no value for any model; ``pretrained`` names the models trained
    elsewhere (ranked, marked). Ranked and ordered by `report.ranking`.
    """
    table = [
        Row(
            model=row["model"],
            seeds=int(row.get("seeds") or 0),
            reference=row["model"] in references,
            cells={c.key: _cell(row, extras.get(row["model"], {}), c.key) for c in COLUMNS},
            pretrained=row["model"] in pretrained,
        )
        for row in rows
    ]
    columns = [c for c in COLUMNS if any(r.cells[c.key].value is not None for r in table)]
    flags = [row.reference for row in table]
    found = ranking.standings([{k: c.value for k, c in r.cells.items()} for r in table], flags, columns)
    for row, standing in zip(table, found, strict=True):
        row.mean_rank, row.place = standing.mean_rank, standing.place
        for key, rank in standing.ranks.items():
            row.cells[key].rank = rank
            row.cells[key].best = rank == 1
    for column in columns:
        baseline = baselines.of(column.key) if baselines is not None else None
        for row in table:
            cell = row.cells[column.key]
            if baseline and cell.value is not None:
                cell.baseline_ratio = cell.value / baseline
    table = [table[i] for i in ranking.order([r.model for r in table], found, flags)]
    absent = {c.key: (missing or {}).get(c.key, "no model has a value") for c in COLUMNS if c not in columns}
    return Leaderboard(task, columns, table, baselines, absent)


def format_value(cell: Cell, column: Column) -> str:
    """The shown value of a cell: "≥" marks a lower bound."""
    return ("≥ " if cell.censored else "") + catalog.format_number(cell.value, column)


def format_interval(cell: Cell, column: Column) -> str | None:
    """The cell's interval as "[low, high]" (see :func:`egraffbench.store.catalog.format_interval`)."""
    return catalog.format_interval(cell.value, cell.low, cell.high, column)
