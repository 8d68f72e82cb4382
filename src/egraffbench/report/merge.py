"""One report view of the runs of several folders (other machines, other days). A job is identified by its
stage cache keys, so the same job found twice is used once; the same (model, task, seed) with other keys, or
seeds of one model and task run with other settings, are refused with one error naming both folders. Every
leaderboard row is summarised again over the merged jobs with the runner's own `summarise`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from egraffbench.errors import ConfigError
from egraffbench.report.collect import JobView, RunView, read_run, summarised_rows
from egraffbench.store.database import ResultsStore
from egraffbench.store.records import STAGES


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one dict of dotted keys."""
    if not isinstance(value, dict):
        return {prefix: value}
    return {
        name: item
        for key, inner in value.items()
        for name, item in _flat(inner, f"{prefix}.{key}" if prefix else str(key)).items()
    }


def _md_protocol(md: dict[str, Any]) -> dict[str, Any]:
    """The MD protocol a job's MD stands for, its seed aside. MD carried over from the key without bond
    relabelling (``adopted_from``: egraffbench.runner.relabelling) stores the protocol it was computed with,
    which predates the setting; it was carried over because no replica failed where relabelling acts, so it
    is the result with relabelling, and counts as made with it."""
    protocol = {key: value for key, value in (md.get("protocol") or {}).items() if key != "seed"}
    if md.get("adopted_from") and isinstance(protocol.get("stability"), dict):
        protocol["stability"] = {**protocol["stability"], "bond_relabelling": True}
    return protocol


def _pooled_settings(job: JobView) -> dict[str, Any]:
    """What the seeds of one model on one task must share to be pooled: the mode, the MD protocol (its seed
    aside), the replicas and the scored metric groups."""
    md = job.results.get("md") or {}
    protocol = _md_protocol(md)
    return _flat(
        {
            "mode": job.mode,
            "protocol": protocol,
            "replicas": len(md.get("replicas") or []),
            "metric groups": job.scores.get("metric_groups"),
        }
    )


def _check_same_job(jobs: Sequence[JobView]) -> None:
    """Finished copies of one (model, task, seed) must have the same stage keys: else they are not the same
    job (other settings, data or code versions), and one error line names both folders."""
    first = jobs[0]
    for job in jobs[1:]:
        differing = [stage for stage in STAGES if first.keys.get(stage) != job.keys.get(stage)]
        if differing:
            raise ConfigError(
                f"cannot merge {first.run_dir} and {job.run_dir}: both hold {job.job_id}, but its "
                f"{differing[0]} stage has another cache key (other settings, data or code version); "
                "merge only runs of the same benchmark"
            )


def _architecture_version(job: JobView) -> int | None:
    """The numerics version of the architecture a job's model is (TrainResult.architecture_version); None
    where its results do not record one."""
    return (job.results.get("training") or {}).get("architecture_version")


def _check_same_numerics(jobs: Sequence[JobView]) -> None:
    """The seeds of one model on one task must come from one numerics version of its architecture, where
    their results record it (a version is recorded since 2026-12-04; an unrecorded one is not refused)."""
    recorded = [(job, version) for job in jobs if (version := _architecture_version(job)) is not None]
    if not recorded:
        return
    first, wanted = recorded[0]
    for job, version in recorded[1:]:
        if version != wanted:
            raise ConfigError(
                f"cannot merge {first.run_dir} and {job.run_dir}: {job.model} on {job.task} ran at "
                f"architecture version {wanted} in one and {version} in the other; seeds of different "
                "numerics are not pooled"
            )


def _check_poolable(jobs: Sequence[JobView]) -> None:
    """The seeds of one model on one task, from several folders, must share :func:`_pooled_settings` and
    their architecture's numerics version (:func:`_check_same_numerics`)."""
    _check_same_numerics(jobs)
    first = jobs[0]
    wanted = _pooled_settings(first)
    for job in jobs[1:]:
        found = _pooled_settings(job)
        differing = [key for key in sorted(wanted.keys() | found.keys()) if wanted.get(key) != found.get(key)]
        if differing:
            key = differing[0]
            raise ConfigError(
                f"cannot merge {first.run_dir} and {job.run_dir}: {job.model} on {job.task} ran with "
                f"{key} {wanted.get(key)} in one and {found.get(key)} in the other; seeds of different "
                "settings are not pooled"
            )


def _deduplicated(views: Sequence[RunView]) -> tuple[list[JobView], dict[Path | None, int]]:
    """One job per (model, task, seed), in (task, model, seed) order, and per run folder the jobs left out:
    the finished copy that finished last (all finished copies must have the same keys), else the newest
    unfinished one."""
    groups: dict[tuple[str, str, int], list[JobView]] = {}
    for view in views:
        for job in view.jobs:
            groups.setdefault((job.task, job.model, job.seed), []).append(job)
    kept: list[JobView] = []
    left_out: dict[Path | None, int] = {}
    for _, jobs in sorted(groups.items()):
        finished = [job for job in jobs if job.done]
        if finished:
            _check_same_job(finished)
        chosen = max(finished or jobs, key=lambda job: job.finished_at or 0.0)
        kept.append(chosen)
        for job in jobs:
            if job is not chosen:
                left_out[job.run_dir] = left_out.get(job.run_dir, 0) + 1
    return kept, left_out


def merge_runs(views: Sequence[RunView]) -> RunView:
    """One view of the runs of several folders. Jobs are matched by (model, task, seed): finished copies with
    the same stage cache keys are one job, kept once (the copy that finished last; the others are counted as
    duplicates of their run); with different keys the merge is refused (ConfigError naming both folders), and
    so it is when seeds of one model on one task ran with different settings or at other numerics versions of
    their architecture. A job that did not finish is kept only when no folder finished it. Every leaderboard
    row is summarised again over the merged jobs."""
    kept, left_out = _deduplicated(views)
    done = [job for job in kept if job.done]
    pools: dict[tuple[str, str], list[JobView]] = {}
    for job in done:
        pools.setdefault((job.task, job.model), []).append(job)
    for members in pools.values():
        _check_poolable(members)
    used = {view.run_dir: sum(job.run_dir == view.run_dir for job in kept) for view in views}
    sources = [
        replace(source, jobs=used[view.run_dir], duplicates=left_out.get(view.run_dir, 0))
        for view in views
        for source in view.sources
    ]
    run = {
        "status": "merged",
        "mode": ",".join(sorted({str(view.run.get("mode")) for view in views if view.run.get("mode")})),
        "command": None,
        "settings": {"seeds": sorted({job.seed for job in kept})},
    }
    run_id = " + ".join(view.run_id for view in views)
    return RunView(views[0].run_dir, run_id, run, summarised_rows(done), kept, [], sources)


def read_runs(run_dirs: Sequence[Path], run_id: str | None = None) -> RunView:
    """The run ``run_id`` (default: the latest) of one run folder, or the latest runs of several folders
    merged (:func:`merge_runs`; ``run_id`` is then an error). A folder named twice is read once."""
    folders: dict[Path, Path] = {}
    for folder in map(Path, run_dirs):
        folders.setdefault(folder.resolve(), folder)
    if len(folders) > 1 and run_id is not None:
        raise ConfigError("--run picks a run of one folder; of several folders the latest runs are merged")
    views = []
    for folder in folders.values():
        with ResultsStore.open_existing(folder) as store:
            views.append(read_run(store, run_id))
    return views[0] if len(views) == 1 else merge_runs(views)
