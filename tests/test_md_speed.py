"""MD speed over live replicas (runner.md_speed): analytic cases, records from before replicas carried
their atoms, and the engine's real work: the atom-steps it counts are the atoms the model was called on."""

from __future__ import annotations

from pathlib import Path

import pytest

from egraffbench.md import MDProtocol, simulate
from egraffbench.models.base import AtomicBatch, ForceField, TrainingStatistics
from egraffbench.runner.md_speed import live_speed
from egraffbench.store.database import ResultsStore
from egraffbench.store.schema import JobResults, ReplicaStart, ReplicaValues, ScoreResult, SimulateResult
from test_md_support import LennardJones, PoisonAfter, argon_crystal, one_thread  # noqa: F401
from test_runner_fixtures import ReferenceRun, shared_reference_run

HORIZON_FS = 2000.0


@pytest.fixture
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    return shared_reference_run(tmp_path_factory)


def job(
    replicas: list[tuple[str, int | None, float | None]],
    md_seconds: float = 100.0,
    total_atoms: int | None = None,
    timestep_fs: float = 1.0,
    horizon_fs: float = HORIZON_FS,
) -> JobResults:
    """A job whose replicas are (system, atoms or None as in old records, failure time fs or None)."""
    md = SimulateResult(
        steps_per_s=3.0,  # the batch's speed as it ran: not what live_speed reads
        md_seconds=md_seconds,
        replicas=[
            ReplicaStart(system=s, frame=i, temperature_K=300.0, atoms=n)
            for i, (s, n, _) in enumerate(replicas)
        ],
        atoms=total_atoms if total_atoms is not None else sum(n or 0 for _, n, _ in replicas),
        protocol={"timestep_fs": timestep_fs},
    )
    scores = ScoreResult(
        replicas=len(replicas),
        run_length_fs=horizon_fs / 2,
        stability_horizon_fs=horizon_fs,
        metric_groups=["stability"],
        systems={},
        replica_values=[
            ReplicaValues(system=s, failure_time_fs=t, failure_reason=None) for s, _, t in replicas
        ],
    )
    return JobResults(md=md, scores=scores)


def test_a_replica_failing_halfway_counts_half_its_steps() -> None:
    """Two 10-atom replicas over 2000 steps, one failing at 500 fs: 25 000 live atom-steps in 100 s."""
    speed = live_speed(job([("a", 10, None), ("a", 10, 500.0)]))
    assert speed["us_per_live_atom_step"] == pytest.approx(1e6 * 100.0 / 25_000)
    assert speed["live_steps_per_s"] == pytest.approx(25_000 / (20 * 100.0))  # 12.5, not 2000/100 = 20


def test_with_every_replica_live_it_is_the_horizon_over_the_wall_time() -> None:
    speed = live_speed(job([("a", 7, None)] * 3, md_seconds=40.0, timestep_fs=2.0))
    assert speed["live_steps_per_s"] == pytest.approx(HORIZON_FS / 2.0 / 40.0)
    assert speed["us_per_live_atom_step"] == pytest.approx(1e6 * 40.0 / (21 * 1000))


def test_systems_are_weighted_by_their_atoms_and_a_failure_at_step_0_counts_nothing() -> None:
    """A 10-atom replica fails at once, a 30-atom one runs 2000 steps: 60 000 of 80 000 atom-steps."""
    speed = live_speed(job([("small", 10, 0.0), ("large", 30, None)]))
    assert speed["live_steps_per_s"] == pytest.approx(60_000 / (40 * 100.0))


def test_failures_after_the_horizon_are_censored_at_it() -> None:
    assert live_speed(job([("a", 4, 5000.0)]))["live_steps_per_s"] == pytest.approx(HORIZON_FS / 100.0)


def test_old_records_share_the_atoms_of_one_system_and_give_nothing_for_several() -> None:
    """Records written before replicas carried their atoms: with one test system every replica has the batch's
    atoms over the replicas; with several the split is unknown, and no number is better than a wrong one."""
    one_system = live_speed(job([("a", None, None), ("a", None, 1000.0)], total_atoms=20))
    assert one_system == live_speed(job([("a", 10, None), ("a", 10, 1000.0)]))
    assert live_speed(job([("a", None, None), ("b", None, None)], total_atoms=30)) == {}


