"""`egraffbench analyze`: WF/JSD/EV/FV of trajectory files, reasons when EV/FV do not apply, clean errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import ase.io
import numpy as np
import pytest
import typer
from ase import Atoms, units
from ase.build import bulk, molecule
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.md.verlet import VelocityVerlet
from typer.testing import CliRunner

from egraffbench.cli.analyze_command import analyze
from egraffbench.errors import TrajectoryError
from egraffbench.store.database import ResultsStore
from fresh_cli import CLI
from test_runner_fixtures import ReferenceRun, shared_reference_run


def cli_app() -> typer.Typer:
    """The real `egraffbench` app when all its command modules exist, else a group holding `analyze` alone."""
    try:
        from egraffbench.cli.main import cli
    except ImportError:
        local = typer.Typer()
        local.command()(analyze)

        @local.callback()
        def group() -> None:
            """Stand-in for the `egraffbench` group."""

        return local
    return cli


def invoke(*args: str) -> typer.testing.Result:
    return CliRunner().invoke(cli_app(), ["analyze", *map(str, args)])


def labelled(atoms: Atoms, energy: float, forces: np.ndarray) -> Atoms:
    frame = atoms.copy()
    frame.calc = SinglePointCalculator(frame, energy=energy, forces=forces)
    return frame


@pytest.fixture(scope="module")
def copper_md() -> list[Atoms]:
    """12 frames of NVE MD of a 32-atom EMT Cu crystal at 300 K (2 fs steps), with energies and forces."""
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    atoms.calc = EMT()
    dynamics = VelocityVerlet(atoms, timestep=2 * units.fs)
    frames = []
    for _ in range(12):
        dynamics.run(1)
        frames.append(labelled(atoms, atoms.get_potential_energy(), atoms.get_forces()))
    return frames


def test_trajectory_against_itself_scores_zero(copper_md: list[Atoms], tmp_path: Path) -> None:
    trajectory = tmp_path / "md.extxyz"
    ase.io.write(trajectory, copper_md)
    report = tmp_path / "out" / "metrics.json"
    result = invoke(trajectory, "--reference", trajectory, "--json", report)
    assert result.exit_code == 0, result.output
    metrics = json.loads(report.read_text())
    assert metrics["kind"] == "rdf" and metrics["n_frames"] == 12
    assert metrics["wf_percent"] == 0.0 and metrics["jsd"] == 0.0
    assert metrics["ev"] == 0.0 and metrics["fv"] == 0.0
    assert metrics["ev_reason"] is None and metrics["rollout_force_mae"] == 0.0
    assert metrics["r_max"] == pytest.approx((2 * 3.61 - 1) / 2, abs=0.05)  # default from the 7.22 Å cell
    assert "wf_percent" in result.output  # the table


def test_formats_are_interchangeable(copper_md: list[Atoms], tmp_path: Path) -> None:
    """extxyz against ASE's binary .traj of the same frames: zero up to the text format's 8 decimals."""
    ase.io.write(tmp_path / "md.extxyz", copper_md)
    ase.io.write(tmp_path / "md.traj", copper_md)
    report = tmp_path / "metrics.json"
    result = invoke(tmp_path / "md.extxyz", "--reference", tmp_path / "md.traj", "--json", report)
    assert result.exit_code == 0, result.output
    metrics = json.loads(report.read_text())
    assert metrics["wf_percent"] == pytest.approx(0.0, abs=1e-9)
    assert metrics["ev"] < 1e-7 and metrics["fv"] < 1e-7


def test_violations_match_hand_computed_values(copper_md: list[Atoms], tmp_path: Path) -> None:
    """Same positions, forces × 1.1 and energies + 0.1 eV: FV_t = 0.1‖F‖ / 2.1‖F‖ = 1/21 in every frame."""
    shifted = [labelled(a, a.get_potential_energy() + 0.1, 1.1 * a.get_forces()) for a in copper_md]
    ase.io.write(tmp_path / "model.extxyz", shifted)
    ase.io.write(tmp_path / "reference.extxyz", copper_md)
    report = tmp_path / "metrics.json"
    result = invoke(tmp_path / "model.extxyz", "--reference", tmp_path / "reference.extxyz", "--json", report)
    assert result.exit_code == 0, result.output
    metrics = json.loads(report.read_text())
    energies = np.array([a.get_potential_energy() for a in copper_md])
    expected_ev = np.exp(np.mean(np.log(0.1 / (np.abs(energies + 0.1) + np.abs(energies)))))
    assert metrics["fv"] == pytest.approx(1 / 21, rel=1e-6)
    assert metrics["ev"] == pytest.approx(expected_ev, rel=1e-6)
    assert metrics["rollout_energy_mae"] == pytest.approx(0.1, rel=1e-6)
    assert metrics["rollout_energy_mae_per_atom"] == pytest.approx(0.1 / 32, rel=1e-6)
    assert metrics["wf_percent"] == 0.0  # positions are identical


def test_trajectory_without_forces_has_null_violations_with_reasons(
    copper_md: list[Atoms], tmp_path: Path
) -> None:
    bare = [Atoms(a.numbers, a.positions + 0.05, cell=a.cell, pbc=True) for a in copper_md]
    ase.io.write(tmp_path / "bare.extxyz", bare)
    ase.io.write(tmp_path / "reference.extxyz", copper_md)
    report = tmp_path / "metrics.json"
    result = invoke(tmp_path / "bare.extxyz", "--reference", tmp_path / "reference.extxyz", "--json", report)
    assert result.exit_code == 0, result.output
    metrics = json.loads(report.read_text())
    assert metrics["ev"] is None and metrics["fv"] is None
    assert "simulated" in metrics["ev_reason"] and "energies" in metrics["ev_reason"]
    assert "forces" in metrics["fv_reason"]
    assert metrics["wf_percent"] == pytest.approx(0.0, abs=1e-9)  # a rigid shift keeps g(r)


def test_molecule_uses_h_of_r_and_explicit_grid(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    methane = molecule("CH4")
    frames = [Atoms(methane.numbers, methane.positions + rng.normal(0, 0.05, (5, 3))) for _ in range(6)]
    ase.io.write(tmp_path / "a.extxyz", frames[:3])
    ase.io.write(tmp_path / "b.extxyz", frames[3:])
    report = tmp_path / "metrics.json"
    result = invoke(
        tmp_path / "a.extxyz", "--reference", tmp_path / "b.extxyz", "--json", report, "--dr", "0.1"
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(report.read_text())
    assert metrics["kind"] == "hr" and metrics["dr"] == 0.1
    assert metrics["r_max"] > max(np.max(f.get_all_distances()) for f in frames[3:])
    assert 0 < metrics["jsd"] <= np.log(2) and metrics["wf_percent"] > 0
    assert "energies" in metrics["ev_reason"]


@pytest.mark.parametrize("content", [None, "this is not a trajectory\n", ""])
def test_missing_or_garbage_file_is_a_trajectory_error(
    copper_md: list[Atoms], tmp_path: Path, content: str | None
) -> None:
    ase.io.write(tmp_path / "reference.extxyz", copper_md)
    broken = tmp_path / "broken.xyz"
    if content is not None:
        broken.write_text(content)
    result = invoke(broken, "--reference", tmp_path / "reference.extxyz")
    assert result.exit_code != 0
    assert isinstance(result.exception, TrajectoryError)
    message = str(result.exception)
    assert str(broken) in message and "\n" not in message


@pytest.mark.slow  # a fresh interpreter importing the whole CLI (torch included) takes several seconds
def test_command_line_prints_one_line_without_traceback(tmp_path: Path) -> None:
    pytest.importorskip("egraffbench.cli.data_commands", reason="the full CLI is not assembled yet")
    pytest.importorskip("egraffbench.cli.run_command", reason="the full CLI is not assembled yet")
    missing = tmp_path / "missing.xyz"
    arguments = ["analyze", str(missing), "--reference", str(missing)]
    process = subprocess.run([*CLI, *arguments], capture_output=True, text=True, timeout=120)
    assert process.returncode != 0
    assert "Traceback" not in process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and str(missing) in lines[0]


def test_molecule_in_a_periodic_box_can_be_analysed_as_h_of_r(tmp_path: Path) -> None:
    """3BPA and acac come as molecules in 50 Å periodic boxes: --kind hr gives the molecule's h(r)."""
    rng = np.random.default_rng(2)
    methane = molecule("CH4")
    frames = [Atoms(methane.numbers, methane.positions + rng.normal(0, 0.05, (5, 3))) for _ in range(4)]
    boxed = [Atoms(f.numbers, f.positions + 25.0, cell=np.eye(3) * 50.0, pbc=True) for f in frames]
    for name, group in (
        ("free_a", frames[:2]),
        ("free_b", frames[2:]),
        ("box_a", boxed[:2]),
        ("box_b", boxed[2:]),
    ):
        ase.io.write(tmp_path / f"{name}.extxyz", group)
    results = {}
    for name, extra in (("free", []), ("box", ["--kind", "hr"]), ("box_rdf", [])):
        stem = "free" if name == "free" else "box"
        report = tmp_path / f"{name}.json"
        args = [tmp_path / f"{stem}_a.extxyz", "--reference", tmp_path / f"{stem}_b.extxyz", "--json", report]
        assert invoke(*args, *extra).exit_code == 0
        results[name] = json.loads(report.read_text())
    assert results["box"]["kind"] == "hr" and results["box_rdf"]["kind"] == "rdf"
    assert results["box"]["wf_percent"] == pytest.approx(results["free"]["wf_percent"], rel=1e-9)
    assert results["box"]["jsd"] == pytest.approx(results["free"]["jsd"], rel=1e-9)
    bad = invoke(tmp_path / "free_a.extxyz", "--reference", tmp_path / "free_b.extxyz", "--kind", "adf")
    assert bad.exit_code == 2 and "'adf' is not one of" in bad.output  # the choice list refuses it


