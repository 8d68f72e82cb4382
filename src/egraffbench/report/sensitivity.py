"""Metric sensitivity of a task's model ranking, from the stored score results: for each variant
(`metrics.sensitivity_variants`), Kendall τ between the models' ranking by WF (and by JSD) on the default
grid and on the variant's, with a 95 % bootstrap interval, whether the best model stays the best, and a
verdict (docs/metrics.md, "Metric sensitivity"; the rule in docs/decisions.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from egraffbench.metrics.rank_agreement import (
    AGREEMENT_RESAMPLES,
    AGREEMENT_SEED,
    RankAgreement,
    rank_agreement,
)
from egraffbench.metrics.sensitivity_variants import VARIANTS, Variant
from egraffbench.report.collect import RunView
from egraffbench.report.findings import Finding

AGREEMENT_TAU = 0.6  # τ at or above: the rankings mostly agree (6 models: at most 3 of 15 pairs swapped)
_ROUND_OFF = 1e-9  # τ takes discrete values; scipy's may miss them by round-off
METRICS = {"wf_percent": "WF", "jsd": "JSD"}
HOLDS, DOES_NOT_HOLD, INCONCLUSIVE = "ranking holds", "ranking does not hold", "inconclusive"
RULE = (
    f"The ranking holds when, for every variant and for WF and JSD, Kendall τ and its whole 95 % interval "
    f"are ≥ {AGREEMENT_TAU} and the best model stays the best; it does not hold when, for some variant, τ "
    f"and its whole interval are below {AGREEMENT_TAU}; otherwise it is inconclusive."
)


@dataclass(frozen=True)
class VariantRanking:
    """Agreement of one variant's rankings with the default's, per metric (None: no stored values)."""

    variant: Variant
    agreements: dict[str, RankAgreement | None]  # "wf_percent", "jsd" → agreement


@dataclass(frozen=True)
class TaskSensitivity:
    """A task's ranking under every variant, with the verdict and the reason for it."""

    task: str
    models: tuple[str, ...]
    variants: tuple[VariantRanking, ...]
    verdict: str
    reason: str

    @property
    def compared(self) -> bool:
        """True when at least one variant's ranking could be compared with the default's."""
        return bool(_checks(self.variants))


