"""Writing a report folder atomically: README.md, report.html, report.json, figures/.

"Nothing half-written" for a folder: everything is rendered into a hidden staging folder
next to the destination (``.NAME.tmp-<pid>@<host>-XXXXXXXX``), each file fsynced; only
then is the staging folder renamed to the destination. An existing destination is
replaced only when it is empty or a spectralntk report folder (it holds ``report.json``)
and ``overwrite`` is given: the new and the old folder are exchanged in one atomic
rename where the system has ``renameat2`` (:func:`spectralntk.store.output.swap_folders`),
so the destination name always holds either the old or the new complete report, and the
old one is then removed; a kill between the two renames of the fallback is undone at the
next start. Without ``overwrite`` a report that appeared meanwhile is never replaced.
The writer holds ``NAME.lock`` next to the destination (one writer per folder); any
failure removes the staging folder and leaves the destination as it was, with a
one-line error naming the cause (``No space left on device writing report folder …``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spectralntk.errors import ParameterError, RunFileError
from spectralntk.store.output import (
    fsync_folder,
    hold_output,
    publish,
    swap_folders,
    temporary_path,
    write_error,
)
from spectralntk.store.paths import fsync_path, one_line

__all__ = [
    "REPORT_FILES",
    "check_report_folder",
    "publish_folder",
    "render_folder",
    "write_bytes",
    "write_report",
]

#: Files of a report folder besides ``figures/``.
REPORT_FILES = ("README.md", "report.html", "report.json")
#: A folder holding one of these is a report folder (of a run, or of a sweep) that
#: ``overwrite`` may replace.
REPORT_MARKERS = ("report.json", "sweep.json")


def _out_error(rule: str, path: Path) -> ParameterError:
    return ParameterError("out", f"The 'out' parameter must be {rule}. Got {str(path)!r} instead.")


def check_report_folder(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Check that a report folder can be written at ``path`` (call before expensive work).

    Parameters
    ----------
    path : path
        Destination folder.
    overwrite : bool
        Whether an existing report folder may be replaced.

    Returns
    -------
    Path
        The absolute destination.

    Raises
    ------
    ParameterError
        (parameter ``out``) if ``path`` is a file, a non-empty folder that is not a
        report folder, an existing report folder without ``overwrite``, or lies where no
        folder can be created.
    """
    out = Path(path).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise _out_error("a folder, not an existing file", out)
    if out.is_dir() and any(out.iterdir()):
        if not any((out / name).is_file() for name in REPORT_MARKERS):
            raise _out_error(
                "a new or empty folder, or a spectralntk report folder (with report.json); "
                "this folder holds other files",
                out,
            )
        if not overwrite:
            raise _out_error(
                "a folder that does not hold a report yet (pass --overwrite to replace it)", out
            )
    # the nearest existing folder must take new entries (nothing is created here)
    blocker = next(p for p in out.parents if p.exists())
    if not blocker.is_dir():
        raise _out_error(f"a path in a folder ({str(blocker)!r} is not a folder)", out)
    try:
        probe = temporary_path(blocker / out.name, "probe")
        os.mkdir(probe, 0o700)
        os.rmdir(probe)
    except OSError as exc:
        raise _out_error(
            f"a path in a writable folder (cannot create a folder in {str(blocker)!r}: "
            f"{one_line(exc)})",
            out,
        ) from None
    return out


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and fsync it (inside a staging folder)."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def render_folder(report: Any, ds: Any, folder: Path, *, svg: bool = True) -> Any:
    """Draw the figures and write the three documents into an existing empty ``folder``.

    Returns the report as written (without SVG references when ``svg`` is False).
    """
    from spectralntk.reports.figures import draw_available_figures
    from spectralntk.reports.render import render_html, render_json, render_markdown

    if not svg:
        report = report.model_copy(
            update={"figures": [f.model_copy(update={"svg": None}) for f in report.figures]}
        )
    report, paths = draw_available_figures(report, ds, folder, svg=svg)
    for path in paths:
        fsync_path(path)
    pngs = {f.name: (folder / f.png).read_bytes() for f in report.figures}
    write_bytes(folder / "README.md", render_markdown(report).encode())
    write_bytes(folder / "report.html", render_html(report, pngs).encode())
    write_bytes(folder / "report.json", render_json(report).encode())
    return report


def publish_folder(dest: Path, fill: Callable[[Path], Any], *, overwrite: bool = True) -> None:
    """Fill a hidden staging folder next to ``dest`` with ``fill``, then rename it to ``dest``.

    ``dest`` has been checked by :func:`check_report_folder`. An existing report at
    ``dest`` is exchanged with the new folder (:func:`~spectralntk.store.output.swap_folders`)
    and then removed, if ``overwrite``; without it, a ``dest`` that is no longer empty is
    never replaced. On any failure the staging folder is removed and ``dest`` is left as
    it was.

    Raises
    ------
    RunFileError
        One line naming the cause and the folder, if writing fails (disk full,
        read-only folder), or ``dest`` filled up meanwhile without ``overwrite``.
    """
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _out_error(f"a path whose folder can be created ({one_line(exc)})", dest) from None
    stage = temporary_path(dest)
    try:
        stage.mkdir()
        fill(stage)
        fsync_path(stage, directory=True)
        if dest.is_dir() and (overwrite or not any(dest.iterdir())):
            if overwrite:
                swap_folders(stage, dest)  # stage now holds the old report
            else:
                os.rename(stage, dest)  # replaces an empty folder only
                fsync_folder(dest.parent)
        else:
            publish(stage, dest, overwrite=False)
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, RunFileError):
            raise write_error(exc, dest, "report folder") from None
        raise
    shutil.rmtree(stage, ignore_errors=True)


def write_report(
    report: Any,
    ds: Any,
    out: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    svg: bool = True,
) -> Path:
    """Write ``report`` (built from ``ds``) as a report folder at ``out``, atomically.

    Parameters
    ----------
    report : SpectrumReport, ConvergenceReport or FluctuationReport
    ds : xarray.Dataset
        The run it was built from (the figures are drawn from it).
    out : path
        Destination folder: ``README.md``, ``report.html``, ``report.json``,
        ``figures/*.png`` (and ``*.svg``).
    overwrite : bool
        Replace an existing report folder.
    svg : bool
        Also write SVG figures.

    Returns
    -------
    Path
        The absolute destination.
    """
    dest = check_report_folder(out, overwrite=overwrite)
    with hold_output(dest):
        publish_folder(
            dest, lambda stage: render_folder(report, ds, stage, svg=svg), overwrite=overwrite
        )
    return dest
