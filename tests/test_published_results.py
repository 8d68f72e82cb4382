"""The published standard benchmark (results/standard/): its report is rebuilt from the committed results
alone — no checkpoints, trajectories or datasets — and gives the committed leaderboard and findings."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from egraffbench.report.build import ReportFiles
from egraffbench.report.merge import read_runs
from egraffbench.report.shared_systems import shared_systems
from egraffbench.runner.publish import verify_publication
from egraffbench.store.schema import TaskCard
from egraffbench.tasks import load_task
from fresh_cli import CLI
from headless_chromium import CHROMIUM, SKIP_REASON, png_size, render
from repository_scripts import load_script

STANDARD = Path(__file__).resolve().parents[1] / "results" / "standard"
ARTIFACTS = STANDARD.parents[1] / "test-artifacts"
RUNS = sorted(path for path in (STANDARD / "runs").glob("*") if path.is_dir())


def test_the_committed_runs_match_their_provenance() -> None:
    assert RUNS, f"{STANDARD / 'runs'}: no published run folders"
    for run in RUNS:
        assert verify_publication(run) == [], run
        assert not [p for p in run.rglob("*") if p.suffix in (".h5", ".pt")]


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ReportFiles]:
    """The report built again from copies of the committed runs (the report never writes into runs)."""
    folder = tmp_path_factory.mktemp("rebuilt")
    runs = [shutil.copytree(run, folder / "runs" / run.name) for run in RUNS]
    # The command a reader runs, in a fresh interpreter: without torch loaded it draws in forked workers,
    # which this test process (torch imported by other tests) would not fork. Its time is measured, not
    # asserted (docs/performance.md).
    arguments = ["report", *map(str, runs), "--out", str(folder / "report")]
    process = subprocess.run([*CLI, *arguments], capture_output=True, text=True)
    assert process.returncode == 0, process.stderr
    return folder / "runs", ReportFiles.in_folder(folder / "report")


@pytest.mark.parametrize("name", ["leaderboard.csv", "findings.md"])
def test_the_report_rebuilt_from_the_committed_results_is_committed(
    name: str, rebuilt: tuple[Path, ReportFiles]
) -> None:
    runs, files = rebuilt
    rebuilt_file = Path(getattr(files, {"leaderboard.csv": "csv", "findings.md": "findings"}[name]))
    committed = (STANDARD / "report" / name).read_text()
    assert rebuilt_file.read_text().replace(str(runs), "") == committed.replace(str(STANDARD / "runs"), "")


def test_a_tasks_md_line_states_the_rule_its_computed_md_ran_under(rebuilt: tuple[Path, ReportFiles]) -> None:
    """On 3bpa, 3bpa-600K and three MD17 tasks torchmdnet's MD was carried over from before bond relabelling
    existed (its records do not name it) and the other five models' MD was computed with it: the line states
    the computed MD's rule. acac's MD was all computed with it."""
    page = Path(rebuilt[1].html).read_text()
    relabelling = "by more than 0.5 Å with no relabelling of its atoms mending it"
    tasks = ("3bpa-600K", "md17-ethanol", "acac")
    section = {task: page.split(f'id="task-{task}"')[1].split('id="task-')[0] for task in tasks}
    assert all("Stable: no failure to 5 ps" in section[task] for task in tasks)
    assert all(relabelling in section[task] for task in tasks)


def test_the_pages_quoting_the_published_results_are_up_to_date() -> None:
    """README's headline table, docs/findings.md's findings and docs/performance.md's job costs are what
    `python scripts/sync_published_docs.py` writes from the committed results."""
    assert load_script("scripts/sync_published_docs.py").sync(check=True) == []


def _training_records(run: Path, key: str) -> tuple[list[dict], dict]:
    """A published training's log records and result record, without what depends on the machine's clock
    or on file bytes (checksums: torch.save writes a random serialization id into every file)."""
    folder = run / "stages" / "train" / key
    log = [json.loads(line) for line in (folder / "model" / "training_log.jsonl").read_text().splitlines()]
    result = json.loads((folder / "result.json").read_text())
    untimed = [{k: v for k, v in record.items() if k != "wall_seconds"} for record in log]
    return untimed, {k: v for k, v in result.items() if k not in ("training_seconds", "cost", "_checksums")}


def _machine_that_ran(run: Path) -> str:
    """The platform of the machine a published folder's run was made on: the first publication's, where the
    folder was published again (`publish --models`) from itself."""
    provenance = json.loads((run / "provenance.json").read_text())
    while "republished_from" in provenance:
        provenance = provenance["republished_from"]
    return provenance["machine"]["platform"]


def test_a_training_published_twice_is_the_same_bits_on_both_machines() -> None:
    """Results never depend on the machine: emt-cu3au-nve trains the same models as emt-cu3au (same stage
    key); emt-cu3au's were trained on one VM and lost with it, emt-cu3au-nve's were trained again on its
    replacement. Every loss of every epoch must agree bit for bit."""
    keys: dict[str, list[Path]] = {}
    for run in RUNS:
        for folder in (run / "stages" / "train").glob("*"):
            keys.setdefault(folder.name, []).append(run)
    shared = {key: runs for key, runs in keys.items() if len(runs) > 1}
    machines = {key: {_machine_that_ran(run) for run in runs} for key, runs in shared.items()}
    assert any(len(platforms) > 1 for platforms in machines.values()), (
        "no training published from two machines"
    )
    for key, runs in shared.items():
        first, *others = (_training_records(run, key) for run in runs)
        assert len(first[0]) > 1
        assert all(other == first for other in others), (key, runs)


def _published_tasks() -> set[str]:
    with (STANDARD / "report" / "leaderboard.csv").open() as handle:
        return {row["task"] for row in csv.DictReader(handle)}


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)
def test_the_published_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    html = STANDARD / "report" / "report.html"
    page = render(html, tmp_path / "profile")
    assert page.console == []
    tasks = _published_tasks()
    assert {f"leaderboard-{task}" for task in tasks} <= page.element_ids
    # every figure in the page was loaded: 6 per task at least (7 where EV/FV have a reference)
    assert len(page.images) == html.read_text().count("<img ") >= 6 * len(tasks)
    assert page.broken_images == []  # every figure decoded
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "published-report.png").write_bytes(page.screenshot_png)
    assert png_size(page.screenshot_png)[0] == 1400


def test_each_task_of_the_markdown_report_says_what_it_is() -> None:
    """Offline variants must be labelled as such wherever their numbers appear: report.md gives each task's
    kind and description (an offline variant's says so) under its heading, as report.html does."""
    markdown = (STANDARD / "report" / "report.md").read_text()
    tasks = _published_tasks()
    for name in tasks:
        spec = load_task(name)
        assert f"## {name}\n\n*{spec.kind}.* {spec.description}\n" in markdown


def _force_mae(structures: list[dict], kept: slice) -> float:
    """Σ|ΔF| / force components over the ``kept`` stored structures of each system, in eV/Å."""
    absolute = sum(sum(s["force_abs_sum"][kept]) for s in structures)
    return absolute / (3 * sum(sum(s["atoms"][kept]) for s in structures))


@pytest.mark.parametrize("model", ["botnet", "torchmdnet"])
def test_finding_3_compares_lips20_with_its_unseen_structure_twin_on_the_frames_both_test(model: str) -> None:
    """lips20 tests frames 900–999 of each system, its unseen-structure twin all 1000 of three of them: both
    models of each architecture are summarised on those three systems' frames 900–999, pooled and each system
    alone. The force MAEs are sums of the stored per-structure |ΔF| over those structures / their force
    components, the stable fractions the counts of the three systems' replicas with no failure, each inside
    its interval; the force MAE ratio's paired interval holds the ratio."""
    view = read_runs([STANDARD / "runs" / "lips20-a"])
    specs = {job.task: TaskCard.model_validate(job.results["task"]) for job in view.jobs}
    found = shared_systems(view, "lips20-unseen-structure", specs)
    assert found is not None and found.systems == ("Li2PS3-orth", "Li4P2S6", "gamma-Li3PS4")
    assert found.frames == 300
    shared = {}
    for board, task, kept in (
        (found.inside, "lips20", slice(None)),
        (found.outside, found.outside.task, slice(900, None)),
    ):
        (job,) = view.done_jobs(task, model)
        structures = [job.results["test_errors"]["structures"][system] for system in found.systems]
        assert {len(s["atoms"]) for s in structures} == {100 if task == "lips20" else 1000}
        force_mae = _force_mae(structures, kept)
        replicas = [r for r in job.results["scores"]["replica_values"] if r["system"] in found.systems]
        stable = sum(r["failure_time_fs"] is None for r in replicas) / len(replicas)
        (row,) = [row for row in board.rows if row.model == model]
        assert row.cells["stable_fraction"].value == stable
        assert row.cells["force_mae"].value == pytest.approx(force_mae, rel=1e-6)
        assert row.cells["force_mae"].low < force_mae < row.cells["force_mae"].high
        shared[task] = row.cells["force_mae"].value
    # the paired interval of the ratio holds it and, the frames' shared difficulty cancelled, is narrower than
    # the range the two intervals allow (measured: about a quarter of it)
    low, high = found.paired_force_mae[model]
    cells = [
        next(r for r in board.rows if r.model == model).cells["force_mae"]
        for board in (found.inside, found.outside)
    ]
    assert low < shared[found.outside.task] / shared["lips20"] < high
    assert high - low < 0.5 * (cells[1].high / cells[0].low - cells[1].low / cells[0].high)
    # each system alone: the same sums over its own stored structures
    assert [each.system for each in found.each] == list(found.systems)
    for each in found.each:
        for board, task, kept in (
            (each.inside, "lips20", slice(None)),
            (each.outside, each.outside.task, slice(900, None)),
        ):
            (job,) = view.done_jobs(task, model)
            structures = [job.results["test_errors"]["structures"][each.system]]
            (row,) = [row for row in board.rows if row.model == model]
            assert row.cells["force_mae"].value == pytest.approx(_force_mae(structures, kept), rel=1e-6)
    # the whole test sets differ by more than the intervals: lips20 over 16 systems, the twin over 1000 frames
    whole = {row["task"]: row["force_mae"] for row in view.rows if row["model"] == model}
    assert all(abs(whole[task] - value) > 0.005 for task, value in shared.items())  # eV/Å


def test_the_committed_polymorph_distances_are_what_the_reference_data_give(shared_datasets: Path) -> None:
    """results/standard/lips20-polymorphs.json, which docs/findings.md quotes, recomputed from the datasets:
    the Li2PS3 and Li3PS4 polymorphs' g(r) converge at 3000 K, Li4P2S6 stays apart."""
    script = load_script("scripts/polymorph_rdf.py")
    found = script.distances(shared_datasets)
    assert script.same(found, json.loads(script.OUTPUT.read_text()))
    late = {(r["reference"], r["other"]): r["wf_percent"]["frames 500-990"] for r in found["pairs"]}
    early = {(r["reference"], r["other"]): r["wf_percent"]["frames 0-90"] for r in found["pairs"]}
    for pair in (("Li2PS3-hex", "Li2PS3-orth"), ("beta-Li3PS4", "gamma-Li3PS4")):
        assert late[pair] < 0.2 * early[pair]
    assert late[("Li2PS3-hex", "Li4P2S6")] > 10 * late[("Li2PS3-hex", "Li2PS3-orth")]
