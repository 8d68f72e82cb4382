"""What stages cost: every computed stage records its compute and CPU seconds, over interrupted attempts too
(training and MD carry their clocks in their checkpoints); reused stages keep the cost of the attempt that
computed them; `benchmarks/job_costs.py` counts each stage once, and reads results written before costs were
and checkpoints written before they carried CPU seconds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import ModuleType

import pytest
import torch

from egraffbench.md.checkpoint import checkpoint_path, read_checkpoint
from egraffbench.md.engine import SimulationProgress, simulate
from egraffbench.md.protocol import MDProtocol
from egraffbench.models.presets import load_preset
from egraffbench.models.registry import reference_potential
from egraffbench.numerics import RESULT_TORCH_THREADS
from egraffbench.runner.benchmark import run_benchmark
from egraffbench.runner.executors import InProcessExecutor
from egraffbench.runner.publish import publish_run
from egraffbench.runner.stages import train_stage
from egraffbench.store.schema import SimulateResult, StageCost, TrainResult
from repository_scripts import load_script
from summation_order import torch_threads
from test_runner_fixtures import ReferenceRun, rattled, shared_reference_run, tiny_jobs
from test_runner_resume import KillAt, Killed

MACE, EMT = "mace/tiny-cuau/seed0", "emt/tiny-cuau/seed0"


@pytest.fixture
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    return shared_reference_run(tmp_path_factory)


@pytest.fixture(scope="module")
def job_costs() -> ModuleType:
    return load_script("benchmarks/job_costs.py")


def test_interrupted_training_and_md_cost_every_attempt_and_a_cached_rerun_reads_the_same(
    reference_run: ReferenceRun, tmp_path: Path, job_costs: ModuleType
) -> None:
    jobs = tiny_jobs(reference_run.task_file)
    run_dir = tmp_path / "run"
    threads = torch_threads(1)
    executor = InProcessExecutor(threads)
    with pytest.raises(Killed):
        run_benchmark(jobs, run_dir, executor, KillAt(epoch=1))
    (log,) = run_dir.glob("stages/train/*/model/training_log.jsonl")
    first_training = json.loads(log.read_text().splitlines()[0])["wall_seconds"]
    first_training_cpu = _training_cpu_seconds(run_dir)
    assert first_training_cpu > 0
    with pytest.raises(Killed):
        run_benchmark(jobs, run_dir, executor, KillAt(md_step=12))  # checkpoints every 5 steps
    (saved,) = run_dir.glob("stages/simulate/*/trajectory.h5.checkpoint")
    checkpoint = read_checkpoint(saved, "cpu")
    first_md, first_md_cpu = checkpoint.wall_seconds, checkpoint.cpu_seconds
    assert first_md > 0 and first_md_cpu is not None and first_md_cpu > 0

    finished = run_benchmark(jobs, run_dir, executor)
    mace = next(record for record in finished.records if record.model == "mace")
    training = TrainResult.model_validate(mace.results["training"])
    md = SimulateResult.model_validate(mace.results["md"])
    assert training.cost is not None and md.cost is not None
    # training resumed after epoch 1 in the second run: its cost holds the first attempt's clock exactly
    assert training.cost.earlier_seconds == pytest.approx(first_training)
    assert training.cost.earlier_cpu_seconds == first_training_cpu
    assert training.training_seconds >= first_training
    assert training.cost.compute_seconds >= training.training_seconds
    # MD resumed from step 10 in the third run: md_seconds and its cost count the part before the kill
    assert md.resumed_from_step == 10
    assert md.cost.earlier_seconds == pytest.approx(first_md)
    assert md.cost.earlier_cpu_seconds == first_md_cpu
    assert md.md_seconds >= first_md
    expected = md.cost.attempt_seconds + first_md
    assert md.cost.compute_seconds == pytest.approx(expected)
    for cost in (training.cost, md.cost):
        assert cost.torch_threads == threads
        assert cost.cpu_seconds > 0 and cost.load_start >= 0 and cost.load_end >= 0

    rows = {row["job"]: row for row in job_costs.job_rows(run_dir)}
    assert rows[MACE]["train"] == training.cost.compute_seconds
    assert rows[MACE]["simulate"] == md.cost.compute_seconds
    assert rows[EMT].get("train") is None  # a reference potential is not trained
    assert rows[MACE]["resumed"] and not rows[MACE]["cpu_partial"]  # every attempt's CPU is counted
    # the same results as written before checkpoints carried CPU seconds: the finishing attempts' only, marked
    before = tmp_path / "before"
    shutil.copytree(run_dir, before)
    _without_carried_cpu(before)
    old = {row["job"]: row for row in job_costs.job_rows(before)}
    assert old[MACE]["cpu"] == pytest.approx(rows[MACE]["cpu"] - first_training_cpu - first_md_cpu)
    assert old[MACE]["cpu_partial"] and not old[EMT]["cpu_partial"]
    lower_bound = f"| {old[MACE]['total']:.0f} | ≥ {old[MACE]['cpu']:.0f} |"
    assert lower_bound in job_costs.markdown(list(old.values()))
    assert "≥" not in job_costs.markdown(list(rows.values()))
    shared = [job for job, row in rows.items() if row.get("baselines") is not None]
    assert len(shared) == 1  # one baselines stage for the task, counted once

    again = run_benchmark(jobs, run_dir, executor)
    assert again.counts["cached"] == 2
    rerun = next(record for record in again.records if record.model == "mace")
    assert rerun.results["training"]["cost"] == mace.results["training"]["cost"]
    assert rerun.results["md"]["cost"] == mace.results["md"]["cost"]
    assert {row["job"]: row for row in job_costs.job_rows(run_dir)} == rows
    table = job_costs.markdown(list(rows.values()))
    assert f"{sum(row['total'] for row in rows.values()):.0f} s computed in all" in table
    assert "| mace | 1 |" in table and "| tiny-cuau | 2 |" in table


def test_a_job_whose_training_alone_resumed_is_marked_resumed(
    reference_run: ReferenceRun, tmp_path: Path, job_costs: ModuleType
) -> None:
    """The table says it resumed, though its MD did not; its CPU seconds count both attempts, unless the
    checkpoint was written before checkpoints carried them."""
    jobs, run_dir = tiny_jobs(reference_run.task_file), tmp_path / "run"
    executor = InProcessExecutor(torch_threads(1))
    with pytest.raises(Killed):
        run_benchmark(jobs, run_dir, executor, KillAt(epoch=1))
    finished = run_benchmark(jobs, run_dir, executor)
    mace = next(record for record in finished.records if record.model == "mace")
    assert mace.results["md"]["resumed_from_step"] is None
    assert TrainResult.model_validate(mace.results["training"]).cost.earlier_seconds > 0
    rows = {row["job"]: row for row in job_costs.job_rows(run_dir)}
    assert rows[MACE]["resumed"] and not rows[EMT]["resumed"]
    assert not rows[MACE]["cpu_partial"]
    assert f"| {MACE} (resumed) |" in job_costs.markdown(list(rows.values()))
    fresh = {row["job"]: row for row in job_costs.job_rows(reference_run.run_dir)}
    assert not fresh[MACE]["resumed"]


def _training_cpu_seconds(run_dir: Path) -> float:
    """The CPU seconds that the (one) training checkpoint of ``run_dir`` carries."""
    (saved,) = run_dir.glob("stages/train/*/model/checkpoint.pt")
    return torch.load(saved, weights_only=True)["state"]["cpu_seconds"]


def _without_carried_cpu(run_dir: Path) -> None:
    """Results as written before checkpoints carried CPU seconds: costs without ``earlier_cpu_seconds``."""
    for path in run_dir.glob("stages/*/*/result.json"):
        result = json.loads(path.read_text())
        result["cost"].pop("earlier_cpu_seconds")
        path.write_text(json.dumps(result))


def _without_costs(run_dir: Path) -> None:
    """Results as written before costs were recorded: no cost, the training split size as train_frames."""
    for path in run_dir.glob("stages/*/*/result.json"):
        result = json.loads(path.read_text())
        result.pop("cost")
        if "train_split_frames" in result:
            result["train_frames"] = result.pop("train_split_frames")
            result["val_frames"] = result.pop("val_split_frames")
        path.write_text(json.dumps(result))


def test_results_without_costs_are_reused_and_read_from_the_old_clocks(
    reference_run: ReferenceRun, tmp_path: Path, job_costs: ModuleType
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(reference_run.run_dir, run_dir)
    _without_costs(run_dir)
    again = run_benchmark(tiny_jobs(reference_run.task_file), run_dir, InProcessExecutor(torch_threads(1)))
    assert again.counts["cached"] == 2  # results of before still pass the stage checks
    mace = next(record for record in again.records if record.model == "mace")
    assert mace.results["training"]["cost"] is None and mace.results["md"]["cost"] is None
    rows = {row["job"]: row for row in job_costs.job_rows(run_dir)}
    assert rows[MACE]["train"] == mace.results["training"]["training_seconds"]
    assert rows[MACE]["simulate"] == mace.results["md"]["md_seconds"]
    assert rows[MACE]["cpu"] is None and rows[MACE]["threads"] == []
    computed = next(record for record in reference_run.result.records if record.model == "mace")
    first = {s.stage: s.seconds for s in computed.stages}
    assert rows[MACE]["score"] == pytest.approx(first["score"])  # the runner's seconds of the first run


def test_train_frames_are_the_frames_trained_on(tmp_path: Path) -> None:
    config = load_preset("mace", "test")
    limits = {"max_epochs": 1, "max_train_frames": 5, "max_val_frames": 10}
    config = config.model_copy(update={"training": config.training.model_copy(update=limits)})
    result = train_stage(config, rattled(8, seed=1), rattled(4, seed=2), 0, tmp_path, None)
    assert (result["train_frames"], result["train_split_frames"]) == (min(8, 5), 8)
    assert (result["val_frames"], result["val_split_frames"]) == (min(4, 10), 4)
    assert result["earlier_seconds"] == 0.0  # a fresh training carries nothing


def test_md_carries_its_clock_in_the_checkpoint_and_one_of_before_carries_none(tmp_path: Path) -> None:
    def crash(progress: SimulationProgress) -> None:
        if progress.step == 7:  # after the checkpoint of step 5
            raise Killed

    out = tmp_path / "md.h5"
    protocol = MDProtocol(steps=10, checkpoint_every=5)
    with pytest.raises(Killed):
        simulate(reference_potential("emt"), rattled(2, seed=4), protocol, out, callback=crash)
    saved = checkpoint_path(out)
    checkpoint = read_checkpoint(saved, "cpu")
    first, first_cpu = checkpoint.wall_seconds, checkpoint.cpu_seconds
    assert first > 0 and first_cpu is not None and first_cpu > 0
    payload = torch.load(saved, weights_only=True)
    del payload["wall_seconds"], payload["cpu_seconds"]  # as written before checkpoints carried them
    torch.save(payload, saved)
    old = read_checkpoint(saved, "cpu")
    assert (old.wall_seconds, old.cpu_seconds) == (0.0, None)
    payload["wall_seconds"], payload["cpu_seconds"] = first, first_cpu
    torch.save(payload, saved)
    resumed = simulate(reference_potential("emt"), rattled(2, seed=4), protocol, out)
    assert (resumed.resumed_from, resumed.resumed_wall_s, resumed.resumed_cpu_s) == (5, first, first_cpu)


def test_a_training_resumed_from_a_checkpoint_without_cpu_seconds_carries_none(tmp_path: Path) -> None:
    """Its clocks go on (wall from the checkpoint, CPU unknown), and the checkpoints after it say so too."""
    config = load_preset("mace", "test")
    config = config.model_copy(update={"training": config.training.model_copy(update={"max_epochs": 1})})
    train, val = rattled(4, seed=1), rattled(2, seed=2)
    first = train_stage(config, train, val, 0, tmp_path, None)
    assert first["earlier_cpu_seconds"] == 0.0  # fresh: nothing carried, nothing unknown
    saved = next(tmp_path.glob("**/checkpoint.pt"))
    payload = torch.load(saved, weights_only=True)
    assert payload["state"]["cpu_seconds"] > 0
    del payload["state"]["cpu_seconds"]  # as written before 2026-12-05
    torch.save(payload, saved)
    longer = config.model_copy(update={"training": config.training.model_copy(update={"max_epochs": 2})})
    resumed = train_stage(longer, train, val, 0, tmp_path, None)
    assert resumed["earlier_seconds"] == payload["state"]["wall_seconds"] > 0
    assert resumed["earlier_cpu_seconds"] is None
    assert "cpu_seconds" not in torch.load(saved, weights_only=True)["state"]


def test_a_published_run_reports_the_same_costs(
    reference_run: ReferenceRun, tmp_path: Path, job_costs: ModuleType
) -> None:
    published = tmp_path / "published"
    publish_run(reference_run.run_dir, published)
    rows = job_costs.job_rows(published)
    assert rows == job_costs.job_rows(reference_run.run_dir)
    assert all(row["train"] and row["simulate"] and row["cpu"] for row in rows if row["model"] != "emt")


def test_jobs_run_with_the_results_thread_count_whatever_the_process_had(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    """A process with 2 torch threads (a 2-core machine's default) still runs every stage with one
    (egraffbench.numerics: the thread count changes the last bits), and has its 2 back afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        run_benchmark(tiny_jobs(reference_run.task_file, models=["emt"]), tmp_path / "run")
        assert torch.get_num_threads() == 2  # the caller's count, restored
    finally:
        torch.set_num_threads(previous)
    results = [json.loads(path.read_text()) for path in (tmp_path / "run").glob("stages/*/*/result.json")]
    threads = [StageCost.model_validate(result["cost"]).torch_threads for result in results]
    assert len(threads) >= 4 and set(threads) == {RESULT_TORCH_THREADS} == {1}
