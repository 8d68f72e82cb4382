"""The report of a small stored run: every section and figure is there, the HTML table shows exactly the
stored metrics, and the baselines, ranks, intervals and findings are right for models with known errors."""

from __future__ import annotations

import base64
import csv
import re
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from typer.testing import CliRunner

from egraffbench.cli.main import cli
from egraffbench.errors import ConfigError
from egraffbench.md.protocol import MDProtocol
from egraffbench.metrics.survival import median_interval, wilson_interval
from egraffbench.report.build import ReportFiles, build_report
from egraffbench.report.collect import read_run
from egraffbench.report.findings import error_vs_stability, ood_degradation, pareto, winners
from egraffbench.report.html import replicas_phrase
from egraffbench.report.plots import Point, pareto_front
from egraffbench.report.series import violation_series
from egraffbench.report.table import Leaderboard, build_leaderboard
from egraffbench.runner.baselines import trivial_baselines
from egraffbench.runner.diffusion_scoring import diffusion_reference, replica_diffusivity
from egraffbench.store.catalog import COLUMN_BY_KEY, format_number
from egraffbench.store.database import ResultsStore
from egraffbench.store.records import JobRecord
from egraffbench.store.schema import Parity, ScoreSeries, TaskCard, read_record_file
from egraffbench.tasks import load_task
from test_report_fixtures import (
    SCALES,
    TASK,
    BuiltReport,
    StoredRun,
    read_page,
    shared_report,
    shared_stored_run,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory: pytest.TempPathFactory) -> StoredRun:
    return shared_stored_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> BuiltReport:
    return shared_report(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def report_files(report: BuiltReport) -> ReportFiles:
    return report.files


def test_report_has_every_section_and_figure(report_files: ReportFiles) -> None:
    text, page = read_page(report_files.html)
    slug = TASK
    sections = {"findings", f"task-{slug}", "failed", "definitions", f"leaderboard-{slug}"}
    figures = {
        f"{slug}-structure-cuau",
        f"{slug}-survival",
        f"{slug}-violation",
        f"{slug}-speed-stability",
        f"{slug}-error-stability",
        f"{slug}-training",
        f"{slug}-parity",
    }
    assert sections | figures <= page.ids
    assert len(page.images) == len(figures)
    for source in page.images:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1]).startswith(PNG_SIGNATURE)
    # self-contained: no scripts, no external resources, links only within the page
    assert "<script" not in text and "http://" not in text and "https://" not in text
    assert all(link.startswith("#") for link in page.links)
    assert "ModelError: broken/model: weights.pt missing" in text  # the failed job is listed


def test_html_table_shows_the_stored_metrics(report_files: ReportFiles, stored_run: StoredRun) -> None:
    _, page = read_page(report_files.html)
    with ResultsStore.open_existing(stored_run.run_dir) as store:
        stored = {(r["model"], r["name"]): r for r in store.summaries(stored_run.run_id)}
    shown = {(cell["model"], cell["metric"]): cell for cell in page.cells}
    compared = 0
    for (model, name), row in stored.items():
        if name not in COLUMN_BY_KEY:
            continue
        cell, column = shown[(model, name)], COLUMN_BY_KEY[name]
        assert float(cell["value"]) == row["value"]  # the exact stored double
        assert cell["v"].removeprefix("≥ ") == format_number(row["value"], column)
        if row["low"] is not None and row["high"] is not None and row["low"] < row["high"]:
            texts = cell["ci"].strip("[]").split(", ")
            if "e" in cell["ci"]:  # two significant digits
                tolerance = {"rel": 0.05}
            else:  # as many decimals as the value: off by at most half the last one
                tolerance = {"abs": 0.5 * 10.0 ** -len(texts[0].partition(".")[2]) + 1e-12}
            assert float(texts[0]) == pytest.approx(row["low"] * column.scale, **tolerance)
            assert float(texts[1]) == pytest.approx(row["high"] * column.scale, **tolerance)
        compared += 1
    assert compared >= 3 * 10  # three models, ten or more stored leaderboard metrics each
    assert {model for model, _ in shown} == {"emt", "soft", "wild"}  # the failed job has no row


