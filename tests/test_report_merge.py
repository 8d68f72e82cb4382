"""One report of several run folders: jobs matched by their stage cache keys, the same job used once,
leaderboard rows summarised again over the merged jobs, other settings refused with one error naming both
folders, and the merged runs listed in the report."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egraffbench import __version__
from egraffbench.cli.main import cli
from egraffbench.errors import ConfigError
from egraffbench.report.build import build_report
from egraffbench.report.collect import JobView, RunView
from egraffbench.report.merge import merge_runs, read_runs
from egraffbench.runner.summary import summarise
from egraffbench.store.database import DATABASE_FILE, ResultsStore
from egraffbench.store.records import JobRecord
from test_report_fixtures import read_page
from test_runner_fixtures import write_tiny_task

runner = CliRunner(env={"COLUMNS": "240"})
PRETRAINED_EMT = """kind: pretrained
name: my-emt
format: ase
calculator: ase.calculators.emt:EMT
"""
RUN = ["--replicas", "2", "--steps", "10"]
NUMBERS = ("force_mae", "wf_percent", "jsd", "ev", "fv", "stable_fraction", "wf_percent_low", "fv_high")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two run folders of `egraffbench run` (no training: a reference and an ASE model declared as
    pretrained): A holds emt and my-emt with seed 0, B my-emt with seeds 0 and 1."""
    base = tmp_path_factory.mktemp("merge")
    task_file = write_tiny_task(base, test_frames=16)
    model_file = base / "my-emt.yaml"
    model_file.write_text(PRETRAINED_EMT)
    runs = {
        "A": ["--models", "emt", "--models", str(model_file), "--seeds", "1"],
        "B": ["--models", str(model_file), "--seeds", "2"],
    }
    for name, models in runs.items():
        result = runner.invoke(cli, ["run", str(task_file), *models, *RUN, "--out", str(base / name)])
        assert result.exit_code == 0, result.output
    return base / "A", base / "B"


def _records(folder: Path) -> list[JobRecord]:
    with ResultsStore.open_existing(folder) as store:
        jobs = store.jobs(store.latest_run())
    return [
        JobRecord(
            j["job_id"],
            j["model"],
            j["task"],
            j["seed"],
            j["mode"],
            j["status"],
            0.0,
            0.0,
            results=j["results"],
        )
        for j in jobs
    ]


def _rows(view: RunView) -> dict[str, dict]:
    return {row["model"]: row for row in view.rows}


def test_merged_rows_are_summarised_over_the_union(folders: tuple[Path, Path]) -> None:
    first, second = folders
    view = read_runs([first, second])
    alone = {folder: _rows(read_runs([folder])) for folder in folders}
    assert view.merged and sorted(_rows(view)) == ["emt", "my-emt"]
    assert sorted(job.job_id for job in view.jobs) == [
        "emt/tiny-cuau/seed0",
        "my-emt/tiny-cuau/seed0",
        "my-emt/tiny-cuau/seed1",
    ]
    union = [r for r in _records(first) if r.model == "emt"] + _records(second)
    (seeds, metrics) = summarise(union)[("my-emt", "tiny-cuau")]
    expected = {m.name: (m.value, m.low, m.high) for m in metrics if m.system == ""}
    merged = _rows(view)["my-emt"]
    assert seeds == merged["seeds"] == 2
    for name in ("force_mae", "wf_percent", "jsd", "ev", "fv", "stable_fraction"):
        assert (merged[name], merged[f"{name}_low"], merged[f"{name}_high"]) == expected[name]
    # neither folder alone has these rows: A has one seed of my-emt, B no emt
    assert (
        alone[first]["my-emt"]["seeds"] == 1 and merged["wf_percent"] != alone[first]["my-emt"]["wf_percent"]
    )
    assert "emt" not in alone[second]
    assert {name: _rows(view)["emt"][name] for name in NUMBERS} == {
        name: alone[first]["emt"][name] for name in NUMBERS
    }
    # artifacts stay in the folder of the job's own run
    for job in view.jobs:
        assert job.run_dir == (first if job.model == "emt" else second)
        assert job.artifacts["trajectory"].is_file() and job.artifacts["trajectory"].is_relative_to(
            job.run_dir
        )
    used = {source.run_dir: (source.jobs, source.duplicates) for source in view.sources}
    assert used == {first: (1, 1), second: (2, 0)}  # my-emt seed 0 of A is B's, finished later


