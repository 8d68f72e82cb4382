"""The five findings of the EGraFFBench paper (arXiv 2310.02428) checked against a run's leaderboards, each
with our numbers and 95 % intervals and a verdict — reproduced, refuted or inconclusive — decided by the
rules written in each finding's `RULE_*` text (and in docs/decisions.md). A finding the run lacks the data
for is inconclusive, "not in this run"."""

from __future__ import annotations

import statistics
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import numpy as np
from scipy.stats import ConstantInputWarning, DegenerateDataWarning, bootstrap, pearsonr, rankdata

from egraffbench.report.finding_records import (
    NOT_IN_RUN,
    Estimate,
    FindingRow,
    PaperClaim,
    PaperFinding,
    Verdict,
    estimate,
    rank_or_last,
    ranked_rows,
    separated,
)
from egraffbench.report.table import Leaderboard, Row
from egraffbench.store.catalog import COLUMN_BY_KEY
from egraffbench.tasks import TaskSpec

NEQUIP, TORCHMDNET, EQUIFORMER = "nequip", "torchmdnet", "equiformer"
GETE_TASKS = ("gete", "gete-offline")  # the first one in the run is used
STRONG = 0.5  # |Spearman ρ| from which low error is a strong predictor of good MD (Cohen's "large")
MIN_PAIRS = 6
MIN_MODELS = 3
BOOTSTRAP_SEED = 2310_02428  # the paper's arXiv number
BOOTSTRAP_RESAMPLES = 9999
DEGRADATION_KEYS = ("force_mae", "wf_percent", "stable_fraction")
MD_MEASURES = ("median_time_to_failure_ps", "stable_fraction", "wf_percent")


class TaskLike(Protocol):
    """A task of a report: its name, leaderboard and spec (None for a task without one)."""

    name: str
    board: Leaderboard
    spec: TaskSpec | None


def _not_in_run(what: str) -> str:
    return f"{NOT_IN_RUN}: {what}."


def _join(verdicts: Sequence[Verdict]) -> Verdict:
    """A conjunction of sub-claims: refuted if one is, reproduced if all are, else inconclusive."""
    if "refuted" in verdicts:
        return "refuted"
    return "reproduced" if verdicts and all(v == "reproduced" for v in verdicts) else "inconclusive"


def _point_note(used_points: bool) -> str:
    return " Some values have no interval (one seed) and were compared as points." if used_points else ""


# 1 ─ no single model is best across tasks ───────────────────────────────────────────────────────────────

CLAIM_1 = "No single model consistently outperforms the others across all tasks and datasets."
RULE_1 = (
    "Per task, the leader is the model with the best mean rank (place 1 alone; a shared place 1 is a tie). "
    "Its lead over the model(s) in second place is resolved when, over the quality columns, it is better "
    "with non-overlapping 95 % intervals in more columns than it is worse (a missing value counts as worse). "
    "Reproduced: at least two different models lead a task by a resolved margin. Refuted: one model leads "
    "every task, each by a resolved margin. Otherwise inconclusive. Needs two tasks with two ranked models."
)
NO_SINGLE_BEST = PaperClaim("no-single-best", 1, CLAIM_1, RULE_1)


def _column_duel(board: Leaderboard, leader: Row, other: Row) -> tuple[int, int, bool]:
    """Quality columns where ``leader`` is better / worse than ``other`` with separated intervals, and
    whether a value without an interval was compared."""
    wins = losses = 0
    points = False
    for column in board.columns:
        if not column.in_mean_rank:
            continue
        mine, theirs = estimate(leader.cells[column.key]), estimate(other.cells[column.key])
        if mine is None or theirs is None:
            wins += mine is not None
            losses += theirs is not None
            continue
        points |= not (mine.has_interval and theirs.has_interval)
        side = separated(mine, theirs) * (1 if column.better == "higher" else -1)
        wins += side > 0
        losses += side < 0
    return wins, losses, points


