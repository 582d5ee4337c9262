r"""The report of a sweep as one document across its axes.

``spectralntk report SWEEP_FOLDER`` writes a report per grid point (sub-pages,
:mod:`spectralntk.reports.sweep`) and this document beside them: the axes of the sweep,
findings across the grid, tables and figures of RelErr against the NTK predictor and of
the steps until each target frequency is down to 10 % of its start, per grid point and
width, against the varied axes (lr × depth × width …), each row linking its grid point's
report.

A sweep over ``depth`` also gets the depth/width section of the seed write-up's open
question 3 (Hanin & Nica 2019): everything against β = Σ_l 1/n_l over the hidden layers,
depth/width for equal widths (:func:`spectralntk.fluctuations.inverse_temperature`) —
the kernel drift ‖K_T − K_0‖_F/‖K_0‖_F, RelErr and the seed spread of the kernel profile
at initialisation; the kernel profiles Θ(x0, x(γ)) at t = 0 and T with seed bands and the
function-space overlays, one panel per (width, depth); and whether β alone orders and
collapses the drift (cells of equal β at different depths).

Everything here is a pure function of the grid points' reports and run Datasets, apart
from :func:`draw_sweep_figures`, which writes the PNG (and SVG) files.
"""

from __future__ import annotations

import base64
import html
import itertools
import math
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spectralntk.reports._common import figure, quiet
from spectralntk.reports.models import FigureRef, num

__all__ = [
    "REPORT_COLUMN",
    "SweepDocument",
    "SweepPoint",
    "draw_sweep_figures",
    "render_sweep_html",
    "render_sweep_markdown",
    "sweep_document",
    "sweep_json",
]

#: Column of a table whose cells are grid-point folders (rendered as links to sub-pages).
REPORT_COLUMN = "report"

Table = tuple[str, list[str], list[list[str]]]


@dataclass(frozen=True)
class SweepPoint:
    """One finished grid point: its axis values, sub-page folder, report and run."""

    point: dict[str, Any]
    folder: str
    report: Any
    ds: Any = field(repr=False)


@dataclass(frozen=True)
class SweepDocument:
    """The sweep's document: what the Markdown and HTML pages and ``sweep.json`` hold."""

    name: str
    title: str
    axes: list[tuple[str, list[Any]]]
    point_axes: list[str]
    entries: list[dict[str, Any]]
    verdicts: list[str]
    tables: list[Table]
    figures: list[FigureRef]
    cells: list[dict[str, Any]]


def _fmt(value: Any) -> str:
    return format(value, "g") if isinstance(value, float) else str(value)


def _label(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} = {_fmt(v)}" for k, v in point.items()) or "the run"


def _steps(value: float | None) -> str:
    return "not reached" if value is None else f"{value:,.0f}"


def _g(value: float | None, fmt: str = ".3g") -> str:
    return "—" if value is None else format(value, fmt)


def _iqr(stat: Any) -> str:
    if stat is None or stat.count == 0:
        return "—"
    return f"{_g(stat.median)} [{_g(stat.q25)}, {_g(stat.q75)}]"


def _beta(depth: int, width: int) -> float:
    from spectralntk.fluctuations import inverse_temperature

    return inverse_temperature(depth, width)


def profile_spread(ds: Any, checkpoint: int = 0) -> list[float | None]:
    """Per width: median over angles of the seed std / |seed mean| of Θ̂(x0, x(γ)) at a
    checkpoint (the width of the seed band of the kernel profile)."""
    if "empirical_ntk_profile" not in ds:
        return [None] * ds.sizes["width"]
    prof = ds["empirical_ntk_profile"].values[:, :, checkpoint]  # (W, S, M)
    diverged = ds["diverged"].values.astype(bool)
    out: list[float | None] = []
    for j in range(prof.shape[0]):
        v = prof[j, ~diverged[j]]
        if v.shape[0] < 2:
            out.append(None)
            continue
        with quiet():
            ratio = np.std(v, axis=0, ddof=1) / np.abs(np.mean(v, axis=0))
            out.append(num(np.nanmedian(ratio)))
    return out


def _cells(points: list[SweepPoint]) -> list[dict[str, Any]]:
    """One dict per (convergence grid point, width): the numbers of the tables."""
    out = []
    for p in points:
        r = p.report
        if r.report_type != "convergence":
            continue
        spreads = profile_spread(p.ds)
        spreads_t = profile_spread(p.ds, -1)
        for j, w in enumerate(r.widths):
            rows = [row for row in r.rows if row.width == w.width]
            out.append(
                {
                    "point": dict(p.point),
                    "folder": p.folder,
                    "depth": r.depth,
                    "width": w.width,
                    "beta": _beta(r.depth, w.width),
                    "steps": r.steps,
                    "seeds": w.seeds,
                    "diverged_seeds": w.diverged_seeds,
                    "relative_error": w.relative_error.model_dump(),
                    "relative_error_limit": w.relative_error_limit.model_dump(),
                    "kernel_drift": w.kernel_drift.model_dump(),
                    "profile_spread_initial": spreads[j] if j < len(spreads) else None,
                    "profile_spread_final": spreads_t[j] if j < len(spreads_t) else None,
                    "steps_to_10": {str(row.frequency): row.measured_steps.median for row in rows},
                    "reached": {str(row.frequency): [row.seeds_reached, row.seeds] for row in rows},
                }
            )
    return out


