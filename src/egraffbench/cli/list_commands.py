"""`egraffbench tasks list` and `egraffbench models list`: what ships, one line each."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from egraffbench.errors import EgraffbenchError
from egraffbench.models.presets import preset_names
from egraffbench.models.registry import ARCHITECTURES, REFERENCE_POTENTIALS, reference_potential
from egraffbench.tasks import list_tasks, load_task

tasks_app = typer.Typer(help="The shipped benchmark tasks.", no_args_is_help=True)
models_app = typer.Typer(
    help="Architectures (with their presets) and reference potentials.", no_args_is_help=True
)


@tasks_app.callback()
def _tasks() -> None:
    """The shipped benchmark tasks."""


@models_app.callback()
def _models() -> None:
    """Architectures (with their presets) and reference potentials."""


@tasks_app.command("list")
def list_tasks_command() -> None:
    """Shipped tasks: name, kind and description (run one with `egraffbench run --task NAME`)."""
    table = Table(title="egraffbench tasks", box=None)
    for column in ("task", "kind", "description"):
        table.add_column(column, no_wrap=column != "description")
    for name in list_tasks():
        try:
            task = load_task(name)
        except EgraffbenchError as error:  # one broken file must not hide the others
            table.add_row(name, "-", f"unreadable: {error}")
            continue
        table.add_row(task.name, task.kind, task.description)
    Console().print(table)


@models_app.command("list")
def list_models_command() -> None:
    """Architectures with their presets, and the reference potentials (name them in `run --models`)."""
    table = Table(title="egraffbench models", box=None)
    for column in ("model", "kind", "presets / description"):
        table.add_column(column, no_wrap=column != "presets / description")
    for name in sorted(ARCHITECTURES):
        table.add_row(name, "architecture", ", ".join(preset_names(name)) or "-")
    for name in sorted(REFERENCE_POTENTIALS):
        doc = (type(reference_potential(name)).__doc__ or "").strip().splitlines()
        table.add_row(name, "reference potential", doc[0] if doc else "-")
    Console().print(table)