def no_single_best(boards: Mapping[str, Leaderboard], specs: Mapping[str, TaskSpec]) -> PaperFinding:
    """Finding 1: per task the leader, its runner-up and whether the lead is resolved."""
    rows, resolved_by, leaders, points = [], {}, {}, False
    for task, board in boards.items():
        ranked = [row for row in ranked_rows(board) if row.place is not None]
        if len(ranked) < 2:
            continue
        first = [row for row in ranked if row.place == 1]
        leaders[task] = first[0].model if len(first) == 1 else None
        runners, duels = [], []
        if len(first) == 1:
            second_place = min(row.place for row in ranked if row.place != 1)
            runners = [row for row in ranked if row.place == second_place]
            duels = [_column_duel(board, first[0], runner) for runner in runners]
        points |= any(duel[2] for duel in duels)
        resolved = bool(duels) and all(wins > losses for wins, losses, _ in duels)
        if resolved:
            resolved_by[task] = first[0].model
        lead = "resolved" if resolved else ("tied" if len(first) > 1 else "not resolved")
        counts = (Estimate(value=duels[0][0]), Estimate(value=duels[0][1])) if duels else (None, None)
        second = Estimate(value=runners[0].mean_rank) if runners else None
        labels = (task, specs[task].kind if task in specs else "", " = ".join(r.model for r in first))
        rows.append(
            FindingRow(
                labels=(*labels, ", ".join(r.model for r in runners), lead),
                values=(Estimate(value=first[0].mean_rank), second, *counts),
            )
        )
    headers = (
        ("task", "kind", "leader", "second", "lead"),
        (
            "leader's mean rank",
            "second's mean rank",
            "columns better (resolved)",
            "columns worse (resolved)",
        ),
    )
    verdict, reason = _verdict_1(leaders, resolved_by)
    return NO_SINGLE_BEST.checked(
        headers, rows, verdict, reason + (_point_note(points) if len(leaders) >= 2 else "")
    )


def _verdict_1(leaders: Mapping[str, str | None], resolved_by: Mapping[str, str]) -> tuple[Verdict, str]:
    if len(leaders) < 2:
        return "inconclusive", _not_in_run("fewer than two tasks with at least two ranked models")
    winners: dict[str, list[str]] = {}
    for task, model in resolved_by.items():
        winners.setdefault(model, []).append(task)
    listed = "; ".join(f"{model} ({', '.join(tasks)})" for model, tasks in winners.items())
    if len(winners) >= 2:
        return "reproduced", f"{len(winners)} different models lead a task by a resolved margin: {listed}."
    if len(winners) == 1 and len(resolved_by) == len(leaders):
        return "refuted", f"One model leads all {len(leaders)} tasks, each by a resolved margin: {listed}."
    found = f"only {listed} leads by a resolved margin" if winners else "no task has a resolved lead"
    return "inconclusive", f"Of {len(leaders)} tasks, {found}; the other leads are ties or not resolved."


# 2 ─ low error does not guarantee stable or faithful MD ─────────────────────────────────────────────────

CLAIM_2 = "A low energy or force error on the test set does not guarantee a stable or faithful simulation."
RULE_2 = (
    "Spearman ρ between test force MAE and each MD measure (median time to failure, fraction of stable "
    "replicas, WF) across (model, task) pairs, with a percentile bootstrap 95 % interval (pairs "
    f"resampled, {BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}). Twice: on the values pooled over "
    "tasks, and on ranks within each task (each task's models ranked, ranks scaled to 0 … 1), which "
    "removes the differences between tasks; the verdict uses the within-task ranks. The agreement a is ρ "
    "oriented so that +1 means 'lower error, better MD'. Per measure: reproduced when the interval of a "
    f"lies below {STRONG} (low error is not a strong predictor), refuted when it lies at or above "
    f"{STRONG}, else inconclusive. Finding: reproduced when one measure is, refuted when all are, else "
    f"inconclusive. Needs {MIN_MODELS} models and {MIN_PAIRS} pairs; a censored time to failure counts as "
    "the run length."
)
ERROR_VS_MD = PaperClaim("error-vs-md", 2, CLAIM_2, RULE_2)


