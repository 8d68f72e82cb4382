"""`egraffbench publish`: a run folder's store, report series and stage result records copied without
checkpoints or trajectories, byte for byte, with a provenance record whose checksums catch a changed file;
the published folder gives the same leaderboard as the run."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from egraffbench.cli.main import cli
from egraffbench.errors import ConfigError
from egraffbench.report.assemble import assemble_report
from egraffbench.report.collect import read_run
from egraffbench.report.merge import read_runs
from egraffbench.runner.benchmark import run_benchmark
from egraffbench.runner.machine import cpu_model, cpu_record
from egraffbench.runner.publish import HEAVY_KINDS, PROVENANCE_FILE, publish_run, verify_publication
from egraffbench.runner.stage_cache import stage_result_path
from egraffbench.store.database import DATABASE_FILE, ResultsStore
from test_runner_fixtures import ReferenceRun, shared_reference_run, tiny_jobs

runner = CliRunner(env={"COLUMNS": "240"})


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    return shared_reference_run(tmp_path_factory)


def _artifacts(folder: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(folder / DATABASE_FILE) as db:
        return sorted(db.execute("SELECT job_id, kind, path FROM artifacts").fetchall())


def _leaderboard(folder: Path) -> list[dict]:
    result = runner.invoke(cli, ["results", str(folder), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["leaderboard"]


def test_publish_copies_everything_but_checkpoints_and_trajectories(
    run: ReferenceRun, tmp_path: Path
) -> None:
    out = tmp_path / "published"
    result = runner.invoke(cli, ["publish", str(run.run_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    source = _artifacts(run.run_dir)
    assert {kind for _, kind, _ in source} >= set(HEAVY_KINDS)  # the run has what publishing leaves out
    kept = [row for row in source if row[1] not in HEAVY_KINDS]
    assert _artifacts(out) == kept and kept
    for _, _, relative in kept:
        assert (out / relative).read_bytes() == (run.run_dir / relative).read_bytes()
    records = {p.relative_to(run.run_dir).as_posix() for p in run.run_dir.glob("stages/*/*/result.json")}
    assert {record.split("/")[1] for record in records} >= {"train", "simulate", "score"}
    published = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert published == {DATABASE_FILE, PROVENANCE_FILE, *records, *(relative for _, _, relative in kept)}
    assert not any(p.suffix in (".h5", ".pt") for p in out.rglob("*"))
    assert _leaderboard(out) == _leaderboard(run.run_dir)
    provenance = json.loads((out / PROVENANCE_FILE).read_text())
    assert [r["command"] for r in provenance["runs"]]
    assert provenance["runs"][0]["versions"]["torch"]
    # which kernels computed the numbers: the ones this process chose (ATEN_CPU_CAPABILITY can pin them)
    assert provenance["runs"][0]["cpu"] == cpu_record()
    assert provenance["runs"][0]["cpu"]["torch_kernels"] == torch.backends.cpu.get_cpu_capability()
    assert provenance["machine"]["cpu_model"] == cpu_model()
    assert verify_publication(out) == []


def test_a_changed_published_file_fails_verification(run: ReferenceRun, tmp_path: Path) -> None:
    out = tmp_path / "published"
    provenance = publish_run(run.run_dir, out)
    changed = next(name for name in provenance["files"] if name.endswith(".json"))
    (out / changed).write_text((out / changed).read_text().replace("0", "1", 1))
    assert verify_publication(out) == [changed]


def test_publish_replaces_a_publication_but_never_another_folder(run: ReferenceRun, tmp_path: Path) -> None:
    out = tmp_path / "published"
    publish_run(run.run_dir, out)
    (out / "stale.txt").write_text("from an earlier publication")
    publish_run(run.run_dir, out)
    assert not (out / "stale.txt").exists()
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not a published run folder"):
        publish_run(run.run_dir, other)
    assert (other / "notes.txt").read_text() == "keep me"


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_publication_that_fails_leaves_the_earlier_one_whole_and_nothing_else(
    run: ReferenceRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing artifact is refused before anything is written; a disk that fills mid-copy leaves no staging
    folder, and the earlier publication under the name stays, byte for byte."""
    out = tmp_path / "published"
    publish_run(run.run_dir, out)
    before = _tree(out)
    source = tmp_path / "run"
    shutil.copytree(run.run_dir, source)
    (source / next(name for name in before if name.endswith("parity.json"))).unlink()
    with pytest.raises(ConfigError, match="artifact registered in the store but missing"):
        publish_run(source, out)
    assert _tree(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["published", "run"]

    copied: list[str] = []
    copy = shutil.copyfile

    def disk_full(src: Path, dst: Path) -> None:
        if copied:
            raise OSError(28, "No space left on device")
        copied.append(str(src))
        copy(src, dst)

    monkeypatch.setattr("egraffbench.runner.publish.shutil.copyfile", disk_full)
    with pytest.raises(OSError, match="No space left"):
        publish_run(run.run_dir, out)
    assert copied and _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["published", "run"]


def test_a_publication_killed_while_taking_its_name_is_restored_by_the_next(
    run: ReferenceRun, tmp_path: Path
) -> None:
    """Publishing moves the earlier folder aside, renames the new one into place, then removes the earlier
    one: killed before the rename, the earlier one comes back (and can be published into itself); killed
    after it, the earlier one is removed."""
    out = tmp_path / "published"
    publish_run(run.run_dir, out, models=["emt"])
    emt_only = _tree(out)
    aside = tmp_path / ".published.replaced"
    out.rename(aside)  # killed between moving the earlier publication aside and renaming the new one
    again = publish_run(out, out)
    assert again["republished_from"]["models_left_out"] == ["mace"] and not aside.exists()
    assert [row["model"] for row in _leaderboard(out)] == ["emt"]
    assert _tree(out).keys() == emt_only.keys()

    shutil.copytree(out, aside)  # killed after the new one took the name
    publish_run(run.run_dir, out)
    assert not aside.exists() and {row["model"] for row in _leaderboard(out)} == {"emt", "mace"}


def test_the_report_of_a_published_run_shows_what_the_run_shows(run: ReferenceRun, tmp_path: Path) -> None:
    out = tmp_path / "published"
    publish_run(run.run_dir, out)
    figures = {}
    for folder in (run.run_dir, out):
        with ResultsStore.open_existing(folder) as store:
            report = assemble_report(read_run(store))
        shown = [f for task in report.tasks for f in task.figures]
        figures[folder] = [(f.anchor, f.caption, len(f.png) > 0) for f in shown]
        assert not [note for task in report.tasks for note in task.notes if "missing" in note]
    assert figures[out] == figures[run.run_dir] and len(figures[out]) >= 5


def test_only_the_latest_run_is_published_with_every_stage_it_reused(
    run: ReferenceRun, tmp_path: Path
) -> None:
    """A later run of one of the two models (every stage reused) supersedes the first: the publication holds
    its job and files only, the record of every stage it reused, and both runs' commands and stage rows."""
    source = Path(shutil.copytree(run.run_dir, tmp_path / "run"))
    latest = run_benchmark(tiny_jobs(run.task_file, models=["emt"]), source, command="egraffbench run emt")
    assert latest.counts["cached"] == 1
    out = tmp_path / "published"
    provenance = publish_run(source, out)
    assert provenance["published_run"] == latest.run_id and len(provenance["runs"]) == 2
    with ResultsStore.open_existing(out) as store:
        assert [job["model"] for job in store.jobs(latest.run_id)] == ["emt"]
        assert [r["run_id"] for r in store.runs()][-1] == latest.run_id
        assert all(store.stages(r["run_id"]) for r in store.runs())  # earlier stage rows stay (job costs)
        assert not [row for row in store.artifacts(run.result.run_id)]
    (emt,) = latest.records
    reused = {
        stage_result_path(s.stage, s.key) for s in emt.stages if s.key is not None and s.stage != "fetch"
    }
    assert reused and reused <= set(provenance["files"])
    with ResultsStore.open_existing(source) as store:
        kept = {row["path"] for row in store.artifacts(latest.run_id)}
        superseded = {
            row["path"] for row in store.artifacts(run.result.run_id) if row["kind"] not in HEAVY_KINDS
        }
    assert superseded - kept and not (superseded - kept) & set(
        provenance["files"]
    )  # mace's series, parity...
    assert [row for row in _leaderboard(out) if row["model"] == "emt"] == [
        row for row in _leaderboard(run.run_dir) if row["model"] == "emt"
    ]
    assert verify_publication(out) == []


def test_a_chosen_run_is_published_without_the_runs_started_after_it(
    run: ReferenceRun, tmp_path: Path
) -> None:
    """`--run`: a finished run is published while another invocation goes on in the folder (here a later
    run): the later run, its job and its stage rows are left out; the publication reads as the chosen one."""
    source = Path(shutil.copytree(run.run_dir, tmp_path / "run"))
    later = run_benchmark(tiny_jobs(run.task_file, models=["emt"]), source, command="egraffbench run emt")
    out = tmp_path / "published"
    result = runner.invoke(cli, ["publish", str(source), "--out", str(out), "--run", run.result.run_id])
    assert result.exit_code == 0, result.output
    provenance = json.loads((out / PROVENANCE_FILE).read_text())
    assert provenance["published_run"] == run.result.run_id
    assert [r["run_id"] for r in provenance["runs"]][-1] == run.result.run_id
    with ResultsStore.open_existing(out) as store:
        assert store.latest_run() == run.result.run_id
        assert not store.stages(later.run_id) and store.stages(run.result.run_id)
    assert _leaderboard(out) == _leaderboard(run.run_dir)
    assert verify_publication(out) == []
    unknown = runner.invoke(cli, ["publish", str(source), "--out", str(tmp_path / "x"), "--run", "nope"])
    assert isinstance(unknown.exception, ConfigError) and "no run 'nope'" in str(unknown.exception)
    assert not (tmp_path / "x").exists()


def _stage_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.glob("stages/*/*/result.json")}


