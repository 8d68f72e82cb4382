"""Entry point of the `egraffbench` command: one typer app whose subcommands are imported only when used.

`egraffbench --help` lists the commands from :data:`COMMANDS` without importing them (torch and the models
load in about 3 s), so help and shell completion of command names answer at once.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from egraffbench import __version__
from egraffbench.cli.failures import expected_failure, one_line

# name → (module, attribute: a command function or a typer app, one-line summary for the command list)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": (
        "egraffbench.cli.run_command",
        "run",
        "Train, evaluate, simulate and score every model on every task and seed; print the leaderboard.",
    ),
    "results": ("egraffbench.cli.results_command", "results", "The leaderboard of a stored run."),
    "report": ("egraffbench.cli.report_command", "report", "Write the HTML report of a run."),
    "publish": (
        "egraffbench.cli.publish_command",
        "publish",
        "Copy a run's results and report series, without checkpoints or trajectories, to commit them.",
    ),
    "train": ("egraffbench.cli.train_commands", "train", "Train one model on one dataset."),
    "evaluate": (
        "egraffbench.cli.train_commands",
        "evaluate",
        "Energy and force errors of a model on a split.",
    ),
    "analyze": (
        "egraffbench.cli.analyze_command",
        "analyze",
        "Structure and violation metrics of a trajectory against a reference trajectory.",
    ),
    "simulate": (
        "egraffbench.cli.simulate_commands",
        "simulate",
        "Batched MD of many replicas, each watched for failure; rerun to resume.",
    ),
    "export": (
        "egraffbench.cli.simulate_commands",
        "export",
        "Export a trajectory to any format ase.io.write writes.",
    ),
    "data": ("egraffbench.cli.data_commands", "data_app", "List, fetch and describe the benchmark datasets."),
    "tasks": ("egraffbench.cli.list_commands", "tasks_app", "List the shipped benchmark tasks."),
    "models": (
        "egraffbench.cli.list_commands",
        "models_app",
        "List architectures, presets, reference potentials.",
    ),
}


class LazyGroup(TyperGroup):
    """A group whose commands are stand-ins (name and summary, for --help, completion and "did you mean")
    until one is run: :meth:`resolve_command` imports that one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, (_, _, summary) in COMMANDS.items():
            self.commands[name] = TyperCommand(name, help=summary, short_help=summary)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        if args and args[0] in COMMANDS:
            return args[0], load_command(args[0]), args[1:]
        return super().resolve_command(ctx, args)  # an unknown name: typer's error with suggestions


def load_command(name: str) -> Any:
    """The click command of ``name``, importing its module."""
    module, attribute, _ = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if not isinstance(target, typer.Typer):
        single = typer.Typer()
        single.command(name=name)(target)
        target = single
    command = typer.main.get_command(target)
    command.name = name
    return command


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"egraffbench {__version__}")
        raise typer.Exit()


cli = typer.Typer(
    cls=LazyGroup,
    name="egraffbench",
    help="Benchmark machine-learned interatomic force fields through molecular dynamics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@cli.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """Benchmark machine-learned interatomic force fields through molecular dynamics."""


def _fail(message: str, code: int) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    sys.exit(code)


def app(argv: Sequence[str] | None = None) -> None:
    """Run the CLI (``argv``, default the command line); an expected failure (bad input, a corrupt or
    unreadable file, a full disk) and a usage error (an unknown option, a value not among the choices)
    become one `error:` line on stderr and exit code 2, a bug keeps its traceback."""
    try:
        code = cli(args=None if argv is None else list(argv), prog_name="egraffbench", standalone_mode=False)
    except typer.Abort:
        typer.echo("Aborted!", err=True)
        sys.exit(1)
    except typer.TyperException as error:  # click's usage errors (typer vendors click: its public base)
        context = getattr(error, "ctx", None)
        hint = f" (see `{context.command_path} --help`)" if context is not None else ""
        _fail(one_line(error.format_message()) + hint, error.exit_code)
    except Exception as error:
        message = expected_failure(error)
        if message is None:
            raise
        _fail(message, 2)
    if isinstance(code, int) and code:
        sys.exit(code)
