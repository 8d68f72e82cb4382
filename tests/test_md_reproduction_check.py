"""`scripts/check_md_reproduction.py`: the step-0 forces of a run's stored MD, recomputed from its stored
model, are the stored bits (the reference run), one changed bit in a stored force is found, and
``latest_run`` leaves out MD that the latest run did not use."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from repository_scripts import load_script
from test_runner_fixtures import ReferenceRun, shared_reference_run


@pytest.fixture
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    return shared_reference_run(tmp_path_factory)


def test_stored_md_is_reproduced_and_one_changed_bit_is_found(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    check = load_script("scripts/check_md_reproduction.py")
    found = check.check_run(reference_run.run_dir)
    assert [(c.architecture, c.max_force_difference) for c in found] == [("mace", 0.0)]  # emt: not trained
    assert found[0].architecture_version >= 2 and found[0].system == "cuau"
    assert check.check_run(reference_run.run_dir, "nequip") == []

    copy = tmp_path / "run"
    shutil.copytree(reference_run.run_dir, copy)
    trajectory = copy / "stages" / "simulate" / found[0].key / "trajectory.h5"
    with h5py.File(trajectory, "r+") as file:
        forces = file["particles/replica_1/force/value"]
        stored = forces[0, 3, 2]
        forces[0, 3, 2] = np.nextafter(stored, np.float32(np.inf), dtype=np.float32)  # one ulp
    changed = check.check_run(copy)
    assert 0 < changed[0].max_force_difference < 1e-5
    assert "mace v" in changed[0].line() and "eV/Å" in changed[0].line()
    simulate = copy / "stages" / "simulate"
    shutil.copytree(simulate / found[0].key, simulate / ("0" * 20))  # MD under a key no run used
    assert len(check.check_run(copy)) == 2
    assert [c.key for c in check.check_run(copy, latest_run=True)] == [found[0].key]
