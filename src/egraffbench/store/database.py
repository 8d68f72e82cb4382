"""The results database of a run folder: `results.sqlite` in WAL mode (readers never block the writer, and
several processes may write with a busy timeout). Tables: runs, jobs (status, error, traceback, full
results as JSON), stages (status, cache key, timings), metrics (value and 95 % interval, per test system),
summaries (metrics over all seeds of a model on a task) and artifacts (paths relative to the run folder)."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from egraffbench.errors import ConfigError
from egraffbench.fileio import finite_or_none
from egraffbench.store.records import JobRecord, MetricValue

DATABASE_FILE = "results.sqlite"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 60_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started_at REAL NOT NULL, finished_at REAL, status TEXT NOT NULL,
    mode TEXT, command TEXT, settings TEXT, jobs_total INTEGER, jobs_cached INTEGER, jobs_failed INTEGER,
    stages_reused INTEGER
);
CREATE TABLE IF NOT EXISTS jobs (
    run_id TEXT NOT NULL REFERENCES runs(run_id), job_id TEXT NOT NULL, model TEXT NOT NULL,
    task TEXT NOT NULL, seed INTEGER NOT NULL, mode TEXT NOT NULL, status TEXT NOT NULL,
    started_at REAL, seconds REAL, error TEXT, traceback TEXT, results TEXT,
    PRIMARY KEY (run_id, job_id)
);
CREATE TABLE IF NOT EXISTS stages (
    run_id TEXT NOT NULL, job_id TEXT NOT NULL, stage TEXT NOT NULL, status TEXT NOT NULL, key TEXT,
    started_at REAL, seconds REAL, PRIMARY KEY (run_id, job_id, stage)
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL, job_id TEXT NOT NULL, system TEXT NOT NULL, name TEXT NOT NULL,
    value REAL, low REAL, high REAL, unit TEXT, PRIMARY KEY (run_id, job_id, system, name)
);
CREATE TABLE IF NOT EXISTS summaries (
    run_id TEXT NOT NULL, model TEXT NOT NULL, task TEXT NOT NULL, system TEXT NOT NULL, name TEXT NOT NULL,
    value REAL, low REAL, high REAL, unit TEXT, seeds INTEGER,
    PRIMARY KEY (run_id, model, task, system, name)
);
CREATE TABLE IF NOT EXISTS artifacts (
    run_id TEXT NOT NULL, job_id TEXT NOT NULL, kind TEXT NOT NULL, path TEXT NOT NULL,
    PRIMARY KEY (run_id, job_id, kind)
);
"""


def _json(value: Any) -> str:
    return json.dumps(finite_or_none(value))