def spearman_interval(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Spearman ρ of paired samples and its percentile bootstrap 95 % interval (pairs resampled,
    :data:`BOOTSTRAP_RESAMPLES` resamples, seed :data:`BOOTSTRAP_SEED`); NaN where undefined (constant
    samples or resamples)."""

    def rho(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return pearsonr(rankdata(a, axis=axis), rankdata(b, axis=axis), axis=axis).statistic

    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", ConstantInputWarning)
        warnings.simplefilter("ignore", DegenerateDataWarning)
        value = float(rho(x, y))
        result = bootstrap(
            (x, y),
            rho,
            paired=True,
            vectorized=True,
            n_resamples=BOOTSTRAP_RESAMPLES,
            method="percentile",
            rng=np.random.default_rng(BOOTSTRAP_SEED),
        )
    interval = result.confidence_interval
    return value, float(interval.low), float(interval.high)


def _within_task(values: Sequence[float]) -> list[float]:
    """Ranks of a task's values scaled to 0 … 1 (ties share the average)."""
    ranks = rankdata(values)
    return list((ranks - 1) / (len(values) - 1))


def _md_pairs(boards: Mapping[str, Leaderboard], key: str) -> tuple[list[tuple[float, float]], ...]:
    """(force MAE, measure) of every ranked model of every task: the values, and within-task ranks."""
    pooled, within = [], []
    for board in boards.values():
        pairs = [
            (row.cells["force_mae"].value, row.cells[key].value)
            for row in ranked_rows(board)
            if row.cells["force_mae"].value is not None and row.cells[key].value is not None
        ]
        pooled += pairs
        if len(pairs) >= 2:
            errors, measures = zip(*pairs, strict=True)
            within += list(zip(_within_task(errors), _within_task(measures), strict=True))
    return pooled, within


def _measure_verdict(rho: float, low: float, high: float, sign: int) -> tuple[Verdict, str]:
    if np.isnan(rho) or np.isnan(low) or np.isnan(high):
        return "inconclusive", "ρ or its interval undefined (constant values in the sample or its resamples)"
    agreement = sorted((sign * low, sign * high))
    if agreement[1] < STRONG:
        return "reproduced", f"agreement below {STRONG}: low error is not a strong predictor"
    if agreement[0] >= STRONG:
        return "refuted", f"agreement at least {STRONG}: low error predicts good MD"
    return "inconclusive", f"interval of the agreement contains {STRONG}"


def _correlation(pairs: Sequence[tuple[float, float]], sign: int) -> tuple[Estimate, Verdict, str]:
    """Spearman ρ of (force MAE, measure) pairs with its interval, the verdict of the measure and why."""
    x, y = (np.array(v, dtype=float) for v in zip(*pairs, strict=True))
    rho, low, high = spearman_interval(x, y)
    return Estimate(value=rho, low=low, high=high), *_measure_verdict(rho, low, high, sign)


def error_vs_md(boards: Mapping[str, Leaderboard]) -> PaperFinding:
    """Finding 2: rank correlation of test force MAE with stability and structure fidelity."""
    models = {row.model for board in boards.values() for row in ranked_rows(board)}
    rows, verdicts, reasons, counts = [], [], [], []
    for key in MD_MEASURES:
        column = COLUMN_BY_KEY[key]
        sign = -1 if column.better == "higher" else 1  # +1 agreement: lower error, better MD
        pooled, within = _md_pairs(boards, key)
        counts.append(len(within))
        for basis, pairs in (("values pooled over tasks", pooled), ("ranks within each task", within)):
            value, reading, why = None, "inconclusive", NOT_IN_RUN
            if len(models) >= MIN_MODELS and len(pairs) >= MIN_PAIRS:
                value, reading, why = _correlation(pairs, sign)
            rows.append(FindingRow(labels=(column.header, basis, str(len(pairs)), reading), values=(value,)))
        verdicts.append(reading)  # the within-task ranks decide
        reasons.append(f"{column.header}: {why}")
    headers = (("MD measure", "basis", "pairs", "reading"), ("Spearman ρ with force MAE",))
    if "reproduced" in verdicts:
        verdict: Verdict = "reproduced"
    else:
        verdict = "refuted" if all(v == "refuted" for v in verdicts) else "inconclusive"
    reason = "Within-task ranks — " + "; ".join(reasons) + "."
    if all(why.endswith(NOT_IN_RUN) for why in reasons):
        found = f"at most {max(counts)} (model, task) pairs, {len(models)} ranked model(s)"
        reason = _not_in_run(f"{found}; needs {MIN_PAIRS} pairs of {MIN_MODELS} models")
    return ERROR_VS_MD.checked(headers, rows, verdict, reason)


# 3 ─ all models degrade out of distribution ─────────────────────────────────────────────────────────────

CLAIM_3 = (
    "All models degrade on out-of-distribution data (higher temperature, unseen structures, compositions)."
)
RULE_3 = (
    "Each out-of-distribution task is compared with its in-distribution task: the one with the same "
    "training data, else the one whose training data contain it (then the two are different trained "
    "models). Per model and metric (force MAE, WF, stable fraction): the ratio out/in, with the range of "
    "ratios the two 95 % intervals allow; a change is resolved when the two intervals do not overlap. A "
    "model degrades on a task when a metric is resolved worse out of distribution; it does not degrade "
    "when none is worse and one is resolved better. Reproduced: every model degrades on every such task. "
    "Refuted: a model does not degrade on one. Otherwise inconclusive."
)
OOD_DEGRADATION = PaperClaim("ood-degradation", 3, CLAIM_3, RULE_3)


def in_distribution_partner(task: str, specs: Mapping[str, TaskSpec], present: Iterable[str]) -> str | None:
    """The in-distribution task (among ``present``) an out-of-distribution ``task`` comes from: the same
    training sources, else the smallest set of training sources that contains the task's."""
    spec, present = specs[task], set(present)
    training = set(spec.train)
    candidates = [
        name
        for name, other in specs.items()
        if other.kind == "in-distribution" and name in present and training <= set(other.train)
    ]
    return min(candidates, key=lambda name: (len(specs[name].train), name), default=None)


def _ratio(before: Estimate, after: Estimate) -> Estimate | None:
    """after/before, with the range of ratios the two intervals allow (None where a value is not > 0)."""
    (before_low, before_high), (after_low, after_high) = before.bounds, after.bounds
    if before.value is None or after.value is None or before_low <= 0 or after_low < 0:
        return None
    return Estimate(
        value=after.value / before.value, low=after_low / before_high, high=after_high / before_low
    )


def _model_change(before: Row, after: Row) -> tuple[list[FindingRow], str, bool]:
    """Rows of one model's metrics in and out of distribution, whether it degrades, and whether a value
    without an interval was compared."""
    rows, changes, points = [], [], False
    for key in DEGRADATION_KEYS:
        column = COLUMN_BY_KEY[key]
        inside, outside = estimate(before.cells[key], column.scale), estimate(after.cells[key], column.scale)
        if inside is None or outside is None:
            continue
        points |= not (inside.has_interval and outside.has_interval)
        worse = separated(outside, inside) * (1 if column.better == "lower" else -1)
        changes.append(worse)
        change = {1: "worse", -1: "better", 0: "not resolved"}[worse]
        unit = f" ({column.unit})" if column.unit else ""
        rows.append(
            FindingRow(
                labels=(after.model, column.header + unit, change),
                values=(inside, outside, _ratio(inside, outside)),
            )
        )
    state = "degrades" if 1 in changes else ("does not degrade" if -1 in changes else "not resolved")
    return rows, state, points


def ood_degradation(boards: Mapping[str, Leaderboard], specs: Mapping[str, TaskSpec]) -> PaperFinding:
    """Finding 3: each model's metrics in and out of distribution, per out-of-distribution task."""
    rows, states, points = [], {}, False
    for task, spec in specs.items():
        if spec.kind == "in-distribution" or task not in boards:
            continue
        partner = in_distribution_partner(task, specs, boards)
        if partner is None:
            continue
        relation = (
            "same training data" if set(spec.train) == set(specs[partner].train) else "contains its data"
        )
        inside = {row.model: row for row in ranked_rows(boards[partner])}
        for row in ranked_rows(boards[task]):
            if row.model not in inside:
                continue
            model_rows, state, used_points = _model_change(inside[row.model], row)
            points |= used_points
            states[f"{row.model} on {task}"] = state
            pair = (f"{task} ({spec.kind})", f"{partner} ({relation})")
            rows += [FindingRow(labels=(*pair, *r.labels), values=r.values) for r in model_rows]
    headers = (
        ("out-of-distribution task", "in-distribution task", "model", "metric", "change"),
        ("in distribution", "out of distribution", "ratio out/in"),
    )
    if not states:
        verdict: Verdict = "inconclusive"
        reason = _not_in_run("no out-of-distribution task together with its in-distribution task")
    else:
        verdict, reason = _verdict_3(states)
        reason += _point_note(points)
    return OOD_DEGRADATION.checked(headers, rows, verdict, reason)


def _verdict_3(states: Mapping[str, str]) -> tuple[Verdict, str]:
    by_state: dict[str, list[str]] = {}
    for pair, state in states.items():
        by_state.setdefault(state, []).append(pair)
    if "does not degrade" in by_state:
        return "refuted", f"Resolved better, and worse on nothing: {', '.join(by_state['does not degrade'])}."
    if set(by_state) == {"degrades"}:
        return "reproduced", f"All {len(states)} model–task pairs are resolved worse on at least one metric."
    unresolved = ", ".join(by_state["not resolved"])
    return "inconclusive", f"No resolved change: {unresolved}; the other pairs degrade."


# 4 ─ NequIP preserves structure best; TorchMD-Net is fastest but less stable ─────────────────────────────

CLAIM_4 = "NequIP preserves the structure best; TorchMD-Net is the fastest in inference but less stable."
RULE_4 = (
    "Per task, each ranked model's structure rank (mean of its WF and JSD ranks), speed rank (MD steps/s) "
    "and stability rank (mean of its stable-fraction and median-time-to-failure ranks); a model without a "
    "value where another has one counts as last. Each is averaged over the tasks that have it. NequIP "
    "best on structure, TorchMD-Net fastest: reproduced when its average is the lowest alone, refuted "
    "when another model's is lower, inconclusive on a tie. TorchMD-Net less stable: reproduced when its "
    "average stability rank is above the median of the models' averages, refuted when below, inconclusive "
    "when equal. Ranks carry no interval. Finding: reproduced when all three parts are, refuted when one "
    f"is, else inconclusive. Needs {MIN_MODELS} ranked models and the named model."
)
STRUCTURE_SPEED_STABILITY = PaperClaim("structure-speed-stability", 4, CLAIM_4, RULE_4)
_PARTS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("structure (WF, JSD rank)", NEQUIP, ("wf_percent", "jsd"), "best"),
    ("speed (MD steps/s rank)", TORCHMDNET, ("steps_per_s",), "best"),
    (
        "stability (stable, median TTF rank)",
        TORCHMDNET,
        ("stable_fraction", "median_time_to_failure_ps"),
        "worse",
    ),
)


