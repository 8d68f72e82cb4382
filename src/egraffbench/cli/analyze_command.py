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

from egraffbench.cli.options import StructureKind, deprecated_alias, hidden_alias
from egraffbench.errors import ConfigError, TrajectoryError
from egraffbench.fileio import atomic_write_json
from egraffbench.md.export import trajectory_frames
from egraffbench.metrics.comparison import compare_trajectories
from egraffbench.metrics.structure import DEFAULT_DR

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
    if not dr > 0 or (r_max is not None and not r_max > 0):
        raise ConfigError(f"--dr and --r-max must be positive distances in Å (got {dr}, {r_max})")
    metrics = {
        "trajectory": str(trajectory),
        "reference": str(reference),
        **compare_trajectories(
            read_trajectory(trajectory, replica),
            read_trajectory(reference, replica),
            dr=dr,
            r_max=r_max,
            kind=kind,
        ),
    }
    Console().print(_table(metrics))
    if output is not None:
        atomic_write_json(output, metrics)


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
