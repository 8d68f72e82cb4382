"""Everything a report shows, computed from a run: per task the ranked leaderboard, trivial baselines,
figures with captions and notes on what could not be drawn; across tasks the computed findings."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egraffbench.errors import EgraffbenchError
from egraffbench.report import captions, plots
from egraffbench.report import findings as find
from egraffbench.report.baselines import Baselines, trivial_baselines
from egraffbench.report.collect import JobView, RunView
from egraffbench.report.diffusion import DiffusionReference, diffusion_reference, diffusivity_error
from egraffbench.report.inputs import TaskData, load_task_data, resolve_task
from egraffbench.report.intervals import median_interval, wilson_interval
from egraffbench.report.parity import MAX_PARITY_FRAMES, job_model, parity_data, parity_subset
from egraffbench.report.rollouts import model_replicas
from egraffbench.report.sensitivity import TaskSensitivity, run_sensitivity, sensitivity_finding
from egraffbench.report.series import (
    StructureCurves,
    ViolationSeries,
    pooled_stability,
    structure_curves,
    training_logs,
    violation_series,
)
from egraffbench.report.table import Leaderboard, build_leaderboard
from egraffbench.tasks import TaskSpec


@dataclass
class Figure:
    """A figure of the report: anchor id, title, caption (how to read it), PNG bytes, and whether it is
    narrow enough to sit beside the next one."""

    anchor: str
    title: str
    caption: str
    png: bytes
    half: bool = False


@dataclass
class TaskReport:
    """Everything shown for one task."""

    name: str
    spec: TaskSpec | None
    board: Leaderboard
    protocol: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failure_reasons: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class Report:
    """A whole report: the run, its tasks, computed findings and when it was made."""

    view: RunView
    tasks: list[TaskReport]
    findings: list[find.Finding]
    generated: str
    sensitivity: list[TaskSensitivity] = field(default_factory=list)  # metric sensitivity per task


def _temperatures(jobs: Sequence[JobView]) -> dict[str, float]:
    return {
        entry["system"]: float(entry["temperature_K"])
        for job in jobs
        for entry in (job.results.get("md") or {}).get("replicas", [])
    }


def _protocol(jobs: Sequence[JobView]) -> dict[str, Any]:
    """The MD protocol of a task's jobs (the first that has one), replicas per system and temperatures."""
    for job in jobs:
        md = job.results.get("md") or {}
        if md.get("protocol"):
            systems: dict[str, int] = {}
            for entry in md["replicas"]:
                systems[entry["system"]] = systems.get(entry["system"], 0) + 1
            return {**md["protocol"], "replicas": systems, "temperatures_K": _temperatures([job])}
    return {}


def _extras(
    stability: Mapping[str, dict[str, Any] | None], diffusion: Mapping[str, dict[str, float] | None]
) -> dict[str, dict[str, Any]]:
    """Per model, what the store lacks: intervals of the stability scores, and the diffusivity error."""
    extras: dict[str, dict[str, Any]] = {}
    for model, scores in stability.items():
        entry = extras.setdefault(model, {})
        if scores is not None:
            low, high = wilson_interval(scores["stable"], scores["replicas"])
            entry["stable_fraction"] = {"value": scores["stable_fraction"], "low": low, "high": high}
            low, high = median_interval(scores["survival"], scores["run_length_ps"])
            entry["median_time_to_failure_ps"] = {
                "value": scores["median_time_to_failure_ps"],
                "low": low,
                "high": high,
                "censored": scores["median_time_to_failure_censored"],
            }
        if diffusion.get(model) is not None:
            entry["diffusivity_error"] = diffusion[model]
    return extras


def _missing(jobs: Sequence[JobView]) -> dict[str, str]:
    reasons = {
        "diffusivity_error": captions.DIFFUSION_UNDEFINED,
        "fidelity_time_fs": "defined only against a reference trajectory (replays), not with an oracle",
    }
    for job in jobs:
        if job.scores.get("violation_reason"):
            reasons["ev"] = reasons["fv"] = job.scores["violation_reason"]
        for key in ("nve_drift", "vdos_error", "adf_error"):
            if job.scores.get(f"{key}_reason"):
                reasons[key] = job.scores[f"{key}_reason"]
        groups = job.scores.get("metric_groups")
        if groups is not None and "structure" not in groups:
            reasons["wf_percent"] = reasons["jsd"] = "structure metrics are not in the task's metric list"
    return reasons


def _diffusion_references(data: TaskData, run_length_fs: float | None) -> list[DiffusionReference]:
    if data.problem is not None or run_length_fs is None:
        return []
    references = [diffusion_reference(system, run_length_fs) for system in data.systems.values()]
    return [reference for reference in references if reference is not None]


@dataclass
class _Trajectories:
    """What the report takes from the MD trajectories of a task: structure curves per test system, EV/FV
    along the rollout and diffusivity error per model."""

    structures: list[StructureCurves]
    violations: dict[str, ViolationSeries]
    diffusion: dict[str, dict[str, float] | None]


def _read_trajectories(
    data: TaskData, by_model: Mapping[str, list[JobView]], run_length_fs: float | None
) -> _Trajectories:
    """One model at a time, so that only one model's trajectories are held in memory."""
    structures = [structure_curves(system) for system in data.systems.values()]
    references = _diffusion_references(data, run_length_fs)
    found = _Trajectories(structures, {}, {})
    for model, jobs in by_model.items():
        replicas = model_replicas(jobs)
        for curves in structures:
            curves.add_model(model, replicas)
        series = violation_series(replicas, data.systems)
        if series is not None:
            found.violations[model] = series
        if references:
            found.diffusion[model] = diffusivity_error(references, replicas)
    return found


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


