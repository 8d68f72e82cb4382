"""`egraffbench data`: list, fetch and describe the registered datasets.

Errors propagate as the typed exceptions of `egraffbench.errors`; the top-level command prints one line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from egraffbench.cli.options import deprecated_alias, hidden_alias
from egraffbench.cli.progress import PlainProgress, progress_display
from egraffbench.data import data_root, dataset_info, fetch_dataset, get_dataset_spec, list_datasets
from egraffbench.data.dataset import split_available, split_frame_count
from egraffbench.data.download import ByteProgress
from egraffbench.errors import DatasetError
from egraffbench.fileio import atomic_write_json

data_app = typer.Typer(
    help="List, fetch (download or import, checksum-verified) and describe the benchmark datasets.",
    no_args_is_help=True,
)
console = Console()
messages = Console(stderr=True)


def _frames_cell(name: str, root: Path) -> tuple[str, str]:
    """(frames per present split, cached status) for the `list` table."""
    spec = get_dataset_spec(name)
    present = [split for split in spec.splits if split_available(spec, split, root)]
    counts = []
    for split in present:
        try:
            counts.append(f"{split} {split_frame_count(spec, split, root)}")
        except (DatasetError, OSError):  # one bad file must not hide the rest of the listing
            counts.append(f"{split} unreadable")
    if len(present) == len(spec.splits):
        status = "yes"
    elif present:
        status = "partly"
    else:
        status = "on first use" if spec.generator else "no"
    return ", ".join(counts) or "-", status


@data_app.command("list")
def list_command() -> None:
    """Registered datasets: periodicity, MD temperature, and which splits are in the data root."""
    root = data_root()
    table = Table(title=f"egraffbench datasets (data root {root})")
    table.add_column("name", no_wrap=True)
    for column in ("periodic", "T (K)", "test spacing (fs)", "frames per cached split"):
        table.add_column(column)
    table.add_column("cached", no_wrap=True)
    for name in list_datasets():
        spec = get_dataset_spec(name)
        frames, status = _frames_cell(name, root)
        spacing = "-" if spec.test_frame_spacing_fs is None else f"{spec.test_frame_spacing_fs:g}"
        table.add_row(
            name, "yes" if spec.periodic else "no", f"{spec.temperature_K:g}", spacing, frames, status
        )
    console.print(table)


@contextmanager
def _byte_progress() -> Iterator[tuple[Progress | PlainProgress, ByteProgress]]:
    """A byte progress bar per download (plain lines when stderr is not a terminal)."""
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    tasks: dict[str, int] = {}
    with progress_display(messages, *columns, unit="bytes") as progress:

        def on_bytes(url: str, held: int, total: int | None) -> None:
            if url not in tasks:
                tasks[url] = progress.add_task(url.rsplit("/", 1)[-1], total=total)
            progress.update(tasks[url], completed=held, total=total)

        yield progress, on_bytes


@data_app.command("fetch")
def fetch_command(
    name: Annotated[str, typer.Argument(help="dataset name (see `egraffbench data list`)")],
    source_dir: Annotated[
        Path | None,
        typer.Option("--from", help="import from this local folder (laid out like the data root) instead"),
    ] = None,
) -> None:
    """Download a dataset from its public URLs or import it from a local folder, verifying checksums first.

    Exit code 2 when a split is still missing afterwards (the splits that came are kept)."""
    with _byte_progress() as (progress, on_bytes):
        root = fetch_dataset(name, source_dir, report=progress.console.print, on_bytes=on_bytes)
    spec = get_dataset_spec(name)
    present = [split for split in spec.splits if split_available(spec, split, root)]
    console.print(f"{name}: {', '.join(present) or 'no splits'} available in {root}")
    absent = [split for split in spec.splits if split not in present]
    if absent:
        where = f"not in {source_dir}" if source_dir is not None else "not fetched"
        raise DatasetError(f"{name}: split {', '.join(absent)} {where}; the dataset is incomplete")


def _format(value: float | None, scale: float = 1.0, digits: int = 3) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


def _splits_table(info: dict[str, Any]) -> Table:
    table = Table(title=f"{info['name']} splits")
    for column in (
        "split",
        "frames",
        "atoms/frame",
        "elements",
        "E/atom mean ± std (eV)",
        "F rms (eV/Å)",
        "max |F|",
    ):
        table.add_column(column)
    for split, entry in info["splits"].items():
        if not entry["available"]:
            expected = entry["frames_expected"]
            table.add_row(
                split, "not cached" + (f" ({expected} expected)" if expected else ""), "", "", "", "", ""
            )
            continue
        sizes = sorted({entry["atoms_per_frame_min"], entry["atoms_per_frame_max"]})
        table.add_row(
            split,
            str(entry["frames"]),
            "–".join(str(size) for size in sizes),
            " ".join(entry["elements"]),
            f"{entry['energy_per_atom_mean_eV']:.4f} ± {entry['energy_per_atom_std_eV']:.4f}",
            _format(entry["force_component_rms_eV_per_A"]),
            _format(entry["force_max_norm_eV_per_A"]),
        )
    return table


@data_app.command("info")
def info_command(
    name: Annotated[str, typer.Argument(help="dataset name (see `egraffbench data list`)")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="also write the summary to this JSON file")
    ] = None,
    json_file: Annotated[Path | None, hidden_alias("--json", "-o/--output")] = None,
) -> None:
    """Registry facts of a dataset and statistics of each cached split (energies eV, forces eV/Å)."""
    output = deprecated_alias(output, json_file, "-o/--output", "--json")
    info = dataset_info(name)
    facts = Table.grid(padding=(0, 2))
    facts.add_row("description", info["description"])
    facts.add_row("periodic", "yes" if info["periodic"] else "no")
    facts.add_row("MD temperature", f"{info['temperature_K']:g} K  {info['temperature_note']}")
    facts.add_row("test frame spacing", f"{_format(info['test_frame_spacing_fs'], digits=2)} fs")
    facts.add_row("oracle", info["oracle"] or "-")
    facts.add_row("elements", " ".join(info["elements"]))
    facts.add_row("citation", info["citation"])
    facts.add_row("licence", info["licence"])
    facts.add_row("data root", info["root"])
    console.print(facts)
    console.print(_splits_table(info))
    if output is not None:
        atomic_write_json(output, info)
        messages.print(f"wrote {output}")