def _median(cell: Mapping[str, Any], name: str) -> float | None:
    value = cell[name]["median"] if isinstance(cell[name], Mapping) else cell[name]
    return None if value is None else float(value)


# --------------------------------------------------------------------------
# findings
# --------------------------------------------------------------------------
def _trend(values: list[float]) -> str:
    if len(values) < 2:
        return "one value"
    if all(b < a for a, b in itertools.pairwise(values)):
        return "falls"
    if all(b > a for a, b in itertools.pairwise(values)):
        return "rises"
    return "neither"


def _axis_verdicts(
    axes: Mapping[str, list[Any]], point_axes: list[str], cells: list[dict[str, Any]]
) -> list[str]:
    out: list[str] = []
    known = [c for c in cells if _median(c, "relative_error") is not None]
    if not known:
        return out
    lo = min(known, key=lambda c: _median(c, "relative_error") or 0.0)
    hi = max(known, key=lambda c: _median(c, "relative_error") or 0.0)
    points = {tuple(c["point"].items()) for c in cells}
    out.append(
        f"Over {len(points)} grid points and {len({c['width'] for c in cells})} widths, RelErr "
        f"against the NTK predictor at T (median over seeds) runs from "
        f"{_median(lo, 'relative_error'):.3g} ({_label({**lo['point'], 'n': lo['width']})}) to "
        f"{_median(hi, 'relative_error'):.3g} ({_label({**hi['point'], 'n': hi['width']})})."
    )
    # against width, per grid point
    trends: dict[str, list[str]] = {"falls": [], "rises": [], "neither": []}
    for key in sorted(points, key=str):
        mine = sorted(
            (c for c in known if tuple(c["point"].items()) == key), key=lambda c: c["width"]
        )
        if len(mine) > 1:
            trend = _trend([_median(c, "relative_error") or 0.0 for c in mine])
            trends.setdefault(trend, []).append(_label(dict(key)))
    if any(trends.values()):
        parts = [
            f"{word} at {len(v)} ({'; '.join(v[:4])}{' …' if len(v) > 4 else ''})"
            for word, v in trends.items()
            if v
        ]
        out.append("RelErr at T against width: " + ", ".join(parts) + " of the grid points.")
    # against each varied axis, at the widest width, other axes fixed
    widest = max(c["width"] for c in known)
    for axis in point_axes:
        if len(axes[axis]) < 2:
            continue
        others = [a for a in point_axes if a != axis]
        groups: dict[tuple[Any, ...], list[tuple[int, float]]] = {}
        for c in known:
            if c["width"] != widest:
                continue
            key = tuple((a, c["point"][a]) for a in others)
            value = _median(c, "relative_error")
            if value is not None:
                position = axes[axis].index(c["point"][axis])
                groups.setdefault(key, []).append((position, value))
        details, counts = [], {"falls": 0, "rises": 0, "neither": 0}
        for key, items in groups.items():
            values = [v for _, v in sorted(items)]
            if len(values) < 2:
                continue
            trend = _trend(values)
            counts[trend] += 1
            where = f" at {_label(dict(key))}" if key else ""
            details.append(f"{' → '.join(f'{v:.3g}' for v in values)}{where}")
        total = sum(counts.values())
        if not total:
            continue
        summary = ", ".join(
            f"{word} with {axis}" + (f" at {n} of {total}" if others else "")
            for word, n in counts.items()
            if n
        )
        summary += " settings of the other axes" if others else ""
        values_text = ", ".join(_fmt(v) for v in axes[axis])
        out.append(
            f"RelErr at T at the widest width (n = {widest}) against {axis} ({values_text}): "
            f"{summary} ({'; '.join(details[:4])}"
            f"{' …' if len(details) > 4 else ''})."
        )
    # frequencies
    ks = sorted({int(k) for c in cells for k in c["steps_to_10"]})
    if ks:
        always = [k for k in ks if all(c["steps_to_10"].get(str(k)) is not None for c in cells)]
        never = [k for k in ks if all(c["steps_to_10"].get(str(k)) is None for c in cells)]
        some = [
            f"k = {k} at {sum(c['steps_to_10'].get(str(k)) is not None for c in cells)} of "
            f"{len(cells)} (grid point, width) cells"
            for k in ks
            if k not in always and k not in never
        ]
        parts = ([f"{_klist(always)} at every grid point and width"] if always else []) + (
            [f"{_klist(never)} at none"] if never else []
        )
        text = "Target frequencies down to 10 % of their start by T (median seed): " + "; ".join(
            parts + some
        )
        tail = "."
        out.append(text + tail)
    return out


