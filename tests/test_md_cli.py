"""`egraffbench simulate` and `egraffbench export`: velocities from the structure file, the summary, extxyz
export round trip, starting from a real dataset."""

from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import units
from ase.build import bulk
from typer.testing import CliRunner

from egraffbench.cli.main import cli
from egraffbench.errors import ConfigError
from egraffbench.md import read_outcomes, read_replica, replica_ids
from egraffbench.md.trajectory import read_protocol
from test_md_support import one_thread  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_thread")


def copper_file(tmp_path: Path, with_momenta: bool) -> Path:
    atoms = bulk("Cu", "fcc", a=3.6) * (2, 2, 2)  # 8 atoms
    if with_momenta:
        rng = np.random.default_rng(0)
        atoms.set_momenta(np.sqrt(atoms.get_masses()[:, None] * units.kB * 300) * rng.standard_normal((8, 3)))
    path = tmp_path / "cu.extxyz"
    ase.io.write(path, atoms)
    return path


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None:
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def test_simulate_takes_velocities_from_the_file_and_prints_a_summary(tmp_path: Path) -> None:
    structure = copper_file(tmp_path, with_momenta=True)
    out = tmp_path / "run.h5"
    output = invoke(
        *f"simulate --model emt --structure {structure} --replicas 2 --ensemble nve --temperature 300 --dt 2 "
        f"--steps 20 --dtype float64 --stride 5 --out {out}".split()
    )
    assert "completed" in output and "time to failure" in output
    assert replica_ids(out) == [0, 1]
    atoms = ase.io.read(structure)
    expected = atoms.get_momenta() / atoms.get_masses()[:, None] * units.fs  # Å/fs
    for replica in (0, 1):
        trajectory = read_replica(out, replica)
        np.testing.assert_array_equal(trajectory.step, [0, 5, 10, 15, 20])
        np.testing.assert_allclose(trajectory.velocities[0], expected, rtol=1e-12)
    # NVE from the same velocities is deterministic: both replicas follow the same path, to rounding (they
    # sit at different offsets of the batch's tensors; 20 steps grow ~1e-15 Å far less than to 1e-10 Å)
    first, second = read_replica(out, 0).positions, read_replica(out, 1).positions
    np.testing.assert_allclose(first, second, rtol=0, atol=1e-10)
    assert {o.status for o in read_outcomes(out).values()} == {"completed"}
    assert read_protocol(out)["stability"]["bond_relabelling"] is True


def test_simulate_can_turn_bond_relabelling_off(tmp_path: Path) -> None:
    out, structure = tmp_path / "run.h5", copper_file(tmp_path, with_momenta=False)
    invoke(
        *f"simulate --model emt --structure {structure} --replicas 1 --steps 2 --no-bond-relabelling "
        f"--out {out}".split()
    )
    assert read_protocol(out)["stability"]["bond_relabelling"] is False


def test_export_round_trips_positions_energies_forces_and_momenta(tmp_path: Path) -> None:
    out = tmp_path / "run.h5"
    structure = copper_file(tmp_path, with_momenta=False)
    invoke(
        *f"simulate --model emt --structure {structure} --replicas 2 --temperature 500 --steps 10 "
        f"--dtype float64 --out {out}".split()
    )
    exported = tmp_path / "replica1.extxyz"
    invoke("export", str(out), "--format", "extxyz", "-o", str(exported), "--replica", "1")
    frames = ase.io.read(exported, ":")
    trajectory = read_replica(out, 1)
    assert len(frames) == len(trajectory.step) == 11
    for frame, atoms in enumerate(frames):
        assert atoms.info["replica"] == 1 and atoms.info["step"] == frame
        np.testing.assert_allclose(atoms.positions, trajectory.positions[frame], atol=1e-7)
        np.testing.assert_allclose(atoms.get_forces(), trajectory.forces[frame], atol=1e-7)
        assert atoms.get_potential_energy() == pytest.approx(trajectory.energy[frame], abs=1e-7)
        np.testing.assert_allclose(atoms.get_velocities() * units.fs, trajectory.velocities[frame], atol=1e-7)
    invoke("export", str(out), "-o", str(tmp_path / "all.extxyz"))
    assert len(ase.io.read(tmp_path / "all.extxyz", ":")) == 22


def test_simulate_needs_exactly_one_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="exactly one of"):
        invoke("simulate", "--model", "emt", "--out", str(tmp_path / "x.h5"))


def test_simulate_starts_from_the_first_frames_of_a_dataset(shared_datasets: Path, tmp_path: Path) -> None:
    """Aspirin test frames 0 and 1 as replicas (EMT knows H, C, O), at the dataset's temperature."""
    out = tmp_path / "aspirin.h5"
    invoke(
        *f"simulate --model emt --dataset md17-aspirin --data-root {shared_datasets} --replicas 2 --steps 3 "
        f"--out {out}".split()
    )
    first = np.load(shared_datasets / "md17" / "aspirin" / "test.npz")["pos"][:2]
    for replica in (0, 1):
        trajectory = read_replica(out, replica)
        np.testing.assert_allclose(trajectory.positions[0], first[replica], atol=1e-5)
        assert read_outcomes(out)[replica].temperature_K == 500.0