def _average_ranks(boards: Mapping[str, Leaderboard], keys: Sequence[str]) -> dict[str, dict[str, float]]:
    """Model → task → mean of its ranks in ``keys`` (missing values counted last)."""
    found: dict[str, dict[str, float]] = {}
    for task, board in boards.items():
        for row in ranked_rows(board):
            ranks = [rank_or_last(board, row, key) for key in keys]
            present = [rank for rank in ranks if rank is not None]
            if present:
                found.setdefault(row.model, {})[task] = float(np.mean(present))
    return found


def _part_verdict(model: str, means: Mapping[str, float], want: str) -> tuple[Verdict, str]:
    mine = means[model]
    if want == "best":
        best = min(means.values())
        if mine > best:
            leaders = ", ".join(m for m, v in means.items() if v == best)
            return "refuted", f"{leaders} has a better average rank ({best:.2f} vs {mine:.2f})"
        tied = [m for m, v in means.items() if v == best and m != model]
        if tied:
            return "inconclusive", f"tied with {', '.join(tied)} at {best:.2f}"
        return "reproduced", f"best average rank ({mine:.2f})"
    middle = statistics.median(means.values())
    if mine > middle:
        return "reproduced", f"average rank {mine:.2f}, worse than the median {middle:.2f}"
    if mine < middle:
        return "refuted", f"average rank {mine:.2f}, better than the median {middle:.2f}"
    return "inconclusive", f"average rank {mine:.2f} equals the median"


