"""`egraffbench analyze`: structure and violation metrics of a trajectory against a reference trajectory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import ase.io
import h5py
import typer
from ase import Atoms
from rich.console import Console
from rich.table import Table

from egraffbench.cli.bounds import at_most, positive
from egraffbench.cli.options import StructureKind, deprecated_alias, hidden_alias
from egraffbench.errors import TrajectoryError
from egraffbench.fileio import atomic_write_json
from egraffbench.md.export import trajectory_frames
from egraffbench.metrics.comparison import compare_trajectories
from egraffbench.metrics.structure import DEFAULT_DR, R_MAX_CAP

MAX_R_MAX_A = 50.0
MAX_BINS = 1_000_000
_SHOWN = ("kind", "n_frames", "n_frames_reference", "r_max", "dr", "wf_percent", "jsd", "ev", "fv")


def analyze(
    trajectory: Annotated[
        Path,
        typer.Argument(help="simulated trajectory: an `egraffbench simulate` .h5, or any format ASE reads"),
    ],
    reference: Annotated[
        Path, typer.Option("--reference", help="reference trajectory (an egraffbench .h5 or any ASE format)")
    ],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="write the metrics to this JSON file")
    ] = None,
    replica: Annotated[
        int, typer.Option("--replica", help="replica of an egraffbench .h5 trajectory to analyse")
    ] = 0,
    dr: Annotated[float, typer.Option("--dr", help="bin width of g(r) / h(r), Å")] = DEFAULT_DR,
    r_max: Annotated[
        float | None,
        typer.Option("--r-max", help="range of g(r) / h(r), Å (default: from the cell / reference)"),
    ] = None,
    kind: Annotated[
        StructureKind | None,
        typer.Option("--kind", help="rdf (g(r)) or hr (h(r), e.g. a molecule in a box); default: from pbc"),
    ] = None,
    json_path: Annotated[Path | None, hidden_alias("--json", "-o/--output")] = None,
) -> None:
    """WF (%) and JSD of g(r) (periodic) or h(r) (molecule); EV/FV when both files carry energies and
    forces on the same frames."""
    output = deprecated_alias(output, json_path, "-o/--output", "--json")
    positive("--dr", dr, "bin width in Å")
    if r_max is not None:
        positive("--r-max", r_max, "distance in Å")
        at_most("--r-max", r_max, MAX_R_MAX_A, "g(r) counts every pair within r_max: memory grows as r_max³")
    at_most("--r-max / --dr", (r_max or R_MAX_CAP) / dr, MAX_BINS, "bins of g(r); choose a wider --dr")
    simulated, target = read_trajectory(trajectory, replica), read_trajectory(reference, replica)
    _check_same_system(trajectory, simulated[0], reference, target[0])
    metrics = {
        "trajectory": str(trajectory),
        "reference": str(reference),
        **compare_trajectories(simulated, target, dr=dr, r_max=r_max, kind=kind),
    }
    Console().print(_table(metrics))
    if output is not None:
        atomic_write_json(output, metrics)


def _check_same_system(path: Path, first: Atoms, reference_path: Path, reference: Atoms) -> None:
    """Refuse trajectories of different elements; say so when the atom counts or compositions differ."""
    elements, expected = (
        sorted(set(first.get_chemical_symbols())),
        sorted(set(reference.get_chemical_symbols())),
    )
    if elements != expected:
        raise TrajectoryError(
            f"{path} has elements {' '.join(elements)} but {reference_path} has {' '.join(expected)}: "
            "not the same chemical system"
        )
    if first.get_chemical_formula() != reference.get_chemical_formula():
        Console(stderr=True).print(
            f"warning: comparing {first.get_chemical_formula()} ({len(first)} atoms, {path}) with "
            f"{reference.get_chemical_formula()} ({len(reference)} atoms, {reference_path})",
            soft_wrap=True,
        )


def read_trajectory(path: Path, replica: int = 0) -> list[Atoms]:
    """All frames of a trajectory file (of replica ``replica`` in an egraffbench H5MD file); TrajectoryError
    naming the file if missing, unreadable or empty."""
    if not path.is_file():
        raise TrajectoryError(f"{path}: no such trajectory file")
    if h5py.is_hdf5(path):
        frames = list(trajectory_frames(path, [replica]))
        if not frames:
            raise TrajectoryError(f"{path}: replica {replica} has no frames")
        return frames
    try:
        frames = ase.io.read(path, ":")
    except Exception as error:  # ASE raises many types for foreign or corrupt files; all mean "unreadable"
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise TrajectoryError(f"{path}: not a trajectory ASE can read ({reason})") from error
    if not frames:
        raise TrajectoryError(f"{path}: contains no frames")
    return frames


def _table(metrics: dict[str, Any]) -> Table:
    table = Table(title=f"{metrics['trajectory']} vs {metrics['reference']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in [*_SHOWN, *(name for name in metrics if name.startswith("rollout_"))]:
        table.add_row(key, _format(metrics[key]))
    for key in ("ev_reason", "fv_reason"):
        if metrics[key]:
            table.add_row(key, metrics[key])
    return table


def _format(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.6g}" if isinstance(value, float) else str(value)
