"""`egraffbench simulate` (batched MD of many replicas with a stability watch) and `egraffbench export`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import ase.io
import numpy as np
import typer
from ase import Atoms
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from egraffbench.cli.bounds import non_negative, positive
from egraffbench.cli.options import (
    Dtype,
    Ensemble,
    choices,
    deprecated_alias,
    device_option,
    hidden_alias,
)
from egraffbench.cli.progress import format_rate, progress_display
from egraffbench.data import get_dataset_spec, load_dataset
from egraffbench.errors import ConfigError, TrajectoryError
from egraffbench.md.engine import SimulationProgress, SimulationResult
from egraffbench.md.engine import simulate as run_simulation
from egraffbench.md.export import export_formats, export_trajectory
from egraffbench.md.protocol import MDProtocol
from egraffbench.md.trajectory import read_header, read_outcomes
from egraffbench.metrics.stability import StabilityCriteria
from egraffbench.metrics.structure import StructureFunction, radial_distribution
from egraffbench.models.storage import load_force_field
from egraffbench.numerics import pin_torch_threads

ExportFormat = choices("ExportFormat", export_formats())


def simulate(
    model: Annotated[
        str,
        typer.Option(
            "--model", help="trained model folder, reference potential (emt) or pretrained-model YAML"
        ),
    ],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="trajectory file to write (H5MD; required)")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="start from the first frames of this dataset's split")
    ] = None,
    structure: Annotated[
        Path | None, typer.Option("--structure", help="start from the frames of this file (any ASE format)")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="dataset split of the starting frames")] = "test",
    data_root: Annotated[
        Path | None, typer.Option("--data-root", help="dataset folder (default: the data cache)")
    ] = None,
    replicas: Annotated[int, typer.Option("--replicas", min=1, help="number of replicas")] = 10,
    ensemble: Annotated[Ensemble, typer.Option("--ensemble", help="thermodynamic ensemble")] = "nvt-langevin",
    temperature: Annotated[
        float | None,
        typer.Option("--temperature", help="target temperature, K (default: the dataset's, else 520)"),
    ] = None,
    dt: Annotated[float, typer.Option("--dt", help="time step, fs")] = 1.0,
    steps: Annotated[int, typer.Option("--steps", min=0, help="number of steps")] = 1000,
    friction: Annotated[
        float, typer.Option("--friction", help="Langevin friction, inverse ASE time units (as ASE)")
    ] = 5e-3,
    dtype: Annotated[Dtype, typer.Option("--dtype", help="floating-point precision of the MD")] = "float32",
    seed: Annotated[int, typer.Option("--seed", min=0, help="seed of the per-replica random streams")] = 0,
    stride: Annotated[int, typer.Option("--stride", min=1, help="record every N-th step")] = 1,
    check_every: Annotated[
        int, typer.Option("--check-every", min=1, help="check stability every k steps")
    ] = 10,
    checkpoint_every: Annotated[
        int, typer.Option("--checkpoint-every", min=1, help="checkpoint every N steps")
    ] = 100,
    bond_relabelling: Annotated[
        bool,
        typer.Option(
            "--bond-relabelling/--no-bond-relabelling",
            help="a molecule whose bonds deviate fails only if no relabelling of its atoms mends them "
            "(a tautomer, e.g. a proton transfer between equivalent sites, is not a failure)",
        ),
    ] = True,
    device: Annotated[str, device_option("torch device")] = "cpu",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="replace an existing trajectory of another run")
    ] = False,
    out: Annotated[Path | None, hidden_alias("--out", "-o/--output")] = None,
) -> None:
    """Run MD of many replicas in one batch, each watched for failure; rerun the same command to resume.

    Initial velocities come from the structure file when it has momenta, else are drawn at the target
    temperature. Prints a per-replica summary (status, failure reason, time to failure) at the end.
    """
    pin_torch_threads()
    output = deprecated_alias(output, out, "-o/--output", "--out")
    if output is None:
        raise ConfigError("simulate: give the trajectory file to write with -o/--output FILE")
    if (dataset is None) == (structure is None):
        raise ConfigError("simulate: give exactly one of --dataset NAME or --structure FILE")
    if temperature is not None:
        positive("--temperature", temperature, "temperature in K")
    positive("--dt", dt, "time step in fs")
    non_negative("--friction", friction, "friction")
    if dataset is not None:
        starts, default_temperature, reference = _dataset_starts(dataset, split, data_root, replicas)
    else:
        starts, default_temperature, reference = _file_starts(structure, replicas), None, None
    if temperature is None:
        temperature = default_temperature or MDProtocol().temperature_K
    protocol = MDProtocol(
        ensemble=ensemble,
        temperature_K=temperature,
        timestep_fs=dt,
        steps=steps,
        friction=friction,
        dtype=dtype,
        seed=seed,
        stride=stride,
        check_every=check_every,
        checkpoint_every=checkpoint_every,
        stability=StabilityCriteria(bond_relabelling=bond_relabelling),
    )
    console = Console(stderr=True)
    with progress_display(console, *_COLUMNS) as progress:
        task = progress.add_task("MD", total=steps, status="starting")

        def report(state: SimulationProgress) -> None:
            progress.update(
                task,
                completed=state.step,
                status=f"{format_rate(state.steps_per_s)} steps/s  {state.simulated_ps:.3f} ps  "
                f"{state.live} live / {state.retired} retired",
            )

        force_field = load_force_field(model, device=device)
        force_field.check_elements(starts)
        result = run_simulation(
            force_field,
            starts,
            protocol,
            output,
            reference_rdfs=None if reference is None else dict.fromkeys(range(len(starts)), reference),
            device=device,
            model_name=model,
            callback=report,
            overwrite=overwrite,
        )
        progress.update(task, completed=steps)
    Console().print(summary_table(result, protocol))
    stable = sum(o.status == "completed" for o in result.replicas)
    resumed = "" if result.resumed_from is None else f", resumed from step {result.resumed_from}"
    console.print(
        f"{stable}/{len(result.replicas)} replicas stable; {result.steps_run} steps at "
        f"{result.steps_per_s:.2f} steps/s{resumed}; trajectory: {output}"
    )


def export(
    trajectory: Annotated[Path, typer.Argument(help="trajectory file written by `egraffbench simulate`")],
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="file to write; its suffix gives the format unless --format"),
    ],
    file_format: Annotated[
        ExportFormat | None,
        typer.Option(
            "--format",
            help="any format ase.io.write writes (default: from the suffix of --output)",
        ),
    ] = None,
    replica: Annotated[
        list[int] | None, typer.Option("--replica", help="replica id to export (repeat; default: all)")
    ] = None,
    frame: Annotated[
        int | None,
        typer.Option("--frame", help="export only this frame index of each replica (negative: from the end)"),
    ] = None,
) -> None:
    """Export a trajectory's frames (positions, momenta, energy, forces, cell) to any ASE format, streamed."""
    if not trajectory.is_file():
        raise TrajectoryError(f"{trajectory}: no such trajectory file")
    if not read_header(trajectory).get("complete"):
        raise TrajectoryError(
            f"{trajectory}: incomplete (its `simulate` was interrupted or still runs); rerun it to finish"
        )
    if not any(outcome.frames for outcome in read_outcomes(trajectory).values()):
        raise TrajectoryError(f"{trajectory}: holds no frames, nothing to export")
    frames = export_trajectory(trajectory, output, file_format and str(file_format), replica or None, frame)
    Console(stderr=True).print(f"wrote {frames} frames to {output}")