def _klist(ks: list[int]) -> str:
    return f"k = {', '.join(map(str, ks))}" if ks else "none"


def _spearman(x: list[float], y: list[float]) -> float | None:
    from scipy.stats import spearmanr

    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    return num(spearmanr(x, y).statistic)


def _power_law(beta: list[float], values: list[float]) -> tuple[float, float] | None:
    """(C, p) of the least-squares fit log v = log C + p log β (positive values only)."""
    pairs = [(b, v) for b, v in zip(beta, values, strict=True) if b > 0 and v > 0]
    if len(pairs) < 3 or len({b for b, _ in pairs}) < 2:
        return None
    lb, lv = np.log([b for b, _ in pairs]), np.log([v for _, v in pairs])
    p, logc = np.polyfit(lb, lv, 1)
    return float(math.exp(logc)), float(p)


def _beta_fraction(beta: float) -> str:
    inverse = 1.0 / beta if beta > 0 else math.inf
    if math.isfinite(inverse) and abs(inverse - round(inverse)) < 1e-9:
        return f"1/{round(inverse)}"
    return f"{beta:.3g}"


def beta_verdicts(cells: list[dict[str, Any]]) -> list[str]:
    """Findings against β = depth/width: drift, RelErr and the profile's seed spread."""
    out: list[str] = []
    for name, label, unit in (
        ("kernel_drift", "Kernel drift ‖K_T − K_0‖/‖K_0‖", "%"),
        ("relative_error", "RelErr against the NTK predictor at T", ""),
        ("profile_spread_initial", "Seed spread of the kernel profile at step 0", ""),
    ):
        have = [c for c in cells if _median(c, name) is not None]
        if len(have) < 2:
            continue
        betas = [c["beta"] for c in have]
        values = [_median(c, name) or 0.0 for c in have]
        lo, hi = have[int(np.argmin(values))], have[int(np.argmax(values))]

        def show(c: Mapping[str, Any], name: str = name, unit: str = unit) -> str:
            v = _median(c, name) or 0.0
            text = f"{100 * v:.3g} %" if unit == "%" else f"{v:.3g}"
            return f"{text} (depth {c['depth']}, n = {c['width']}, β = {_beta_fraction(c['beta'])})"

        rho = _spearman(betas, values)
        text = (
            f"{label} (median over seeds) against β = Σ_l 1/n_l = depth/width: from "
            f"{show(lo)} to {show(hi)}"
        )
        if rho is not None:
            text += f"; Spearman ρ(β, ·) = {rho:.2f} over {len(have)} cells"
        fit = _power_law(betas, values)
        if fit is not None and name == "kernel_drift":
            text += f"; a power law fits ∝ β^{fit[1]:.2f}"
        text += "."
        # cells of equal β at different depths: does β alone set the value?
        groups: dict[float, list[Mapping[str, Any]]] = {}
        for c in have:
            groups.setdefault(round(c["beta"], 12), []).append(c)
        shared = {b: g for b, g in groups.items() if len({c["depth"] for c in g}) > 1}
        if shared:

            def ratio(g: list[Mapping[str, Any]], name: str = name) -> float:
                v = [_median(c, name) or 0.0 for c in g]
                return max(v) / min(v) if min(v) > 0 else math.inf

            b, g = max(shared.items(), key=lambda item: ratio(item[1]))
            ordered = sorted(g, key=lambda c: c["depth"])
            text += (
                f" At equal β ({len(shared)} values of β shared by several depths) the cells "
                f"differ by up to a factor {ratio(g):.3g} (β = {_beta_fraction(b)}: "
                + ", ".join(show(c) for c in ordered)
                + ")"
                + (
                    ": β alone does not set it."
                    if ratio(g) > 1.5
                    else ": β alone sets it to within a factor 1.5."
                )
            )
        out.append(text)
    return out