def structure_speed_stability(boards: Mapping[str, Leaderboard]) -> PaperFinding:
    """Finding 4: NequIP's structure ranks, TorchMD-Net's speed and stability ranks, against every model's."""
    counted = {t: b for t, b in boards.items() if len(ranked_rows(b)) >= MIN_MODELS}
    rows, verdicts, reasons = [], [], []
    for part, model, keys, want in _PARTS:
        ranks = _average_ranks(counted, keys)
        means = {m: float(np.mean(list(per_task.values()))) for m, per_task in ranks.items()}
        for name, per_task in sorted(ranks.items(), key=lambda item: (means[item[0]], item[0])):
            detail = " · ".join(f"{task} {rank:g}" for task, rank in per_task.items())
            rows.append(FindingRow(labels=(part, name, detail), values=(Estimate(value=means[name]),)))
        if model not in means:
            verdict: Verdict = "inconclusive"
            why = f"{NOT_IN_RUN}: no {model} in a task with {MIN_MODELS} ranked models and these metrics"
        else:
            verdict, why = _part_verdict(model, means, want)
        verdicts.append(verdict)
        reasons.append(f"{model} {part}: {verdict} — {why}")
    headers = (("part", "model", "rank per task"), ("average rank over tasks",))
    return STRUCTURE_SPEED_STABILITY.checked(headers, rows, _join(verdicts), "; ".join(reasons) + ".")


