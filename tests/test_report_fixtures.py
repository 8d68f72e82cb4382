"""A small stored run for the report tests, made with the runner's own stage functions on the tiny Cu–Au task:
the models are EMT (the task's oracle, as a reference potential) and EMT with energies and forces scaled by a
factor s, whose errors are known exactly — force MAE = |1 − s| × the zero-force baseline, and EV = FV =
|1 − s| / (|s| + 1) on every frame. s = −3 makes every replica overheat, so the run holds failures too."""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from egraffbench.cli.main import cli
from egraffbench.fileio import atomic_write_text
from egraffbench.models.emt_reference import EMTForceField
from egraffbench.report.build import ReportFiles
from egraffbench.runner.baselines import trivial_baselines
from egraffbench.runner.flatten import job_metrics
from egraffbench.runner.stages import PARITY_FILE, SERIES_FILE, evaluate_stage, score_stage, simulate_stage
from egraffbench.runner.summary import summarise
from egraffbench.store.database import ResultsStore
from egraffbench.store.records import JobRecord
from egraffbench.store.schema import Baselines, SimulateResult, TaskCard, read_record_file
from egraffbench.tasks import TaskSpec, read_task_file, run_settings
from egraffbench.tasks.sources import load_sources
from egraffbench.tasks.systems import SystemData, load_test_systems
from test_runner_fixtures import TINY_MODE, write_tiny_task

TASK = "tiny-cuau"
GROUPS = ["structure", "violation", "stability"]
SCALES = {"soft": 0.8, "wild": -3.0}  # model name → factor on EMT's energies and forces
SEEDS = {"emt": [0], "soft": [0, 1], "wild": [0]}
# figure anchors (after "<task>-") of a run with training logs, an oracle and one periodic test system "cuau"
FIGURES = (
    "structure-cuau",
    "survival",
    "violation",
    "speed-stability",
    "error-stability",
    "training",
    "parity",
)