def _production(scores: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [
        replica
        for score in scores
        for replica in score.get("replica_values", [])
        if replica.get("segment", "production") == "production"
    ]


def _paired(replicas: Sequence[Mapping[str, Any]], variant: str, metric: str) -> np.ndarray | None:
    """(2, n) default and variant values of the replicas that have both; None if none has."""
    pairs = [
        (replica.get(metric), ((replica.get("sensitivity") or {}).get(variant) or {}).get(metric))
        for replica in replicas
    ]
    kept = [pair for pair in pairs if None not in pair]
    return np.array(kept, dtype=float).T if kept else None


def _agreement(
    replicas: Mapping[str, Sequence[Mapping[str, Any]]], variant: str, metric: str
) -> RankAgreement | None:
    paired = {model: _paired(own, variant, metric) for model, own in replicas.items()}
    values = {model: pair for model, pair in paired.items() if pair is not None}
    return rank_agreement(values) if values else None


def _checks(variants: Sequence[VariantRanking]) -> list[tuple[str, str, RankAgreement]]:
    """(variant, metric label, agreement) of every comparison that has a τ."""
    return [
        (ranking.variant.name, METRICS[metric], agreement)
        for ranking in variants
        for metric, agreement in ranking.agreements.items()
        if agreement is not None and agreement.tau is not None
    ]


def _named(checks: Sequence[tuple[str, str, RankAgreement]]) -> str:
    """The comparisons grouped by variant, e.g. "dr_0.02 (WF, JSD), r_max_0.75 (JSD)"."""
    labels: dict[str, list[str]] = {}
    for variant, label, _ in checks:
        labels.setdefault(variant, []).append(label)
    return ", ".join(f"{variant} ({', '.join(names)})" for variant, names in labels.items())


def verdict(variants: Sequence[VariantRanking]) -> tuple[str, str]:
    """(verdict, reason): the ranking holds when, for every variant and metric, τ and its whole 95 % interval
    are at or above AGREEMENT_TAU and the best model stays the best; it does not hold when for some variant
    τ and its whole interval are below it; else inconclusive (τ or its interval across the threshold, a new
    best model, or nothing to compare)."""
    checks = _checks(variants)
    if not checks:
        return INCONCLUSIVE, "no variant values to compare (under two models, or results before score v6)"
    floor = AGREEMENT_TAU - _ROUND_OFF
    below = [check for check in checks if max(check[2].tau, check[2].high) < floor]
    if below:
        return DOES_NOT_HOLD, f"τ and its whole 95 % interval below {AGREEMENT_TAU} for {_named(below)}"
    across = [check for check in checks if min(check[2].tau, check[2].low) < floor]
    changed = [check for check in checks if not check[2].best_kept]
    if not across and not changed:
        count = len(checks)
        return (
            HOLDS,
            f"τ ≥ {AGREEMENT_TAU} over the whole 95 % interval, same best model in all {count} comparisons",
        )
    parts = [f"τ or its interval below {AGREEMENT_TAU} for {_named(across)}"] if across else []
    moves = "; ".join(f"{v} ({label}): {a.best} → {a.best_other}" for v, label, a in changed)
    parts += [f"best model changes under {moves}"] if changed else []
    return INCONCLUSIVE, "; ".join(parts)


def task_sensitivity(task: str, scores: Mapping[str, Sequence[Mapping[str, Any]]]) -> TaskSensitivity:
    """The sensitivity of ``task``'s ranking from its stored score results: model → the score stage results
    of its jobs (seeds pooled, production replicas only)."""
    replicas = {model: _production(own) for model, own in scores.items()}
    variants = tuple(
        VariantRanking(variant, {metric: _agreement(replicas, variant.name, metric) for metric in METRICS})
        for variant in VARIANTS
    )
    return TaskSensitivity(task, tuple(scores), variants, *verdict(variants))


def run_sensitivity(run: RunView) -> list[TaskSensitivity]:
    """:func:`task_sensitivity` of every task of ``run`` over its ranked models (reference potentials left
    out, as the leaderboard ranks them)."""
    results = []
    for task in run.tasks():
        scores: dict[str, list[dict[str, Any]]] = {}
        for job in run.done_jobs(task):
            if not job.is_reference and job.scores:
                scores.setdefault(job.model, []).append(job.scores)
        results.append(task_sensitivity(task, scores))
    return results


def sensitivity_finding(result: TaskSensitivity) -> Finding | None:
    """The verdict of ``result`` as a report finding; None when nothing could be compared (one model)."""
    if not result.compared:
        return None
    return Finding(f"Metric sensitivity, {result.task}", f"{result.verdict}: {result.reason}.")


OUTSIDE_MARK = "‡"
OUTSIDE_NOTE = (
    f"{OUTSIDE_MARK} τ lies outside its own interval: the models' means order two of them one way while most "
    "resamples of their replicas order them the other way, i.e. their difference is within replica noise; "
    "the rule above therefore asks both τ and its interval to clear the threshold."
)


def _outside(agreement: RankAgreement | None) -> bool:
    """τ outside its percentile interval (possible for a discrete statistic of near-tied models), beyond the
    last-bit difference between scipy's τ and the vectorised resampled τ (1e-9)."""
    if agreement is None or agreement.tau is None:
        return False
    return not agreement.low - 1e-9 <= agreement.tau <= agreement.high + 1e-9


def _cell(agreement: RankAgreement | None) -> str:
    if agreement is None or agreement.tau is None:
        return "n/a"
    mark = f" {OUTSIDE_MARK}" if _outside(agreement) else ""
    return f"{agreement.tau:.2f} [{agreement.low:.2f}, {agreement.high:.2f}]{mark}"


def _best(ranking: VariantRanking) -> str:
    found = {METRICS[m]: a for m, a in ranking.agreements.items() if a is not None and a.tau is not None}
    if not found:
        return "–"
    if all(a.best_kept for a in found.values()):
        return "yes"
    kept = {label: "yes" if a.best_kept else f"no ({a.best} → {a.best_other})" for label, a in found.items()}
    return "; ".join(f"{label}: {text}" for label, text in kept.items())


def sensitivity_markdown(results: Sequence[TaskSensitivity]) -> str:
    """A table per task: variant, τ WF [95 %], τ JSD [95 %], best model kept?; with the verdict above it."""
    lines = [
        f"Kendall τ between the models' ranking on the default grid and under each variant (docs/metrics.md, "
        f'"Metric sensitivity"); 95 % bootstrap intervals over replicas ({AGREEMENT_RESAMPLES} resamples, '
        f"seed {AGREEMENT_SEED}). **Rule.** {RULE}",
    ]
    for result in results:
        lines += [
            "",
            f"**{result.task}** ({len(result.models)} models: {', '.join(result.models) or 'none'}): "
            f"{result.verdict} — {result.reason}.",
            "",
            "| variant | τ WF [95 %] | τ JSD [95 %] | best model kept? |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r.variant.description} (`{r.variant.name}`) | {_cell(r.agreements['wf_percent'])} | "
            f"{_cell(r.agreements['jsd'])} | {_best(r)} |"
            for r in result.variants
        ]
    outside = [a for result in results for r in result.variants for a in r.agreements.values() if _outside(a)]
    lines += ["", OUTSIDE_NOTE] if outside else []
    return "\n".join(lines) + "\n"


def sensitivity_section(results: Sequence[TaskSensitivity]) -> str:
    """The markdown section "## Metric sensitivity" of the tasks where a ranking could be compared, starting
    with a blank line; "" when there is none."""
    compared = [result for result in results if result.compared]
    return f"\n## Metric sensitivity\n\n{sensitivity_markdown(compared)}" if compared else ""
