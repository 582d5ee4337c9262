"""Writing a report folder atomically: README.md, report.html, report.json, figures/.

"Nothing half-written" for a folder: everything is rendered into a hidden staging folder
next to the destination (``.NAME.tmp-XXXXXXXX``), each file fsynced; only then is the
staging folder renamed to the destination. An existing destination is replaced only when
it is empty or a spectralntk report folder (it holds ``report.json``) and ``overwrite``
is given: it is first renamed aside, the new folder renamed in, and the old one removed,
so the destination name always holds either the old or the new complete report. Any
failure removes the staging folder and leaves the destination as it was.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spectralntk.errors import ParameterError
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
        probe = tempfile.mkdtemp(dir=blocker, prefix=".spectralntk-probe-")
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


def publish_folder(dest: Path, fill: Callable[[Path], Any]) -> None:
    """Fill a hidden staging folder next to ``dest`` with ``fill``, then rename it to ``dest``.

    ``dest`` has been checked by :func:`check_report_folder`. An existing ``dest`` is
    renamed aside, the new folder renamed in and the old one removed; on any failure the
    staging folder is removed and ``dest`` is left as it was.
    """
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _out_error(f"a path whose folder can be created ({one_line(exc)})", dest) from None
    tag = secrets.token_hex(4)
    stage = dest.with_name(f".{dest.name}.tmp-{tag}")
    stage.mkdir()
    old = dest.with_name(f".{dest.name}.old-{tag}")
    try:
        fill(stage)
        fsync_path(stage, directory=True)
        if dest.exists():
            os.replace(dest, old)
            try:
                os.replace(stage, dest)
            except BaseException:
                os.replace(old, dest)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, dest)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    try:
        fsync_path(dest.parent, directory=True)
    except OSError:  # some file systems cannot fsync a folder; the rename is done
        pass


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
    publish_folder(dest, lambda stage: render_folder(report, ds, stage, svg=svg))
    return dest