class ScaledEMT(EMTForceField):
    """EMT with energies and forces multiplied by ``scale``: a model with exactly known errors."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, batch, compute_stress: bool = False, training: bool = False) -> dict[str, torch.Tensor]:
        output = super().forward(batch, compute_stress, training)
        return {key: value * self.scale for key, value in output.items()}


def _training_log(folder: Path, final_force_mae: float) -> Path:
    """A made-up training log whose validation errors fall towards the model's real test error."""
    path = folder / "model" / "training_log.jsonl"
    path.parent.mkdir()
    records = [
        {
            "epoch": epoch,
            "val_force_mae": final_force_mae * (1 + 2.0 / epoch),
            "val_energy_mae_per_atom": 0.01 / epoch,
        }
        for epoch in range(1, 6)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _job(
    run_dir: Path, task: TaskSpec, systems: list[SystemData], model: str, seed: int, baselines: Path
) -> JobRecord:
    element_energies = {int(z): e for z, e in read_record_file(Baselines, baselines).element_energies.items()}
    settings = run_settings(task, "dev", TINY_MODE)
    protocol = settings.protocol.model_copy(update={"seed": seed})
    force_field = EMTForceField() if model == "emt" else ScaledEMT(SCALES[model])
    folder = run_dir / "jobs" / f"{model}-{seed}"
    folder.mkdir(parents=True)
    card = TaskCard(name=task.name, kind=task.kind, description=task.description, train=["tiny"])
    results: dict = {
        "task": card.model_dump(),
        "test_errors": evaluate_stage(force_field, systems, element_energies, folder),
    }
    artifacts = {
        "baselines": str(baselines.relative_to(run_dir)),
        "parity": str((folder / PARITY_FILE).relative_to(run_dir)),
        "series": str((folder / SERIES_FILE).relative_to(run_dir)),
    }
    if model == "emt":
        results["training"] = {"reference_potential": True, "training_seconds": 0.0}
    else:
        log = _training_log(folder, results["test_errors"]["force_mae"])
        results["training"] = {"epochs": 5, "training_seconds": 10.0 + seed}
        artifacts["training_log"] = str(log.relative_to(run_dir))
    results["md"] = simulate_stage(force_field, model, systems, settings.replicas, protocol, folder, None)
    trajectory = folder / "trajectory.h5"
    run_length_fs = protocol.steps * protocol.timestep_fs
    md = SimulateResult.model_validate(results["md"])
    results["scores"] = score_stage(trajectory, md, systems, run_length_fs, seed, GROUPS, {}, folder)
    artifacts["trajectory"] = str(trajectory.relative_to(run_dir))
    return JobRecord(
        job_id=f"{model}/{TASK}/seed{seed}",
        model=model,
        task=TASK,
        seed=seed,
        mode="dev",
        status="done",
        started_at=time.time(),
        seconds=1.0,
        metrics=job_metrics(results),
        artifacts=artifacts,
        results=results,
    )


class ReportPage(HTMLParser):
    """Element ids, images, links and the leaderboard cells (model, metric, data-value, shown text)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.images: list[str] = []
        self.links: list[str] = []
        self.cells: list[dict[str, str]] = []
        self._model: str | None = None
        self._cell: dict[str, str] | None = None
        self._span: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs}
        if "id" in found:
            self.ids.add(found["id"])
        if tag == "img":
            self.images.append(found["src"])
        if "href" in found:
            self.links.append(found["href"])
        if tag == "tr":
            self._model = found.get("data-model")
        if tag == "td" and self._model and "data-metric" in found:
            self._cell = {"model": self._model, "metric": found["data-metric"], "value": found["data-value"]}
            self.cells.append(self._cell)
        if tag == "span" and self._cell is not None:
            self._span = found.get("class")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None
        if tag == "span":
            self._span = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None and self._span:
            self._cell[self._span] = self._cell.get(self._span, "") + data


def read_page(path: Path) -> tuple[str, ReportPage]:
    """The HTML text of a report and its parsed page."""
    text = path.read_text(encoding="utf-8")
    page = ReportPage()
    page.feed(text)
    return text, page


@dataclass
class StoredRun:
    """The run folder, its run id, the task (spec and data root) and its test systems."""

    run_dir: Path
    run_id: str
    task: TaskSpec
    data_root: Path
    systems: list[SystemData]


def make_stored_run(folder: Path) -> StoredRun:
    """Write the tiny task and a run of emt, soft (two seeds) and wild on it, plus one failed job."""
    task = read_task_file(write_tiny_task(folder / "task", TASK))
    systems = load_test_systems(task.test, folder, None)
    run_dir = folder / "run"
    baselines = run_dir / "baselines.json"
    test = [atoms for system in systems for atoms in system.frames]
    atomic_write_text(baselines, trivial_baselines(load_sources(task.train, folder), test).model_dump_json())
    records = [
        _job(run_dir, task, systems, model, seed, baselines)
        for model, seeds in SEEDS.items()
        for seed in seeds
    ]
    failed = JobRecord(
        f"broken/{TASK}/seed0",
        "broken",
        TASK,
        0,
        "dev",
        "failed",
        time.time(),
        0.5,
        error="ModelError: broken/model: weights.pt missing",
    )
    with ResultsStore(run_dir) as store:
        run_id = store.start_run("dev", "egraffbench run (test)", {"tasks": [TASK], "seeds": [0, 1]})
        store.add_jobs(run_id, [(r.job_id, r.model, r.task, r.seed, "dev") for r in [*records, failed]])
        for record in [*records, failed]:
            store.record_job(run_id, record)
        for (model, task_name), (seeds, metrics) in summarise(records).items():
            store.record_summary(run_id, model, task_name, seeds, metrics)
        store.finish_run(run_id, "failed", {"total": 5, "cached": 0, "failed": 1, "stages_reused": 0})
    return StoredRun(run_dir, run_id, task, folder, systems)


@functools.cache
def shared_stored_run(base: Path) -> StoredRun:
    """The stored run under the session's temporary folder ``base``, made once per session."""
    return make_stored_run(base / "report-run")


@dataclass
class BuiltReport:
    """The files of the report of :func:`shared_stored_run` and what `egraffbench report` printed."""

    files: ReportFiles
    output: str


@functools.cache
def shared_report(base: Path) -> BuiltReport:
    """The report of :func:`shared_stored_run`, made once per session by `egraffbench report`."""
    run = shared_stored_run(base)
    out = base / "report-out"
    result = CliRunner().invoke(cli, ["report", str(run.run_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return BuiltReport(
        ReportFiles(out / "report.html", out / "report.md", out / "leaderboard.csv", out / "findings.md"),
        result.output,
    )


@pytest.fixture(scope="session")
def stored_run(tmp_path_factory: pytest.TempPathFactory) -> StoredRun:
    return shared_stored_run(tmp_path_factory.getbasetemp())


def test_stored_run_has_the_known_errors_of_scaled_emt(stored_run: StoredRun) -> None:
    with ResultsStore.open_existing(stored_run.run_dir) as store:
        summary = {(row["model"], row["name"]): row["value"] for row in store.summaries(stored_run.run_id)}
    forces = np.concatenate([np.abs(a.get_forces()).ravel() for s in stored_run.systems for a in s.frames])
    assert summary[("soft", "force_mae")] == pytest.approx(0.2 * forces.mean(), rel=1e-6)
    assert summary[("soft", "ev")] == pytest.approx(0.2 / 1.8, rel=1e-5)  # |1 − s| / (|s| + 1), float32 MD
    assert summary[("emt", "force_mae")] < 1e-6
    assert summary[("wild", "stable_fraction")] == 0.0  # forces × −3 heat every replica past 5 × target
    assert summary[("soft", "stable_fraction")] == 1.0
