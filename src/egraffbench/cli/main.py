"""Entry point of the `egraffbench` command: one typer app, subcommands registered from their modules."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from egraffbench.cli.analyze_command import analyze
from egraffbench.cli.data_commands import data_app
from egraffbench.cli.failures import expected_failure
from egraffbench.cli.report_command import report
from egraffbench.cli.results_command import results
from egraffbench.cli.run_command import run
from egraffbench.cli.simulate_commands import export, simulate
from egraffbench.cli.train_commands import evaluate, train

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


def app(argv: Sequence[str] | None = None) -> None:
    """Run the CLI (``argv``, default the command line); an expected failure (bad input, a corrupt or
    unreadable file, a full disk) becomes one `error:` line on stderr and exit code 2, a bug keeps its
    traceback."""
    try:
        cli(args=None if argv is None else list(argv), prog_name="egraffbench")
    except Exception as error:
        message = expected_failure(error)
        if message is None:
            raise
        typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
        sys.exit(2)