class ResultsStore:
    """The results database of ``run_dir`` (created on first use)."""

    def __init__(self, run_dir: Path, read_only: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / DATABASE_FILE
        self.read_only = read_only
        companions = [self.path.with_name(self.path.name + suffix) for suffix in ("-wal", "-shm")]
        present = [path.exists() for path in companions]
        try:
            self._connection = self._connect()
            version = self._connection.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as error:
            if hasattr(self, "_connection"):
                self._connection.close()
            for path, existed in zip(companions, present, strict=True):
                if read_only and not existed:  # what opening a damaged file created
                    path.unlink(missing_ok=True)
            raise ConfigError(
                f"{self.path}: not a readable egraffbench results database ({error}); "
                "it may be damaged: restore it or start a new --out folder"
            ) from error
        if version is None or int(version[0]) != SCHEMA_VERSION:
            found = "none" if version is None else version[0]
            raise ConfigError(f"{self.path}: results schema version {found}, expected {SCHEMA_VERSION}")

    def _connect(self) -> sqlite3.Connection:
        """A connection in WAL mode that creates the schema, or (``read_only``) one that never writes."""
        if self.read_only:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            try:
                connection = sqlite3.connect(uri, uri=True, isolation_level=None)
                connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError:  # read-only media without the WAL index: read the file as is
                connection = sqlite3.connect(f"{uri}&immutable=1", uri=True, isolation_level=None)
            connection.row_factory = sqlite3.Row
            return connection
        self.run_dir.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA synchronous=NORMAL")
        self._connection = connection
        with self._transaction() as db:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        return connection

    @classmethod
    def open_existing(cls, run_dir: Path) -> ResultsStore:
        """The store of a run folder that must already hold one, opened read-only."""
        path = Path(run_dir) / DATABASE_FILE
        if not path.is_file():
            raise ConfigError(
                f"{run_dir}: no {DATABASE_FILE} here; is it the --out folder of `egraffbench run`?"
            )
        if path.stat().st_size == 0:
            raise ConfigError(f"{path}: empty file (0 bytes), not a results database")
        return cls(run_dir, read_only=True)

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connection
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # --- writing ---

    def start_run(self, mode: str, command: str, settings: dict[str, Any]) -> str:
        """A new run; returns its id (start time and a random suffix)."""
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
        with self._transaction() as db:
            db.execute(
                "INSERT INTO runs (run_id, started_at, status, mode, command, settings) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, time.time(), "running", mode, command, _json(settings)),
            )
        return run_id

    def add_jobs(self, run_id: str, jobs: Sequence[tuple[str, str, str, int, str]]) -> None:
        """Register pending jobs as (job_id, model, task, seed, mode)."""
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO jobs (run_id, job_id, model, task, seed, mode, status) "
                "VALUES (?, ?, ?, ?, ?, ?, 'pending')",
                [(run_id, *job) for job in jobs],
            )

    def mark_running(self, run_id: str, job_id: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET status='running', started_at=? WHERE run_id=? AND job_id=?",
                (time.time(), run_id, job_id),
            )

    def record_job(self, run_id: str, record: JobRecord) -> None:
        """Store a finished job: status, error, stages, metrics, artifacts and full results, atomically."""
        key = (run_id, record.job_id)
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *key,
                    record.model,
                    record.task,
                    record.seed,
                    record.mode,
                    record.status,
                    record.started_at,
                    record.seconds,
                    record.error,
                    record.traceback,
                    _json(record.results),
                ),
            )
            for table in ("stages", "metrics", "artifacts"):
                db.execute(f"DELETE FROM {table} WHERE run_id=? AND job_id=?", key)
            db.executemany(
                "INSERT INTO stages VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(*key, s.stage, s.status, s.key, s.started_at, s.seconds) for s in record.stages],
            )
            db.executemany(
                "INSERT OR REPLACE INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(*key, m.system, m.name, m.value, m.low, m.high, m.unit) for m in record.metrics],
            )
            db.executemany(
                "INSERT INTO artifacts VALUES (?, ?, ?, ?)",
                [(*key, k, p) for k, p in record.artifacts.items()],
            )

    def record_summary(
        self, run_id: str, model: str, task: str, seeds: int, metrics: Sequence[MetricValue]
    ) -> None:
        """Store the metrics of ``model`` on ``task`` over all its seeds."""
        with self._transaction() as db:
            db.execute("DELETE FROM summaries WHERE run_id=? AND model=? AND task=?", (run_id, model, task))
            db.executemany(
                "INSERT OR REPLACE INTO summaries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (run_id, model, task, m.system, m.name, m.value, m.low, m.high, m.unit, seeds)
                    for m in metrics
                ],
            )

    def finish_run(self, run_id: str, status: str, counts: dict[str, int]) -> None:
        """Close a run with ``status``; an `interrupted` run's running jobs become `interrupted` too."""
        with self._transaction() as db:
            if status == "interrupted":
                db.execute(
                    "UPDATE jobs SET status='interrupted' WHERE run_id=? AND status='running'", (run_id,)
                )
            db.execute(
                "UPDATE runs SET finished_at=?, status=?, jobs_total=?, jobs_cached=?, jobs_failed=?, "
                "stages_reused=? WHERE run_id=?",
                (
                    time.time(),
                    status,
                    counts["total"],
                    counts["cached"],
                    counts["failed"],
                    counts["stages_reused"],
                    run_id,
                ),
            )

    def close_abandoned_runs(self, host: str, alive: Callable[[int], bool]) -> list[str]:
        """Mark `interrupted` the runs left `running` by a process of ``host`` that ``alive`` says is gone
        (killed with SIGKILL, or the machine went down), and their running jobs; returns their ids. Runs of
        other hosts are left alone: whether they still run cannot be told from here."""
        abandoned = []
        for run in self._rows("SELECT run_id, settings FROM runs WHERE status='running'"):
            owner = json.loads(run["settings"] or "{}")
            pid = owner.get("pid")
            if owner.get("host") == host and isinstance(pid, int) and not alive(pid):
                abandoned.append(run["run_id"])
        with self._transaction() as db:
            for run_id in abandoned:
                db.execute(
                    "UPDATE runs SET status='interrupted' WHERE run_id=? AND status='running'", (run_id,)
                )
                db.execute(
                    "UPDATE jobs SET status='interrupted' WHERE run_id=? AND status='running'", (run_id,)
                )
        return abandoned

    # --- reading ---

    def _rows(self, query: str, parameters: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self._connection.execute(query, parameters)]

    def runs(self) -> list[dict[str, Any]]:
        """Every run, oldest first."""
        return self._rows("SELECT * FROM runs ORDER BY started_at, run_id")

    def latest_run(self) -> str:
        """Id of the newest run; ConfigError if there is none."""
        runs = self.runs()
        if not runs:
            raise ConfigError(f"{self.path}: holds no runs yet")
        return runs[-1]["run_id"]

    def jobs(self, run_id: str) -> list[dict[str, Any]]:
        """The jobs of a run (results JSON decoded), in matrix order (task, model, seed)."""
        rows = self._rows("SELECT * FROM jobs WHERE run_id=? ORDER BY task, model, seed", (run_id,))
        for row in rows:
            row["results"] = json.loads(row["results"]) if row["results"] else {}
        return rows

    def stages(self, run_id: str) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM stages WHERE run_id=? ORDER BY job_id, started_at", (run_id,))

    def metrics(self, run_id: str, system: str | None = "") -> list[dict[str, Any]]:
        """Metric rows of a run's jobs; ``system`` "" for pooled values, None for every system."""
        if system is None:
            return self._rows("SELECT * FROM metrics WHERE run_id=? ORDER BY job_id, system, name", (run_id,))
        return self._rows(
            "SELECT * FROM metrics WHERE run_id=? AND system=? ORDER BY job_id, name", (run_id, system)
        )

    def summaries(self, run_id: str, system: str | None = "") -> list[dict[str, Any]]:
        """Summary rows (over seeds) of a run; ``system`` as in :meth:`metrics`."""
        if system is None:
            return self._rows(
                "SELECT * FROM summaries WHERE run_id=? ORDER BY task, model, system, name", (run_id,)
            )
        return self._rows(
            "SELECT * FROM summaries WHERE run_id=? AND system=? ORDER BY task, model, name", (run_id, system)
        )

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM artifacts WHERE run_id=? ORDER BY job_id, kind", (run_id,))
