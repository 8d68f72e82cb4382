"""Reference-trajectory mode: deterministic NVE replays from an EMT reference trajectory score EV and FV near
zero for the exact potential (with stored momenta and with central-difference velocities), and clearly
worse for a perturbed one."""

from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.md.verlet import VelocityVerlet

from egraffbench.md.protocol import MDProtocol
from egraffbench.metrics.violation import geometric_mean
from egraffbench.models.emt_reference import EMTForceField
from egraffbench.models.graph import AtomicBatch
from egraffbench.report.series import violation_series
from egraffbench.runner.job import run_job
from egraffbench.runner.matrix import expand_jobs
from egraffbench.runner.replay import (
    replay_plan,
    replay_protocol,
    replay_scores,
    replay_stage,
    start_frames,
    start_structure,
)
from egraffbench.runner.rollout_scoring import (
    FIDELITY_THRESHOLD,
    ReferenceEnergies,
    Rollout,
    aggregate_replicas,
    fidelity_time,
)
from egraffbench.store.schema import ReplayResult, ScoreSeries, ViolationTrace, read_record_file
from egraffbench.tasks import ModeOverride, load_task
from egraffbench.tasks.sources import SystemConditions
from egraffbench.tasks.systems import SystemData
from egraffbench.training.statistics import fit_element_energies

SPACING_FS = 1.0
HORIZON_FS = 30.0


class ScaledEMT(EMTForceField):
    """EMT with its forces scaled: a model with a 10 % force error and exact energies."""

    def forward(
        self, batch: AtomicBatch, compute_stress: bool = False, training: bool = False
    ) -> dict[str, torch.Tensor]:
        output = super().forward(batch, compute_stress, training)
        return {**output, "forces": 1.1 * output["forces"]}


def _alloy(seed: int):
    atoms = bulk("Cu", "fcc", a=3.7, cubic=True).repeat((2, 2, 2))
    atoms.numbers[np.random.default_rng(seed).choice(len(atoms), size=8, replace=False)] = 79
    return atoms


def _nve_reference(frames: int, momenta: bool) -> list:
    """A deterministic EMT trajectory: Langevin equilibration at 600 K, then velocity Verlet at 1 fs, every
    step recorded (with or without its momenta) with its EMT energy and forces."""
    atoms = _alloy(seed=3)
    atoms.calc = EMT()
    MaxwellBoltzmannDistribution(atoms, temperature_K=600.0, rng=np.random.default_rng(3))
    thermostat = Langevin(
        atoms, units.fs, temperature_K=600.0, friction=0.01, fixcm=False, rng=np.random.default_rng(4)
    )
    thermostat.run(50)
    dynamics = VelocityVerlet(atoms, SPACING_FS * units.fs)
    recorded = []
    for _ in range(frames):
        frame = atoms.copy()
        if not momenta:
            del frame.arrays["momenta"]
        frame.calc = SinglePointCalculator(
            frame, energy=atoms.get_potential_energy(), forces=atoms.get_forces()
        )
        recorded.append(frame)
        dynamics.run(1)
    return recorded


def _scores(model, frames: list, folder: Path) -> tuple[dict, list[ViolationTrace]]:
    """The aggregated EV/FV scores of three replays of ``model`` and each replay's stored trace."""
    conditions = SystemConditions("cuau", 600.0, True, None, SPACING_FS, HORIZON_FS)
    systems = [SystemData(conditions, frames)]
    protocol = MDProtocol(dtype="float64", timestep_fs=0.5)  # the replay steps 2 × 0.5 fs per frame
    plan = replay_plan(systems, replicas=3)
    result = replay_stage(model, "m", systems, plan, protocol, folder)
    train = [_labelled_alloy(seed) for seed in range(4)]
    element_energies = fit_element_energies(train, [29, 79])
    scored = replay_scores(folder, ReplayResult.model_validate(result), systems, element_energies)
    return aggregate_replicas(scored.values, 0.0, seed=0, groups=["violation"]), scored.traces


def _labelled_alloy(seed: int):
    atoms = _alloy(seed)
    atoms.rattle(0.05, seed=seed)
    atoms.calc = EMT()
    atoms.calc = SinglePointCalculator(atoms, energy=atoms.get_potential_energy(), forces=atoms.get_forces())
    return atoms


