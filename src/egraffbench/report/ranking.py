"""The one ranking rule of every leaderboard (console, `results.csv`/`results.json`, the report's HTML,
markdown and `leaderboard.csv`): rank per column, mean rank over the quality columns, place by mean rank.
Reference potentials are shown but not ranked."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata

from egraffbench.store.catalog import COLUMNS, Column

RULE = (
    "Rank 1 is best in a column; ties share the best rank (1, 1, 3). Ranks are among the models trained or "
    "pretrained; reference potentials are shown but not ranked. The mean rank averages a model's ranks over "
    "the quality columns (errors, structure, violation, stability, dynamics), not over the MD speed and cost "
    "columns and training time, which are costs; a model without a value in a quality column that another "
    "model has counts as ranked after all of them there. Rows are ordered by mean rank (the place; equal "
    "mean ranks share a place and are listed by name), reference potentials last."
)

SUMMARY = (
    "Rows are ordered by mean rank over the quality columns (the number before a model is its place); "
    "reference potentials are shown, not ranked."
)


@dataclass(frozen=True)
class Standing:
    """Where one row stands: its rank per column where it has a value, its mean rank over the quality
    columns and its place (both None for a reference potential, or when no model has a quality value)."""

    ranks: dict[str, int]
    mean_rank: float | None = None
    place: int | None = None


def _present(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _column_ranks(values: Sequence[float | None], column: Column) -> list[int | None]:
    """Rank of each value (None where missing), 1 = best in the column's direction, ties sharing the best."""
    present = [i for i, value in enumerate(values) if _present(value)]
    ranks: list[int | None] = [None] * len(values)
    if present:
        chosen = np.array([values[i] for i in present], dtype=float)
        positions = rankdata(chosen if column.better == "lower" else -chosen, method="min")
        for i, rank in zip(present, positions, strict=True):
            ranks[i] = int(rank)
    return ranks


def standings(
    rows: Sequence[Mapping[str, Any]],
    reference: Sequence[bool],
    columns: Sequence[Column] = COLUMNS,
) -> list[Standing]:
    """The standing of each row (metric key → value in store units); rows flagged ``reference`` are not
    ranked. See :data:`RULE`."""
    ranked = [i for i, is_reference in enumerate(reference) if not is_reference]
    ranks: list[dict[str, int]] = [{} for _ in rows]
    quality: list[list[int]] = [[] for _ in rows]
    for column in columns:
        column_ranks = _column_ranks([rows[i].get(column.key) for i in ranked], column)
        if all(rank is None for rank in column_ranks):
            continue
        last = 1 + sum(rank is not None for rank in column_ranks)
        for i, rank in zip(ranked, column_ranks, strict=True):
            if rank is not None:
                ranks[i][column.key] = rank
            if column.in_mean_rank:
                quality[i].append(last if rank is None else rank)
    means = {i: float(np.mean(quality[i])) for i in ranked if quality[i]}
    places = dict(zip(means, rankdata(list(means.values()), method="min"), strict=True)) if means else {}
    return [
        Standing(ranks[i], means.get(i), int(places[i]) if i in places else None) for i in range(len(rows))
    ]


def order(names: Sequence[str], found: Sequence[Standing], reference: Sequence[bool]) -> list[int]:
    """Indices of the rows in leaderboard order: by place (then name), rows without a place after them, and
    reference potentials last (by name)."""

    def key(i: int) -> tuple:
        place = found[i].place
        return (reference[i], place is None, place or 0, names[i])

    return sorted(range(len(names)), key=key)
