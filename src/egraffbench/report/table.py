"""The ranked leaderboard of one task: the store's metrics (over seeds, with 95 % intervals) per model,
each model's rank per metric, its mean rank over the quality metrics, the best value per column, and every
error beside its trivial baseline. Reference potentials (the data's oracle) are shown but not ranked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.stats import rankdata

from egraffbench.store.schema import Baselines


@dataclass(frozen=True)
class Column:
    """A leaderboard metric: store name, header, display unit and scale, which direction is better, and
    whether it counts in the mean rank (quality metrics do; speed and training time are costs)."""

    key: str
    header: str
    unit: str
    scale: float
    better: Literal["lower", "higher"]
    in_mean_rank: bool
    description: str
    digits: int = 3  # significant digits shown


COLUMNS: tuple[Column, ...] = (
    Column(
        "energy_mae_per_atom",
        "E MAE",
        "meV/atom",
        1000.0,
        "lower",
        True,
        "energy mean absolute error per atom on the test split",
    ),
    Column(
        "force_mae",
        "F MAE",
        "meV/Å",
        1000.0,
        "lower",
        True,
        "force mean absolute error per Cartesian component on the test split",
    ),
    Column(
        "wf_percent",
        "WF",
        "%",
        1.0,
        "lower",
        True,
        "Wright's factor of the MD structure function against the reference (0 = identical)",
    ),
    Column(
        "jsd",
        "JSD",
        "",
        1.0,
        "lower",
        True,
        "Jensen–Shannon divergence of the MD structure function from the reference (0 … ln 2)",
    ),
    Column(
        "ev",
        "EV",
        "",
        1.0,
        "lower",
        True,
        "energy violation, energies relative to the training E0 (0 … 1, geometric mean; reference "
        "trajectories: over the replay horizon)",
    ),
    Column(
        "fv",
        "FV",
        "",
        1.0,
        "lower",
        True,
        "force violation (0 … 1, geometric mean; reference trajectories: over the replay horizon)",
    ),
    Column(
        "fidelity_time_fs",
        "fidelity",
        "fs",
        1.0,
        "higher",
        True,
        "trajectory fidelity time: mean time until a replay's FV first exceeds 0.1, censored at the horizon",
    ),
    Column(
        "stable_fraction",
        "stable",
        "fraction",
        1.0,
        "higher",
        True,
        "fraction of MD replicas that never failed a stability check",
    ),
    Column(
        "median_time_to_failure_ps",
        "median TTF",
        "ps",
        1.0,
        "higher",
        True,
        "median time to failure from the Kaplan–Meier curve (the run length if most replicas survived)",
    ),
    Column(
        "nve_drift",
        "NVE drift",
        "meV/atom/ps",
        1000.0,
        "lower",
        True,
        "|slope| of the total energy per atom against time in NVE MD (energy conservation)",
    ),
    Column(
        "vdos_error",
        "VDOS error",
        "",
        1.0,
        "lower",
        True,
        "total variation distance of the vibrational density of states from the reference's (0 … 1)",
    ),
    Column(
        "adf_error",
        "ADF error",
        "",
        1.0,
        "lower",
        True,
        "total variation distance of the bond-angle distribution from the reference's (0 … 1)",
    ),
    Column(
        "diffusivity_error",
        "D error",
        "Å²/ps",
        1.0,
        "lower",
        True,
        "|D_model − D_ref| of the most mobile element, stable replicas only",
    ),
    Column(
        "steps_per_s",
        "MD speed",
        "steps/s",
        1.0,
        "higher",
        False,
        "MD steps per second of wall time for the whole batch of replicas",
    ),
    Column(
        "us_per_atom_step",
        "MD cost",
        "µs/atom/step",
        1.0,
        "lower",
        False,
        "wall time per atom per MD step, µs",
    ),
    Column("training_seconds", "training", "s", 1.0, "lower", False, "wall time of training, s"),
)
COLUMN_BY_KEY = {column.key: column for column in COLUMNS}
PRETRAINED_NOTE = (
    "pretrained: trained outside egraffbench, not under the benchmark's training protocol; its training data "
    "(which may hold the test frames) is unknown"
)


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
    value, low, high = row.get(key), row.get(f"{key}_low"), row.get(f"{key}_high")
    added = extra.get(key)
    if value is None and added is not None:
        value = added["value"]
    if added is not None and low is None and high is None:
        low, high = added.get("low"), added.get("high")
    return Cell(value, low, high, censored=bool(added and added.get("censored")))


def _rank(rows: Sequence[Row], column: Column) -> None:
    ranked = [r for r in rows if not r.reference and r.cells[column.key].value is not None]
    if not ranked:
        return
    values = np.array([r.cells[column.key].value for r in ranked], dtype=float)
    ranks = rankdata(values if column.better == "lower" else -values, method="min")
    for row, rank in zip(ranked, ranks, strict=True):
        row.cells[column.key].rank = int(rank)
        row.cells[column.key].best = rank == 1


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

    ``references`` names the reference potentials; ``extras`` maps model → metric → {value, low, high} for
    what the store lacks (intervals of the stability scores, diffusivity error); ``missing`` says why a
    metric has no value for any model; ``pretrained`` names the models trained elsewhere (ranked, marked).
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
    for column in columns:
        _rank(table, column)
        baseline = baselines.of(column.key) if baselines is not None else None
        for row in table:
            cell = row.cells[column.key]
            if baseline and cell.value is not None:
                cell.baseline_ratio = cell.value / baseline
    for row in table:
        ranks = [row.cells[c.key].rank for c in columns if c.in_mean_rank and row.cells[c.key].rank]
        row.mean_rank = float(np.mean(ranks)) if ranks else None
    table.sort(key=lambda r: (r.reference, r.mean_rank is None, r.mean_rank or 0.0, r.model))
    places = rankdata([r.mean_rank for r in table if r.mean_rank is not None], method="min")
    for row, place in zip((r for r in table if r.mean_rank is not None), places, strict=True):
        row.place = int(place)
    absent = {c.key: (missing or {}).get(c.key, "no model has a value") for c in COLUMNS if c not in columns}
    return Leaderboard(task, columns, table, baselines, absent)


def format_number(value: float | None, column: Column, digits: int | None = None) -> str:
    """A stored value in the column's display unit, to ``digits`` (default: the column's) significant digits;
    "n/a" for None."""
    if value is None:
        return "n/a"
    digits = digits or column.digits
    scaled = value * column.scale
    if column.key == "stable_fraction":
        return f"{scaled:.2f}"
    if scaled != 0 and abs(scaled) >= 10**digits:
        return f"{scaled:.0f}"
    return f"{scaled:#.{digits}g}".rstrip(".")  # '#' keeps trailing zeros: 0.700, 11.0


def format_value(cell: Cell, column: Column) -> str:
    """The shown value of a cell: "≥" marks a lower bound."""
    return ("≥ " if cell.censored else "") + format_number(cell.value, column)


def format_interval(cell: Cell, column: Column) -> str | None:
    """ "[low, high]" with as many decimals as the shown value (so they read against it), or None when there
    is no interval or it has zero width (e.g. one seed)."""
    if cell.value is None or cell.low is None or cell.high is None or cell.low == cell.high:
        return None
    shown = format_number(cell.value, column)
    if "e" in shown:
        low, high = (format_number(v, column, 2) for v in (cell.low, cell.high))
    else:
        decimals = len(shown.split(".")[1]) if "." in shown else 0
        low, high = (f"{v * column.scale:.{decimals}f}" for v in (cell.low, cell.high))
    return f"[{low}, {high}]"
