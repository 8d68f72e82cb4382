"""One benchmark job — a model on a task with a seed — run stage by stage: fetch → train → evaluate →
simulate → score. Each stage's output is stored under a key hashing its inputs (configuration, data
checksums, stage code version), so a rerun reuses every finished stage, a changed input reruns only the
stages that depend on it, and interrupted training or MD resumes from its own checkpoint. A failing job
returns its error and traceback instead of raising."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any, TypeVar

from ase import Atoms

from egraffbench.data import data_root
from egraffbench.errors import ModelError, out_of_space
from egraffbench.md.engine import SimulationProgress
from egraffbench.models.base import ForceField
from egraffbench.models.registry import reference_potential
from egraffbench.models.storage import load_force_field
from egraffbench.numerics import RESULT_TORCH_THREADS, result_threads
from egraffbench.runner.baselines import baselines_stage
from egraffbench.runner.cost import measured
from egraffbench.runner.flatten import job_metrics
from egraffbench.runner.hashing import (
    architecture_version,
    data_checksum,
    file_checksum,
    numerics_version,
    placement,
    stable_hash,
    stage_key,
)
from egraffbench.runner.machine import kernel_record
from egraffbench.runner.matrix import JobSpec
from egraffbench.runner.relabelling import unrelabelled_predecessor
from egraffbench.runner.replay import replay_plan, replay_scores, replay_stage
from egraffbench.runner.rollout_scoring import ScoredSegment
from egraffbench.runner.stage_cache import RESULT_FILE, STAGE_FOLDER, Predecessor, StageCache
from egraffbench.runner.stages import (
    MODEL_FOLDER,
    PARITY_FILE,
    SERIES_FILE,
    STAGE_CHECKS,
    TRAJECTORY_FILE,
    evaluate_stage,
    score_stage,
    simulate_stage,
    train_stage,
)
from egraffbench.store.records import JobRecord, StageRecord
from egraffbench.store.schema import (
    Baselines,
    EvaluateResult,
    FrameRange,
    JobResults,
    ReplayResult,
    ScoreResult,
    SimulateResult,
    TaskCard,
    TrainResult,
    read_record,
)
from egraffbench.tasks.frames import system_frames
from egraffbench.tasks.schema import DataSource
from egraffbench.tasks.sources import ensure_available, load_sources, source_files
from egraffbench.tasks.systems import SystemData, load_test_systems
from egraffbench.training.statistics import fit_element_energies

R = TypeVar("R", TrainResult, EvaluateResult, SimulateResult, ReplayResult, ScoreResult, Baselines)


@dataclass
class JobHooks:
    """Progress callbacks: ``on_stage(stage, status)`` with status running / done / cached / failed."""

    on_stage: Callable[[str, str], None] | None = None
    on_epoch: Callable[[dict], None] | None = None
    on_md: Callable[[SimulationProgress], None] | None = None
    on_warning: Callable[[str], None] | None = None


class _Job:
    """The state of one job while it runs: lazily loaded data and model, stage records, results."""

    def __init__(self, spec: JobSpec, run_dir: Path, hooks: JobHooks) -> None:
        self.spec, self.run_dir, self.hooks = spec, run_dir, hooks
        self.cache = StageCache(run_dir / STAGE_FOLDER, hooks.on_warning, lambda: kernel_record(spec.device))
        self.root = data_root() if spec.data_root is None else Path(spec.data_root)
        self.stages: list[StageRecord] = []
        self.results = JobResults()
        self.artifacts: dict[str, str] = {}
        self.model_id = ""

    def _notify(self, stage: str, status: str) -> None:
        if self.hooks.on_stage is not None:
            self.hooks.on_stage(stage, status)

    def _timed(self, stage: str, key: str | None, work: Callable[[], tuple[dict, bool]]) -> dict:
        """Run ``work`` (giving a result and whether it was reused) as ``stage``, recording its outcome."""
        started, clock = time.time(), time.perf_counter()
        self._notify(stage, "running")
        try:
            result, reused = work()
        except Exception:
            self.stages.append(StageRecord(stage, "failed", key, started, time.perf_counter() - clock))
            self._notify(stage, "failed")
            raise
        status = "cached" if reused else "done"
        self.stages.append(StageRecord(stage, status, key, started, time.perf_counter() - clock))
        self._notify(stage, status)
        return result

    def _stage(
        self,
        stage: str,
        key: str,
        inputs: dict[str, Any],
        compute: Callable[[Path], dict],
        kind: type[R],
        predecessor: Predecessor | None = None,
    ) -> R:
        """A cached stage: its stored result for ``key`` (or the ``predecessor``'s that carries over), else
        ``compute(folder)`` with its cost (a reused result keeps the cost of the attempt that computed it), as
        a ``kind`` record."""
        found = self._timed(
            stage,
            key,
            lambda: self.cache.get_or_compute(
                stage, key, inputs, partial(measured, compute), STAGE_CHECKS[stage], predecessor
            ),
        )
        return read_record(kind, found, str(self.cache.folder(stage, key) / RESULT_FILE))

    def _relative(self, path: Path) -> str:
        return str(path.relative_to(self.run_dir))

    def _digest(self, source: DataSource) -> str:
        # the replay horizon is scoring configuration (in the replay key through its plan), not data
        described = source.model_dump(mode="json", exclude={"file", "name", "replay_horizon_fs"})
        return stable_hash(
            {**described, "files": [data_checksum(p) for p in source_files(source, self.root)]}
        )

    def _fetch_sources(self) -> tuple[dict, bool]:
        task = self.spec.task
        sources = [*task.train, *task.val, *task.test]
        fetched = [ensure_available(source, self.root, self.spec.data_root is None) for source in sources]
        digests = {
            "train": [self._digest(s) for s in task.train],
            "val": [self._digest(s) for s in task.val],
            "test": {s.system_name: self._digest(s) for s in task.test},
        }
        return digests, not any(fetched)

    def _test_frames(self) -> dict[str, FrameRange]:
        """Per test system the registry places in its data file, the file's content hash and the frames."""
        found = {}
        for system in self.spec.task.test:
            frames = system_frames(system)
            if frames is not None:
                data = stable_hash([data_checksum(path) for path in source_files(system, self.root)])
                found[system.system_name] = FrameRange(data=data, start=frames.start, stop=frames.stop)
        return found

    def fetch(self) -> None:
        """Make every data source present (downloading into the data cache if needed) and checksum it;
        `cached` when nothing had to be fetched."""
        self.digests = self._timed("fetch", None, self._fetch_sources)
        task = self.spec.task
        self.results.task = TaskCard(
            name=task.name,
            kind=task.kind,
            description=task.description or "",
            train=self.digests["train"],
            test_frames=self._test_frames(),
        )

    def baselines(self) -> None:
        """The task's trivial baselines, one stage folder shared by every job of the task."""
        inputs = {"train": self.digests["train"], "test": self.digests["test"]}
        key = stage_key("baselines", inputs)
        self.task_baselines = self._stage(
            "baselines",
            key,
            inputs,
            lambda folder: baselines_stage(
                self._load("train"), [atoms for system in self.test_systems for atoms in system.frames]
            ),
            Baselines,
        )
        self.artifacts["baselines"] = self._relative(self.cache.folder("baselines", key) / RESULT_FILE)

    @cached_property
    def test_systems(self) -> list[SystemData]:
        return load_test_systems(self.spec.task.test, self.root, self.spec.settings.temperature_K)

    @cached_property
    def model(self) -> ForceField:
        if self.spec.model.pretrained is not None:
            return self.spec.model.pretrained.load(self.spec.device)
        if self.spec.model.is_reference:
            return reference_potential(self.spec.model.name)
        return load_force_field(self.train_folder / MODEL_FOLDER, self.spec.device)

    def check_elements(self) -> None:
        """A model not trained here (reference or pretrained) must know every element of the test systems:
        one ModelError naming them before any stage runs."""
        try:
            self.model.check_elements([atoms for system in self.test_systems for atoms in system.frames])
        except ModelError as error:
            raise ModelError(
                f"{self.spec.model.name} cannot run task {self.spec.task.name}: {error}"
            ) from error

    def _load(self, group: str) -> list[Atoms]:
        return load_sources(getattr(self.spec.task, group), self.root)

    def train(self) -> None:
        spec = self.spec
        pretrained = spec.model.pretrained
        if pretrained is not None:
            identity = {
                "model": pretrained.describe(),
                "file": None if pretrained.keyed_file is None else file_checksum(pretrained.keyed_file),
                **architecture_version(self.model.architecture),
            }
            self.model_id = f"pretrained:{stable_hash(identity)}"
            self.results.training = TrainResult(
                pretrained=True,
                format=pretrained.declaration.format,
                source=spec.model.source,
                architecture_version=numerics_version(self.model.architecture),
            )
            return
        if spec.model.is_reference:
            self.model_id = f"reference:{spec.model.name}"
            self.results.training = TrainResult(reference_potential=True, training_seconds=0.0)
            return
        inputs = {
            "config": spec.model.config.model_dump(mode="json"),
            "train": self.digests["train"],
            "val": self.digests["val"],
            "seed": spec.seed,
            **architecture_version(spec.model.config.architecture),
            **placement(spec.device),
        }
        key = stage_key("train", inputs)
        self.train_folder = self.cache.folder("train", key)
        self.results.training = self._stage(
            "train",
            key,
            inputs,
            lambda folder: train_stage(
                spec.model.config,
                self._load("train"),
                self._load("val"),
                spec.seed,
                folder,
                self.hooks.on_epoch,
                spec.device,
            ),
            TrainResult,
        ).model_copy(update={"architecture_version": numerics_version(spec.model.config.architecture)})
        self.model_id = f"train:{key}"
        self.artifacts["checkpoint"] = self._relative(self.train_folder / MODEL_FOLDER)
        self.artifacts["training_log"] = self._relative(
            self.train_folder / MODEL_FOLDER / "training_log.jsonl"
        )

    def evaluate(self) -> None:
        inputs = {
            "model": self.model_id,
            "test": self.digests["test"],
            "train": self.digests["train"],
            **placement(self.spec.device),
        }
        key = stage_key("evaluate", inputs)
        element_energies = {int(z): e for z, e in self.task_baselines.element_energies.items()}
        self.results.test_errors = self._stage(
            "evaluate",
            key,
            inputs,
            lambda folder: evaluate_stage(self.model, self.test_systems, element_energies, folder),
            EvaluateResult,
        )
        self.artifacts["parity"] = self._relative(self.cache.folder("evaluate", key) / PARITY_FILE)

    def _temperatures(self) -> dict[str, float | None]:
        explicit = self.spec.settings.temperature_K
        return {s.system_name: s.temperature_K or explicit for s in self.spec.task.test}

    def simulate(self) -> None:
        settings = self.spec.settings
        protocol = settings.protocol.model_copy(update={"seed": self.spec.seed})
        inputs = {
            "model": self.model_id,
            "test": self.digests["test"],
            "temperatures": self._temperatures(),
            "replicas": settings.replicas,
            "protocol": protocol.identity(exclude={"temperature_K"}),
            **placement(self.spec.device),
        }
        self.simulate_key = stage_key("simulate", inputs)
        predecessor = unrelabelled_predecessor("simulate", inputs)
        self.results.md = self._stage(
            "simulate",
            self.simulate_key,
            inputs,
            lambda folder: simulate_stage(
                self.model,
                self.spec.model.name,
                self.test_systems,
                settings.replicas,
                protocol,
                folder,
                self.hooks.on_md,
                self.spec.device,
            ),
            SimulateResult,
            predecessor,
        )
        self.trajectory = self.cache.folder("simulate", self.simulate_key) / TRAJECTORY_FILE
        self.artifacts["trajectory"] = self._relative(self.trajectory)

    def replay(self) -> None:
        """Reference mode's EV/FV segment: deterministic NVE replays from the reference trajectory (only
        when a test system has no oracle and a contiguous test trajectory of known spacing)."""
        self.replay_key = None
        plan = replay_plan(self.test_systems, self.spec.settings.replicas)
        if "violation" not in self.spec.task.metrics or not plan:
            return
        protocol = self.spec.settings.protocol
        inputs = {
            "model": self.model_id,
            "test": self.digests["test"],
            "plan": plan,
            "protocol": protocol.identity(exclude={"temperature_K", "steps", "seed"}),
            **placement(self.spec.device),
        }
        self.replay_key = stage_key("replay", inputs)
        predecessor = unrelabelled_predecessor("replay", inputs)
        self.results.replay = self._stage(
            "replay",
            self.replay_key,
            inputs,
            lambda folder: replay_stage(
                self.model,
                self.spec.model.name,
                self.test_systems,
                plan,
                protocol,
                folder,
                self.hooks.on_md,
                self.spec.device,
            ),
            ReplayResult,
            predecessor,
        )

    def _replay_scores(self, element_energies: dict[int, float]) -> ScoredSegment | None:
        if self.replay_key is None or self.results.replay is None:
            return None
        folder = self.cache.folder("replay", self.replay_key)
        return replay_scores(folder, self.results.replay, self.test_systems, element_energies)

    def score(self) -> None:
        protocol = self.spec.settings.protocol
        run_length_fs = protocol.steps * protocol.timestep_fs
        horizon_fs = protocol.horizon_steps * protocol.timestep_fs
        groups = [g for g in self.spec.task.metrics if g != "errors"]
        inputs = {
            "simulation": self.simulate_key,
            "replay": self.replay_key,
            "train": self.digests["train"],
            "test": self.digests["test"],
            "metrics": groups,
        }
        key = stage_key("score", inputs)

        def compute(folder: Path) -> dict:
            train = self._load("train")
            species = sorted({int(z) for atoms in train for z in atoms.numbers})
            element_energies = fit_element_energies(train, species)
            return score_stage(
                self.trajectory,
                self.results.md,
                self.test_systems,
                run_length_fs,
                self.spec.seed,
                groups,
                element_energies,
                folder,
                self._replay_scores(element_energies),
                horizon_fs,
            )

        self.results.scores = self._stage("score", key, inputs, compute, ScoreResult)
        folder = self.cache.folder("score", key)
        self.artifacts["scores"] = self._relative(folder / RESULT_FILE)
        self.artifacts["series"] = self._relative(folder / SERIES_FILE)

    def run(self) -> None:
        self.fetch()
        if self.spec.model.config is None:
            self.check_elements()
        self.baselines()
        self.train()
        if "errors" in self.spec.task.metrics:
            self.evaluate()
        self.simulate()
        self.replay()
        self.score()


def _record(spec: JobSpec, status: str, started_at: float) -> JobRecord:
    return JobRecord(
        job_id=spec.job_id,
        model=spec.model.name,
        task=spec.task.name,
        seed=spec.seed,
        mode=spec.settings.mode,
        status=status,
        started_at=started_at,
        seconds=0.0,
    )


def failed_record(spec: JobSpec, error: BaseException, trace: str) -> JobRecord:
    """The record of a job that could not run at all (e.g. its worker died)."""
    record = _record(spec, "failed", time.time())
    record.error, record.traceback = f"{type(error).__name__}: {error}", trace
    return record


def run_job(
    spec: JobSpec, run_dir: Path, hooks: JobHooks | None = None, torch_threads: int = RESULT_TORCH_THREADS
) -> JobRecord:
    """Run (or resume) one job, its stages cached under ``run_dir/stages``; never raises for a job error.

    Torch runs with ``torch_threads`` intra-op threads (the results' count: egraffbench.numerics); the stage
    keys assume that count, so other counts are for tests that compare a run with itself; the process's own
    count is restored afterwards."""
    clock = time.perf_counter()
    record = _record(spec, "done", time.time())
    job = _Job(spec, Path(run_dir), hooks or JobHooks())
    try:
        with result_threads(torch_threads):
            job.run()
    except Exception as error:
        record.status = "failed"
        record.error = f"{type(error).__name__}: {error}"
        record.traceback = traceback.format_exc()
        record.out_of_space = out_of_space(error)
    record.seconds = time.perf_counter() - clock
    record.stages, record.results, record.artifacts = job.stages, job.results.stored(), job.artifacts
    record.metrics = job_metrics(record.results)
    return record