# --------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------
def _tables(
    point_axes: list[str], cells: list[dict[str, Any]], beta: bool, entries: list[dict[str, Any]]
) -> list[Table]:
    out: list[Table] = []
    if cells:
        head = (
            [*point_axes, "n"]
            + ([] if "depth" in point_axes else ["depth"] if beta else [])
            + (["β"] if beta else [])
            + [
                "RelErr vs NTK at T",
                "RelErr vs t → ∞",
                "kernel drift",
            ]
            + (["profile spread at 0", "profile spread at T"] if beta else [])
            + [
                "diverged",
                REPORT_COLUMN,
            ]
        )
        rows = []
        for c in cells:
            stat = {k: c[k] for k in ("relative_error", "relative_error_limit", "kernel_drift")}
            rows.append(
                [_fmt(c["point"][a]) for a in point_axes]
                + [str(c["width"])]
                + ([] if "depth" in point_axes else [str(c["depth"])] if beta else [])
                + ([_beta_fraction(c["beta"])] if beta else [])
                + [_iqr(_Stat(stat[k])) for k in stat]
                + ([_g(c["profile_spread_initial"]), _g(c["profile_spread_final"])] if beta else [])
                + [f"{c['diverged_seeds']}/{c['seeds']}", c["folder"]]
            )
        out.append(
            (
                "RelErr and kernel drift per grid point and width (median [IQR] over seeds)",
                head,
                rows,
            )
        )
        ks = sorted({int(k) for c in cells for k in c["steps_to_10"]})
        if ks:
            head = [*point_axes, "n", *[f"k = {k}" for k in ks], REPORT_COLUMN]
            rows = [
                [_fmt(c["point"][a]) for a in point_axes]
                + [str(c["width"])]
                + [
                    "—"
                    if str(k) not in c["steps_to_10"]
                    else f"{_steps(c['steps_to_10'][str(k)])} "
                    f"({c['reached'][str(k)][0]}/{c['reached'][str(k)][1]})"
                    for k in ks
                ]
                + [c["folder"]]
                for c in cells
            ]
            out.append(
                (
                    "Steps until each target frequency is down to 10 % of its start (median "
                    "over seeds; seeds that got there / seeds), per grid point and width",
                    head,
                    rows,
                )
            )
    others = [e for e in entries if e["report_type"] != "convergence"]
    if others:
        out.append(
            (
                "Grid points",
                [*point_axes, "report type", "title", REPORT_COLUMN],
                [
                    [_fmt(e["point"][a]) for a in point_axes]
                    + [e["report_type"], e["title"], e["folder"]]
                    for e in others
                ],
            )
        )
    return out


@dataclass(frozen=True)
class _Stat:
    data: Mapping[str, Any]

    @property
    def count(self) -> int:
        return int(self.data.get("count", 0))

    def __getattr__(self, name: str) -> Any:
        if name in ("median", "q25", "q75"):
            return self.data.get(name)
        raise AttributeError(name)


# --------------------------------------------------------------------------
# the document
# --------------------------------------------------------------------------
def _has_beta(point_axes: list[str], axes: Mapping[str, list[Any]], cells: list[Any]) -> bool:
    return "depth" in point_axes and len(axes["depth"]) > 1 and bool(cells)


def sweep_document(
    name: str,
    axes: list[tuple[str, list[Any]]],
    point_axes: list[str],
    points: list[SweepPoint],
) -> SweepDocument:
    """The document of a sweep from its finished grid points.

    Parameters
    ----------
    name : str
        The sweep's name.
    axes : list of (str, list)
        Every axis of the sweep file with its values (``width`` and ``seed`` included).
    point_axes : list of str
        The axes that make separate runs (grid points), in file order.
    points : list of SweepPoint
        The finished grid points with their sub-page folders, reports and runs.
    """
    from spectralntk.reports.convergence import off_circle_note

    axis_map = {k: list(v) for k, v in axes}
    entries = [
        {
            "point": p.point,
            "folder": p.folder,
            "report_type": p.report.report_type,
            "title": p.report.title,
            "verdicts": list(p.report.verdicts),
        }
        for p in points
    ]
    cells = _cells(points)
    beta = _has_beta(point_axes, axis_map, cells)
    verdicts = _axis_verdicts(axis_map, point_axes, cells)
    if beta:
        verdicts += beta_verdicts(cells)
    figures: list[FigureRef] = []
    if cells:
        figures += [
            figure(
                "sweep_relative_error",
                "RelErr of the networks against the NTK predictor at the last step against "
                "width (median and IQR over seeds), one line per grid point"
                + (f", one panel per {point_axes[0]}" if len(point_axes) > 1 else "")
                + ".",
            ),
            figure(
                "sweep_steps",
                "Steps until each target frequency is down to 10 % of its start against width "
                "(median over seeds), one panel per frequency, one line per grid point; open "
                "triangles at the top, in the grid point's colour: not reached by the last step.",
            ),
        ]
    if beta:
        figures += [
            figure(
                "beta_drift",
                "Kernel drift ‖K_T − K_0‖_F/‖K_0‖_F, RelErr against the NTK predictor at T and "
                "the seed spread of the kernel profile at step 0 against β = Σ_l 1/n_l = "
                "depth/width (median and IQR over seeds), one colour per depth; dashed: the "
                "least-squares power law.",
            ),
            figure(
                "beta_profiles",
                "Kernel profiles Θ(x0, x(γ)) at step 0 (solid) and at the last step (dashed), "
                "median and 10–90 % band over seeds, against the analytic limit (black); one "
                "row per width, one column per depth (Experiment 2.1's plot across β).",
            ),
            figure(
                "beta_overlays",
                "Function-space overlays at the last step on the evaluation grid: networks "
                "(median and 10–90 % band over seeds), the NTK predictor at the same step "
                "(dashed) and the target (grey); one row per width, one column per depth."
                + (off_circle_note(points[0].ds) if points else ""),
            ),
        ]
    varied = [f"{k} ({', '.join(map(_fmt, axis_map[k]))})" for k in point_axes]
    title = f"Sweep {name}: " + (" × ".join(varied) if varied else "one grid point")
    widths = axis_map.get("width")
    if widths:
        title += f" × width ({', '.join(map(str, widths))})"
    return SweepDocument(
        name=name,
        title=title,
        axes=[(k, list(v)) for k, v in axes],
        point_axes=list(point_axes),
        entries=entries,
        verdicts=verdicts,
        tables=_tables(point_axes, cells, beta, entries),
        figures=figures,
        cells=cells,
    )