def test_md_line_states_the_stability_rule_of_the_md_record(
    report_files: ReportFiles, stored_run: StoredRun
) -> None:
    text, _ = read_page(report_files.html)
    with ResultsStore.open_existing(stored_run.run_dir) as store:
        (job,) = read_run(store).done_jobs(TASK, "wild")
    protocol = job.results["md"]["protocol"]
    criteria = protocol["stability"]
    horizon_ps = MDProtocol.model_validate(protocol).horizon_steps * protocol["timestep_fs"] / 1000
    relabelling = " with no relabelling of its atoms mending it" if criteria["bond_relabelling"] else ""
    assert (
        f"Stable: no failure to {horizon_ps:.3g} ps, checked every {protocol['check_every']} steps; a "
        f"failure is a temperature above {criteria['temperature_factor']:g}× the target, two atoms closer "
        f"than {criteria['pair_floor']:g} Å, a molecule&#x27;s bond off its initial length by more than "
        f"{criteria['bond_deviation']:g} Å{relabelling}, or a periodic g(r) over the last "
        f"{criteria['rdf_window']} frames"
    ) in text


def test_baselines_ranks_and_best_values(report_files: ReportFiles, stored_run: StoredRun) -> None:
    rows = {row["model"]: row for row in csv.DictReader(report_files.csv.open())}
    frames = [atoms for system in stored_run.systems for atoms in system.frames]
    zero_force = np.mean([np.abs(atoms.get_forces()).mean() for atoms in frames])
    assert float(rows["soft"]["force_mae_baseline"]) == pytest.approx(zero_force, rel=1e-9)
    # forces × s miss by |1 − s| × |F|: 0.2 and 4 times the zero-force baseline
    assert float(rows["soft"]["force_mae_baseline_ratio"]) == pytest.approx(0.2, rel=1e-6)
    assert float(rows["wild"]["force_mae_baseline_ratio"]) == pytest.approx(4.0, rel=1e-6)
    assert (rows["soft"]["force_mae_rank"], rows["wild"]["force_mae_rank"]) == ("1", "2")
    assert (rows["soft"]["stable_fraction_rank"], rows["wild"]["stable_fraction_rank"]) == ("1", "2")
    assert rows["soft"]["place"] == "1" and rows["emt"]["place"] == ""  # the oracle is shown, not ranked
    assert rows["emt"]["reference_potential"] == "True"
    # Wilson 95 % interval of 0 stable out of 2 replicas
    assert float(rows["wild"]["stable_fraction_high"]) == pytest.approx(wilson_interval(0, 2)[1])
    _, page = read_page(report_files.html)
    best = {(c["model"], c["metric"]) for c in page.cells if c.get("rank") == "rank 1"}
    assert ("soft", "force_mae") in best and ("wild", "force_mae") not in best


def test_findings_are_computed_from_the_numbers(report_files: ReportFiles) -> None:
    markdown = report_files.markdown.read_text()
    findings = markdown.split("## Findings", 1)[1]
    assert "soft is best on" in findings
    assert re.search(r"wild \(F MAE = 4\.00 × baseline\)", findings)
    assert "wild: 2 × temperature" in findings  # both replicas of the overheating model
    assert "MD speed was measured once per model" in findings  # one seed: the Pareto front's speeds
    assert "| 1 | soft | 2 |" in markdown  # place, model, seeds


def test_violation_along_the_rollout_is_exact_for_scaled_forces(stored_run: StoredRun) -> None:
    with ResultsStore.open_existing(stored_run.run_dir) as store:
        view = read_run(store)
    stored = [read_record_file(ScoreSeries, job.artifacts["series"]) for job in view.done_jobs(TASK, "soft")]
    series = violation_series(stored)
    assert series is not None and (series.segment, series.reference) == ("production", "oracle")
    assert series.time_fs[0] == 0.0 and series.time_fs[-1] == pytest.approx(20.0)
    assert set(series.count) == {4}  # two replicas of each of two seeds at every frame
    np.testing.assert_allclose(series.ev, 0.2 / 1.8, rtol=1e-5)  # |1 − s| / (|s| + 1) with s = 0.8
    np.testing.assert_allclose(series.fv, 0.2 / 1.8, rtol=1e-5)
    with ResultsStore.open_existing(stored_run.run_dir) as store:
        rows = {(r["model"], r["name"]): r["value"] for r in store.summaries(stored_run.run_id)}
    assert series.pooled("ev") == pytest.approx(rows[("soft", "ev")], rel=1e-12)
    assert series.pooled("fv") == pytest.approx(rows[("soft", "fv")], rel=1e-12)