def test_a_subset_of_models_is_published_and_merges_back_into_the_whole(
    run: ReferenceRun, tmp_path: Path
) -> None:
    """`--models`: one model's jobs only, with no row, series or stage record of the other (its training
    record is not there; the task's shared baselines are); the two halves, published apart, merge into the
    leaderboard of the whole; a published folder is published again into itself without a model."""
    whole, emt, mace = tmp_path / "whole", tmp_path / "emt", tmp_path / "mace"
    publish_run(run.run_dir, whole)
    result = runner.invoke(cli, ["publish", str(run.run_dir), "--out", str(emt), "--models", "emt"])
    assert result.exit_code == 0, result.output
    publish_run(run.run_dir, mace, models=["mace"])
    with ResultsStore.open_existing(emt) as store:
        latest = store.latest_run()
        assert [job["model"] for job in store.jobs(latest)] == ["emt"]
        assert {row["job_id"].split("/")[0] for row in store.stages(latest)} == {"emt"}
        assert {row["job_id"].split("/")[0] for row in store.artifacts(latest)} == {"emt"}
        assert {row["job_id"].split("/")[0] for row in store.metrics(latest, system=None)} == {"emt"}
    with sqlite3.connect(emt / DATABASE_FILE) as db:
        assert db.execute("SELECT DISTINCT model FROM summaries").fetchall() == [("emt",)]
    files = {
        name: set(json.loads((folder / PROVENANCE_FILE).read_text())["files"])
        for name, folder in (("emt", emt), ("mace", mace), ("whole", whole))
    }
    assert files["emt"] | files["mace"] == files["whole"]
    assert files["emt"] & files["mace"] == {DATABASE_FILE, *(_stage_files(emt) & _stage_files(mace))}
    assert _stage_files(emt) | _stage_files(mace) == _stage_files(whole)
    assert _stage_files(mace) - _stage_files(emt) >= {
        p for p in _stage_files(whole) if p.startswith("stages/train/")
    }  # emt is not trained
    assert _stage_files(emt) & _stage_files(mace)  # shared stages (the task's baselines) are in both
    assert [row["model"] for row in _leaderboard(emt)] == ["emt"]
    assert json.loads((emt / PROVENANCE_FILE).read_text())["models_left_out"] == ["mace"]
    assert verify_publication(emt) == [] and verify_publication(mace) == []

    merged = {row["model"]: row for row in read_runs([emt, mace]).rows}
    with ResultsStore.open_existing(whole) as store:
        original = {row["model"]: row for row in read_run(store).rows}
    assert merged.keys() == original.keys() == {"emt", "mace"}
    for model, row in original.items():
        shared = row.keys() & merged[model].keys()
        assert len(shared) > 10 and {k: merged[model][k] for k in shared} == {k: row[k] for k in shared}

    again = publish_run(whole, whole, models=["mace"])
    assert again["models_left_out"] == ["emt"] and again["republished_from"]["published_run"] == latest
    assert _stage_files(whole) == _stage_files(mace) and verify_publication(whole) == []
    assert [row["model"] for row in _leaderboard(whole)] == ["mace"]


