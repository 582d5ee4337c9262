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
from spectralntk.cli._common import OneValueCommand, exit_on_broken_pipe
from spectralntk.cli.decompose import decompose_cli
from spectralntk.cli.fluctuations import fluctuations_cli
from spectralntk.cli.info import info_cli
from spectralntk.cli.presets import presets_cli
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


# Every command refuses a repeated single-valued option (OneValueCommand) and turns a
# closed stdout (| head) into exit 141 after its file is written (exit_on_broken_pipe).
for _name, _command in (
    ("decompose", decompose_cli),
    ("train", train_cli),
    ("sweep", sweep_cli),
    ("fluctuations", fluctuations_cli),
    ("report", report_cli),
    ("reproduce", reproduce_cli),
    ("presets", presets_cli),
    ("info", info_cli),
):
    app.command(_name, cls=OneValueCommand)(exit_on_broken_pipe(_command))


def main() -> None:
    """Console-script entry point."""
    app()
