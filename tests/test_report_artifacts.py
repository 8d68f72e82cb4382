"""The report reads only what the run stored: it builds in a process that cannot import torch, the model
packages or the dataset loaders and shows every figure; the stored artifacts equal an independent
recomputation from the trajectories and data; bumping the score stage re-scores without retraining or
re-simulating; a run folder from before the artifacts gets a note, not a crash."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.calculators.emt import EMT
from scipy import stats

from egraffbench.md.trajectory import read_replica
from egraffbench.metrics.dynamics import diffusion_coefficient, mean_squared_displacement, unwrap_positions
from egraffbench.metrics.structure import default_r_max, radial_distribution
from egraffbench.report.assemble import assemble_report
from egraffbench.report.build import build_report
from egraffbench.report.collect import read_run
from egraffbench.report.series import violation_series
from egraffbench.runner import hashing
from egraffbench.runner.benchmark import run_benchmark
from egraffbench.runner.executors import InProcessExecutor
from egraffbench.store.database import ResultsStore
from egraffbench.store.schema import Baselines, SchemaError, ScoreSeries, read_record, read_record_file
from summation_order import torch_threads
from test_report_fixtures import FIGURES, read_page
from test_runner_fixtures import ReferenceRun, shared_reference_run, tiny_jobs

BLOCKED = (
    "torch",
    "e3nn",
    "mace",
    "nequip",
    "torchmdnet",
    "egraffbench.data.loaders",
    "egraffbench.data.dataset",
)
BLOCKER = """
import sys

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in {blocked!r}):
            raise ImportError("blocked import: " + name)
        return None

sys.meta_path.insert(0, Blocker())
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    return shared_reference_run(tmp_path_factory)


def _copy(run: ReferenceRun, folder: Path) -> Path:
    shutil.copytree(run.run_dir, folder, ignore=shutil.ignore_patterns("report"))
    return folder


def _report_without_torch(run_dir: Path, out: Path, blocker_dir: Path) -> subprocess.CompletedProcess:
    """`build_report` in a fresh interpreter whose site hook refuses to import BLOCKED modules."""
    blocker_dir.mkdir()
    (blocker_dir / "sitecustomize.py").write_text(BLOCKER.format(blocked=BLOCKED))
    script = textwrap.dedent(
        f"""
        import sys
        from egraffbench.report.build import build_report
        try:
            import torch
        except ImportError as error:
            print("torch:", error)
        build_report({str(run_dir)!r}, {str(out)!r})
        print("loaded:", sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "e3nn", "mace")))
        """
    )
    source = Path(__file__).resolve().parents[1] / "src"
    environment = {"PYTHONPATH": f"{blocker_dir}:{source}", "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )


def test_report_builds_without_torch_models_datasets_or_trajectories_and_shows_every_figure(
    run: ReferenceRun, tmp_path: Path
) -> None:
    run_dir = _copy(run, tmp_path / "run")
    for stored in [*run_dir.rglob("*.h5"), *run_dir.rglob("*.pt")]:  # trajectories and model weights
        stored.unlink()
    result = _report_without_torch(run_dir, tmp_path / "report", tmp_path / "blocker")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "torch: blocked import: torch" in result.stdout and "loaded: []" in result.stdout
    text, page = read_page(tmp_path / "report" / "report.html")
    with ResultsStore.open_existing(run.run_dir) as store:
        expected = assemble_report(read_run(store)).tasks[0].figures  # in this process, everything importable
    assert [figure.anchor for figure in expected] == [f"tiny-cuau-{name}" for name in FIGURES]
    for figure in expected:
        assert figure.anchor in page.ids and figure.title in text
    assert len(page.images) == len(FIGURES)
    assert "missing:" not in text


def test_importing_the_report_loads_no_torch_model_package_or_dataset_loader() -> None:
    script = (
        "import sys\n"
        "import egraffbench.report.build, egraffbench.cli.report_command\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'e3nn', 'mace', 'vesin')"
        " or m.startswith(('egraffbench.models', 'egraffbench.data', 'egraffbench.md', 'egraffbench.tasks',"
        " 'egraffbench.training', 'egraffbench.runner.stages'))))\n"
    )
    source = Path(__file__).resolve().parents[1] / "src"
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(source)},
        check=True,
    )
    assert result.stdout.strip() == "[]"


