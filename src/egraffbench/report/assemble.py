"""Everything a report shows, read from a run's store and the artifacts its stages wrote (never its
trajectories, models or datasets): per task the ranked leaderboard, trivial baselines, figures with captions
and notes on what could not be drawn; across tasks the computed findings."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from egraffbench.report import captions, plots
from egraffbench.report import findings as find
from egraffbench.report.collect import RunView
from egraffbench.report.inputs import TaskInputs, read_task_inputs
from egraffbench.report.paper import SharedSystems
from egraffbench.report.parallel import call_all
from egraffbench.report.parity import parity_arrays
from egraffbench.report.sensitivity import TaskSensitivity, run_sensitivity, sensitivity_finding
from egraffbench.report.series import (
    StructureCurves,
    ViolationSeries,
    pooled_stability,
    stale_violations,
    structure_curves,
    training_logs,
    violation_series,
)
from egraffbench.report.shared_systems import shared_systems
from egraffbench.report.table import Leaderboard, build_leaderboard
from egraffbench.store.schema import JobResults, TaskCard

SEPARATE_STRUCTURE_FIGURES = 4  # a task of more test systems gets one grid of structure panels


@dataclass
class Figure:
    """A figure of the report: anchor id, title, caption (how to read it), how to draw it, whether it is
    narrow enough to sit beside the next one, and its PNG bytes once drawn (:func:`draw_figures`)."""

    anchor: str
    title: str
    caption: str
    draw: Callable[[], bytes]  # the PNG bytes
    half: bool = False
    png: bytes = b""


def draw_figures(figures: Sequence[Figure]) -> None:
    """Draw every figure (in parallel where there are spare cores) and keep its PNG bytes."""
    for figure, png in zip(figures, call_all([figure.draw for figure in figures]), strict=True):
        figure.png = png


@dataclass
class TaskReport:
    """Everything shown for one task."""

    name: str
    spec: TaskCard | None
    board: Leaderboard
    protocol: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failure_reasons: dict[str, dict[str, int]] = field(default_factory=dict)
    shared_systems: SharedSystems | None = None  # finding 3: both tasks' models on the frames both test


@dataclass
class Report:
    """A whole report: the run, its tasks, computed findings and when it was made."""

    view: RunView
    tasks: list[TaskReport]
    findings: list[find.Finding]
    generated: str
    sensitivity: list[TaskSensitivity] = field(default_factory=list)  # metric sensitivity per task


def _temperatures(results: Sequence[JobResults]) -> dict[str, float]:
    return {entry.system: entry.temperature_K for r in results if r.md for entry in r.md.replicas}


def _protocol(results: Sequence[JobResults]) -> dict[str, Any]:
    """The MD protocol of a task's jobs (the first that has one, preferring MD computed under the current key
    to MD carried over from an earlier one), replicas per system and temperatures."""
    for result in sorted(results, key=lambda r: r.md is not None and r.md.adopted_from is not None):
        if result.md is not None and result.md.protocol:
            systems: dict[str, int] = {}
            for entry in result.md.replicas:
                systems[entry.system] = systems.get(entry.system, 0) + 1
            return {**result.md.protocol, "replicas": systems, "temperatures_K": _temperatures([result])}
    return {}


def _censored(stability: Mapping[str, dict[str, Any] | None]) -> dict[str, dict[str, Any]]:
    """Per model, whether its median time to failure lies beyond the run (shown as a lower bound)."""
    return {
        model: {
            "median_time_to_failure_ps": {
                **scores["median_time_to_failure_ps"],
                "censored": scores["median_time_to_failure_censored"],
            }
        }
        for model, scores in stability.items()
        if scores is not None
    }


def _missing(results: Sequence[JobResults]) -> dict[str, str]:
    reasons = {
        "diffusivity_error": captions.DIFFUSION_UNDEFINED,
        "fidelity_time_fs": "defined only against a reference trajectory (replays), not with an oracle",
    }
    for scores in (r.scores for r in results if r.scores is not None):
        if scores.violation_reason:
            reasons["ev"] = reasons["fv"] = scores.violation_reason
        for key in ("nve_drift", "vdos_error", "adf_error"):
            if getattr(scores, f"{key}_reason"):
                reasons[key] = getattr(scores, f"{key}_reason")
        if "structure" not in scores.metric_groups:
            reasons["wf_percent"] = reasons["jsd"] = "structure metrics are not in the task's metric list"
    return reasons


def _scatter(board: Leaderboard, x_key: str, x_scale: float) -> dict[str, plots.Point]:
    points = {}
    for row in board.rows:
        x, y = row.cells[x_key], row.cells["stable_fraction"]
        if row.reference or x.value is None or y.value is None:
            continue
        x_interval = None if x.low is None else (x.low * x_scale, x.high * x_scale)
        y_interval = None if y.low is None else (y.low, y.high)
        points[row.model] = plots.Point(x.value * x_scale, y.value, x_interval, y_interval)
    return points


def structure_figures(task: str, structures: Sequence[StructureCurves], colours: dict) -> list[Figure]:
    """One figure per test system, or one grid of panels for a task of more than SEPARATE_STRUCTURE_FIGURES
    systems (LiPS20's 16 would otherwise fill the page)."""
    drawn = [curves for curves in structures if curves.models]
    if len(drawn) > SEPARATE_STRUCTURE_FIGURES:
        title, caption = captions.STRUCTURE_GRID
        what = captions.WHAT_RDF if all(c.kind == "rdf" for c in drawn) else "g(r) or h(r)"
        return [
            Figure(
                f"{task}-structure",
                title,
                caption.format(what=what, count=len(drawn)),
                partial(plots.structure_grid_figure, drawn, colours),
            )
        ]
    figures = []
    for curves in drawn:
        title, caption = captions.STRUCTURE
        what = captions.WHAT_RDF if curves.kind == "rdf" else captions.WHAT_HR
        figures.append(
            Figure(
                f"{task}-structure-{curves.system}",
                title.format(system=curves.system),
                caption.format(what=what),
                partial(plots.structure_figure, curves, colours, curves.system),
            )
        )
    return figures


def _parity_figure(task: str, inputs: TaskInputs, colours: dict) -> Figure | None:
    if not inputs.parity:
        return None
    title, caption = captions.PARITY
    seed = min(inputs.parity_seeds.values())
    frames = max(parity.frames for parity in inputs.parity.values())
    return Figure(
        f"{task}-parity",
        title,
        caption.format(seed=seed, frames=frames),
        partial(plots.parity_figure, {m: parity_arrays(p) for m, p in inputs.parity.items()}, colours),
    )


def task_report(view: RunView, task: str, colours: dict[str, str]) -> TaskReport:
    """The report of one task of the run, from its stored results and artifacts."""
    jobs = view.done_jobs(task)
    by_model = {model: view.done_jobs(task, model) for model in view.models(task)}
    references = {job.model for job in jobs if job.is_reference}
    pretrained = {job.model for job in jobs if job.is_pretrained}
    inputs = read_task_inputs(by_model, view.run.get("command") or "egraffbench run")
    results = list(inputs.results.values())
    stability = {
        model: pooled_stability([inputs.results[j.job_id] for j in members if j.job_id in inputs.results])
        for model, members in by_model.items()
    }
    board = build_leaderboard(
        task,
        view.task_rows(task),
        references,
        _censored(stability),
        inputs.baselines,
        _missing(results),
        pretrained,
    )
    report = TaskReport(task, inputs.card, board, _protocol(results), notes=inputs.notes)
    report.failure_reasons = {m: dict(s["failure_reasons"]) for m, s in stability.items() if s}
    report.figures += structure_figures(task, structure_curves(inputs.series), colours)
    violations = {model: violation_series(series) for model, series in inputs.series.items()}
    stale = sorted(model for model, series in inputs.series.items() if stale_violations(series))
    if stale:
        command = view.run.get("command") or "egraffbench run"
        report.notes.append(captions.VIOLATION_STALE.format(models=", ".join(stale), command=command))
    _add_md_figures(report, {m: v for m, v in violations.items() if v is not None}, stability, colours)
    logs = {model: training_logs(members) for model, members in by_model.items()}
    logs = {model: seeds for model, seeds in logs.items() if seeds}
    baselines = inputs.baselines
    if logs:
        scales = (
            None if baselines is None else (1000 * baselines.force_mae, 1000 * baselines.energy_mae_per_atom)
        )
        report.figures.append(
            Figure(
                f"{task}-training", *captions.TRAINING, partial(plots.training_figure, logs, colours, scales)
            )
        )
    figure = _parity_figure(task, inputs, colours)
    if figure is not None:
        report.figures.append(figure)
    return report


def _violation_segments(series: Mapping[str, ViolationSeries]) -> str:
    """What the violation figure draws, in words: the replays, the production MD against the oracle, or
    both (a task with systems of each kind)."""
    segments = {segment for values in series.values() for segment in values.segment.split(", ")}
    if segments == {"replay"}:
        return captions.VIOLATION_REPLAY
    if segments == {"production"}:
        return captions.VIOLATION_PRODUCTION
    return captions.VIOLATION_BOTH.format(
        replay=captions.VIOLATION_REPLAY, production=captions.VIOLATION_PRODUCTION
    )


def _add_md_figures(
    report: TaskReport,
    series: Mapping[str, ViolationSeries],
    stability: Mapping[str, dict[str, Any] | None],
    colours: dict[str, str],
) -> None:
    task, board = report.name, report.board
    scored = {model: scores for model, scores in stability.items() if scores}
    if scored:
        report.figures.append(
            Figure(f"{task}-survival", *captions.SURVIVAL, partial(plots.survival_figure, scored, colours))
        )
    if series:
        report.figures.append(
            Figure(
                f"{task}-violation",
                captions.VIOLATION[0],
                captions.VIOLATION[1].format(what=_violation_segments(series)),
                partial(plots.violation_figure, series, colours),
            )
        )
    speed = _scatter(board, "live_steps_per_s", 1.0)
    if speed:
        report.figures.append(
            Figure(
                f"{task}-speed-stability",
                *captions.SPEED_STABILITY,
                partial(plots.speed_stability_figure, speed, colours),
                half=True,
            )
        )
    errors = _scatter(board, "force_mae", 1000.0)
    if errors:
        baseline = None if board.baselines is None else 1000.0 * board.baselines.force_mae
        report.figures.append(
            Figure(
                f"{task}-error-stability",
                *captions.ERROR_STABILITY,
                partial(plots.error_stability_figure, errors, colours, baseline),
                half=True,
            )
        )


def assemble_report(view: RunView) -> Report:
    """The report of a run, from its store and the artifacts its stages wrote: every task, then the findings
    over all of them."""
    models = list(dict.fromkeys(job.model for job in view.jobs))
    colours = plots.model_colours(models)
    tasks = [task_report(view, task, colours) for task in view.tasks()]
    draw_figures([figure for task in tasks for figure in task.figures])
    findings: list[find.Finding] = []
    for task in tasks:
        board = task.board
        speed = _scatter(board, "live_steps_per_s", 1.0)
        for finding in (
            find.winners(board),
            find.baseline_check(board),
            find.error_vs_stability(board),
            find.pareto(board, plots.pareto_front(speed)),
            find.failure_reasons(task.name, task.failure_reasons),
        ):
            if finding is not None:
                findings.append(finding)
    specs = {task.name: task.spec for task in tasks if task.spec is not None}
    for task in tasks:
        task.shared_systems = shared_systems(view, task.name, specs)
    findings += find.ood_degradation({task.name: task.board for task in tasks}, specs)
    sensitivity = run_sensitivity(view)
    findings += [found for result in sensitivity if (found := sensitivity_finding(result))]
    return Report(view, tasks, findings, time.strftime("%Y-%m-%d %H:%M:%S"), sensitivity)