def test_stored_parity_of_scaled_forces(stored_run: StoredRun) -> None:
    with ResultsStore.open_existing(stored_run.run_dir) as store:
        (job,) = read_run(store).done_jobs(TASK, "wild")
    parity = read_record_file(Parity, job.artifacts["parity"])
    frames = [atoms for system in stored_run.systems for atoms in system.frames]
    chosen = np.unique(np.linspace(0, len(frames) - 1, min(50, len(frames))).round().astype(int))
    assert parity.frames == len(chosen) == 24
    e0 = {int(z): e for z, e in parity.element_energies.items()}
    offset = np.array([sum(e0[z] for z in frames[i].numbers) for i in chosen])
    atoms = np.array([len(frames[i]) for i in chosen])
    energies = np.array([frames[i].get_potential_energy() for i in chosen])
    np.testing.assert_allclose(parity.energy_reference, (energies - offset) / atoms, rtol=0, atol=1e-12)
    forces = np.concatenate([frames[i].get_forces().ravel() for i in chosen])
    np.testing.assert_array_equal(parity.force_reference, forces)
    # the stored reference carries the extxyz file's digits; EMT recomputes them to about 1e-6 eV/Å
    np.testing.assert_allclose(parity.force_predicted, SCALES["wild"] * forces, atol=1e-5)
    predicted = (np.array(parity.energy_predicted) * atoms + offset) / SCALES["wild"]
    np.testing.assert_allclose(predicted, energies, rtol=1e-6)


def _labelled(numbers: list[int], energy: float) -> Atoms:
    atoms = Atoms(numbers=numbers, positions=np.arange(3 * len(numbers)).reshape(-1, 3))
    atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=np.full((len(numbers), 3), 0.3))
    return atoms


def test_trivial_baselines_recover_element_energies() -> None:
    e_h, e_o = -13.6, -430.0
    train = [_labelled([1, 1, 8], 2 * e_h + e_o), _labelled([1, 8], e_h + e_o), _labelled([8, 8], 2 * e_o)]
    test = [_labelled([1, 1, 8], 2 * e_h + e_o + 0.3), _labelled([1, 8, 8], e_h + 2 * e_o - 0.3)]
    baselines = trivial_baselines(train, test)
    assert baselines.element_energies == pytest.approx({"1": e_h, "8": e_o})
    assert baselines.energy_mae_per_atom == pytest.approx(0.1)  # 0.3 eV off on 3-atom frames
    assert baselines.force_mae == pytest.approx(0.3)


def test_intervals_of_the_stability_scores() -> None:
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    for total in range(
        1, 41
    ):  # all stable: the interval reaches 1 exactly (plots draw value − low, high − value)
        low, high = wilson_interval(total, total)
        assert high == 1.0 and low < 1.0
        assert wilson_interval(0, total)[0] == 0.0
    times, low, high = [0.0, 0.1, 0.2], [1.0, 0.3, 0.05], [1, 0.8, 0.45]
    assert median_interval(times, low, high, 1.0) == (0.1, 0.2)
    assert median_interval(times, low, [1.0, 0.9, 0.6], 1.0) == (0.1, 1.0)  # not reached: run length


def test_pareto_front_keeps_models_nobody_beats_on_both() -> None:
    points = {
        "fast": Point(100.0, 0.2),
        "stable": Point(1.0, 1.0),
        "both-worse": Point(0.5, 0.9),
        "mid": Point(10, 0.6),
    }
    assert pareto_front(points) == ["stable", "mid", "fast"]


def test_report_command_prints_where_the_report_is(report: BuiltReport, tmp_path: Path) -> None:
    assert f"report: {report.files.html}" in report.output
    assert all(path.is_file() for path in (report.files.html, report.files.markdown, report.files.csv))
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert isinstance(result.exception, ConfigError) and "no results.sqlite" in str(result.exception)


