"""`scripts/check_reproduction.py`: the step-0 forces of a run's stored MD, recomputed from its stored model,
and the first epoch of its stored training, run again, are the stored bits (the reference run); one changed
bit in a stored force or a stored loss is found; ``latest_run`` leaves out MD the latest run did not use, and
``run_id`` checks a chosen run instead."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import ModuleType

import h5py
import numpy as np
import pytest

from egraffbench.runner.benchmark import run_benchmark
from repository_scripts import load_script
from test_runner_fixtures import ReferenceRun, shared_reference_run, tiny_jobs


@pytest.fixture
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    return shared_reference_run(tmp_path_factory)


@pytest.fixture(scope="module")
def check() -> ModuleType:
    return load_script("scripts/check_reproduction.py")


def test_stored_md_is_reproduced_and_one_changed_bit_is_found(
    check: ModuleType, reference_run: ReferenceRun, tmp_path: Path
) -> None:
    found = check.check_run(reference_run.run_dir)
    assert [(c.architecture, c.max_force_difference) for c in found] == [("mace", 0.0)]  # emt: not trained
    assert found[0].architecture_version >= 2 and found[0].system == "cuau" and found[0].same
    assert check.check_run(reference_run.run_dir, "nequip") == []

    copy = tmp_path / "run"
    shutil.copytree(reference_run.run_dir, copy)
    trajectory = copy / "stages" / "simulate" / found[0].key / "trajectory.h5"
    with h5py.File(trajectory, "r+") as file:
        forces = file["particles/replica_1/force/value"]
        stored = forces[0, 3, 2]
        forces[0, 3, 2] = np.nextafter(stored, np.float32(np.inf), dtype=np.float32)  # one ulp
    changed = check.check_run(copy)
    assert 0 < changed[0].max_force_difference < 1e-5 and not changed[0].same
    assert "mace v" in changed[0].line() and "eV/Å" in changed[0].line()
    # a stage begun with kernels this CPU does not have says so: its stored bits are not this machine's
    other = {"torch_kernels": "DEFAULT", "numpy_vector_units": ["NO_SUCH_UNIT"]}
    (trajectory.parent / "attempts.json").write_text(json.dumps([other, check.kernel_record()]))
    assert (
        check.check_run(copy)[0]
        .line()
        .endswith(
            "eV/Å (computed with torch DEFAULT, numpy NO_SUCH_UNIT, here "
            f"{check.kernels_phrase(check.kernel_record())}: this machine cannot compute with them)"
        )
    )
    simulate = copy / "stages" / "simulate"
    shutil.copytree(simulate / found[0].key, simulate / ("0" * 20))  # MD under a key no run used
    assert len(check.check_run(copy)) == 2
    assert [c.key for c in check.check_run(copy, latest_run=True)] == [found[0].key]


def test_stored_training_is_reproduced_and_one_changed_bit_is_found(
    check: ModuleType, reference_run: ReferenceRun, tmp_path: Path
) -> None:
    tasks = {"tiny-cuau": reference_run.task_file}
    found = check.check_training(reference_run.run_dir, tmp_path, task_files=tasks)
    assert [(c.architecture, c.task, c.differing) for c in found] == [("mace", "tiny-cuau", ())]
    assert found[0].line().endswith("same bits")

    copy = tmp_path / "run"
    shutil.copytree(reference_run.run_dir, copy)
    log = copy / "stages" / "train" / found[0].key / "model" / "training_log.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    records[0]["val_loss"] = float(np.nextafter(records[0]["val_loss"], np.inf))  # one ulp
    log.write_text("".join(json.dumps(record) + "\n" for record in records))
    changed = check.check_training(copy, tmp_path, task_files=tasks)
    assert changed[0].differing == ("val_loss",) and "differs in val_loss" in changed[0].line()


def test_stored_evaluation_is_reproduced_and_one_changed_bit_is_found(
    check: ModuleType, reference_run: ReferenceRun, tmp_path: Path
) -> None:
    tasks = {"tiny-cuau": reference_run.task_file}
    found = check.check_evaluation(reference_run.run_dir, tmp_path, task_files=tasks)
    assert [(c.architecture, c.task, c.differing) for c in found] == [("mace", "tiny-cuau", ())]  # emt: none
    assert found[0].line().endswith("same bits") and " evaluation " in found[0].line()

    copy = tmp_path / "run"
    shutil.copytree(reference_run.run_dir, copy)
    folder = copy / "stages" / "evaluate" / found[0].key
    result = json.loads((folder / "result.json").read_text())
    result["force_mae"] = float(np.nextafter(result["force_mae"], np.inf))  # one ulp
    (folder / "result.json").write_text(json.dumps(result))
    parity = json.loads((folder / "parity.json").read_text())
    parity["force_predicted"][0] += 1e-6
    (folder / "parity.json").write_text(json.dumps(parity))
    changed = check.check_evaluation(copy, tmp_path, task_files=tasks)
    assert changed[0].differing == ("force_mae", "parity")


def test_a_chosen_run_is_checked_instead_of_the_latest(
    check: ModuleType, reference_run: ReferenceRun, tmp_path: Path
) -> None:
    """``run_id`` (`--run`): what `egraffbench publish --run` would publish, though a later run exists."""
    copy = Path(shutil.copytree(reference_run.run_dir, tmp_path / "run"))
    run_benchmark(tiny_jobs(reference_run.task_file, models=["emt"]), copy)  # later: emt alone, untrained
    first = reference_run.result.run_id
    assert check.check_run(copy, latest_run=True) == []
    assert [c.architecture for c in check.check_run(copy, run_id=first)] == ["mace"]
    tasks = {"tiny-cuau": reference_run.task_file}
    assert check.check_evaluation(copy, tmp_path, task_files=tasks) == []
    chosen = check.check_evaluation(copy, tmp_path, task_files=tasks, run_id=first)
    assert [(c.architecture, c.differing) for c in chosen] == [("mace", ())]
