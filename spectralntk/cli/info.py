"""``spectralntk info RUN.nc``: what a run file holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spectralntk.cli._common import user_errors

__all__ = ["info_cli"]


def info_cli(
    run: Annotated[
        Path,
        typer.Argument(
            help="A run file written by spectralntk (.nc), or a sweep folder (spectralntk sweep)."
        ),
    ],
    findings: Annotated[
        bool, typer.Option(help="Build the run's report for its headline findings.")
    ] = True,
    variables: Annotated[bool, typer.Option(help="List the variables.")] = True,
) -> None:
    """What a run file holds: type, dimensions and sizes, variables, configuration, findings."""
    with user_errors():
        from spectralntk.reports.sweep import is_sweep_folder

        if is_sweep_folder(run):
            from spectralntk.reports.info import format_sweep_info, sweep_info

            info = sweep_info(run, findings=findings)
            typer.echo(format_sweep_info(info, variables=variables), nl=False)
            return
        from spectralntk.reports.info import format_run_info, run_info
        from spectralntk.store.netcdf import load

        ds = load(run)
        text = format_run_info(run_info(ds, run.name, findings=findings), variables=variables)
    typer.echo(text, nl=False)