def test_report_of_a_run_whose_jobs_all_failed(tmp_path: Path) -> None:
    with ResultsStore(tmp_path) as store:
        run_id = store.start_run("dev", "", {"tasks": ["my-task"], "seeds": [0]})
        store.add_jobs(run_id, [("mace/my-task/seed0", "mace", "my-task", 0, "dev")])
        failed = JobRecord(
            "mace/my-task/seed0", "mace", "my-task", 0, "dev", "failed", 0.0, 1.0, error="boom"
        )
        store.record_job(run_id, failed)
    files = build_report(tmp_path)
    text, page = read_page(files.html)
    assert {"failed", "task-my-task"} <= page.ids and not page.images
    assert "boom" in text


def test_unfinished_run_is_summarised_like_the_store_would(stored_run: StoredRun, tmp_path: Path) -> None:
    with ResultsStore.open_existing(stored_run.run_dir) as store:
        finished = read_run(store)
    with ResultsStore(
        tmp_path
    ) as store:  # the same jobs, as if the run had been interrupted before summaries
        run_id = store.start_run("dev", "", {})
        for job in finished.jobs:
            record = JobRecord(job.job_id, job.model, job.task, job.seed, "dev", job.status, 0.0, 1.0)
            record.results = job.results
            store.record_job(run_id, record)
        store.finish_run(run_id, "interrupted", {"total": 5, "cached": 0, "failed": 1, "stages_reused": 0})
        unfinished = read_run(store)
    assert sorted(unfinished.unsummarised) == [("emt", TASK), ("soft", TASK), ("wild", TASK)]
    stored = {row["model"]: row for row in finished.rows}
    for row in unfinished.rows:
        for key in ("force_mae", "stable_fraction", "wf_percent", "ev", "steps_per_s", "live_steps_per_s"):
            assert row[key] == pytest.approx(stored[row["model"]][key], rel=1e-12)


def _board(task: str, values: dict[str, tuple[float, float]]) -> Leaderboard:
    """A leaderboard of models with (force MAE eV/Å, fraction stable)."""
    rows = [
        {"model": model, "task": task, "seeds": 1, "force_mae": force, "stable_fraction": stable}
        for model, (force, stable) in values.items()
    ]
    return build_leaderboard(task, rows, set(), {}, None)


def test_the_pareto_finding_says_when_speeds_were_measured_once() -> None:
    rows = [{"model": m, "task": "t", "seeds": 3, "stable_fraction": f} for m, f in (("a", 1.0), ("b", 0.8))]

    def front_text(speeds: dict[str, tuple[float, float, float]]) -> str:
        extras = {
            m: {"live_steps_per_s": dict(zip(("value", "low", "high"), v, strict=True))}
            for m, v in speeds.items()
        }
        finding = pareto(build_leaderboard("t", rows, set(), extras, None), ["a", "b"])
        assert finding is not None
        return finding.text

    over_seeds = front_text({"a": (10.0, 9.0, 11.0), "b": (30.0, 28.0, 32.0)})
    assert over_seeds == "On the Pareto front (no other model is both faster and more stable): a, b."
    once = front_text(
        {"a": (10.0, 10.0, 10.0), "b": (30.0, 28.0, 32.0)}
    )  # one model's speed: one measurement
    assert once.startswith(over_seeds) and "measured once per model" in once


def test_who_wins_what_names_the_live_md_speed_not_the_batch_speed() -> None:
    """The batch's speed as it ran favours models whose replicas fail early: shown, never named a win."""
    rows = [
        {"model": "fragile", "task": "t", "seeds": 1, "stable_fraction": 0.1, "steps_per_s": 30.0},
        {"model": "sturdy", "task": "t", "seeds": 1, "stable_fraction": 1.0, "steps_per_s": 20.0},
    ]
    extras = {
        "fragile": {"live_steps_per_s": {"value": 8.0}},
        "sturdy": {"live_steps_per_s": {"value": 20.0}},
    }
    finding = winners(build_leaderboard("t", rows, set(), extras, None))
    assert finding is not None
    assert "sturdy is best on stable, MD speed." in finding.text and "fragile" not in finding.text