def sweep_json(doc: SweepDocument, sweep: str) -> dict[str, Any]:
    """``sweep.json``: the sweep folder, axes, findings, per-cell numbers, grid points."""
    return {
        "sweep": sweep,
        "title": doc.title,
        "axes": [[k, v] for k, v in doc.axes],
        "point_axes": doc.point_axes,
        "verdicts": doc.verdicts,
        "figures": [f.model_dump() for f in doc.figures],
        "cells": doc.cells,
        "points": doc.entries,
    }


# --------------------------------------------------------------------------
# renderers
# --------------------------------------------------------------------------
def _axes_lines(doc: SweepDocument) -> list[str]:
    lines = []
    for k, v in doc.axes:
        role = "grid points" if k in doc.point_axes else "within each run"
        lines.append(f"- `{k}`: {', '.join(map(_fmt, v))} ({role})")
    return lines


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_sweep_markdown(doc: SweepDocument) -> str:
    """The document as GitHub Markdown; grid points link their ``<folder>/README.md``."""
    lines = [f"# {doc.title}", "", "## Axes", "", *_axes_lines(doc), ""]
    lines += [
        f"{len(doc.entries)} grid points with a finished run; each has its own report "
        "(linked in the tables and below).",
        "",
    ]
    if doc.verdicts:
        lines += ["## Findings across the sweep", "", *[f"- {v}" for v in doc.verdicts]]
    for title, head, rows in doc.tables:
        lines += ["", f"## {title}", ""]
        lines.append("| " + " | ".join(map(_md_cell, head)) + " |")
        lines.append("|" + "|".join("---" for _ in head) + "|")
        for row in rows:
            cells = [
                f"[{c}]({c}/README.md)" if h == REPORT_COLUMN else _md_cell(c)
                for h, c in zip(head, row, strict=True)
            ]
            lines.append("| " + " | ".join(cells) + " |")
    if doc.figures:
        lines += ["", "## Figures", ""]
        for fig in doc.figures:
            links = f"[PNG]({fig.png})" + (f" · [SVG]({fig.svg})" if fig.svg else "")
            lines += [f"### {fig.name.replace('_', ' ')}", "", f"![{fig.name}]({fig.png})", ""]
            lines += [f"{fig.caption} {links}", ""]
    lines += ["", "## Reports of the grid points", ""]
    for e in doc.entries:
        lines += [
            f"### [{e['folder']}]({e['folder']}/README.md)",
            "",
            f"*{e['title']}* — [HTML]({e['folder']}/report.html), "
            f"[JSON]({e['folder']}/report.json)",
            "",
            *[f"- {v}" for v in e["verdicts"][:3]],
            "",
        ]
    lines += ["The numbers of this page are in `sweep.json`.", ""]
    return "\n".join(lines)


def render_sweep_html(doc: SweepDocument, figures: Mapping[str, bytes] | None = None) -> str:
    """One self-contained HTML page; grid points link their ``<folder>/report.html``."""
    from spectralntk.reports.render import _CSS

    esc = html.escape
    data = dict(figures or {})
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(doc.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(doc.title)}</h1>",
        "<h2>Axes</h2><ul>",
    ]
    for k, v in doc.axes:
        role = "grid points" if k in doc.point_axes else "within each run"
        parts.append(f"<li><code>{esc(k)}</code>: {esc(', '.join(map(_fmt, v)))} ({role})</li>")
    parts.append("</ul>")
    if doc.verdicts:
        parts += ["<h2>Findings across the sweep</h2><ul>"]
        parts += [f"<li>{esc(v)}</li>" for v in doc.verdicts]
        parts.append("</ul>")
    for title, head, rows in doc.tables:
        parts.append(f"<h2>{esc(title)}</h2><table><thead><tr>")
        parts += [f"<th>{esc(h)}</th>" for h in head]
        parts.append("</tr></thead><tbody>")
        for row in rows:
            cells = [
                f'<a href="{esc(c)}/report.html">{esc(c)}</a>' if h == REPORT_COLUMN else esc(c)
                for h, c in zip(head, row, strict=True)
            ]
            parts.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        parts.append("</tbody></table>")
    if doc.figures:
        parts.append("<h2>Figures</h2>")
    for fig in doc.figures:
        parts.append("<figure>")
        if fig.name in data:
            b64 = base64.b64encode(data[fig.name]).decode("ascii")
            parts.append(f'<img alt="{esc(fig.name)}" src="data:image/png;base64,{b64}">')
        parts.append(f"<figcaption>{esc(fig.caption)}</figcaption></figure>")
    parts.append("<h2>Reports of the grid points</h2><ul>")
    for e in doc.entries:
        parts.append(
            f'<li><a href="{esc(e["folder"])}/report.html">{esc(e["folder"])}</a>: '
            f"{esc(e['title'])}</li>"
        )
    parts += ["</ul></body></html>", ""]
    return "\n".join(parts)