@pytest.mark.parametrize("momenta", [True, False], ids=["stored-momenta", "central-differences"])
def test_the_exact_potential_stays_on_the_reference_and_a_perturbed_one_does_not(
    momenta: bool, tmp_path: Path
) -> None:
    frames = _nve_reference(45, momenta)
    exact, _ = _scores(EMTForceField(), frames, tmp_path / "exact")
    assert exact["replays"] == 3 and exact["violation_reference"] == "reference-trajectory"
    assert exact["ev"]["high"] <= 1e-3 and exact["fv"]["high"] <= 1e-3
    assert exact["fidelity_time_fs"]["value"] == HORIZON_FS  # never left the reference: censored at τ
    perturbed, _ = _scores(ScaledEMT(), frames, tmp_path / "perturbed")
    assert perturbed["fv"]["low"] > 30 * exact["fv"]["high"] and perturbed["fv"]["value"] > 0.04
    assert perturbed["ev"]["low"] > 10 * exact["ev"]["high"]


def test_each_replay_stores_the_frames_its_scores_aggregate(tmp_path: Path) -> None:
    frames = _nve_reference(45, momenta=False)
    stored = {}
    for name, model in (("exact", EMTForceField()), ("perturbed", ScaledEMT())):
        scores, traces = _scores(model, frames, tmp_path / name)
        assert len(traces) == 3
        for trace in traces:
            assert (trace.system, trace.segment) == ("cuau", "replay")
            assert (trace.reference, trace.energies) == ("reference-trajectory", "E0-relative")
            # every reference frame of the horizon, in time since the replay's start
            np.testing.assert_allclose(np.array(trace.time_ps) * 1000.0, np.arange(31.0), atol=1e-9)
        ev, fv = (np.concatenate([getattr(t, key) for t in traces]) for key in ("ev", "fv"))
        # the shifted geometric mean of the stored frames is the stored score, to round-off
        assert geometric_mean(ev) == pytest.approx(scores["ev"]["value"], rel=1e-9)
        assert geometric_mean(fv) == pytest.approx(scores["fv"]["value"], rel=1e-9)
        stored[name] = ev, fv
    (exact_ev, exact_fv), (perturbed_ev, perturbed_fv) = stored["exact"], stored["perturbed"]
    assert exact_fv.max() < 1e-3 and np.median(exact_ev) < 1e-3
    # forces × 1.1: FV = 0.1 / 2.1 on the first frame, a little less as the replay leaves the reference
    assert perturbed_fv.max() == pytest.approx(0.1 / 2.1, rel=1e-9) and perturbed_fv.min() > 0.03
    assert np.median(perturbed_ev) > 30 * np.median(exact_ev)


def test_central_differences_reproduce_the_verlet_velocity_and_starts_leave_room_for_the_horizon() -> None:
    frames = _nve_reference(12, momenta=True)
    stripped = [f.copy() for f in frames]
    for frame in stripped:
        del frame.arrays["momenta"]
    start, source = start_structure(stripped, 5, SPACING_FS)
    assert source == "central-difference"
    assert np.allclose(start.get_momenta(), frames[5].get_momenta(), rtol=0, atol=1e-9)
    assert start_structure(frames, 5, SPACING_FS)[1] == "data"
    assert start_frames(stripped, replicas=3, span=6) == [1, 3, 5]  # frame 0 has no predecessor
    assert start_frames(frames, replicas=3, span=6) == [0, 2, 5]
    assert start_frames(frames, replicas=3, span=12) == []
    segment = replay_protocol(MDProtocol(timestep_fs=0.3, stability_steps=5000), spacing_fs=0.5, span=10)
    assert segment.ensemble == "nve" and segment.timestep_fs == pytest.approx(0.25)
    assert (segment.steps, segment.stride) == (20, 2)
    assert segment.horizon_steps == 20  # a replay ends at its horizon, not at the stability horizon