def test_rank_correlation_of_force_error_and_stability() -> None:
    board = _board("t", {"a": (0.01, 1.0), "b": (0.02, 0.8), "c": (0.05, 0.2), "d": (0.09, 0.0)})
    finding = error_vs_stability(board)
    assert finding is not None
    assert (
        "Spearman ρ = -1.00" in finding.text and "lower force error were the more stable ones" in finding.text
    )
    tied = error_vs_stability(_board("t", {"a": (0.01, 1.0), "b": (0.02, 1.0), "c": (0.05, 1.0)}))
    assert tied is not None and "equally stable" in tied.text


def test_out_of_distribution_degradation() -> None:
    in_distribution, shifted = (
        TaskCard(name=spec.name, kind=spec.kind, train=[str(s) for s in spec.train])  # same training data
        for spec in (load_task("3bpa"), load_task("3bpa-600K"))
    )
    boards = {
        "3bpa": _board("3bpa", {"mace": (0.02, 1.0), "nequip": (0.03, 1.0)}),
        "3bpa-600K": _board("3bpa-600K", {"mace": (0.05, 0.6), "nequip": (0.03, 1.0)}),
    }
    (finding,) = ood_degradation(boards, {"3bpa": in_distribution, "3bpa-600K": shifted})
    assert finding.topic.startswith("3bpa → 3bpa-600K")
    assert "mace: F MAE × 2.50, stable 1.00 → 0.60" in finding.text
    assert "nequip: F MAE × 1.00, stable 1.00 → 1.00" in finding.text


def test_diffusivity_of_a_random_walk() -> None:
    # Li atoms on a random walk of 0.05 Å per Cartesian component per 1 fs frame: D = 3 · 0.05² / 6 Å²/fs
    walk = np.cumsum(np.random.default_rng(0).normal(scale=0.05, size=(400, 64, 3)), axis=0)
    cell = 40.0 * np.eye(3)
    frames = [Atoms(numbers=[3] * 64, positions=p, cell=cell, pbc=True) for p in walk]
    reference = diffusion_reference("box", frames, True, 1.0, run_length_fs=399.0)
    assert reference is not None and reference.element == "Li" and reference.window_fs == 399.0
    assert reference.reference == pytest.approx(1.25, rel=0.15)  # Å²/ps
    cells, numbers, times = np.broadcast_to(cell, (400, 3, 3)), np.full(64, 3), np.arange(400.0)
    assert replica_diffusivity(reference, walk, cells, numbers, times) == reference.reference
    faster = replica_diffusivity(reference, np.sqrt(2.0) * walk, cells, numbers, times)  # twice the MSD
    assert faster == pytest.approx(2.0 * reference.reference, rel=1e-9)
    assert replica_diffusivity(reference, walk[:10], cells[:10], numbers, times[:10]) is None  # too short
    assert diffusion_reference("box", frames, False, 1.0, 399.0) is None  # not defined without cells


def test_report_data_options_are_deprecated_and_hidden(stored_run: StoredRun, tmp_path: Path) -> None:
    arguments = ["report", str(stored_run.run_dir), "--out", str(tmp_path), "--data-root", str(tmp_path)]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0, result.output
    assert "warning: --data-root is deprecated and ignored" in result.output
    assert (tmp_path / "report.html").is_file()
    assert "--data-root" not in CliRunner().invoke(cli, ["report", "--help"]).output


def test_the_md_line_names_systems_of_one_count_and_temperature_together() -> None:
    assert (
        replicas_phrase({"md17-ethanol": 10}, {"md17-ethanol": 500.0})
        == "10 replicas of md17-ethanol at 500 K"
    )
    lips20 = {name: 1 for name in ("Li", "P", "S")} | {"Li2S": 2}
    temperatures = dict.fromkeys(lips20, 3000.0)
    assert replicas_phrase(lips20, temperatures) == (
        "1 replica of each of 3 systems (Li, P, S) at 3000 K, 2 replicas of Li2S at 3000 K"
    )
    assert replicas_phrase({"a": 4, "b": 4}, {"a": 300.0, "b": 600.0}) == (
        "4 replicas of a at 300 K, 4 replicas of b at 600 K"
    )
