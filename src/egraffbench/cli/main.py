"""Entry point of the `egraffbench` command: one typer app, subcommands registered from their modules."""

from __future__ import annotations

import sys

import typer

from egraffbench.cli.analyze_command import analyze
from egraffbench.cli.data_commands import data_app
from egraffbench.cli.report_command import report
from egraffbench.cli.results_command import results
from egraffbench.cli.run_command import run
from egraffbench.cli.simulate_commands import export, simulate
from egraffbench.cli.train_commands import evaluate, train
from egraffbench.errors import EgraffbenchError

cli = typer.Typer(
    name="egraffbench",
    help="Benchmark machine-learned interatomic force fields through molecular dynamics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
cli.add_typer(data_app, name="data")
cli.command()(run)
cli.command()(results)
cli.command()(report)
cli.command()(train)
cli.command()(evaluate)
cli.command()(analyze)
cli.command()(simulate)
cli.command()(export)


def app() -> None:
    """Run the CLI; typed errors become one line on stderr and exit code 2."""
    try:
        cli()
    except EgraffbenchError as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        sys.exit(2)
