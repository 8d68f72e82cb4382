"""Publish a run folder: copy what its report and leaderboard read — the latest run of its results store (or
a chosen one, without the runs started after it) and every artifact that run registered except model
checkpoints and MD trajectories — and the typed result record of every stage that run computed or reused
(its metrics and what it cost: `benchmarks/job_costs.py` reads them) into a folder small enough to commit,
with a provenance file (every invocation's command, host and package versions, the machine, a sha256 of
every file) so that anyone can rebuild the report from it without retraining or re-simulating. Earlier
runs' jobs, metrics and files (superseded by the latest, which reuses what still holds) are left out; their
commands and stage timings stay, since the latest run reuses what they computed. With ``models`` (or
``exclude``), only those models' jobs (or not those jobs) are published: a job recomputed elsewhere leaves an
earlier publication this way, even one whose checkpoints are gone (a published folder can be published
again)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from egraffbench import __version__
from egraffbench.errors import ConfigError
from egraffbench.fileio import atomic_write_text
from egraffbench.runner.hashing import file_checksum
from egraffbench.runner.machine import describe_machine
from egraffbench.runner.stage_cache import stage_result_path
from egraffbench.store.database import DATABASE_FILE, ResultsStore

HEAVY_KINDS = ("checkpoint", "trajectory")  # what the report does not read: weights and MD frames
PROVENANCE_FILE = "provenance.json"
# what an earlier run left that the latest supersedes; its `runs` row (command) and `stages` rows (what it
# computed, in how many seconds: benchmarks/job_costs.py) stay
SUPERSEDED_TABLES = ("jobs", "metrics", "summaries", "artifacts")


def _copy_store(
    source: Path, target: Path, run_id: str, later: list[str], dropped: Sequence[dict[str, Any]]
) -> None:
    """A consistent copy of the store (sqlite's backup, so a store in WAL mode loses nothing) with the jobs,
    metrics and artifacts of run ``run_id`` only, without the rows of the artifacts that are not published,
    without the ``later`` runs (those started after it: the published run is the folder's latest), without
    any row of the ``dropped`` jobs (earlier runs' stage rows too) and without the stored summary of each
    (model, task) they belong to (the report summarises what is left), as one file (rollback journal: reading
    it leaves no -wal/-shm files beside it in a repository)."""
    reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    writer = sqlite3.connect(target)
    try:
        reader.backup(writer)
        writer.execute("PRAGMA journal_mode=DELETE")
        for table in SUPERSEDED_TABLES:
            writer.execute(f"DELETE FROM {table} WHERE run_id != ?", (run_id,))
        for table in ("stages", "runs"):
            writer.executemany(f"DELETE FROM {table} WHERE run_id = ?", [(later_id,) for later_id in later])
        for table in ("jobs", "metrics", "artifacts", "stages"):
            writer.executemany(f"DELETE FROM {table} WHERE job_id = ?", [(job["job_id"],) for job in dropped])
        writer.executemany(
            "DELETE FROM summaries WHERE model = ? AND task = ?",
            {(job["model"], job["task"]) for job in dropped},
        )
        placeholders = ", ".join("?" * len(HEAVY_KINDS))
        writer.execute(f"DELETE FROM artifacts WHERE kind IN ({placeholders})", HEAVY_KINDS)
        writer.commit()
        writer.execute("VACUUM")
    finally:
        reader.close()
        writer.close()


def _runs(store: ResultsStore) -> list[dict[str, Any]]:
    """Each run of the store as provenance: id, command, host, times, status, package versions, CPU."""
    described = []
    for run in store.runs():
        settings = json.loads(run["settings"] or "{}")
        described.append(
            {
                "run_id": run["run_id"],
                "command": run["command"],
                "mode": run["mode"],
                "status": run["status"],
                "host": settings.get("host"),
                "started_at": run["started_at"],
                "finished_at": run["finished_at"],
                "versions": settings.get("versions"),
                "cpu": settings.get("cpu"),
            }
        )
    return described


def _stage_records(store: ResultsStore, run_id: str, run_dir: Path, job_ids: set[str]) -> set[str]:
    """The result record of every stage the run's jobs ``job_ids`` computed or reused (relative paths; stages
    whose folder has gone, such as a cache cleared by hand, are left out)."""
    records = set()
    for row in store.stages(run_id):
        if row["job_id"] not in job_ids or row["status"] not in ("done", "cached") or row["key"] is None:
            continue
        relative = stage_result_path(row["stage"], row["key"])
        if (run_dir / relative).is_file():
            records.add(relative)
    return records


def _left_out_jobs(
    jobs: Sequence[dict[str, Any]], where: str, models: Sequence[str] | None, exclude: Sequence[str]
) -> list[dict[str, Any]]:
    """The jobs not published: those of models not in ``models`` (when given) and those whose id matches an
    ``exclude`` pattern (shell-style, e.g. ``botnet/md17-ethanol/*``). Each model and pattern must match a job
    of the run (``where`` names it in the error)."""
    found = sorted({job["model"] for job in jobs})
    unknown = [model for model in models or () if model not in found]
    if unknown:
        raise ConfigError(f"{where} has no jobs of model '{unknown[0]}'; its models: {', '.join(found)}")
    for pattern in exclude:
        if not any(fnmatchcase(job["job_id"], pattern) for job in jobs):
            raise ConfigError(
                f"{where}: --exclude '{pattern}' matches none of its jobs (MODEL/TASK/seedN): "
                f"{', '.join(job['job_id'] for job in jobs)}"
            )
    return [
        job
        for job in jobs
        if (models and job["model"] not in models)
        or any(fnmatchcase(job["job_id"], pattern) for pattern in exclude)
    ]


def _earlier_publication(run_dir: Path) -> dict[str, Any] | None:
    """Where a published folder being published again came from (its provenance, without files and runs)."""
    path = run_dir / PROVENANCE_FILE
    if not path.is_file():
        return None
    earlier = json.loads(path.read_text())
    return {key: value for key, value in earlier.items() if key not in ("files", "runs")}


def _write_files(
    run_dir: Path,
    staging: Path,
    latest: str,
    later: list[str],
    dropped: list[dict[str, Any]],
    artifacts: list[str],
) -> dict[str, str]:
    """Write the store and the artifacts of a publication into the new folder ``staging``: their sha256."""
    staging.mkdir(parents=True)
    _copy_store(run_dir / DATABASE_FILE, staging / DATABASE_FILE, latest, later, dropped)
    files = {DATABASE_FILE: file_checksum(staging / DATABASE_FILE)}
    for relative in artifacts:
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run_dir / relative, target)
        files[relative] = file_checksum(target)
    return files


def _replaced(out_dir: Path) -> Path:
    """Where an earlier publication waits while a new one takes its name."""
    return out_dir.with_name(f".{out_dir.name}.replaced")


def _replace_folder(staging: Path, out_dir: Path) -> None:
    """Move ``staging`` to ``out_dir``. An earlier ``out_dir`` is moved aside first and removed only once the
    new one is in place, so a kill at any point leaves a complete publication (:func:`_restore_replaced`)."""
    if out_dir.exists():
        out_dir.rename(_replaced(out_dir))
    staging.rename(out_dir)
    shutil.rmtree(_replaced(out_dir), ignore_errors=True)


def _restore_replaced(out_dir: Path) -> None:
    """Finish what a killed :func:`_replace_folder` left: the earlier publication goes back to its name if the
    new one never took it, and is removed if the new one did."""
    replaced = _replaced(out_dir)
    if replaced.is_dir() and not out_dir.exists():
        replaced.rename(out_dir)
    shutil.rmtree(replaced, ignore_errors=True)


def publish_run(
    run_dir: Path,
    out_dir: Path,
    run_id: str | None = None,
    models: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
) -> dict[str, Any]:
    """Copy the publishable part of run ``run_id`` (default: the latest) of ``run_dir`` into ``out_dir``
    (which must not exist, or hold an earlier publication, which is replaced whole; it may be ``run_dir``
    itself) and return its provenance record. Runs started after the chosen one (other invocations on the
    same folder, still running perhaps) are left out, so the chosen run is the published folder's latest.
    With ``models``, the other models' jobs are left out, and with ``exclude`` the jobs whose ids match one of
    its patterns (:func:`_left_out_jobs`; ``jobs_left_out`` and ``models_left_out``, the models without a job
    left, in the provenance)."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    _restore_replaced(out_dir)
    if out_dir.exists() and not (out_dir / PROVENANCE_FILE).is_file():
        raise ConfigError(f"{out_dir}: exists and is not a published run folder; choose a new --out folder")
    with ResultsStore.open_existing(run_dir) as store:
        runs, latest = _runs(store), run_id or store.latest_run()
        known = [run["run_id"] for run in runs]
        if latest not in known:
            raise ConfigError(f"{run_dir}: no run '{latest}'; runs: {', '.join(known)}")
        later = known[known.index(latest) + 1 :]
        runs = runs[: known.index(latest) + 1]
        jobs = store.jobs(latest)
        dropped = _left_out_jobs(jobs, f"{run_dir}: run {latest}", models, exclude)
        kept = {job["job_id"] for job in jobs} - {job["job_id"] for job in dropped}
        artifacts = {
            row["path"]
            for row in store.artifacts(latest)
            if row["kind"] not in HEAVY_KINDS and row["job_id"] in kept
        } | _stage_records(store, latest, run_dir, kept)
    missing = sorted(relative for relative in artifacts if not (run_dir / relative).is_file())
    if missing:
        raise ConfigError(
            f"{run_dir / missing[0]}: artifact registered in the store but missing"
            f" ({len(missing)} in all); rerun the run first"
        )
    staging = out_dir.with_name(f".{out_dir.name}.publishing")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        files = _write_files(run_dir, staging, latest, later, dropped, sorted(artifacts))
        provenance = {
            "egraffbench": __version__,
            "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "source": str(run_dir.resolve()),
            "published_run": latest,
            "runs": runs,
            "machine": describe_machine(),
            "left_out": list(HEAVY_KINDS),
            "models_left_out": sorted(
                {job["model"] for job in dropped} - {job["model"] for job in jobs if job["job_id"] in kept}
            ),
            "jobs_left_out": sorted(job["job_id"] for job in dropped),
            "files": files,
        }
        earlier = _earlier_publication(run_dir)
        if earlier is not None:
            provenance["republished_from"] = earlier
        atomic_write_text(staging / PROVENANCE_FILE, json.dumps(provenance, indent=2) + "\n")
    except BaseException:  # a failed publication leaves nothing behind
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _replace_folder(staging, out_dir)
    return provenance


def verify_publication(out_dir: Path) -> list[str]:
    """Files of a published folder whose sha256 differs from its provenance, or that are missing."""
    provenance = json.loads((Path(out_dir) / PROVENANCE_FILE).read_text())
    return [
        relative
        for relative, digest in provenance["files"].items()
        if not (Path(out_dir) / relative).is_file() or file_checksum(Path(out_dir) / relative) != digest
    ]
