"""Trajectory files are H5MD: MDAnalysis's reader gets back what the engine wrote (positions, forces, box,
time, in its own units); files of the first layout are still read; other files are refused with a message."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from ase import units

from egraffbench.errors import TrajectoryError
from egraffbench.md import MDProtocol, read_outcomes, read_replica, replica_ids, simulate
from egraffbench.md.trajectory import read_header
from test_md_support import LennardJones, argon_crystal, one_thread  # noqa: F401

mda_h5md = pytest.importorskip("MDAnalysis.coordinates.H5MD")
pytestmark = pytest.mark.usefixtures("one_thread")

PROTOCOL = MDProtocol(
    ensemble="nvt-langevin", temperature_K=80.0, timestep_fs=2.0, steps=20, dtype="float64", seed=1
)
KJ_PER_MOL_IN_EV = units.kJ / units.mol


def test_mdanalysis_reads_positions_forces_box_and_time(tmp_path: Path) -> None:
    path = tmp_path / "run.h5"
    simulate(LennardJones(), [argon_crystal(2, seed=0), argon_crystal(2, seed=1)], PROTOCOL, path)
    written = read_replica(path, 0)
    reader = mda_h5md.H5MDReader(str(path))  # the first particle group (replica 0), in MDAnalysis units
    assert reader.n_frames == len(written.step) == 21
    for frame, ts in enumerate(reader):
        np.testing.assert_allclose(ts.positions, written.positions[frame], rtol=1e-6)  # MDAnalysis: float32
        # MDAnalysis forces are kJ/(mol Å): ×(eV per kJ/mol) gives the engine's eV/Å
        np.testing.assert_allclose(ts.forces * KJ_PER_MOL_IN_EV, written.forces[frame], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(ts.triclinic_dimensions, written.cell[frame], rtol=1e-6, atol=1e-6)
        assert ts.time == pytest.approx(written.time_fs[frame] / 1000.0)  # ps
        assert ts.data["step"] == written.step[frame]
    reader.close()
    raw = mda_h5md.H5MDReader(str(path), convert_units=False)
    np.testing.assert_allclose(raw.ts.velocities, written.velocities[0], rtol=1e-6)  # Å/fs as written
    raw.close()
    assert read_header(path)["complete"] is True
    assert replica_ids(path) == [0, 1]
    # some frames, read without the others, are those frames of the whole replica
    part = read_replica(path, 1, frames=slice(3, 7))
    whole = read_replica(path, 1)
    for name in ("positions", "velocities", "forces", "energy", "cell", "step", "time_fs"):
        np.testing.assert_array_equal(getattr(part, name), getattr(whole, name)[3:7])
    np.testing.assert_array_equal(part.atomic_numbers, whole.atomic_numbers)
    assert part.atoms(0).get_potential_energy() == whole.atoms(3).get_potential_energy()


def test_a_file_of_the_first_layout_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "old.h5"
    positions = np.arange(12.0).reshape(2, 2, 3)
    with h5py.File(path, "w") as file:
        file.attrs.update({"format": "egraffbench-md-trajectory", "version": 1, "complete": True})
        group = file.create_group("replicas/0")
        group.attrs.update(
            {
                "status": "failed",
                "failure_step": 5,
                "failure_time_fs": 10.0,
                "failure_reason": "temperature",
                "temperature_K": 300.0,
            }
        )
        group["atomic_numbers"], group["masses"], group["pbc"] = [18, 18], [39.95, 39.95], [True] * 3
        group["step"], group["time_fs"], group["energy"] = [0, 5], [0.0, 10.0], [-1.0, -0.5]
        group["positions"], group["velocities"], group["forces"] = positions, -positions, 2 * positions
        group["cell"] = np.stack([np.eye(3) * 5.0] * 2)
    trajectory = read_replica(path, 0)
    np.testing.assert_array_equal(trajectory.forces, 2 * positions)  # eV/Å as stored then
    last = read_replica(path, 0, frames=slice(1, 2))
    np.testing.assert_array_equal(last.positions, positions[1:])
    np.testing.assert_array_equal(last.step, [5])
    assert read_outcomes(path)[0].failure_reason == "temperature" and trajectory.outcome.frames == 2


def test_a_foreign_hdf5_file_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as file:
        file["x"] = [1.0]
    with pytest.raises(TrajectoryError, match=r"foreign\.h5: not an egraffbench MD trajectory"):
        read_replica(path, 0)
