"""For finding 3, an out-of-distribution task whose in-distribution task's training data contain its own
(lips20 → lips20-unseen-structure): both tasks' models summarised on the test frames both tasks test, from
their stored per-structure errors, and on the MD replicas of those systems
(`runner.summary.summarise_structures`). The two tasks' whole test sets differ (lips20: frames 900–999 of 16
systems; its twins: all 1000 frames of 3 of them), so their leaderboards do not compare like with like."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from egraffbench.errors import UnknownNameError
from egraffbench.report.collect import JobView, RunView
from egraffbench.report.leaderboard import leaderboard_rows
from egraffbench.report.paper.degradation import SharedSystems, contains_its_data, in_distribution_partner
from egraffbench.report.table import Leaderboard, build_leaderboard
from egraffbench.runner.summary import summarise_structures
from egraffbench.store.schema import JobResults, TaskCard, read_record
from egraffbench.tasks import load_task
from egraffbench.tasks.frames import frames_of_test_systems


@dataclass(frozen=True)
class Kept:
    """Of one task's test systems: the positions (in test-frame order) of the structures to keep, and how
    many test frames each system has."""

    positions: dict[str, list[int]]
    sizes: dict[str, int]


def common_frames(task: str, partner: str) -> tuple[Kept, Kept]:
    """The frames the shipped tasks ``task`` and ``partner`` both test, of the same data file, as each task's
    :class:`Kept` (matched pairwise: the i-th kept structure of a system is the same frame in both)."""
    ours, theirs = frames_of_test_systems(load_task(task)), frames_of_test_systems(load_task(partner))
    by_file = {path: (system, frames) for system, (path, frames) in theirs.items()}
    outside, inside = Kept({}, {}), Kept({}, {})
    for system, (path, frames) in ours.items():
        if path not in by_file:
            continue
        other, other_frames = by_file[path]
        shared = sorted(set(frames) & set(other_frames))
        if shared:
            outside.positions[system] = [frames.index(frame) for frame in shared]
            inside.positions[other] = [other_frames.index(frame) for frame in shared]
            outside.sizes[system], inside.sizes[other] = len(frames), len(other_frames)
    return outside, inside


def _results(jobs: Iterable[JobView]) -> list[JobResults]:
    return [read_record(JobResults, job.results, f"results of job {job.job_id}") for job in jobs]


def _as_evaluated(results: Sequence[JobResults], sizes: Mapping[str, int]) -> bool:
    """True when every job evaluated each system of ``sizes`` it tested on that many frames: its stored
    structures are the frames the task file names today."""
    return all(
        len(stored.atoms) == sizes[system]
        for r in results
        if r.test_errors is not None
        for system, stored in r.test_errors.structures.items()
        if system in sizes
    )


def _board(view: RunView, task: str, models: Sequence[str], kept: Kept) -> Leaderboard | None:
    """The leaderboard of ``models`` on ``task``'s ``kept`` structures and the replicas of those systems;
    None where a job's structures are not the frames the task file names, or no model has the sums."""
    metrics = []
    for model in models:
        jobs = view.done_jobs(task, model)
        results = _results(jobs)
        if not _as_evaluated(results, kept.sizes):
            return None
        found = summarise_structures(results, kept.positions) if jobs else None
        metrics += [
            {"model": model, "task": task, "seeds": len(jobs), "name": m.name}
            | {"value": m.value, "low": m.low, "high": m.high}
            for m in found or []
            if m.system == ""
        ]
    if not metrics:
        return None
    references = {job.model for job in view.done_jobs(task) if job.is_reference}
    return build_leaderboard(task, leaderboard_rows(metrics), references, {}, None)


def shared_systems(view: RunView, task: str, specs: Mapping[str, TaskCard]) -> SharedSystems | None:
    """``task``'s models and those of its in-distribution task on the test frames both test, when that
    task's training data contain ``task``'s and more; None otherwise, for a task file that is not shipped,
    where the stored structures are not the frames the task files name, or no model of both has the sums."""
    spec = specs.get(task)
    if spec is None or spec.kind == "in-distribution":
        return None
    partner = in_distribution_partner(task, specs, view.tasks())
    if partner is None or not contains_its_data(task, partner, specs):
        return None
    try:
        outside, inside = common_frames(task, partner)
    except UnknownNameError:  # not a shipped task: its test frames are not known without its file
        return None
    models = [model for model in view.models(task) if view.done_jobs(partner, model)]
    if not outside.positions or not models:
        return None
    theirs, ours = _board(view, partner, models, inside), _board(view, task, models, outside)
    if theirs is None or ours is None:
        return None
    frames = sum(len(positions) for positions in outside.positions.values())
    return SharedSystems(inside=theirs, outside=ours, systems=tuple(sorted(outside.positions)), frames=frames)