def test_a_copied_folder_adds_nothing(folders: tuple[Path, Path], tmp_path: Path) -> None:
    _, second = folders
    copy = tmp_path / "B-from-another-machine"
    shutil.copytree(second, copy)
    alone, merged = read_runs([second]), read_runs([second, copy])
    assert merged.merged and len(merged.jobs) == len(alone.jobs) == 2
    assert [(s.jobs, s.duplicates) for s in merged.sources] == [(2, 0), (0, 2)]
    assert _rows(merged)["my-emt"] == _rows(alone)["my-emt"]  # summarised again, equal to the stored summary
    assert not read_runs([second, second]).merged  # the same folder twice is one folder


def test_the_same_job_with_other_keys_is_refused_naming_both_folders(
    folders: tuple[Path, Path], tmp_path: Path
) -> None:
    first, _ = folders
    other = tmp_path / "A-other-settings"
    shutil.copytree(first, other)
    with sqlite3.connect(other / DATABASE_FILE) as db:  # as if simulated with other settings or code
        db.execute(
            "UPDATE stages SET key = 'f00' WHERE stage = 'simulate' AND job_id = 'emt/tiny-cuau/seed0'"
        )
    with pytest.raises(ConfigError) as error:
        build_report([first, other], tmp_path / "report")
    message = str(error.value)
    assert str(first) in message and str(other) in message
    assert "emt/tiny-cuau/seed0" in message and "simulate" in message
    assert not (tmp_path / "report").exists()


def _seed1_elsewhere(view: RunView, md: dict) -> tuple[RunView, RunView]:
    """Seed 0 of my-emt in one view, and seed 1 with MD results ``md`` in another from another folder."""
    seed0, seed1 = view.done_jobs("tiny-cuau", "my-emt")
    changed = replace(seed1, results={**seed1.results, "md": md}, run_dir=Path("elsewhere"))
    other = replace(
        view,
        run_dir=Path("elsewhere"),
        jobs=[changed],
        sources=[replace(view.sources[0], run_dir=Path("elsewhere"))],
    )
    return replace(view, jobs=[seed0]), other


def test_seeds_of_other_settings_are_not_pooled(folders: tuple[Path, Path]) -> None:
    _, second = folders
    view = read_runs([second])
    md = view.done_jobs("tiny-cuau", "my-emt")[1].results["md"]
    longer = {**md, "protocol": {**md["protocol"], "steps": md["protocol"]["steps"] + 10}}
    with pytest.raises(ConfigError, match=r"protocol\.steps 10 in one and 20 in the other"):
        merge_runs(_seed1_elsewhere(view, longer))


def test_seeds_at_other_numerics_versions_are_not_pooled(folders: tuple[Path, Path]) -> None:
    """A job records its architecture's numerics version (an ASE calculator declared as pretrained: 1; a
    reference potential none); seeds at other versions are refused, one that records none is pooled."""
    view = read_runs([folders[0]])
    assert view.done_jobs("tiny-cuau", "emt")[0].results["training"].get("architecture_version") is None
    seed0, seed1 = read_runs([folders[1]]).done_jobs("tiny-cuau", "my-emt")
    assert seed0.results["training"]["architecture_version"] == 1
    one, other = _seed1_elsewhere(read_runs([folders[1]]), seed1.results["md"])
    (moved,) = other.jobs
    for version, refused in [(2, True), (None, False), (1, False)]:
        training = {**moved.results["training"], "architecture_version": version}
        changed = replace(other, jobs=[replace(moved, results={**moved.results, "training": training})])
        if refused:
            with pytest.raises(ConfigError, match="ran at architecture version 1 in one and 2 in the other"):
                merge_runs([one, changed])
        else:
            assert [job.seed for job in merge_runs([one, changed]).done_jobs("tiny-cuau", "my-emt")] == [0, 1]