_COLUMNS = (
    TextColumn("[bold]{task.description}"),
    BarColumn(),
    MofNCompleteColumn(),
    TextColumn("{task.fields[status]}"),
    TimeElapsedColumn(),
)


def summary_table(result: SimulationResult, protocol: MDProtocol) -> Table:
    """One row per replica: atoms, target temperature, status, failure reason and time to failure."""
    run_fs = protocol.steps * protocol.timestep_fs
    table = Table(title=f"{protocol.ensemble}, {protocol.steps} steps of {protocol.timestep_fs:g} fs")
    for column in ("replica", "atoms", "T (K)", "status", "reason", "time to failure (fs)", "frames"):
        table.add_column(column, justify="left" if column in ("status", "reason") else "right")
    for outcome in sorted(result.replicas, key=lambda o: o.replica):
        failed = outcome.failure_time_fs is not None
        table.add_row(
            str(outcome.replica),
            str(outcome.n_atoms),
            f"{outcome.temperature_K:g}",
            outcome.status,
            outcome.failure_reason or "",
            f"{outcome.failure_time_fs:g}" if failed else f"> {run_fs:g}",
            str(outcome.frames),
        )
    return table


def _dataset_starts(
    name: str, split: str, root: Path | None, replicas: int
) -> tuple[list[Atoms], float, StructureFunction | None]:
    """The first ``replicas`` frames of the split, the dataset's MD temperature, and (periodic) its g(r)."""
    spec = get_dataset_spec(name)
    frames = load_dataset(name, split, root=root)
    if len(frames) < replicas:
        raise ConfigError(
            f"{name} split '{split}' has {len(frames)} frames, fewer than --replicas ({replicas})"
        )
    reference = None
    if spec.periodic:
        reference = radial_distribution(
            np.array([a.positions for a in frames]), np.array([a.cell.array for a in frames])
        )
    return [_bare(a) for a in frames[:replicas]], spec.temperature_K, reference


def _file_starts(path: Path, replicas: int) -> list[Atoms]:
    """The file's frames, repeated in turn until there are ``replicas`` (each replica has its own noise)."""
    if not path.is_file():
        raise ConfigError(f"--structure {path}: no such file")
    try:
        frames = ase.io.read(path, ":")
    except Exception as error:  # ASE raises many types for foreign or corrupt files; all mean "unreadable"
        raise ConfigError(f"--structure {path}: not a structure file ASE can read ({error})") from error
    if not frames:
        raise ConfigError(f"--structure {path}: contains no structure")
    for index, atoms in enumerate(frames):
        if not (np.isfinite(atoms.positions).all() and np.isfinite(atoms.cell.array).all()):
            raise ConfigError(f"--structure {path}: frame {index} has non-finite positions or cell")
    return [_bare(frames[i % len(frames)]) for i in range(replicas)]


def _bare(atoms: Atoms) -> Atoms:
    """A copy without calculator (the model replaces it); momenta are kept."""
    copy = atoms.copy()
    copy.calc = None
    return copy