def test_fidelity_time_is_the_first_frame_past_the_threshold_else_the_failure_else_the_horizon() -> None:
    forces = np.ones((5, 2, 3))
    reference = ReferenceEnergies(np.zeros(5), forces.copy())
    drift = np.array([1.0, 1.0, 1.1, 1.5, 1.0])  # FV = (s − 1)/(s + 1): 0, 0, 0.048, 0.2, 0
    rollout = Rollout(
        positions=np.zeros((5, 2, 3)),
        cells=np.zeros((5, 3, 3)),
        numbers=np.array([29, 29]),
        times_fs=np.arange(5) * 0.5,
        energies=np.zeros(5),
        forces=forces * drift[:, None, None],
        failure_time_fs=None,
        failure_reason=None,
    )
    assert (1.5 - 1) / 2.5 > FIDELITY_THRESHOLD > 0.1 / 2.1
    assert fidelity_time(rollout, reference, horizon_fs=10.0) == 1.5
    rollout.forces = forces.copy()
    assert fidelity_time(rollout, reference, horizon_fs=10.0) == 10.0  # censored at the horizon
    rollout.failure_time_fs = 2.0
    assert fidelity_time(rollout, reference, horizon_fs=10.0) == 2.0  # the replay failed a stability check
    rollout.energies[1] = np.nan
    assert fidelity_time(rollout, reference, horizon_fs=10.0) == 0.5  # a non-finite frame is lost


TASK_WITHOUT_ORACLE = """name: nve-reference
version: 1
kind: in-distribution
description: "EMT NVE reference trajectory, scored without an oracle"
train:
  - {file: train.extxyz, format: extxyz}
val:
  - {file: train.extxyz, format: extxyz}
test:
  - {file: test.extxyz, format: extxyz, name: cuau, temperature_K: 600.0, frame_spacing_fs: 1.0,
     replay_horizon_fs: 15}
metrics: [violation, stability]
"""


def test_a_job_without_oracle_scores_emt_on_replays_with_e0_relative_energies(tmp_path: Path) -> None:
    ase.io.write(tmp_path / "train.extxyz", [_labelled_alloy(seed) for seed in range(4)])
    ase.io.write(tmp_path / "test.extxyz", _nve_reference(30, momenta=False))
    (tmp_path / "task.yaml").write_text(TASK_WITHOUT_ORACLE)
    mode = ModeOverride(model_preset="test", replicas=2, md={"steps": 10, "dtype": "float64"})
    (spec,) = expand_jobs(["emt"], [load_task(tmp_path / "task.yaml")], 1, "dev", mode)
    record = run_job(spec, tmp_path / "run")
    assert record.status == "done", record.traceback
    assert [stage.stage for stage in record.stages] == ["fetch", "baselines", "simulate", "replay", "score"]
    scores = record.results["scores"]
    assert scores["violation_reference"] == "reference-trajectory" and scores["replays"] == 2
    assert scores["horizon_fs"] == 15.0 and scores["fidelity_time_fs"]["value"] == 15.0
    assert scores["ev"]["value"] <= 1e-3 and scores["fv"]["value"] <= 1e-3
    assert (
        scores["replicas"] == 2 and scores["stable_fraction"]["value"] == 1.0
    )  # stability: production MD only
    replays = [v for v in scores["replica_values"] if v["segment"] == "replay"]
    assert [v["compared_frames"] for v in replays] == [16, 16]  # τ / Δt + 1 frames each
    composition = [29] * 24 + [79] * 8
    e0 = sum(scores["element_energies"][str(z)] for z in composition)
    assert abs(e0) > 0.1  # the fit is not trivial: EV of E − E0 differs from the absolute one
    assert scores["ev"]["value"] != pytest.approx(scores["ev_absolute"]["value"], rel=0.05)
    # the report's series: the two replays' frames (no production trace without an oracle), whose pooled
    # EV and FV are the stored scores
    series = read_record_file(ScoreSeries, tmp_path / "run" / record.artifacts["series"])
    assert [(t.segment, len(t.ev)) for t in series.violations] == [("replay", 16)] * 2
    drawn = violation_series([series])
    assert drawn is not None and drawn.segment == "replay" and list(drawn.count) == [2] * 16
    np.testing.assert_allclose(drawn.time_fs, np.arange(16.0), atol=1e-9)
    assert drawn.pooled("ev") == pytest.approx(scores["ev"]["value"], rel=1e-9)
    assert drawn.pooled("fv") == pytest.approx(scores["fv"]["value"], rel=1e-9)