# 5 ─ GeTe: Equiformer and TorchMD-Net never beat the zero-force baseline ─────────────────────────────────

CLAIM_5 = (
    "On GeTe, Equiformer and TorchMD-Net never beat the zero-force baseline: their force MAE is at least the "
    "mean |F| of the test set."
)
RULE_5 = (
    "Every model's test force MAE divided by the zero-force baseline (the mean |F| per Cartesian component "
    "of the test split), with its 95 % interval divided by the same baseline, on the task gete (the paper's "
    "split), else gete-offline. Equiformer and TorchMD-Net each: agrees when the interval of the ratio lies "
    "at or above 1, disagrees when it lies below 1, else not resolved (a value without an interval is "
    "compared as a point). Reproduced when both agree, refuted when one disagrees, else inconclusive."
)
GETE_ZERO_FORCE = PaperClaim("gete-zero-force", 5, CLAIM_5, RULE_5)


def _zero_force(board: Leaderboard) -> float | None:
    """The force MAE of zero forces (mean |F| per component of the test split, eV/Å), if the board has it."""
    return board.baselines.of("force_mae") if board.baselines is not None else None


def _gete_rows(task: str, board: Leaderboard, baseline: float) -> list[FindingRow]:
    rows = []
    for row in ranked_rows(board):
        found = estimate(row.cells["force_mae"], 1.0 / baseline)
        if found is not None:
            rows.append(FindingRow(labels=(task, row.model), values=(found, Estimate(value=1000 * baseline))))
    return rows


def gete_baseline(boards: Mapping[str, Leaderboard]) -> PaperFinding:
    """Finding 5: each model's GeTe force MAE as a multiple of the zero-force baseline."""
    present = [task for task in GETE_TASKS if task in boards]
    baselines = {task: _zero_force(boards[task]) for task in present}
    baselines = {task: value for task, value in baselines.items() if value}
    rows = [row for task, value in baselines.items() for row in _gete_rows(task, boards[task], value)]
    headers = (("task", "model"), ("force MAE / zero-force baseline", "zero-force baseline mean |F| (meV/Å)"))
    if not present:
        verdict: Verdict = "inconclusive"
        reason = _not_in_run("neither gete nor gete-offline")
    elif not baselines:
        verdict, reason = "inconclusive", "No zero-force baseline: the task's test data were not available."
    else:
        verdict, reason = _verdict_5(next(iter(baselines)), rows)
    return GETE_ZERO_FORCE.checked(headers, rows, verdict, reason)


def _verdict_5(task: str, rows: Sequence[FindingRow]) -> tuple[Verdict, str]:
    ratios = {row.labels[1]: row.values[0] for row in rows if row.labels[0] == task}
    verdicts, parts = [], []
    for model in (EQUIFORMER, TORCHMDNET):
        ratio = ratios.get(model)
        if ratio is None:
            verdicts.append("inconclusive")
            parts.append(f"{model}: {NOT_IN_RUN} (no force MAE)")
            continue
        low, high = ratio.bounds
        kind = "" if ratio.has_interval else ", one seed: no interval"
        if low >= 1:
            verdicts.append("reproduced")
            parts.append(f"{model} does not beat it (ratio {ratio.value:.2f}{kind})")
        elif high < 1:
            verdicts.append("refuted")
            parts.append(f"{model} beats it (ratio {ratio.value:.2f}{kind})")
        else:
            verdicts.append("inconclusive")
            parts.append(f"{model}: the interval of its ratio contains 1 ({low:.2f} … {high:.2f})")
    return _join(verdicts), f"On {task}: " + "; ".join(parts) + "."


# all five ───────────────────────────────────────────────────────────────────────────────────────────────


def paper_findings(boards: Mapping[str, Leaderboard], specs: Mapping[str, TaskSpec]) -> list[PaperFinding]:
    """The paper's five findings checked against the leaderboards of a run's tasks (name → leaderboard) and
    their specs (name → spec; a task without one counts as in-distribution)."""
    return [
        no_single_best(boards, specs),
        error_vs_md(boards),
        ood_degradation(boards, specs),
        structure_speed_stability(boards),
        gete_baseline(boards),
    ]


def findings_of(tasks: Iterable[TaskLike]) -> list[PaperFinding]:
    """:func:`paper_findings` of a report's tasks."""
    tasks = list(tasks)
    boards = {task.name: task.board for task in tasks}
    return paper_findings(boards, {task.name: task.spec for task in tasks if task.spec is not None})