def _structure_figures(task: str, structures: Sequence[StructureCurves], colours: dict) -> list[Figure]:
    figures = []
    for curves in structures:
        if not curves.models:
            continue
        title, caption = captions.STRUCTURE
        what = captions.WHAT_RDF if curves.kind == "rdf" else captions.WHAT_HR
        figures.append(
            Figure(
                f"{task}-structure-{curves.system}",
                title.format(system=curves.system),
                caption.format(what=what),
                plots.structure_figure(curves, colours, curves.system),
            )
        )
    return figures


def _parity_figure(
    data: TaskData, baselines: Baselines, jobs: Mapping[str, list[JobView]], colours: dict, notes: list[str]
) -> Figure | None:
    frames = parity_subset(data.test_frames, MAX_PARITY_FRAMES)
    results = {}
    for model, members in jobs.items():
        try:
            loaded = job_model(members[0])
        except EgraffbenchError as error:
            notes.append(f"parity: model {model} could not be loaded ({' '.join(str(error).split())})")
            continue
        if loaded is None:
            notes.append(f"parity: {model} kept no model checkpoint")
            continue
        results[model] = parity_data(loaded, frames, baselines.element_energies)
    if not results:
        return None
    title, caption = captions.PARITY
    seed = min(jobs[model][0].seed for model in results)
    return Figure(
        f"{data.name}-parity",
        title,
        caption.format(seed=seed, frames=len(frames)),
        plots.parity_figure(results, colours),
    )


def task_report(
    view: RunView, task: str, given: Mapping[str, TaskSpec], data_root: Path, colours: dict[str, str]
) -> TaskReport:
    """The report of one task of the run."""
    jobs = view.done_jobs(task)
    models = view.models(task)
    by_model = {model: view.done_jobs(task, model) for model in models}
    references = {job.model for job in jobs if job.is_reference}
    pretrained = {job.model for job in jobs if job.is_pretrained}
    data = load_task_data(task, resolve_task(task, given), data_root, _temperatures(jobs))
    notes = [data.problem] if data.problem else []
    baselines = None
    if data.problem is None:
        baselines = trivial_baselines(data.train, data.test_frames)
    stability = {model: pooled_stability(members) for model, members in by_model.items()}
    run_length = next((s["recorded_ps"] * 1000.0 for s in stability.values() if s), None)
    trajectories = _read_trajectories(data, by_model, run_length)
    extras = _extras(stability, trajectories.diffusion)
    board = build_leaderboard(
        task, view.task_rows(task), references, extras, baselines, _missing(jobs), pretrained
    )
    report = TaskReport(task, data.spec, board, _protocol(jobs), notes=notes)
    report.failure_reasons = {m: dict(s["failure_reasons"]) for m, s in stability.items() if s}
    report.figures += _structure_figures(task, trajectories.structures, colours)
    _add_md_figures(report, trajectories.violations, stability, colours)
    logs = {model: training_logs(members) for model, members in by_model.items()}
    logs = {model: seeds for model, seeds in logs.items() if seeds}
    if logs:
        scales = (
            None if baselines is None else (1000 * baselines.force_mae, 1000 * baselines.energy_mae_per_atom)
        )
        report.figures.append(
            Figure(f"{task}-training", *captions.TRAINING, plots.training_figure(logs, colours, scales))
        )
    if baselines is not None:
        figure = _parity_figure(data, baselines, by_model, colours, report.notes)
        if figure is not None:
            report.figures.append(figure)
    return report


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
            Figure(f"{task}-survival", *captions.SURVIVAL, plots.survival_figure(scored, colours))
        )
    if series:
        source = ", ".join(sorted({values.reference for values in series.values()}))
        report.figures.append(
            Figure(
                f"{task}-violation",
                captions.VIOLATION[0],
                captions.VIOLATION[1].format(source=source),
                plots.violation_figure(series, colours),
            )
        )
    speed = _scatter(board, "steps_per_s", 1.0)
    if speed:
        report.figures.append(
            Figure(
                f"{task}-speed-stability",
                *captions.SPEED_STABILITY,
                plots.speed_stability_figure(speed, colours),
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
                plots.error_stability_figure(errors, colours, baseline),
                half=True,
            )
        )


def assemble_report(view: RunView, given: Mapping[str, TaskSpec], data_root: Path) -> Report:
    """The report of a run: every task, then the findings over all of them."""
    models = list(dict.fromkeys(job.model for job in view.jobs))
    colours = plots.model_colours(models)
    tasks = [task_report(view, task, given, data_root, colours) for task in view.tasks()]
    findings: list[find.Finding] = []
    for task in tasks:
        board = task.board
        speed = _scatter(board, "steps_per_s", 1.0)
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
    findings += find.ood_degradation({task.name: task.board for task in tasks}, specs)
    sensitivity = run_sensitivity(view)
    findings += [found for result in sensitivity if (found := sensitivity_finding(result))]
    return Report(view, tasks, findings, time.strftime("%Y-%m-%d %H:%M:%S"), sensitivity)
