"""The ``spectralntk`` command line: a thin Typer layer over library functions.

Each command module defines ``x_cli()`` that parses options, calls the library
and prints. Library errors (:class:`~spectralntk.errors.ParameterError`,
:class:`~spectralntk.errors.RunFileError`) become one line on stderr and exit
status 2, like Typer's own usage errors. Heavy imports (xarray, torch) happen
inside commands, never at import time, so ``--help`` stays fast.
"""

from __future__ import annotations

import typer

from spectralntk._version import __version__
from spectralntk.cli._common import exit_on_broken_pipe
from spectralntk.cli.decompose import decompose_cli
from spectralntk.cli.fluctuations import fluctuations_cli
from spectralntk.cli.report import report_cli, reproduce_cli
from spectralntk.cli.sweep import sweep_cli
from spectralntk.cli.train import train_cli

__all__ = ["app", "main"]

app = typer.Typer(
    name="spectralntk",
    help="Spectral analysis of neural tangent kernels on the circle.",
    no_args_is_help=True,
    add_completion=False,
    # Plain (click) formatting: usage errors stay one line instead of a panel.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"spectralntk {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """Spectral analysis of neural tangent kernels on the circle."""


app.command("decompose")(exit_on_broken_pipe(decompose_cli))
app.command("train")(exit_on_broken_pipe(train_cli))
app.command("sweep")(exit_on_broken_pipe(sweep_cli))
app.command("fluctuations")(exit_on_broken_pipe(fluctuations_cli))
app.command("report")(exit_on_broken_pipe(report_cli))
app.command("reproduce")(exit_on_broken_pipe(reproduce_cli))


def main() -> None:
    """Console-script entry point."""
    app()