def test_md_carried_over_to_bond_relabelling_pools_with_md_made_with_it(folders: tuple[Path, Path]) -> None:
    """The published torchmdnet jobs of the molecular tasks hold MD carried over from the key made before
    relabelling existed: its stored protocol lacks the setting. A new seed, made with relabelling, pools with
    it; MD that lacks the setting without having been carried over does not."""
    view = read_runs([folders[1]])
    _, seed1 = view.done_jobs("tiny-cuau", "my-emt")
    md = seed1.results["md"]
    assert md["protocol"]["stability"]["bond_relabelling"] is True  # what a run makes now
    stability = {k: v for k, v in md["protocol"]["stability"].items() if k != "bond_relabelling"}
    older = {**md, "protocol": {**md["protocol"], "stability": stability}}
    with pytest.raises(ConfigError, match=r"stability\.bond_relabelling True in one and None in the other"):
        merge_runs(_seed1_elsewhere(view, older))
    carried = {**older, "adopted_from": "0123456789abcdef0123"}
    merged = merge_runs(_seed1_elsewhere(view, carried))
    assert [job.seed for job in merged.done_jobs("tiny-cuau", "my-emt")] == [0, 1]
    off = {**md, "protocol": {**md["protocol"], "stability": {**stability, "bond_relabelling": False}}}
    with pytest.raises(ConfigError, match=r"stability\.bond_relabelling True in one and False in the other"):
        merge_runs(_seed1_elsewhere(view, {**off, "adopted_from": None}))


def test_report_command_merges_folders_and_lists_the_runs(folders: tuple[Path, Path], tmp_path: Path) -> None:
    first, second = folders
    missing_out = runner.invoke(cli, ["report", str(first), str(second)])
    assert isinstance(missing_out.exception, ConfigError) and "--out" in str(missing_out.exception)
    out = tmp_path / "merged"
    result = runner.invoke(cli, ["report", str(first), str(second), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text, page = read_page(out / "report.html")
    assert "runs" in page.ids and {"my-emt", "emt"} <= {cell["model"] for cell in page.cells}
    markdown = (out / "report.md").read_text()
    for folder in folders:
        with ResultsStore.open_existing(folder) as store:
            run = store.runs()[-1]
        for shown in (run["run_id"], str(folder)):
            assert shown in text and shown in markdown
        assert f"run {run['run_id']} on {json.loads(run['settings'])['host']}" in markdown
    assert markdown.count(f"egraffbench {__version__}, torch ") == 2  # the versions each run stored


def test_job_view_keys_come_from_the_store(folders: tuple[Path, Path]) -> None:
    first, _ = folders
    (job,) = [j for j in read_runs([first]).jobs if j.model == "emt"]
    assert isinstance(job, JobView) and set(job.keys) == {"baselines", "evaluate", "simulate", "score"}
    assert job.finished_at is not None and job.mode == "dev"


def test_a_job_that_failed_in_one_folder_is_taken_from_the_folder_that_finished_it(
    folders: tuple[Path, Path],
) -> None:
    first, _ = folders
    view = read_runs([first])
    crashed = [
        replace(job, status="failed", error="killed", results={}, keys={}, finished_at=2e9, run_dir=Path("x"))
        for job in view.jobs
    ]
    elsewhere = replace(
        view, run_dir=Path("x"), jobs=crashed, sources=[replace(view.sources[0], run_dir=Path("x"))]
    )
    merged = merge_runs([elsewhere, view])
    assert [job.run_dir for job in merged.jobs] == [first, first] and not merged.failed_jobs()
    assert _rows(merged) == _rows(view)
    assert [(s.jobs, s.duplicates) for s in merged.sources] == [(0, 2), (2, 0)]


BLOCK_TORCH = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "e3nn"):
            raise ImportError(f"{name} is not installed here")
sys.meta_path.insert(0, Block())
"""


def test_summarising_merged_jobs_needs_no_torch() -> None:
    """The rows of a merged report come from `runner.summary`, which must import where torch cannot."""
    probe = BLOCK_TORCH + "import egraffbench.runner.summary\nprint('summary imported')"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "summary imported"