def test_publishing_a_model_the_run_lacks_is_one_error_and_writes_nothing(
    run: ReferenceRun, tmp_path: Path
) -> None:
    out = tmp_path / "published"
    result = runner.invoke(cli, ["publish", str(run.run_dir), "--out", str(out), "--models", "nequip"])
    assert isinstance(result.exception, ConfigError)
    assert "no jobs of model 'nequip'; its models: emt, mace" in str(result.exception)
    nothing = runner.invoke(cli, ["publish", str(run.run_dir), "--out", str(out), "--exclude", "nequip/*"])
    assert isinstance(nothing.exception, ConfigError)
    assert "--exclude 'nequip/*' matches none of its jobs (MODEL/TASK/seedN): " in str(nothing.exception)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_excluding_a_models_jobs_publishes_what_keeping_the_others_does(
    run: ReferenceRun, tmp_path: Path
) -> None:
    """`--exclude 'mace/*'` (job ids are MODEL/TASK/seedN) leaves out what `--models emt` does, and the
    provenance names the jobs and the models left out."""
    kept, excluded = tmp_path / "kept", tmp_path / "excluded"
    publish_run(run.run_dir, kept, models=["emt"])
    result = runner.invoke(cli, ["publish", str(run.run_dir), "--out", str(excluded), "--exclude", "mace/*"])
    assert result.exit_code == 0, result.output
    provenance = json.loads((excluded / PROVENANCE_FILE).read_text())
    assert provenance["models_left_out"] == ["mace"]
    assert [job_id.split("/")[0] for job_id in provenance["jobs_left_out"]] == ["mace"]
    assert set(provenance["files"]) == set(json.loads((kept / PROVENANCE_FILE).read_text())["files"])
    assert _leaderboard(excluded) == _leaderboard(kept)
