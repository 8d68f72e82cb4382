"""MD made without bond relabelling carries over to the relabelling key only when no replica failed by
bond-deviation; a carried-over result is the one relabelling computes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.build import molecule

from egraffbench.md import read_replica
from egraffbench.md.protocol import MDProtocol
from egraffbench.md.trajectory import ReplicaOutcome, create_trajectory, write_outcomes
from egraffbench.metrics import StabilityCriteria
from egraffbench.runner.benchmark import run_benchmark
from egraffbench.runner.hashing import stage_key
from egraffbench.runner.job import run_job
from egraffbench.runner.matrix import expand_jobs
from egraffbench.runner.publish import publish_run
from egraffbench.runner.relabelling import unrelabelled_predecessor
from egraffbench.runner.stage_cache import Predecessor, StageCache, stage_result_path
from egraffbench.tasks import ModeOverride, load_task
from test_runner_fixtures import write_tiny_task

MD = {"steps": 10, "check_every": 5}


def _emt_job(tmp_path: Path, relabelling: bool):
    task = load_task(write_tiny_task(tmp_path, test_frames=12))
    override = ModeOverride(replicas=2, md={**MD, "stability": {"bond_relabelling": relabelling}})
    (job,) = expand_jobs(["emt"], [task], 1, "dev", override)
    return job


def _simulate(record) -> tuple[str, str]:
    (stage,) = [s for s in record.stages if s.stage == "simulate"]
    return stage.key, stage.status


def test_md_without_bond_failures_carries_over_and_equals_a_fresh_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (plain,) = run_benchmark([_emt_job(tmp_path, relabelling=False)], run).records
    (relabelled,) = run_benchmark([_emt_job(tmp_path, relabelling=True)], run).records
    fresh = run_job(_emt_job(tmp_path, relabelling=True), tmp_path / "fresh")
    assert plain.status == relabelled.status == fresh.status == "done"
    (plain_key, _), (key, status) = _simulate(plain), _simulate(relabelled)
    assert key != plain_key and status == "cached"  # adopted, nothing integrated
    assert _simulate(fresh) == (key, "done")
    folder = run / "stages" / "simulate" / key
    assert json.loads((folder / "result.json").read_text())["adopted_from"] == plain_key
    adopted, computed = (
        folder / "trajectory.h5",
        tmp_path / "fresh" / "stages" / "simulate" / key / "trajectory.h5",
    )
    for replica in (0, 1):
        ours, theirs = read_replica(adopted, replica), read_replica(computed, replica)
        np.testing.assert_array_equal(ours.positions, theirs.positions)
        assert ours.outcome == theirs.outcome
    scores = [{k: v for k, v in r.results["scores"].items() if k != "cost"} for r in (relabelled, fresh)]
    assert scores[0] == scores[1] and scores[0]["stable_fraction"]["value"] == 1.0
    published = publish_run(
        run, tmp_path / "published"
    )  # the adopted record is published, computed by no run
    assert stage_result_path("simulate", key) in published["files"]


def _trajectory_with(folder: Path, reason: str | None) -> None:
    path = folder / "trajectory.h5"
    create_trajectory(path, {"model": "x"}, {0: molecule("H2O")}, {0: 300.0}, np.dtype("float32"))
    failed = reason is not None
    outcome = ReplicaOutcome(
        0, 3, 300.0, "failed" if failed else "stable", 5 if failed else None, None, reason
    )
    write_outcomes(path, {0: outcome}, complete=True)


@pytest.mark.parametrize(
    ("reason", "carries"), [(None, True), ("temperature", True), ("bond-deviation", False)]
)
def test_only_bond_deviation_failures_stop_the_carry_over(
    tmp_path: Path, reason: str | None, carries: bool
) -> None:
    inputs = {
        "model": "m",
        "protocol": {"steps": 10, "stability": {"bond_deviation": 0.5, "bond_relabelling": True}},
    }
    predecessor = unrelabelled_predecessor("simulate", inputs)
    assert predecessor is not None
    plain = {"model": "m", "protocol": {"steps": 10, "stability": {"bond_deviation": 0.5}}}
    assert predecessor.key == stage_key("simulate", plain)
    _trajectory_with(tmp_path, reason)
    assert predecessor.carries_over(tmp_path, {}) is carries
    inputs["protocol"]["stability"]["bond_relabelling"] = False
    assert unrelabelled_predecessor("simulate", plain) is None


def _write(value: int):
    def compute(folder: Path) -> dict:
        (folder / "data.txt").write_text(str(value))
        return {"value": value}

    return compute


def test_cache_adopts_a_predecessor_only_when_it_carries_over(tmp_path: Path) -> None:
    cache = StageCache(tmp_path)
    cache.get_or_compute("simulate", "old", {}, _write(1))
    refused = Predecessor("old", lambda folder, result: False)
    assert cache.get_or_compute("simulate", "a", {}, _write(2), predecessor=refused) == ({"value": 2}, False)
    accepted = Predecessor("old", lambda folder, result: result["value"] == 1)
    assert cache.get_or_compute("simulate", "b", {"in": 1}, _write(3), predecessor=accepted) == (
        {"value": 1, "adopted_from": "old"},
        True,
    )
    assert (tmp_path / "simulate" / "b" / "data.txt").read_text() == "1"
    assert (tmp_path / "simulate" / "b" / "data.txt").stat().st_ino == (
        tmp_path / "simulate" / "old" / "data.txt"
    ).stat().st_ino
    missing = Predecessor("never-computed", lambda folder, result: True)
    assert cache.get_or_compute("simulate", "c", {}, _write(4), predecessor=missing) == ({"value": 4}, False)


def test_relabelling_is_keyed_and_fingerprinted_only_when_on() -> None:
    """Off, the protocol's identity is the one it had before the setting existed (keys and MD fingerprints
    of earlier runs stay valid); on, fingerprints hash the full protocol as before."""
    on, off = MDProtocol(), MDProtocol(stability=StabilityCriteria(bond_relabelling=False))
    assert "bond_relabelling" not in off.identity_json()
    assert "bond_relabelling" not in off.identity(exclude={"seed"})["stability"]
    assert "seed" not in off.identity(exclude={"seed"})
    assert on.identity()["stability"]["bond_relabelling"] is True
    assert on.identity_json() == on.model_dump_json()