def test_grid_comes_from_the_reference_as_in_the_score_stage(copper_md: list[Atoms], tmp_path: Path) -> None:
    """A simulated cell narrower than the reference's does not shrink r_max: the grid is the reference's."""
    squeezed = []
    for frame in copper_md:
        atoms = frame.copy()
        atoms.set_cell(atoms.cell * 0.9, scale_atoms=True)
        squeezed.append(atoms)
    ase.io.write(tmp_path / "squeezed.extxyz", squeezed)
    ase.io.write(tmp_path / "reference.extxyz", copper_md)
    report = tmp_path / "metrics.json"
    result = invoke(tmp_path / "squeezed.extxyz", "--reference", tmp_path / "reference.extxyz", "-o", report)
    assert result.exit_code == 0, result.output
    metrics = json.loads(report.read_text())
    width = 2 * 3.61  # the reference's cubic cell, Å
    assert metrics["r_max"] == pytest.approx(0.05 * np.floor((width - 1) / 2 / 0.05 + 1e-9), abs=1e-12)
    assert metrics["wf_percent"] > 10  # 10 % shorter bonds: a different g(r)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    return shared_reference_run(tmp_path_factory)


def test_analyze_gives_the_scores_the_score_stage_stored(reference_run: ReferenceRun, tmp_path: Path) -> None:
    """One front end: `analyze` of a stored replica against the test split gives the stored WF and JSD."""
    reference = reference_run.task_file.parent / "data" / "test.extxyz"
    with ResultsStore.open_existing(reference_run.run_dir) as store:
        run_id = store.latest_run()
        jobs = {job["job_id"]: job["results"]["scores"]["replica_values"] for job in store.jobs(run_id)}
        trajectories = {a["job_id"]: a["path"] for a in store.artifacts(run_id) if a["kind"] == "trajectory"}
    compared = 0
    for job_id, replicas in jobs.items():
        for index, stored in enumerate(replicas):
            report = tmp_path / f"{compared}.json"
            trajectory = reference_run.run_dir / trajectories[job_id]
            result = invoke(trajectory, "--reference", reference, "--replica", index, "-o", report)
            assert result.exit_code == 0, result.output
            metrics = json.loads(report.read_text())
            assert stored["wf_percent"] > 0  # a rollout, not the reference itself
            assert metrics["wf_percent"] == pytest.approx(stored["wf_percent"], rel=1e-12, abs=1e-12)
            assert metrics["jsd"] == pytest.approx(stored["jsd"], rel=1e-12, abs=1e-12)
            compared += 1
    assert compared == 4  # mace and emt, two replicas each
