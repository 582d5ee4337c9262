"""Reports of a sweep: one report per grid point, and an index.

A sweep folder (``spectralntk sweep``: ``index.json`` and ``runs/``) is opened with
:func:`spectralntk.open_sweep`; :func:`spectralntk.sweep_points` gives each finished grid
point as a single run, whose report is built exactly as for a run file. The report
folder of a sweep holds one report folder per point, named after its axis values
(``lr=0.01,depth=2``), and the document across the sweep's axes
(:mod:`spectralntk.reports.sweep_document`): ``README.md`` and ``report.html`` (findings,
tables and figures of RelErr and steps to 10 % per frequency against the varied axes, each
grid point linked to its report) with ``figures/``, and ``sweep.json``: the axes, the
findings, the numbers per grid point and width, and for every point its axis values,
folder, report type, title and findings.
"""

from __future__ import annotations

import dataclasses
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


def _combined(source: Any) -> tuple[Any, str]:
    """(combined Dataset, name) of a sweep folder or of a combined Dataset (a run file with
    sweep dimensions, such as ``train --depth 1 --depth 2`` writes)."""
    if hasattr(source, "data_vars"):
        return source, str(source.attrs.get("spectralntk_sweep_name", "runs"))
    from spectralntk import open_sweep

    return open_sweep(Path(source)).load(), Path(source).name


def sweep_reports(folder: Any) -> Iterator[tuple[dict[str, Any], Any, Any]]:
    """``(point, report, run Dataset)`` for every finished grid point of a sweep.

    ``folder``: a sweep folder, or a combined Dataset with sweep dimensions.

    Raises
    ------
    RunFileError
        If the sweep has no finished run yet.
    """
    from spectralntk import sweep_points
    from spectralntk.reports.build import build_report

    ds, name = _combined(folder)
    found = False
    for point, run in sweep_points(ds):
        found = True
        yield point, build_report(run, f"{name}/{point_name(point)}"), run
    if not found:
        raise RunFileError(f"Sweep folder '{folder}' has no finished run to report")


def write_sweep_report(
    folder: Any,
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

    from spectralntk.reports.sweep_document import (
        SweepPoint,
        draw_sweep_figures,
        render_sweep_html,
        render_sweep_markdown,
        sweep_document,
        sweep_json,
    )
    from spectralntk.store.paths import fsync_path
    from spectralntk.sweeps.execute import read_index

    combined = hasattr(folder, "data_vars")  # a run file with sweep dimensions
    if combined:
        names = folder.attrs.get("spectralntk_sweep_dims", "").split()
        name = _combined(folder)[1]
        index = {
            "name": name,
            "axes": [(n, folder[n].values.tolist()) for n in names],
            "point_axes": names,
        }
        origin = name
    else:
        index = read_index(folder)
        origin = str(Path(folder).absolute())

    def fill(stage: Path) -> None:
        points = []
        for point, report, run in sweep_reports(folder):
            sub = stage / point_name(point)
            sub.mkdir()
            written = render_folder(report, run, sub, svg=svg)
            points.append(SweepPoint(point, sub.name, written, run))
            entries.append(
                {
                    "point": point,
                    "folder": sub.name,
                    "report_type": report.report_type,
                    "title": report.title,
                    "verdicts": list(report.verdicts),
                }
            )
        # the document across the axes, linking the grid points' reports
        doc = sweep_document(
            str(index["name"]) if "name" in index else Path(folder).name,
            [(str(k), list(v)) for k, v in index["axes"]],
            [str(k) for k in index["point_axes"]],
            points,
        )
        if not svg:
            doc = dataclasses.replace(
                doc, figures=[f.model_copy(update={"svg": None}) for f in doc.figures]
            )
        for path in draw_sweep_figures(doc, points, stage, svg=svg):
            fsync_path(path)
        pngs = {f.name: (stage / f.png).read_bytes() for f in doc.figures}
        write_bytes(stage / "README.md", render_sweep_markdown(doc).encode())
        write_bytes(stage / "report.html", render_sweep_html(doc, pngs).encode())
        document = sweep_json(doc, origin)
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        write_bytes(stage / SWEEP_INDEX, text.encode())

    from spectralntk.store.output import hold_output

    with hold_output(dest):
        publish_folder(dest, fill, overwrite=overwrite)
    return dest, entries