# --------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------
def _series(doc: SweepDocument) -> tuple[list[Any], dict[Any, list[dict[str, Any]]]]:
    """Panels (values of the first point axis when there are two or more) and, per panel,
    the cells grouped by grid point."""
    first = doc.point_axes[0] if len(doc.point_axes) > 1 else None
    panels = list(dict.fromkeys(c["point"][first] for c in doc.cells)) if first else [None]
    return panels, {
        panel: [c for c in doc.cells if first is None or c["point"][first] == panel]
        for panel in panels
    }


def _by_point(cells: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for c in cells:
        out.setdefault(_label(c["point"]), []).append(c)
    return {k: sorted(v, key=lambda c: c["width"]) for k, v in out.items()}


def _errorbar(ax: Any, x: list[float], cells: list[dict[str, Any]], name: str, **kw: Any) -> None:
    med = np.array([np.nan if c[name]["median"] is None else c[name]["median"] for c in cells])
    lo = np.array([np.nan if c[name]["q25"] is None else c[name]["q25"] for c in cells])
    hi = np.array([np.nan if c[name]["q75"] is None else c[name]["q75"] for c in cells])
    ax.errorbar(x, med, yerr=[med - lo, hi - med], markersize=4, capsize=2, **kw)


def _ticks(ax: Any, values: list[float], labels: list[str], axis: str = "x") -> None:
    """Major ticks at ``values`` with ``labels`` on a log axis (at most 8), no minor ticks."""
    from matplotlib.ticker import FixedLocator, NullLocator

    pairs = sorted(dict(zip(values, labels, strict=True)).items())
    step = max(1, math.ceil(len(pairs) / 8))
    pairs = pairs[::step]
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(FixedLocator([v for v, _ in pairs]))
    target.set_minor_locator(NullLocator())
    target.set_ticklabels([t for _, t in pairs])


def _width_ticks(ax: Any, cells: list[dict[str, Any]]) -> None:
    widths = sorted({float(c["width"]) for c in cells})
    _ticks(ax, widths, [f"{w:g}" for w in widths])


def _beta_ticks(ax: Any, cells: list[dict[str, Any]]) -> None:
    betas = sorted({float(c["beta"]) for c in cells})
    _ticks(ax, betas, [_beta_fraction(b) for b in betas])


def sweep_relative_error(doc: SweepDocument, points: list[SweepPoint]) -> Any:
    """RelErr at T against width, a line per grid point (a panel per first axis value)."""
    from spectralntk.reports.figures import _figure, _palette

    panels, cells = _series(doc)
    fig, axes = _figure(1, len(panels), 4.0, 3.0)
    for i, panel in enumerate(panels):
        ax = axes[0, i]
        groups = _by_point(cells[panel])
        colors = _palette(len(groups))
        for color, (label, mine) in zip(colors, groups.items(), strict=True):
            _errorbar(
                ax,
                [c["width"] for c in mine],
                mine,
                "relative_error",
                fmt="o-",
                color=color,
                label=label,
            )
        ax.set_xscale("log")
        _width_ticks(ax, cells[panel])
        ax.set_xlabel("hidden width n")
        if panel is not None:
            ax.set_title(f"{doc.point_axes[0]} = {_fmt(panel)}")
        if i == 0:
            ax.set_ylabel(textwrap.fill("RelErr against the NTK predictor at T", 24))
        ax.set_ylim(bottom=0)
    _legend_below(fig, axes)
    return fig


def doc_steps(points: list[SweepPoint]) -> str:
    """The last recorded step of the points (their T), for labels: "200" or "50–200"."""
    steps = sorted({int(p.ds["step"].values[-1]) for p in points})
    return f"{steps[0]:,}" if len(steps) == 1 else f"{steps[0]:,}–{steps[-1]:,}"


def _legend_below(fig: Any, axes: Any) -> None:
    """One legend for all panels, below them: never on the data."""
    import numpy as np

    from spectralntk.reports.figures import legend_outside

    shown = sum(ax.get_visible() for ax in np.ravel(np.asarray(axes, dtype=object)))
    legend_outside(fig, axes, "below", ncols=2 if shown <= 2 else 4)  # narrow: two a row


def sweep_steps(doc: SweepDocument, points: list[SweepPoint]) -> Any:
    """Steps to 10 % against width, a panel per target frequency, a line per grid point."""
    from spectralntk.reports.figures import _figure, _palette

    ks = sorted({int(k) for c in doc.cells for k in c["steps_to_10"]})
    ncols = min(4, max(len(ks), 1))
    nrows = max(1, math.ceil(len(ks) / ncols))
    fig, axes = _figure(nrows, ncols, 2.8, 2.3)
    groups = _by_point(doc.cells)
    colors = _palette(len(groups))
    top = 1.5 * max(c["steps"] for c in doc.cells)
    unreached = False
    for i, k in enumerate(ks):
        ax = axes[i // ncols, i % ncols]
        for color, (label, mine) in zip(colors, groups.items(), strict=True):
            x = [c["width"] for c in mine if str(k) in c["steps_to_10"]]
            y = [c["steps_to_10"][str(k)] for c in mine if str(k) in c["steps_to_10"]]
            yy = np.array([np.nan if v is None else v for v in y], dtype=float)
            ax.plot(x, yy, "o-", color=color, label=label, markersize=3)
            missing = [xi for xi, v in zip(x, y, strict=True) if v is None]
            ax.plot(missing, [top] * len(missing), "^", color=color, markerfacecolor="none")
            unreached = unreached or bool(missing)
        ax.set_xscale("log")
        _width_ticks(ax, doc.cells)
        ax.set_yscale("log")
        ax.set_ylim(top=top * 1.6)
        ax.set_title(f"k = {k}")
        if i % ncols == 0:
            ax.set_ylabel("steps to 10 %")
        if i // ncols == nrows - 1:
            ax.set_xlabel("hidden width n")
    for i in range(len(ks), nrows * ncols):
        axes[i // ncols, i % ncols].set_visible(False)
    if unreached:  # one neutral legend entry: each marker has its grid point's colour
        axes[0, 0].plot(
            [],
            [],
            "^",
            color="0.3",
            markerfacecolor="none",
            label=f"not reached by step {doc_steps(points)}",
        )
    _legend_below(fig, axes)
    return fig


def beta_drift(doc: SweepDocument, points: list[SweepPoint]) -> Any:
    """Drift, RelErr and profile spread against β, a colour per depth."""
    from spectralntk.reports.figures import _figure, _palette

    fig, axes = _figure(1, 3, 3.3, 3.6)
    depths = sorted({c["depth"] for c in doc.cells})
    colors = dict(zip(depths, _palette(len(depths)), strict=True))
    others = [a for a in doc.point_axes if a != "depth"]
    styles = ["-", "--", ":", "-."]
    combos = list(dict.fromkeys(tuple(c["point"][a] for a in others) for c in doc.cells))
    for ax, name, label in zip(
        axes[0],
        ("kernel_drift", "relative_error", "profile_spread_initial"),
        (
            "kernel drift ‖K_T − K_0‖/‖K_0‖",
            "RelErr against the NTK predictor at T",
            "seed spread of Θ̂(x0, x(γ)) at step 0",
        ),
        strict=True,
    ):
        xs, ys = [], []
        for depth in depths:
            for n, combo in enumerate(combos):
                mine = sorted(
                    (
                        c
                        for c in doc.cells
                        if c["depth"] == depth and tuple(c["point"][a] for a in others) == combo
                    ),
                    key=lambda c: c["beta"],
                )
                if not mine:
                    continue
                x = [c["beta"] for c in mine]
                tag = f"depth {depth}" + (
                    f", {_label(dict(zip(others, combo, strict=True)))}" if others else ""
                )
                if name == "profile_spread_initial":
                    y = [np.nan if c[name] is None else c[name] for c in mine]
                    ax.plot(
                        x,
                        y,
                        "o",
                        linestyle=styles[n % 4],
                        color=colors[depth],
                        label=tag,
                        markersize=4,
                    )
                else:
                    _errorbar(
                        ax,
                        x,
                        mine,
                        name,
                        fmt="o",
                        linestyle=styles[n % 4],
                        color=colors[depth],
                        label=tag,
                    )
                xs += x
                ys += [_median(c, name) for c in mine]
        fit = _power_law(xs, [np.nan if v is None else v for v in ys]) if xs else None
        if fit is not None and name == "kernel_drift":
            grid = np.geomspace(min(xs), max(xs), 50)
            ax.plot(
                grid,
                fit[0] * grid ** fit[1],
                color="0.4",
                linestyle="--",
                linewidth=0.8,
                label=f"∝ β^{fit[1]:.2f}",
            )
        ax.set_xscale("log")
        _beta_ticks(ax, doc.cells)
        if name == "kernel_drift":
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)
        ax.set_xlabel("β = Σ_l 1/n_l = depth/width")
        ax.set_ylabel(textwrap.fill(label, 24), fontsize=7)  # wrapped: never clipped
    _legend_below(fig, axes)
    return fig


def _grid_points(doc: SweepDocument, points: list[SweepPoint]) -> list[SweepPoint]:
    """The convergence points of the depth columns (other axes at their first value)."""
    others = [a for a in doc.point_axes if a != "depth"]
    first = {a: next(p.point[a] for p in points) for a in others}
    chosen = [
        p
        for p in points
        if p.report.report_type == "convergence" and all(p.point[a] == first[a] for a in others)
    ]
    return sorted(chosen, key=lambda p: p.point["depth"])


def _depth_width_grid(doc: SweepDocument, points: list[SweepPoint], draw: Any, ylabel: str) -> Any:
    """Panels of ``draw(ax, point, width index)``: rows widths, columns depths, with the
    run figures' angle ticks (−π … π) and one x and one y label for the grid."""
    from spectralntk.reports.figures import LABELS, _angle_ticks, _figure

    columns = _grid_points(doc, points)
    widths = sorted({int(w) for p in columns for w in p.ds["width"].values})
    fig, axes = _figure(len(widths), len(columns), 2.5, 1.9)
    for i, p in enumerate(columns):
        own = [int(w) for w in p.ds["width"].values]
        for j, width in enumerate(widths):
            ax = axes[j, i]
            if width not in own:
                ax.set_visible(False)
                continue
            draw(ax, p, own.index(width))
            _angle_ticks(ax)
            depth = p.point["depth"]
            ax.set_title(
                f"depth {depth}, n = {width}, β = {_beta_fraction(_beta(depth, width))}",
                fontsize=7,
            )
            if j == len(widths) - 1:  # not fig.supxlabel: it would sit on the legend below
                ax.set_xlabel(f"{LABELS['angle']} [rad]")
    fig.supylabel(ylabel, fontsize=8)
    return fig, axes


def beta_profiles(doc: SweepDocument, points: list[SweepPoint]) -> Any:
    """Kernel profiles at step 0 and T with seed bands: rows widths, columns depths."""
    from spectralntk.kernels.circle import circle_kernel
    from spectralntk.reports.convergence import _config
    from spectralntk.reports.figures import _band, _wrap
    from spectralntk.runs.training import network_at_width

    def draw(ax: Any, p: SweepPoint, j: int) -> None:
        cfg = _config(p.ds)
        angle = p.ds["angle"].values
        prof = p.ds["empirical_ntk_profile"].values[j]  # (S, C, M)
        analytic = circle_kernel(network_at_width(cfg, cfg.widths[j]), angle).ntk
        x, prof, analytic = _wrap(angle, prof, analytic)
        last = int(p.ds["checkpoint"].values[-1])
        ax.plot(x, analytic, color="black", linewidth=1.1, label="analytic")
        _band(ax, x, prof[:, 0], "C0", "step 0", linewidth=0.9)
        _band(ax, x, prof[:, -1], "C3", f"step {last}", linewidth=0.9, linestyle="--")

    from spectralntk.reports.figures import LABELS

    fig, axes = _depth_width_grid(doc, points, draw, LABELS["empirical_ntk_profile"])
    _legend_below(fig, axes)
    return fig


def beta_overlays(doc: SweepDocument, points: list[SweepPoint]) -> Any:
    """Network outputs at T against the NTK predictor and the target: rows widths, columns
    depths."""
    from spectralntk.reports.convergence import _config
    from spectralntk.reports.figures import _band, _wrap

    def draw(ax: Any, p: SweepPoint, j: int) -> None:
        cfg = _config(p.ds)
        angle = p.ds["angle"].values
        net = p.ds["eval_prediction"].values[j, :, -1]  # (S, M)
        ntk = p.ds["ntk_prediction"].values[j, -1]  # (M,)
        x, net, ntk, target = _wrap(angle, net, ntk, cfg.target(angle))
        ax.plot(x, target, color="0.6", linewidth=1.0, label="target")
        ax.plot(x, ntk, color="black", linestyle="--", linewidth=0.9, label="NTK predictor")
        _band(ax, x, net, "C0", "networks", linewidth=0.9)

    fig, axes = _depth_width_grid(doc, points, draw, "output f(x(γ)) at T")
    _legend_below(fig, axes)
    return fig


#: Figure functions of the sweep document by name.
SWEEP_FIGURES = {
    f.__name__: f
    for f in (sweep_relative_error, sweep_steps, beta_drift, beta_profiles, beta_overlays)
}


def draw_sweep_figures(
    doc: SweepDocument, points: list[SweepPoint], folder: str | Path, *, svg: bool = True
) -> list[Path]:
    """Draw every figure the document lists into ``folder/figures/`` (PNG, SVG with ``svg``)."""
    from spectralntk.reports.figures import _style, save_figure

    root = Path(folder)
    written: list[Path] = []
    with _style():
        for ref in doc.figures:
            written += save_figure(SWEEP_FIGURES[ref.name](doc, points), ref, root, svg=svg)
    return written
