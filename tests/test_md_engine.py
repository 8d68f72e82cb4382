"""The batched engine: replicas independent of their batch, failed replicas retired with the right reason
while the others continue unchanged, exact kill-and-resume, the neighbour-list skin, the trajectory file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ase import units

from egraffbench.errors import ConfigError
from egraffbench.md import MDProtocol, read_outcomes, read_replica, replica_ids, simulate
from egraffbench.md.neighbours import SkinNeighbourList
from egraffbench.md.state import state_from_structures
from egraffbench.models.graph import batch_from_atoms
from test_md_support import (  # noqa: F401
    LennardJones,
    PoisonAfter,
    argon_crystal,
    one_thread,
    simulate_in_batch_order,
)

pytestmark = pytest.mark.usefixtures("one_thread")

PROTOCOL = MDProtocol(
    ensemble="nvt-langevin",
    temperature_K=80.0,
    friction=0.2,
    timestep_fs=2.0,
    steps=60,
    dtype="float64",
    check_every=5,
    checkpoint_every=20,
    seed=3,
)


def crystals(count: int) -> list:
    return [argon_crystal(2, seed=seed) for seed in range(count)]


def same_frames(first: Path, second: Path, replica: int) -> None:
    """Bit for bit: only for runs that did every operation in the same order (same batch, same threads)."""
    a, b = read_replica(first, replica), read_replica(second, replica)
    for name in ("step", "time_fs", "positions", "velocities", "forces", "energy", "cell"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def frames_equal_to_rounding(first: Path, second: Path, replica: int) -> None:
    """A replica run in two different batches: steps, times and cells exactly; positions, velocities, forces
    and energies within 1e-12 of each quantity's largest magnitude (~4500 ULP)."""
    a, b = read_replica(first, replica), read_replica(second, replica)
    for name in ("step", "time_fs", "cell"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for name in ("positions", "velocities", "forces", "energy"):
        expected = getattr(b, name)
        # Another batch sums in another order (edge lists, vector-loop tails): forces differ by up to 1e-16
        # of their scale; 60 steps of 2 fs cannot grow that 1e4-fold, while a leak between replicas (another
        # random stream, a neighbour's NaN) changes them at order 1.
        tolerance = 1e-12 * np.abs(expected).max()
        np.testing.assert_allclose(getattr(a, name), expected, rtol=0, atol=tolerance, err_msg=name)


def test_a_replica_does_not_depend_on_its_batch(tmp_path: Path) -> None:
    """Replica 2 alone gives its trajectory in a batch of three: the same random stream and the same forces
    to rounding."""
    structures = crystals(3)
    simulate_in_batch_order(LennardJones(), structures, PROTOCOL, tmp_path / "all.h5")
    simulate(LennardJones(), structures[2:], PROTOCOL, tmp_path / "alone.h5", replica_ids=[2])
    frames_equal_to_rounding(tmp_path / "all.h5", tmp_path / "alone.h5", 2)
    first, second = read_replica(tmp_path / "all.h5", 0), read_replica(tmp_path / "all.h5", 1)
    assert np.abs(second.positions[-1] - second.positions[0]).max() > 0.05  # replicas do move
    assert not np.allclose(first.velocities, second.velocities)  # and differently


def test_a_nan_replica_is_retired_and_the_others_are_unchanged(tmp_path: Path) -> None:
    """The middle replica (31 atoms) gets NaN from call 23 on: it fails at the next checked step (25) with
    reason "non-finite"; replicas 0 and 2 match a run without it, frame for frame (to rounding)."""
    structures = crystals(3)
    del structures[1][0]
    model = PoisonAfter(LennardJones(), n_atoms=31, after=23)
    result = simulate_in_batch_order(model, structures, PROTOCOL, tmp_path / "with.h5")
    without = [structures[0], structures[2]]
    simulate_in_batch_order(LennardJones(), without, PROTOCOL, tmp_path / "without.h5", replica_ids=[0, 2])
    outcomes = {o.replica: o for o in result.replicas}
    assert outcomes[1].status == "failed"
    assert outcomes[1].failure_reason == "non-finite"
    assert outcomes[1].failure_step == 25
    assert outcomes[1].failure_time_fs == pytest.approx(50.0)
    assert read_replica(tmp_path / "with.h5", 1).step[-1] == 25  # frozen: no frame after its failure
    assert [outcomes[r].status for r in (0, 2)] == ["completed", "completed"]
    for replica in (0, 2):
        frames_equal_to_rounding(tmp_path / "with.h5", tmp_path / "without.h5", replica)


def test_a_replica_hotter_than_the_bound_fails_on_temperature(tmp_path: Path) -> None:
    """Velocities from the structure at ~100× the target: retired at step 0 with reason "temperature"."""
    structures = crystals(2)
    rng = np.random.default_rng(0)
    masses = structures[1].get_masses()[:, None]
    structures[1].set_momenta(np.sqrt(masses * units.kB * 8000.0) * rng.standard_normal((len(masses), 3)))
    result = simulate_in_batch_order(LennardJones(), structures, PROTOCOL, tmp_path / "hot.h5")
    hot, cool = sorted(result.replicas, key=lambda o: o.replica)[::-1]
    assert (hot.status, hot.failure_reason, hot.failure_step) == ("failed", "temperature", 0)
    assert cool.status == "completed" and cool.frames == PROTOCOL.steps + 1


def test_an_absurd_time_step_is_caught(tmp_path: Path) -> None:
    """A 150 fs step blows the crystal up: every replica fails at a checked step with a recorded reason."""
    protocol = PROTOCOL.model_copy(update={"timestep_fs": 150.0, "temperature_K": 300.0})
    result = simulate_in_batch_order(LennardJones(), crystals(2), protocol, tmp_path / "boom.h5")
    for outcome in result.replicas:
        assert outcome.status == "failed"
        assert outcome.failure_reason in {"non-finite", "temperature", "pair-distance"}
        assert outcome.failure_step % protocol.check_every == 0
        assert outcome.failure_time_fs == pytest.approx(outcome.failure_step * 150.0)


class Crash(RuntimeError):
    pass


def test_kill_and_resume_gives_the_uninterrupted_trajectory(tmp_path: Path) -> None:
    """Bit for bit: the resumed run continues the same batch, in the same order, with the same threads."""
    structures = crystals(3)
    simulate_in_batch_order(LennardJones(), structures, PROTOCOL, tmp_path / "straight.h5")

    def crash(progress) -> None:  # after the checkpoint of step 40
        if progress.step == 47:
            raise Crash

    with pytest.raises(Crash):
        simulate_in_batch_order(LennardJones(), structures, PROTOCOL, tmp_path / "resumed.h5", callback=crash)
    assert read_replica(tmp_path / "resumed.h5", 0).step[-1] == 40  # frames reach the last checkpoint only
    result = simulate_in_batch_order(LennardJones(), structures, PROTOCOL, tmp_path / "resumed.h5")
    assert result.resumed_from == 40 and result.steps_run == 20
    for replica in range(3):
        same_frames(tmp_path / "straight.h5", tmp_path / "resumed.h5", replica)
        np.testing.assert_array_equal(read_replica(tmp_path / "resumed.h5", replica).step, np.arange(61))
    assert not (tmp_path / "resumed.h5.checkpoint").exists()
    again = simulate_in_batch_order(LennardJones(), structures, PROTOCOL, tmp_path / "resumed.h5")
    assert again.steps_run == 0 and [o.status for o in again.replicas] == ["completed"] * 3


def test_another_run_does_not_overwrite_a_trajectory(tmp_path: Path) -> None:
    protocol = PROTOCOL.model_copy(update={"steps": 4})
    simulate(LennardJones(), crystals(1), protocol, tmp_path / "run.h5")
    other = protocol.model_copy(update={"temperature_K": 100.0})
    with pytest.raises(ConfigError, match="another run"):
        simulate(LennardJones(), crystals(1), other, tmp_path / "run.h5")
    simulate(LennardJones(), crystals(1), other, tmp_path / "run.h5", overwrite=True)
    assert read_outcomes(tmp_path / "run.h5")[0].temperature_K == 100.0


def test_stride_different_sizes_and_temperatures(tmp_path: Path) -> None:
    """Replicas of 32 and 108 atoms at 40 K and 120 K in one batch; every 5th step recorded."""
    structures = [argon_crystal(2), argon_crystal(3)]
    protocol = PROTOCOL.model_copy(update={"steps": 300, "stride": 5, "friction": 1.0, "dtype": "float32"})
    simulate_in_batch_order(
        LennardJones(), structures, protocol, tmp_path / "mixed.h5", temperatures_K=[40.0, 120.0]
    )
    assert replica_ids(tmp_path / "mixed.h5") == [0, 1]
    temperatures = []
    for replica, n_atoms in ((0, 32), (1, 108)):
        trajectory = read_replica(tmp_path / "mixed.h5", replica)
        assert trajectory.positions.shape == (61, n_atoms, 3)
        assert trajectory.positions.dtype == np.float32
        np.testing.assert_array_equal(trajectory.step, np.arange(0, 301, 5))
        np.testing.assert_allclose(trajectory.time_fs, trajectory.step * 2.0)
        velocities = trajectory.velocities / units.fs
        kinetic = 0.5 * np.sum(trajectory.masses[:, None] * velocities**2, axis=(1, 2))
        temperatures.append(2 * kinetic[20:].mean() / (3 * n_atoms * units.kB))
    assert temperatures[0] == pytest.approx(40.0, rel=0.15)
    assert temperatures[1] == pytest.approx(120.0, rel=0.15)


def test_skin_neighbour_list_rebuilds_only_when_needed_and_gives_exact_forces() -> None:
    """Within skin/2 the old list, filtered to the cutoff, gives the energy of a fresh list; beyond it the
    moved replica (and only it) is rebuilt."""
    model = LennardJones().double()
    structures = crystals(2)
    momenta = [np.zeros((len(a), 3)) for a in structures]
    state = state_from_structures(structures, momenta, [50.0, 50.0], [0, 1], torch.float64, "cpu")
    neighbours = SkinNeighbourList(state, model.cutoff, skin=1.0)
    builds = neighbours.builds
    rng = np.random.default_rng(1)
    small = torch.as_tensor(rng.uniform(-0.28, 0.28, size=(64, 3)))  # |d| < 0.49 Å < skin/2
    positions = state.positions + small
    assert neighbours.update(state, positions) == 0 and neighbours.builds == builds
    moved = [a.copy() for a in structures]
    for atoms, shift in zip(moved, positions.reshape(2, 32, 3).numpy(), strict=True):
        atoms.positions = shift
    fresh = model(batch_from_atoms(moved, model.cutoff, dtype=torch.float64))
    skin = model(neighbours.graph(state, positions))
    # Edge lists in different orders agree to rounding (energies ~1.2 eV, forces ≤0.3 eV/Å: ~1e-16 seen);
    # 1e-12 leaves a 1e4-fold margin.
    torch.testing.assert_close(skin["energy"], fresh["energy"], rtol=0, atol=1e-12)
    torch.testing.assert_close(skin["forces"], fresh["forces"], rtol=0, atol=1e-12)
    positions[40] += torch.tensor([0.6, 0.0, 0.0], dtype=torch.float64)  # an atom of replica 1 moves 0.6 Å
    assert neighbours.update(state, positions) == 1 and neighbours.builds == builds + 1


def test_stability_steps_run_past_the_recorded_steps_to_each_replicas_first_failure(tmp_path: Path) -> None:
    """Frames are recorded for `steps` (20), replicas go on to `stability_steps` (60) to find failures: the
    31-atom replica gets NaN from call 43 on and fails at the next checked step (45), the other runs to 60.
    The recorded frames are those of a plain 20-step run."""
    structures = crystals(2)
    del structures[1][0]
    protocol = PROTOCOL.model_copy(update={"steps": 20, "stability_steps": 60})
    model = PoisonAfter(LennardJones(), n_atoms=31, after=43)
    result = simulate(model, structures, protocol, tmp_path / "long.h5")
    outcomes = {o.replica: o for o in result.replicas}
    assert (outcomes[1].status, outcomes[1].failure_step, outcomes[1].failure_reason) == (
        "failed",
        45,
        "non-finite",
    )
    assert outcomes[1].failure_time_fs == pytest.approx(90.0)
    assert outcomes[0].status == "completed" and result.steps_run == 60
    assert [outcomes[r].frames for r in (0, 1)] == [21, 21]
    simulate(
        LennardJones(),
        structures,
        protocol.model_copy(update={"stability_steps": None}),
        tmp_path / "short.h5",
    )
    for replica in (0, 1):
        same_frames(tmp_path / "long.h5", tmp_path / "short.h5", replica)
