"""Findings computed from a run's leaderboards, never written by hand: who wins which metric (and whether
the lead is resolved by the intervals), whether low force error went with stable MD (Spearman rank
correlation across models), which models did not beat the trivial baselines, the speed–stability Pareto
front, why replicas failed, and how much each model degrades from in-distribution to out-of-distribution."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from egraffbench.report.paper.records import estimate
from egraffbench.report.table import Leaderboard, Row
from egraffbench.store.catalog import COLUMN_BY_KEY, format_number
from egraffbench.store.schema import TaskCard

NO_BETTER_THAN_BASELINE = 0.9  # error / baseline at or above this: the model learned (almost) nothing
MIN_MODELS_FOR_CORRELATION = 3


@dataclass(frozen=True)
class Finding:
    """One computed statement: a short topic and its sentence(s)."""

    topic: str
    text: str


def _ranked(board: Leaderboard) -> list[Row]:
    return [row for row in board.rows if not row.reference]


def _unresolved(leader: Row, runner: Row, key: str) -> bool:
    """True when the 95 % intervals of the best and the second-best model overlap."""
    first, second = leader.cells[key], runner.cells[key]
    if None in (first.low, first.high, second.low, second.high):
        return False
    return first.low <= second.high and second.low <= first.high


def winners(board: Leaderboard) -> Finding | None:
    """Which model is best on which metric, the best mean rank, ties, and leads the intervals do not
    resolve."""
    rows = _ranked(board)
    if len(rows) < 2:
        return None
    wins: dict[str, list[str]] = {}
    ties, unresolved = [], []
    for column in (c for c in board.columns if not c.diagnostic):
        values = [r for r in rows if r.cells[column.key].value is not None]
        best = [r for r in values if r.cells[column.key].best]
        if len(values) < 2 or not best:
            continue
        if len(best) == len(values):
            ties.append(f"{column.header} ({format_number(best[0].cells[column.key].value, column)})")
            continue
        for row in best:
            wins.setdefault(row.model, []).append(column.header + (" (tied)" if len(best) > 1 else ""))
        runner = min(
            (r for r in values if not r.cells[column.key].best), key=lambda r: r.cells[column.key].rank
        )
        if len(best) == 1 and _unresolved(best[0], runner, column.key):
            unresolved.append(f"{column.header} ({best[0].model} vs {runner.model})")
    if not wins and not ties:
        return None
    sentences = [f"{model} is best on {', '.join(columns)}." for model, columns in wins.items()]
    overall = [r for r in rows if r.place == 1]
    if overall:
        names = " and ".join(r.model for r in overall)
        sentences.append(f"Best mean rank over the quality metrics: {names} ({overall[0].mean_rank:.2f}).")
    if ties:
        sentences.append(f"All models tie on {', '.join(ties)}.")
    if unresolved:
        sentences.append(
            f"Leads within the 95 % intervals, not resolved by this run: {', '.join(unresolved)}."
        )
    return Finding(f"{board.task}: who wins what", " ".join(sentences))


def _stability_measure(rows: Sequence[Row]) -> tuple[str, np.ndarray] | None:
    for key in ("stable_fraction", "median_time_to_failure_ps"):
        values = np.array([r.cells[key].value for r in rows], dtype=float)
        if np.isfinite(values).all() and np.ptp(values) > 0:
            return key, values
    return None


def error_vs_stability(board: Leaderboard) -> Finding | None:
    """Spearman rank correlation between test force MAE and stability across the ranked models."""
    rows = [r for r in _ranked(board) if r.cells["force_mae"].value is not None]
    if len(rows) < MIN_MODELS_FOR_CORRELATION or "stable_fraction" not in {c.key for c in board.columns}:
        return None
    topic = f"{board.task}: does low force error mean stable MD?"
    measure = _stability_measure(rows)
    if measure is None:
        return Finding(
            topic,
            f"All {len(rows)} models were equally stable, so stability cannot be related to force error "
            "here; run longer MD (--steps) or more replicas to separate them.",
        )
    key, stability = measure
    errors = np.array([r.cells["force_mae"].value for r in rows])
    result = spearmanr(errors, stability)
    rho, p = float(result.statistic), float(result.pvalue)
    if rho <= -0.5:
        reading = "models with lower force error were the more stable ones"
    elif rho >= 0.5:
        reading = "models with lower force error were the LESS stable ones"
    else:
        reading = "force error did not predict stability"
    significance = "significant" if p < 0.05 else "not significant at 5 %"
    stability_name = "fraction of stable replicas" if key == "stable_fraction" else "median time to failure"
    return Finding(
        topic,
        f"Spearman ρ = {rho:+.2f} between test force MAE and {stability_name} across {len(rows)} models "
        f"(p = {p:.2g}, {significance}): {reading}.",
    )


def baseline_check(board: Leaderboard) -> Finding | None:
    """Models whose test errors are not clearly below the trivial baselines, else how far below them the
    best model is."""
    if board.baselines is None:
        return None
    rows = _ranked(board)
    failing = []
    for key in ("force_mae", "energy_mae_per_atom"):
        column = COLUMN_BY_KEY[key]
        for row in rows:
            ratio = row.cells[key].baseline_ratio
            if ratio is not None and ratio >= NO_BETTER_THAN_BASELINE:
                failing.append(f"{row.model} ({column.header} = {ratio:.2f} × baseline)")
    topic = f"{board.task}: better than the trivial baselines?"
    if failing:
        return Finding(
            topic,
            "Errors not clearly below the trivial baseline (zero forces, or energy from composition alone; "
            f"a ratio above 1 is worse than the baseline): {', '.join(failing)}. Such a model has learned "
            "next to nothing about that quantity.",
        )
    ratios = [
        (r.cells["force_mae"].baseline_ratio, r.model) for r in rows if r.cells["force_mae"].baseline_ratio
    ]
    if not ratios:
        return None
    best, model = min(ratios)
    return Finding(
        topic,
        f"Every model beats both trivial baselines by more than {100 * (1 - NO_BETTER_THAN_BASELINE):.0f} %; "
        f"the lowest force error ({model}) is {100 * best:.1f} % of the zero-force baseline.",
    )


def pareto(board: Leaderboard, front: Sequence[str]) -> Finding | None:
    """The models on the speed–stability Pareto front, saying so when some model's MD speed has no interval
    (one seed): the front's order in speed is then a single wall-clock measurement per model."""
    if len(_ranked(board)) < 2 or not front:
        return None
    speeds = [estimate(row.cells["live_steps_per_s"]) for row in _ranked(board)]
    caveat = (
        " MD speed was measured once per model (one seed, no interval), under whatever load the machine "
        "had: the front describes this run, it does not resolve which model is faster."
        if any(speed is not None and not speed.has_interval for speed in speeds)
        else ""
    )
    return Finding(
        f"{board.task}: speed vs stability",
        f"On the Pareto front (no other model is both faster and more stable): {', '.join(front)}.{caveat}",
    )


