"""For finding 3, an out-of-distribution task whose in-distribution task's training data contain its own
(lips20 → lips20-unseen-structure): both tasks' models summarised on the test frames both tasks test (each
job's task card says which frames of which data its test systems are), from their stored per-structure
errors, and on the MD replicas of those systems (`runner.summary.summarise_structures`). The two tasks'
whole test sets differ (lips20: frames 900–999 of 16 systems; its twins: all 1000 frames of 3 of them), so
their leaderboards do not compare like with like."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from egraffbench.errors import TrajectoryError
from egraffbench.metrics.accuracy import StructureErrors
from egraffbench.metrics.accuracy_intervals import paired_ratio_interval
from egraffbench.report.collect import RunView
from egraffbench.report.leaderboard import leaderboard_rows
from egraffbench.report.paper.degradation import (
    SharedSystems,
    SystemBoards,
    contains_its_data,
    in_distribution_partner,
)
from egraffbench.report.table import Leaderboard, build_leaderboard
from egraffbench.runner.accuracy_summary import structure_arrays
from egraffbench.runner.summary import SUMMARY_SEED, summarise_structures
from egraffbench.store.schema import FrameRange, JobResults, TaskCard, read_record


@dataclass(frozen=True)
class Kept:
    """Of one task's test systems: the positions (in test-frame order) of the structures to keep, and how
    many test frames each system has."""

    positions: dict[str, list[int]]
    sizes: dict[str, int]


def _overlap(ours: FrameRange, theirs: FrameRange) -> range:
    """The frames two ranges both cover (an empty range where they do not overlap)."""
    return range(max(ours.start, theirs.start), min(ours.stop, theirs.stop))


def system_pairs(ours: TaskCard, theirs: TaskCard) -> list[tuple[str, str]]:
    """Every (our system, their system) cut from data of the same content hash (the cards' `test_frames`)
    whose frame ranges overlap."""
    return [
        (system, other)
        for system, frames in ours.test_frames.items()
        for other, other_frames in theirs.test_frames.items()
        if frames.data == other_frames.data and _overlap(frames, other_frames)
    ]


@dataclass(frozen=True)
class SharedPair:
    """One pair of :func:`system_pairs`: the positions (in test-frame order) of the frames both test, in our
    system and in theirs, the same frames in the same order."""

    ours: str
    our_positions: list[int]
    theirs: str
    their_positions: list[int]


def shared_pairs(ours: TaskCard, theirs: TaskCard) -> list[SharedPair]:
    """Every pair of :func:`system_pairs` with the positions of its shared frames on both sides."""
    found = []
    for system, other in system_pairs(ours, theirs):
        frames, other_frames = ours.test_frames[system], theirs.test_frames[other]
        shared = _overlap(frames, other_frames)
        found.append(
            SharedPair(
                system,
                list(range(shared.start - frames.start, shared.stop - frames.start)),
                other,
                list(range(shared.start - other_frames.start, shared.stop - other_frames.start)),
            )
        )
    return found


def common_frames(
    ours: TaskCard, theirs: TaskCard, pairs: Sequence[SharedPair] | None = None
) -> tuple[Kept, Kept]:
    """The frames two tasks both test, as each task's :class:`Kept`: every pair of :func:`shared_pairs`
    (``pairs`` where already found) adds its overlap to both (several systems may be cut from one file, on
    either side)."""
    outside, inside = Kept({}, {}), Kept({}, {})
    for pair in shared_pairs(ours, theirs) if pairs is None else pairs:
        outside.positions.setdefault(pair.ours, []).extend(pair.our_positions)
        inside.positions.setdefault(pair.theirs, []).extend(pair.their_positions)
        frames, other_frames = ours.test_frames[pair.ours], theirs.test_frames[pair.theirs]
        outside.sizes[pair.ours] = frames.stop - frames.start
        inside.sizes[pair.theirs] = other_frames.stop - other_frames.start
    return outside, inside


def _seeds_on(
    results: Sequence[JobResults], chosen: Sequence[tuple[str, list[int]]]
) -> list[list[StructureErrors]] | None:
    """Each seed's per-structure errors on the ``chosen`` (system, positions), in that order; None where a
    seed lacks a system's stored sums or a position."""
    seeds = []
    for result in results:
        stored = result.test_errors.structures if result.test_errors is not None else {}
        systems = []
        for system, positions in chosen:
            sums = stored.get(system)
            if sums is None or not all(0 <= p < len(sums.atoms) for p in positions):
                return None
            systems.append(StructureErrors(*(values[positions] for values in structure_arrays(sums))))
        seeds.append(systems)
    return seeds


def paired_force_mae(
    jobs: tuple[_TaskJobs, _TaskJobs], pairs: Sequence[SharedPair]
) -> dict[str, tuple[float, float]]:
    """Per model of both tasks (``jobs``: ours, theirs), the 95 % interval of its force MAE ratio ours/theirs
    on the frames of ``pairs``, both sides resampled with the same blocks of frames
    (`metrics.accuracy_intervals.paired_ratio_interval`); a model whose stored errors do not cover the frames
    is left out."""
    ours, theirs = jobs
    found = {}
    for model in ours.results.keys() & theirs.results.keys():
        outside = _seeds_on(ours.results[model], [(pair.ours, pair.our_positions) for pair in pairs])
        inside = _seeds_on(theirs.results[model], [(pair.theirs, pair.their_positions) for pair in pairs])
        if not outside or not inside:
            continue
        try:
            interval = paired_ratio_interval(outside, inside, "force_mae", SUMMARY_SEED)
        except TrajectoryError:  # stored structures that are not the same frames: not paired
            continue
        if interval is not None:
            found[model] = interval
    return found


def one_to_one(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The ``pairs`` whose two systems appear in no other pair: a system of one task that is one system of
    the other, which can be compared on its own."""
    ours, theirs = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    return [(a, b) for a, b in pairs if ours[a] == 1 and theirs[b] == 1]


@dataclass(frozen=True)
class _TaskJobs:
    """One task's card and the stored results of its models' finished jobs (read once, for every board)."""

    card: TaskCard
    results: dict[str, list[JobResults]]  # model → its seeds' results
    references: set[str]


def _read_jobs(view: RunView, card: TaskCard, models: Sequence[str]) -> _TaskJobs:
    results: dict[str, list[JobResults]] = {}
    for model in models:
        jobs = view.done_jobs(card.name, model)
        results[model] = [
            read_record(JobResults, job.results, f"results of job {job.job_id}") for job in jobs
        ]
    references = {job.model for job in view.done_jobs(card.name) if job.is_reference}
    return _TaskJobs(card, results, references)


def _as_carded(results: Sequence[JobResults], card: TaskCard, sizes: Mapping[str, int]) -> bool:
    """True when every job's card names the test frames ``card`` does and the job evaluated each system of
    ``sizes`` on that many frames: its stored structures are those frames."""
    return all(
        r.task is not None
        and r.task.test_frames == card.test_frames
        and all(
            len(stored.atoms) == sizes[system]
            for system, stored in (r.test_errors.structures.items() if r.test_errors else ())
            if system in sizes
        )
        for r in results
    )


def _board(jobs: _TaskJobs, kept: Kept) -> Leaderboard | None:
    """The leaderboard of the models of ``jobs`` on the ``kept`` structures of its task and the replicas of
    those systems; None where a job's structures are not the frames the card names, or no model has the
    per-structure sums."""
    task = jobs.card.name
    metrics = []
    for model, results in jobs.results.items():
        if not _as_carded(results, jobs.card, kept.sizes):
            return None
        found = summarise_structures(results, kept.positions)
        metrics += [
            {"model": model, "task": task, "seeds": len(results), "name": m.name}
            | {"value": m.value, "low": m.low, "high": m.high}
            for m in found or []
            if m.system == ""
        ]
    if not metrics:
        return None
    return build_leaderboard(task, leaderboard_rows(metrics), jobs.references, {}, None)


def shared_systems(view: RunView, task: str, specs: Mapping[str, TaskCard]) -> SharedSystems | None:
    """``task``'s models and those of its in-distribution task on the test frames both test (by their cards'
    `test_frames`), when that task's training data contain ``task``'s and more; None otherwise, where the
    cards do not tell the frames, a job's stored structures are not those frames, or no model of both has
    the per-structure sums."""
    spec = specs.get(task)
    if spec is None or spec.kind == "in-distribution":
        return None
    partner = in_distribution_partner(task, specs, view.tasks())
    if partner is None or not contains_its_data(task, partner, specs):
        return None
    shared = shared_pairs(spec, specs[partner])
    outside, inside = common_frames(spec, specs[partner], shared)
    models = [model for model in view.models(task) if view.done_jobs(partner, model)]
    if not outside.positions or not models:
        return None
    on_ours, on_theirs = _read_jobs(view, spec, models), _read_jobs(view, specs[partner], models)
    theirs, ours = _board(on_theirs, inside), _board(on_ours, outside)
    if theirs is None or ours is None:
        return None
    single = (
        set(one_to_one([(pair.ours, pair.theirs) for pair in shared]))
        if len(outside.positions) > 1
        else set()
    )
    alone = sorted(
        (pair for pair in shared if (pair.ours, pair.theirs) in single), key=lambda p: (p.ours, p.theirs)
    )
    each = [_system_boards((on_ours, on_theirs), (outside, inside), pair) for pair in alone]
    frames = sum(len(positions) for positions in outside.positions.values())
    return SharedSystems(
        inside=theirs,
        outside=ours,
        systems=tuple(sorted(outside.positions)),
        frames=frames,
        each=tuple(found for found in each if found is not None),
        paired_force_mae=paired_force_mae((on_ours, on_theirs), shared),
    )


def _system_boards(
    jobs: tuple[_TaskJobs, _TaskJobs], kept: tuple[Kept, Kept], pair: SharedPair
) -> SystemBoards | None:
    """Both tasks' models on the shared frames of one system of each (``pair``, one-to-one)."""
    (ours, theirs), (outside, inside) = jobs, kept
    on_ours = _board(ours, Kept({pair.ours: outside.positions[pair.ours]}, outside.sizes))
    on_theirs = _board(theirs, Kept({pair.theirs: inside.positions[pair.theirs]}, inside.sizes))
    if on_ours is None or on_theirs is None:
        return None
    return SystemBoards(
        system=pair.ours,
        inside=on_theirs,
        outside=on_ours,
        paired_force_mae=paired_force_mae((ours, theirs), [pair]),
    )