def test_jobs_without_a_wall_time_scores_or_aligned_replicas_have_no_live_speed() -> None:
    finished = job([("a", 5, None)])
    assert live_speed(JobResults(md=finished.md)) == {}
    assert (
        live_speed(finished.model_copy(update={"md": finished.md.model_copy(update={"md_seconds": None})}))
        == {}
    )
    resumed_complete = finished.md.model_copy(update={"steps_per_s": 0.0})  # MD found complete: no clock ran
    assert live_speed(finished.model_copy(update={"md": resumed_complete})) == {}
    two = job([("a", 5, None), ("b", 5, 10.0)])
    assert two.scores is not None
    swapped = two.scores.model_copy(update={"replica_values": two.scores.replica_values[::-1]})
    assert live_speed(two.model_copy(update={"scores": swapped})) == {}  # values not in the replicas' order


class CountingAtoms(ForceField):
    """Wraps a force field and counts the atoms of every batch it is called on."""

    architecture = "counting"

    def __init__(self, inner: ForceField) -> None:
        super().__init__(inner.species, inner.cutoff, TrainingStatistics())
        self.inner, self.atoms_evaluated = inner, 0

    def forward(self, batch: AtomicBatch, compute_stress: bool = False, training: bool = False):
        self.atoms_evaluated += int(batch.n_atoms_per_system.sum())
        return self.inner(batch)


@pytest.mark.usefixtures("one_thread")
def test_live_atom_steps_are_the_atoms_the_engine_integrated(tmp_path: Path) -> None:
    """A 31-atom replica goes NaN and is retired at step 25 of 60; the two 32-atom ones run on. The atom-steps
    live_speed counts from the stored records are what the model was called on, less the first force call."""
    structures = [argon_crystal(2, seed=seed) for seed in range(3)]
    del structures[1][0]
    protocol = MDProtocol(
        ensemble="nvt-langevin", temperature_K=80.0, timestep_fs=2.0, steps=60, check_every=5
    )
    counting = CountingAtoms(LennardJones())
    result = simulate(PoisonAfter(counting, n_atoms=31, after=23), structures, protocol, tmp_path / "md.h5")
    outcomes = sorted(result.replicas, key=lambda o: o.replica)
    assert outcomes[1].failure_step == 25 and outcomes[0].status == outcomes[2].status == "completed"
    results = job(
        [("argon", len(s), o.failure_time_fs) for s, o in zip(structures, outcomes, strict=True)],
        md_seconds=1.0,
        timestep_fs=protocol.timestep_fs,
        horizon_fs=protocol.horizon_steps * protocol.timestep_fs,
    )
    atom_steps = 1e6 / live_speed(results)["us_per_live_atom_step"]
    assert atom_steps == pytest.approx(31 * 25 + 2 * 32 * 60)
    assert counting.atoms_evaluated == pytest.approx(atom_steps + sum(len(s) for s in structures))


def test_a_run_stores_each_replicas_atoms_and_its_live_speed(reference_run: ReferenceRun) -> None:
    """The simulate stage records every replica's atoms (tasks of several systems need them), and the store
    holds each job's live speed and the summary's, consistent with the job's MD wall time."""
    with ResultsStore.open_existing(reference_run.run_dir) as store:
        run = store.latest_run()
        jobs = {job["job_id"]: job["results"] for job in store.jobs(run)}
        stored = {(r["job_id"], r["name"]): r["value"] for r in store.metrics(run)}
        summaries = {(r["model"], r["name"]): r["value"] for r in store.summaries(run)}
    for job_id, results in jobs.items():
        md = SimulateResult.model_validate(results["md"])
        assert [r.atoms for r in md.replicas] == [md.atoms // len(md.replicas)] * len(md.replicas)
        live = stored[(job_id, "live_steps_per_s")]
        assert live == pytest.approx(live_speed(JobResults.model_validate(results))["live_steps_per_s"])
        horizon_steps = md.protocol["stability_steps"] or md.protocol["steps"]
        assert live == pytest.approx(horizon_steps / md.md_seconds)  # every tiny replica is stable
        assert summaries[(job_id.split("/")[0], "live_steps_per_s")] == pytest.approx(live)
