"""Shared pieces of the CLI: error reporting, output paths, progress bars."""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
import typer.core

from spectralntk.errors import ParameterError, SpectralNTKError

__all__ = [
    "OneValueCommand",
    "default_run_path",
    "exit_on_broken_pipe",
    "fail",
    "plain_table",
    "user_errors",
    "with_progress",
]

#: Library parameter names whose CLI option is spelled differently.
OPTION_NAMES = {
    "fit_min_frequency": "--fit-range",
    "fit_max_frequency": "--fit-range",
    "checkpoints": "--checkpoint-steps",
    "depths": "--depth",
    "widths": "--width",
}


def _command_options() -> dict[str, str]:
    """Parameter name -> first flag of every option of the running command ({} outside one)."""
    from typer._click.globals import get_current_context  # Typer vendors click

    ctx = get_current_context(silent=True)
    if ctx is None:
        return {}
    return {
        str(p.name): p.opts[0]
        for p in ctx.command.params
        if isinstance(p, typer.core.TyperOption) and p.opts
    }


def option_name(parameter: str) -> str:
    """The CLI spelling of a library parameter: ``weight_std`` -> ``--weight-std``.

    Inside a command, a parameter that is none of its options is named as the setting
    it is (``--set checkpoint_steps=…``, a ``--config`` key) rather than as an option the
    command does not have.
    """
    flag = OPTION_NAMES.get(parameter, "--" + parameter.replace("_", "-"))
    options = _command_options()
    if not options or flag in options.values():
        return flag
    if "set" in options:
        return f"the setting {parameter!r} (--set {parameter}=…)"
    return f"the setting {parameter!r}"


def cli_wording(message: str, parameter: str) -> str:
    """A library message in the command line's words.

    "The 'lr' parameter must be …" becomes "must be …"; ``name='value'`` and ``'name'``
    of the command's own parameters become ``--name value`` and ``--name``.
    """
    import re

    message = re.sub(rf"^The {re.escape(repr(parameter))} parameter must be", "must be", message)
    options = _command_options()

    def assignment(m: re.Match[str]) -> str:
        flag = options.get(m.group(1))
        return f"{flag} {m.group(2)}" if flag else m.group(0)

    def quoted(m: re.Match[str]) -> str:
        return options.get(m.group(1), m.group(0))

    message = re.sub(r"\b([a-z_]+)='([^']*)'", assignment, message)
    # a quoted name inside a list of choices ("one of {'default', 'quick'}") is a value
    message = "".join(
        part
        if part.startswith("{")
        else re.sub(r"(?<![=\w])'([a-z][a-z_]*)'(?! instead)", quoted, part)
        for part in re.split(r"(\{[^{}]*\})", message)
    )
    return re.sub(r"\bset by ([a-z_]+)\b", lambda m: "set by " + option_name(m.group(1)), message)


class OneValueCommand(typer.core.TyperCommand):
    """A command whose single-valued options may be given once: a repeat is a usage error.

    Click keeps the last of repeated values silently (``train --lr 0.1 --lr 1`` would
    train at 1); here options that take one value (``multiple`` options such as
    ``--width`` excepted) and flags, ``--x`` and ``--no-x`` alike, count once.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # a click Context
        by_flag = {
            flag: p
            for p in self.params
            if isinstance(p, typer.core.TyperOption)
            for flag in (*p.opts, *p.secondary_opts)
        }
        seen: dict[str, str] = {}
        expects_value = False
        for token in args:
            if token == "--":
                break
            if expects_value:
                expects_value = False
                continue
            flag = token.split("=", 1)[0]
            option = by_flag.get(flag) if token.startswith("--") else None
            if option is None:
                continue
            expects_value = not option.is_flag and "=" not in token
            if option.multiple or option.count:
                continue
            if option.name in seen:
                first = seen[option.name]
                again = "again" if first == flag else f"after {first}"
                raise fail(
                    f"Invalid value for {flag}: given {again}; give it once (only the "
                    f"options whose --help says 'repeat' take several values)."
                )
            seen[str(option.name)] = flag
        return super().parse_args(ctx, args)


def fail(message: str) -> typer.Exit:
    """Print ``Error: message`` on one line of stderr; return the exit-2 exception."""
    typer.echo(f"Error: {' '.join(message.split())}", err=True)
    return typer.Exit(2)


#: OS errors of writing that become one line (no traceback) wherever they come from.
WRITE_ERRNOS = (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EIO)


def _one_line_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    typer.echo(f"warning: {' '.join(str(message).split())}", err=True)


@contextlib.contextmanager
def user_errors() -> Iterator[contextlib.ExitStack[Any]]:
    """Turn spectralntk's own errors into one line on stderr and exit status 2.

    Yields an :class:`~contextlib.ExitStack` closed before the errors are reported:
    commands enter the lock of their output into it
    (:func:`spectralntk.store.output.hold_output`). Warnings print as one line
    (``warning: …``); an OS error of writing (disk full, read-only folder) that no
    library call turned into a message becomes one line naming the file and cause.
    """
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            with contextlib.ExitStack() as stack:
                yield stack
    except ParameterError as err:
        message = cli_wording(str(err), err.parameter)
        raise fail(f"Invalid value for {option_name(err.parameter)}: {message}") from None
    except SpectralNTKError as err:
        raise fail(str(err)) from None
    except OSError as err:
        if err.errno not in WRITE_ERRNOS:
            raise
        where = f" writing '{err.filename}'" if err.filename else ""
        folder = f" in folder '{os.path.dirname(err.filename)}'" if err.filename else ""
        raise fail(f"{err.strerror or err}{where}{folder}") from None
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


def exit_on_broken_pipe(command: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command so that a closed stdout (``… | head -1``) ends it quietly.

    Commands save their outputs before they print, so by the time a print finds the
    reader gone the work is on disk. The process then exits with 141 (128 + SIGPIPE),
    the status of a Unix tool stopped by a closed pipe, with no traceback and no
    "Exception ignored" message at shutdown.
    """
    import functools

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except OSError as err:
            if not isinstance(err, BrokenPipeError) and err.errno != errno.EPIPE:
                raise
            with contextlib.suppress(OSError, ValueError, AttributeError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(BROKEN_PIPE_STATUS) from None
        except SystemExit as exc:  # rich's Console.on_broken_pipe exits with 1 itself
            if _raised_in(exc, "on_broken_pipe"):
                raise SystemExit(BROKEN_PIPE_STATUS) from None
            raise

    return wrapper


def _raised_in(exc: BaseException, function: str) -> bool:
    """Whether ``exc`` was raised inside a function named ``function``."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code.co_name == function


#: Exit status after stdout was closed by its reader: 128 + SIGPIPE.
BROKEN_PIPE_STATUS = 141


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
