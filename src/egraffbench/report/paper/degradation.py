"""Finding 3 of the paper, "all models degrade out of distribution", checked against a run: each model's
force MAE, WF and stable fraction in and out of distribution, per out-of-distribution task."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from egraffbench.report.paper.records import (
    Estimate,
    FindingRow,
    PaperClaim,
    PaperFinding,
    Verdict,
    better_side,
    estimate,
    not_in_run,
    point_note,
    ranked_rows,
    separated,
)
from egraffbench.report.table import Leaderboard, Row
from egraffbench.store.catalog import COLUMN_BY_KEY
from egraffbench.store.schema import TaskCard

DEGRADATION_KEYS = ("force_mae", "wf_percent", "stable_fraction")


CLAIM_3 = (
    "All models degrade on out-of-distribution data (higher temperature, unseen structures, compositions)."
)
RULE_3 = (
    "Each out-of-distribution task is compared with its in-distribution task: the one with the same "
    "training data, else the one whose training data contain it. In the second case the two are different "
    "trained models and their whole test sets differ, so both are compared on the test frames both tasks "
    "test: their test errors recomputed, with their intervals, from the stored per-structure errors of "
    "those frames, and their MD scores from the replicas of those systems (each task's own MD starts and "
    "reference frames). Per model and metric (force MAE, WF, stable fraction): the ratio out/in, with the "
    "range of ratios the two 95 % intervals allow; a change is resolved when the two intervals do not "
    "overlap. The force MAE on shared test frames is the exception: both models' errors are resampled with "
    "the same blocks of those frames (and each task's seeds), so its ratio has its own 95 % interval, and "
    "it changes when that interval excludes 1. Where the shared frames span several systems, each system's "
    "force MAE on its own shared "
    "frames follows, to show where a change lies; those rows do not enter the verdict. A model degrades on "
    "a task when a metric is resolved worse out of distribution; it does not degrade when none is worse and "
    "one is resolved better. Reproduced: every model degrades on every such task. Refuted: a model does not "
    "degrade on one. Otherwise inconclusive."
)
OOD_DEGRADATION = PaperClaim("ood-degradation", 3, CLAIM_3, RULE_3)


@dataclass(frozen=True)
class SystemBoards:
    """Both tasks' models (``inside``, ``outside``) on the shared frames of one test ``system`` alone (the
    out-of-distribution task's name of it), and per model the 95 % interval of its force MAE ratio
    outside/inside with both resampled on the same frames (``paired_force_mae``)."""

    system: str
    inside: Leaderboard
    outside: Leaderboard
    paired_force_mae: Mapping[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class SharedSystems:
    """An out-of-distribution task whose in-distribution task's training data contain its own: the models of
    both (``inside``, ``outside``) on the ``frames`` test frames both tasks test, of its test ``systems``
    (test errors), and on the MD replicas of those systems (`report.shared_systems`); ``each``: the same on
    each system alone, where there are several and each is one system of both tasks; ``paired_force_mae``:
    per model, the 95 % interval of its force MAE ratio outside/inside, both resampled on the same frames."""

    inside: Leaderboard
    outside: Leaderboard
    systems: tuple[str, ...]
    frames: int
    each: tuple[SystemBoards, ...] = ()
    paired_force_mae: Mapping[str, tuple[float, float]] = field(default_factory=dict)


def in_distribution_partner(task: str, specs: Mapping[str, TaskCard], present: Iterable[str]) -> str | None:
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


def _paired_ratio(before: Estimate, after: Estimate, interval: tuple[float, float]) -> Estimate | None:
    """after/before with the paired ``interval`` of that ratio (None where before's value is not > 0)."""
    if before.value is None or after.value is None or before.value <= 0:
        return None
    return Estimate(value=after.value / before.value, low=interval[0], high=interval[1])


def _model_change(
    before: Row,
    after: Row,
    keys: Sequence[str] = DEGRADATION_KEYS,
    where: str = "",
    paired_force_mae: tuple[float, float] | None = None,
) -> tuple[list[FindingRow], str, bool]:
    """Rows of one model's metrics ``keys`` in and out of distribution (the metric's label followed by
    ``where``), whether it degrades, and whether a value without an interval was compared. With
    ``paired_force_mae`` (the interval of the force MAE ratio out/in on the same frames), the force MAE
    changes where that interval excludes 1; every other metric where the two intervals do not overlap."""
    rows, changes, points = [], [], False
    for key in keys:
        column = COLUMN_BY_KEY[key]
        inside, outside = estimate(before.cells[key], column.scale), estimate(after.cells[key], column.scale)
        if inside is None or outside is None:
            continue
        paired = (
            _paired_ratio(inside, outside, paired_force_mae)
            if key == "force_mae" and paired_force_mae is not None
            else None
        )
        if paired is not None:
            ratio = paired
            above_one = separated(paired, Estimate(value=1.0))
            worse = above_one if column.better == "lower" else -above_one
        else:
            points |= inside.compared_as_point or outside.compared_as_point
            ratio = _ratio(inside, outside)
            worse = -better_side(outside, inside, column.better)
        changes.append(worse)
        change = {1: "worse", -1: "better", 0: "not resolved"}[worse]
        unit = f" ({column.unit})" if column.unit else ""
        rows.append(
            FindingRow(
                labels=(after.model, column.header + unit + where, change), values=(inside, outside, ratio)
            )
        )
    state = "degrades" if 1 in changes else ("does not degrade" if -1 in changes else "not resolved")
    return rows, state, points


def contains_its_data(task: str, partner: str, specs: Mapping[str, TaskCard]) -> bool:
    """True when ``partner``'s training data contain ``task``'s and more (two different trained models)."""
    return set(specs[task].train) != set(specs[partner].train)


def ood_degradation(
    boards: Mapping[str, Leaderboard],
    specs: Mapping[str, TaskCard],
    shared: Mapping[str, SharedSystems] | None = None,
) -> PaperFinding:
    """Finding 3: each model's metrics in and out of distribution, per out-of-distribution task. ``shared``
    maps an out-of-distribution task whose in-distribution task contains its data to both tasks' models on
    the test frames both test; such a task without an entry, or a model of both tasks missing from it, is
    left out, and the reason says so."""
    rows, states, points, left_out = [], {}, False, []
    for task, spec in specs.items():
        if spec.kind == "in-distribution" or task not in boards:
            continue
        partner = in_distribution_partner(task, specs, boards)
        if partner is None:
            continue
        on_systems = None
        if contains_its_data(task, partner, specs):
            on_systems = (shared or {}).get(task)
            if on_systems is None:
                left_out.append(task)
                continue
            relation = (
                f"contains its data; on the same {on_systems.frames} test frames of "
                f"{len(on_systems.systems)} systems"
            )
            inside = {row.model: row for row in ranked_rows(on_systems.inside)}
            outside = ranked_rows(on_systems.outside)
            matched = set(inside) & {row.model for row in outside}
            both = {row.model for row in ranked_rows(boards[partner])} & {
                r.model for r in ranked_rows(boards[task])
            }
            left_out += [f"{model} on {task}" for model in sorted(both - matched)]
        else:
            relation = "same training data"
            inside = {row.model: row for row in ranked_rows(boards[partner])}
            outside = ranked_rows(boards[task])
        pair = (f"{task} ({spec.kind})", f"{partner} ({relation})")
        for row in outside:
            if row.model not in inside:
                continue
            paired = on_systems.paired_force_mae.get(row.model) if on_systems else None
            model_rows, state, used_points = _model_change(inside[row.model], row, paired_force_mae=paired)
            points |= used_points
            states[f"{row.model} on {task}"] = state
            model_rows += _per_system(row.model, on_systems.each if on_systems else ())
            rows += [FindingRow(labels=(*pair, *r.labels), values=r.values) for r in model_rows]
    headers = (
        ("out-of-distribution task", "in-distribution task", "model", "metric", "change"),
        ("in distribution", "out of distribution", "ratio out/in"),
    )
    if not states:
        verdict: Verdict = "inconclusive"
        reason = not_in_run("no out-of-distribution task together with its in-distribution task")
    else:
        verdict, reason = _verdict_3(states)
        reason += point_note(points)
    if left_out:
        reason += (
            f" Left out: {', '.join(left_out)}: no test frames shared with its in-distribution task could be "
            "matched (test systems read from a file, results written before the task cards named their "
            "frames, or without per-structure errors, or stored structures that are not the card's frames)."
        )
    return OOD_DEGRADATION.checked(headers, rows, verdict, reason)


def _per_system(model: str, each: Iterable[SystemBoards]) -> list[FindingRow]:
    """``model``'s force MAE in and out of distribution on each system's shared frames alone (rows that
    show where a change lies; they do not enter the verdict)."""
    rows = []
    for system in each:
        inside = {row.model: row for row in ranked_rows(system.inside)}
        outside = {row.model: row for row in ranked_rows(system.outside)}
        if model in inside and model in outside:
            rows += _model_change(
                inside[model],
                outside[model],
                ("force_mae",),
                f", {system.system} only",
                system.paired_force_mae.get(model),
            )[0]
    return rows


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