def _artifact(run_dir: Path, job: str, kind: str) -> Path:
    with ResultsStore.open_existing(run_dir) as store:
        found = {(a["job_id"], a["kind"]): a["path"] for a in store.artifacts(store.latest_run())}
    return run_dir / found[(job, kind)]


def test_stored_structure_and_violation_series_equal_a_recomputation(run: ReferenceRun) -> None:
    job = "mace/tiny-cuau/seed0"  # a trained model: EV and FV far from zero (the oracle's are round-off)
    series = read_record_file(ScoreSeries, _artifact(run.run_dir, job, "series"))
    test = ase.io.read(run.task_file.parent / "data" / "test.extxyz", ":")
    trajectory = _artifact(run.run_dir, job, "trajectory")
    replicas = [read_replica(trajectory, index) for index in (0, 1)]
    # g(r): the reference test frames and the model's frames of both replicas pooled (≤ 400 frames: all)
    (curve,) = series.structures
    cells = np.array([a.cell.array for a in test])
    r_max = default_r_max(cells)
    reference = radial_distribution(np.array([a.positions for a in test]), cells, r_max=r_max)
    np.testing.assert_allclose(curve.reference, reference.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(curve.r, reference.r, rtol=0, atol=1e-12)
    positions = np.concatenate([r.positions for r in replicas])
    model = radial_distribution(positions, np.concatenate([r.cell for r in replicas]), r_max=r_max)
    np.testing.assert_allclose(curve.model, model.values, rtol=0, atol=1e-12)
    assert (curve.reference_frames, curve.model_frames) == (len(test), len(positions))
    # EV (energies relative to the training E0) and FV of every frame against ASE's own EMT on the
    # recorded positions
    assert [(t.segment, t.reference) for t in series.violations] == [("production", "oracle")] * 2
    assert {t.energies for t in series.violations} == {"E0-relative"}
    scores = _job_results(run.run_dir, job)["scores"]
    e0 = sum(scores["element_energies"][str(z)] for z in test[0].numbers)
    assert abs(e0) > 1.0  # EV of E − E0 is not the absolute one
    for trace, replica in zip(series.violations, replicas, strict=True):
        energies, forces = [], []
        for frame in range(len(replica.positions)):
            atoms = test[0].copy()
            atoms.positions, atoms.calc = replica.positions[frame], EMT()
            energies.append(atoms.get_potential_energy() - e0)
            forces.append(atoms.get_forces())
        energies, forces = np.array(energies), np.array(forces)
        model = replica.energy - e0
        ev = np.abs(model - energies) / (np.abs(model) + np.abs(energies))
        norm = np.linalg.norm
        fv = norm(replica.forces - forces, axis=(1, 2)) / (
            norm(replica.forces, axis=(1, 2)) + norm(forces, axis=(1, 2))
        )
        np.testing.assert_allclose(trace.time_ps, replica.time_fs / 1000.0, rtol=0, atol=1e-15)
        assert ev.min() > 1e-4 and fv.min() > 1e-2
        np.testing.assert_allclose(trace.ev, ev, rtol=1e-6)  # EMT in torch and in ASE: round-off apart
        np.testing.assert_allclose(trace.fv, fv, rtol=1e-6)


def _job_results(run_dir: Path, job: str) -> dict:
    with ResultsStore.open_existing(run_dir) as store:
        (row,) = [r for r in store.jobs(store.latest_run()) if r["job_id"] == job]
    return row["results"]


def test_the_violation_figure_draws_the_frames_of_the_tables_ev_and_fv(run: ReferenceRun) -> None:
    with ResultsStore.open_existing(run.run_dir) as store:
        view = read_run(store)
        rows = {(r["model"], r["name"]): r["value"] for r in store.summaries(store.latest_run())}
    for model in ("mace", "emt"):
        jobs = view.done_jobs("tiny-cuau", model)
        stored = [read_record_file(ScoreSeries, job.artifacts["series"]) for job in jobs]
        drawn = violation_series(stored)
        assert drawn is not None and (drawn.segment, drawn.reference) == ("production", "oracle")
        assert list(drawn.count) == [2] * 21  # both replicas, every recorded frame of the 20 fs run
        for key in ("ev", "fv"):  # the table's values: every frame of every replica pooled
            assert drawn.pooled(key) == pytest.approx(rows[(model, key)], rel=1e-9), (model, key)
    assert rows[("mace", "fv")] > 1e-2 and rows[("emt", "fv")] < 1e-6  # a model's error, and round-off


def _diffusivities(
    positions: np.ndarray, cells: np.ndarray, numbers: np.ndarray, times_fs: np.ndarray
) -> dict:
    msd = mean_squared_displacement(unwrap_positions(positions, cells), numbers)
    return {
        element: diffusion_coefficient((times_fs - times_fs[0]) / 1000.0, m) for element, m in msd.items()
    }


def test_stored_diffusivities_equal_a_recomputation_from_the_trajectories(run: ReferenceRun) -> None:
    test = ase.io.read(run.task_file.parent / "data" / "test.extxyz", ":")
    window = 21  # frames of the 20 fs run at the 1 fs spacing of the reference trajectory
    reference = _diffusivities(
        np.array([a.positions for a in test[:window]]),
        np.array([a.cell.array for a in test[:window]]),
        test[0].numbers,
        np.arange(window, dtype=float),
    )
    element = max(reference, key=reference.get)
    errors = []
    for job in ("emt/tiny-cuau/seed0", "mace/tiny-cuau/seed0"):
        (stored,) = read_record_file(ScoreSeries, _artifact(run.run_dir, job, "series")).diffusion
        assert (stored.element, stored.window_fs) == (element, 20.0)
        assert stored.reference == pytest.approx(reference[element], rel=1e-12)
        trajectory = _artifact(run.run_dir, job, "trajectory")
        for index, found in enumerate(stored.replicas):
            replica = read_replica(trajectory, index)
            assert len(replica.time_fs) == window and replica.outcome.failure_step is None
            own = _diffusivities(replica.positions, replica.cell, replica.atomic_numbers, replica.time_fs)
            assert found == pytest.approx(own[element], rel=1e-12)
            errors.append(abs(found - stored.reference))
    with ResultsStore.open_existing(run.run_dir) as store:
        rows = {(r["model"], r["name"]): r for r in store.summaries(store.latest_run())}
    assert rows[("emt", "diffusivity_error")]["value"] == pytest.approx(np.mean(errors[:2]), rel=1e-12)
    assert rows[("mace", "diffusivity_error")]["value"] == pytest.approx(np.mean(errors[2:]), rel=1e-12)
    assert rows[("mace", "diffusivity_error")]["unit"] == "Å²/ps"


def test_stored_baselines_and_intervals_equal_a_recomputation(run: ReferenceRun) -> None:
    data = run.task_file.parent / "data"
    train, test = ase.io.read(data / "train.extxyz", ":"), ase.io.read(data / "test.extxyz", ":")
    baselines = read_record_file(Baselines, _artifact(run.run_dir, "mace/tiny-cuau/seed0", "baselines"))
    assert _artifact(run.run_dir, "emt/tiny-cuau/seed0", "baselines") == _artifact(
        run.run_dir, "mace/tiny-cuau/seed0", "baselines"
    )  # one baselines stage per task
    species = [29, 79]
    counts = np.array([[np.count_nonzero(a.numbers == z) for z in species] for a in train], dtype=float)
    e0, *_ = np.linalg.lstsq(counts, [a.get_potential_energy() for a in train], rcond=None)
    assert [baselines.element_energies[str(z)] for z in species] == pytest.approx(e0, rel=1e-9)
    composition = np.array([[np.count_nonzero(a.numbers == z) for z in species] for a in test]) @ e0
    truth = np.array([a.get_potential_energy() for a in test])
    per_atom = np.mean(np.abs(composition - truth) / [len(a) for a in test])
    assert baselines.energy_mae_per_atom == pytest.approx(per_atom, rel=1e-9)
    assert baselines.force_mae == pytest.approx(
        np.mean(np.abs(np.concatenate([a.get_forces() for a in test])))
    )
    with ResultsStore.open_existing(run.run_dir) as store:
        rows = {(r["model"], r["name"]): r for r in store.summaries(store.latest_run())}
    stable = rows[("emt", "stable_fraction")]
    wilson = stats.binomtest(2, 2).proportion_ci(method="wilson")  # 2 of 2 replicas stable
    assert (stable["value"], stable["high"]) == (1.0, 1.0)
    assert stable["low"] == pytest.approx(wilson.low, abs=1e-12)
    median = rows[("emt", "median_time_to_failure_ps")]
    assert (median["value"], median["low"], median["high"]) == pytest.approx((0.02, 0.02, 0.02))  # censored


def test_bumping_the_score_version_rescores_from_the_stored_trajectories(
    run: ReferenceRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = _copy(run, tmp_path / "run")
    before = _metrics(run_dir)
    monkeypatch.setitem(hashing.STAGE_VERSIONS, "score", hashing.STAGE_VERSIONS["score"] + 1)
    result = run_benchmark(tiny_jobs(run.task_file), run_dir, InProcessExecutor(torch_threads(1)))
    statuses = {(r.model, s.stage): s.status for r in result.records for s in r.stages}
    assert statuses[("mace", "train")] == statuses[("mace", "simulate")] == "cached"
    assert statuses[("emt", "simulate")] == statuses[("mace", "evaluate")] == "cached"
    assert statuses[("mace", "score")] == statuses[("emt", "score")] == "done"
    after = _metrics(run_dir)
    assert after.keys() == before.keys()
    for key, value in before.items():  # the same trajectories scored again: the same numbers
        assert after[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key


def _metrics(run_dir: Path) -> dict:
    with ResultsStore.open_existing(run_dir) as store:
        rows = store.metrics(store.latest_run(), system=None)
    skip = {
        "steps_per_s",
        "us_per_atom_step",
        "live_steps_per_s",
        "us_per_live_atom_step",
        "training_seconds",
    }
    return {(r["job_id"], r["system"], r["name"]): r["value"] for r in rows if r["name"] not in skip}


def test_a_run_folder_from_before_the_artifacts_gets_a_note(run: ReferenceRun, tmp_path: Path) -> None:
    run_dir = _copy(run, tmp_path / "run")
    with sqlite3.connect(run_dir / "results.sqlite") as connection:  # as an older egraffbench stored it
        connection.execute("DELETE FROM artifacts WHERE kind IN ('parity', 'series', 'baselines')")
        for job_id, results in connection.execute("SELECT job_id, results FROM jobs").fetchall():
            old = json.loads(results)
            old.pop("task", None)
            old.pop("schema_version")
            for section in old.values():
                section.pop("schema_version", None)
            scores = old["scores"]
            scores["stable_fraction"] = scores["stable_fraction"]["value"]  # score layout 1: bare numbers
            connection.execute("UPDATE jobs SET results=? WHERE job_id=?", (json.dumps(old), job_id))
    text, page = read_page(build_report(run_dir, tmp_path / "report").html)
    assert {"tiny-cuau-survival", "tiny-cuau-training", "tiny-cuau-speed-stability"} <= page.ids
    assert not {"tiny-cuau-structure-cuau", "tiny-cuau-violation", "tiny-cuau-parity"} & page.ids
    assert "missing: trivial baselines (2 job(s) without `baselines`); parity plot" in text
    assert "training and MD stay cached" in text


def test_series_of_score_stages_before_version_7_leave_a_note_instead_of_the_violation_figure(
    run: ReferenceRun, tmp_path: Path
) -> None:
    run_dir = _copy(run, tmp_path / "run")
    for path in run_dir.rglob("series.json"):  # as score stage 6 stored them: no segment, absolute energies
        old = json.loads(path.read_text())
        old["schema_version"] = 1
        for trace in old["violations"]:
            del trace["segment"], trace["energies"]
        path.write_text(json.dumps(old))
        read = read_record_file(ScoreSeries, path)
        assert {(t.segment, t.energies) for t in read.violations} == {("production", "absolute")}
    text, page = read_page(build_report(run_dir, tmp_path / "report").html)
    assert "tiny-cuau-violation" not in page.ids
    assert {"tiny-cuau-structure-cuau", "tiny-cuau-survival", "tiny-cuau-parity"} <= page.ids
    assert "EV/FV figure not drawn: the stored series of emt, mace hold the production MD" in text
    assert "(the score stage only: training, MD and replays stay cached" in text


def test_a_record_of_an_unknown_version_is_one_clear_line() -> None:
    with pytest.raises(SchemaError, match=r"^job x: not a readable Baselines \(record: schema version 7 of "):
        read_record(Baselines, {"schema_version": 7}, "job x")
