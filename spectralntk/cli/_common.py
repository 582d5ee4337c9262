"""Shared pieces of the CLI: error reporting, output paths, progress bars."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from spectralntk.errors import ParameterError, SpectralNTKError

__all__ = ["default_run_path", "fail", "plain_table", "user_errors", "with_progress"]

#: Library parameter names whose CLI option is spelled differently.
OPTION_NAMES = {
    "fit_min_frequency": "--fit-range",
    "fit_max_frequency": "--fit-range",
}


def option_name(parameter: str) -> str:
    """The CLI spelling of a library parameter: ``weight_std`` -> ``--weight-std``."""
    return OPTION_NAMES.get(parameter, "--" + parameter.replace("_", "-"))


def fail(message: str) -> typer.Exit:
    """Print ``Error: message`` on one line of stderr; return the exit-2 exception."""
    typer.echo(f"Error: {' '.join(message.split())}", err=True)
    return typer.Exit(2)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn spectralntk's own errors into one line on stderr and exit status 2."""
    try:
        yield
    except ParameterError as err:
        raise fail(f"Invalid value for {option_name(err.parameter)}: {err}") from None
    except SpectralNTKError as err:
        raise fail(str(err)) from None
    except (ZeroDivisionError, OverflowError, ArithmeticError) as err:
        # A numerical failure the library did not anticipate: never a traceback.
        raise fail(numerical_failure(err)) from None
    except Exception as err:
        if type(err).__name__ != "LinAlgError":  # numpy.linalg.LinAlgError, without numpy
            raise
        raise fail(numerical_failure(err)) from None
    except KeyboardInterrupt:
        typer.echo("Interrupted; nothing was written.", err=True)
        sys.exit(130)


def numerical_failure(err: BaseException) -> str:
    """The one-line message for an unanticipated numerical failure (nothing is written)."""
    return (
        f"numerical failure ({type(err).__name__}: {err}); the stds, learning rate or sizes "
        "are outside the range this computation supports in float64."
    )


def default_run_path(stem: str, folder: Path = Path("runs")) -> Path:
    """A new file name ``runs/<stem>-<UTC time>.nc`` that does not exist yet."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{stem}-{stamp}.nc"
    n = 1
    while path.exists():
        path = folder / f"{stem}-{stamp}-{n}.nc"
        n += 1
    return path


def with_progress(job: Any, *, disable: bool) -> Any:
    """Run ``job(on_progress)`` under a rich progress bar with ETA on stderr.

    ``on_progress(done, total, description)``: the bar shows done/total as a percentage
    (training reports per mille of its estimated work, other jobs their items) and the
    description of the phase.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True, disable=disable) as bar:
        task = bar.add_task("starting", total=None)

        def on_progress(done: int, total: int, description: str) -> None:
            bar.update(task, completed=done, total=total, description=description)

        return job(on_progress)


def plain_table(title: str, columns: list[str]) -> Any:
    """A borderless :class:`rich.table.Table` with right-aligned ``columns``."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for name in columns:
        table.add_column(name, justify="right")
    return table