def failure_reasons(task: str, reasons: Mapping[str, Mapping[str, int]]) -> Finding | None:
    """How many replicas of each model failed, and why."""
    parts = [
        f"{model}: " + ", ".join(f"{count} × {reason}" for reason, count in sorted(counts.items()))
        for model, counts in reasons.items()
        if counts
    ]
    if not parts:
        return None
    return Finding(f"{task}: why replicas failed", "; ".join(parts) + ".")


DEGRADATION_KEYS = ("force_mae", "energy_mae_per_atom", "wf_percent", "stable_fraction")


def ood_degradation(boards: Mapping[str, Leaderboard], specs: Mapping[str, TaskCard]) -> list[Finding]:
    """For each out-of-distribution task with an in-distribution task of the same training data in the run:
    each model's errors as a multiple of its in-distribution value, and its stability change."""
    findings = []
    for ood, spec in specs.items():
        if spec.kind == "in-distribution" or ood not in boards:
            continue
        partners = [
            name
            for name, other in specs.items()
            if other.kind == "in-distribution" and other.train == spec.train and name in boards
        ]
        if not partners:
            continue
        base = {row.model: row for row in boards[partners[0]].rows if not row.reference}
        parts = []
        for row in boards[ood].rows:
            if row.reference or row.model not in base:
                continue
            changes = []
            for key in DEGRADATION_KEYS:
                before, after = base[row.model].cells[key].value, row.cells[key].value
                if before is None or after is None:
                    continue
                column = COLUMN_BY_KEY[key]
                if key == "stable_fraction":
                    changes.append(f"stable {before:.2f} → {after:.2f}")
                elif before > 0:
                    changes.append(f"{column.header} × {after / before:.2f}")
            if changes:
                parts.append(f"{row.model}: {', '.join(changes)}")
        if parts:
            findings.append(
                Finding(
                    f"{partners[0]} → {ood}: in-distribution → out-of-distribution ({spec.kind})",
                    "; ".join(parts) + ".",
                )
            )
    return findings
