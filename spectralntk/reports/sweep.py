"""Reports of a sweep: one report per grid point, and an index.

A sweep folder (``spectralntk sweep``: ``index.json`` and ``runs/``) is opened with
:func:`spectralntk.open_sweep`; :func:`spectralntk.sweep_points` gives each finished grid
point as a single run, whose report is built exactly as for a run file. The report
folder of a sweep holds one report folder per point, named after its axis values
(``lr=0.01,depth=2``), a Markdown index ``README.md`` and ``sweep.json``: for every
point its axis values, folder, report type, title and findings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from spectralntk.errors import RunFileError

__all__ = ["SWEEP_INDEX", "is_sweep_folder", "point_name", "sweep_reports", "write_sweep_report"]

#: The machine-readable index of a sweep's report folder.
SWEEP_INDEX = "sweep.json"


def is_sweep_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder written by ``spectralntk sweep`` (it has ``index.json``)."""
    from spectralntk.sweeps.execute import INDEX_NAME

    return Path(path).is_dir() and (Path(path) / INDEX_NAME).is_file()


def point_name(point: Mapping[str, Any]) -> str:
    """Folder name of a grid point: ``key=value`` pairs joined by commas, in axis order."""
    parts = []
    for key, value in point.items():
        text = format(value, "g") if isinstance(value, float) else str(value)
        parts.append(f"{key}={text}".replace("/", "_").replace(os.sep, "_"))
    return ",".join(parts) or "point"


def sweep_reports(folder: str | os.PathLike[str]) -> Iterator[tuple[dict[str, Any], Any, Any]]:
    """``(point, report, run Dataset)`` for every finished grid point of a sweep folder.

    Raises
    ------
    RunFileError
        If the sweep has no finished run yet.
    """
    from spectralntk import open_sweep, sweep_points
    from spectralntk.reports.build import build_report

    ds = open_sweep(Path(folder)).load()
    found = False
    for point, run in sweep_points(ds):
        found = True
        yield point, build_report(run, f"{Path(folder).name}/{point_name(point)}"), run
    if not found:
        raise RunFileError(f"Sweep folder '{folder}' has no finished run to report")


def _index_markdown(name: str, entries: list[dict[str, Any]]) -> str:
    lines = [f"# Sweep {name}", "", f"{len(entries)} grid points with a finished run.", ""]
    for entry in entries:
        lines += [
            f"## [{entry['folder']}]({entry['folder']}/README.md)",
            "",
            f"*{entry['title']}* — [HTML]({entry['folder']}/report.html), "
            f"[JSON]({entry['folder']}/report.json)",
            "",
            *[f"- {v}" for v in entry["verdicts"][:3]],
            "",
        ]
    return "\n".join(lines)


def write_sweep_report(
    folder: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    svg: bool = True,
) -> tuple[Path, list[dict[str, Any]]]:
    """Write the reports of every finished point of the sweep ``folder`` into ``out``.

    The whole folder is staged and renamed into place (see
    :mod:`spectralntk.reports.write`): ``out`` holds either the old or the complete new
    set of reports, never a part.

    Returns
    -------
    out : Path
        The absolute destination.
    entries : list of dict
        What ``sweep.json`` lists: ``point``, ``folder``, ``report_type``, ``title``,
        ``verdicts`` per grid point.
    """
    from spectralntk.reports.write import (
        check_report_folder,
        publish_folder,
        render_folder,
        write_bytes,
    )

    dest = check_report_folder(out, overwrite=overwrite)
    entries: list[dict[str, Any]] = []

    def fill(stage: Path) -> None:
        for point, report, run in sweep_reports(folder):
            sub = stage / point_name(point)
            sub.mkdir()
            render_folder(report, run, sub, svg=svg)
            entries.append(
                {
                    "point": point,
                    "folder": sub.name,
                    "report_type": report.report_type,
                    "title": report.title,
                    "verdicts": list(report.verdicts),
                }
            )
        name = Path(folder).name
        write_bytes(stage / "README.md", _index_markdown(name, entries).encode())
        document = {"sweep": str(Path(folder).absolute()), "points": entries}
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        write_bytes(stage / SWEEP_INDEX, text.encode())

    from spectralntk.store.output import hold_output

    with hold_output(dest):
        publish_folder(dest, fill, overwrite=overwrite)
    return dest, entries
