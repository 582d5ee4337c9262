"""What a run file holds, in a few lines: ``spectralntk info RUN.nc``.

:func:`run_info` reads a validated run Dataset into a :class:`RunInfo` (type, title,
versions, history, dimensions and sizes, variables with their ``long_name`` and
``units``, the configuration, and the headline findings of its report);
:func:`format_run_info` renders it as plain text. Both are pure functions of the Dataset,
and older run files (without the variables newer versions add) read the same way.
:func:`sweep_info` and :func:`format_sweep_info` do the same for a sweep folder: its
axes, the state of its tasks, the combined view's dimensions and variables, the settings
common to every grid point and the findings of the sweep document.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "RunInfo",
    "SweepInfo",
    "flatten_config",
    "format_run_info",
    "format_sweep_info",
    "run_info",
    "sweep_info",
]


@dataclass(frozen=True)
class RunInfo:
    """A run file's contents at a glance.

    Attributes
    ----------
    source : str
        The file name.
    run_type, title, history : str
    run_version : str
        spectralntk version that wrote the run.
    schema_version : int
    dimensions : dict of str to int
        Size of each dimension, in the file's order.
    variables : list of (str, tuple of str, str, str)
        (name, dimensions, long_name, units) of each data variable.
    config : dict
        The run configuration, flattened to dotted keys (``network.depth``).
    findings : list of str
        The headline findings of the run's report (empty when not asked for).
    findings_total : int
        How many findings the report has in all.
    """

    source: str
    run_type: str
    title: str
    history: str
    run_version: str
    schema_version: int
    dimensions: dict[str, int]
    variables: list[tuple[str, tuple[str, ...], str, str]]
    config: dict[str, Any]
    findings: list[str] = field(default_factory=list)
    findings_total: int = 0


def flatten_config(config: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level of dotted keys: ``{"network": {"depth": 1}}`` ->
    ``{"network.depth": 1}``; other values (lists included) as they are."""
    if not isinstance(config, dict):
        return {prefix: config}
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten_config(value, name))
        else:
            out[name] = value
    return out


def run_info(
    ds: Any, source: str | Path | None = None, *, findings: bool = True, count: int = 4
) -> RunInfo:
    """The contents of a validated run Dataset.

    Parameters
    ----------
    ds : xarray.Dataset
        A run that passed :func:`spectralntk.store.schema.validate`.
    source : str or path, optional
        The file name (default: the dataset's ``source`` encoding).
    findings : bool
        Build the run's report for its headline findings (a training run's report
        recomputes the analytic NTK on the training points: a second or so).
    count : int
        Headline findings kept (:func:`spectralntk.reports.gallery.headline_verdicts`).

    Returns
    -------
    RunInfo
    """
    from spectralntk.store import schema

    name = source if source is not None else ds.encoding.get("source", "")
    variables = [
        (
            str(key),
            tuple(map(str, var.dims)),
            str(var.attrs.get("long_name", "")),
            str(var.attrs.get("units", "")),
        )
        for key, var in ds.data_vars.items()
    ]
    headlines: list[str] = []
    total = 0
    if findings:
        from spectralntk.reports.build import build_report
        from spectralntk.reports.gallery import headline_verdicts

        verdicts = list(build_report(ds, name).verdicts)
        headlines, total = headline_verdicts(verdicts, count), len(verdicts)
    return RunInfo(
        source=Path(str(name)).name,
        run_type=str(ds.attrs[schema.ATTR_RUN_TYPE]),
        title=str(ds.attrs.get(schema.ATTR_TITLE, "")),
        history=str(ds.attrs.get(schema.ATTR_HISTORY, "")),
        run_version=str(ds.attrs.get(schema.ATTR_VERSION, "unknown")),
        schema_version=int(ds.attrs[schema.ATTR_SCHEMA_VERSION]),
        dimensions={str(k): int(v) for k, v in ds.sizes.items()},
        variables=variables,
        config=flatten_config(schema.read_config(ds)),
        findings=headlines,
        findings_total=total,
    )


def format_run_info(info: RunInfo, *, variables: bool = True) -> str:
    """``info`` as plain text: a header, dimensions, variables, configuration, findings."""
    from spectralntk.presets import format_setting

    lines = [
        f"{info.source}: {info.run_type} run, {info.title}",
        f"written by spectralntk {info.run_version} (run-file schema {info.schema_version})",
        f"history: {info.history}",
        "",
        "dimensions: " + ", ".join(f"{k} = {v}" for k, v in info.dimensions.items()),
    ]
    if variables:
        lines += ["", f"variables ({len(info.variables)}):"]
        width = max((len(f"{n}({', '.join(d)})") for n, d, _, _ in info.variables), default=0)
        for name, dims, long_name, units in info.variables:
            head = f"{name}({', '.join(dims)})".ljust(width)
            unit = "" if units in ("", "1") else f" [{units}]"
            lines.append(f"  {head}  {long_name}{unit}")
    lines += ["", "configuration:"]
    width = max(map(len, info.config), default=0)
    lines += [f"  {k.ljust(width)} = {format_setting(v)}" for k, v in info.config.items()]
    if info.findings:
        more = info.findings_total - len(info.findings)
        lines += ["", "findings" + (f" ({more} more in its report):" if more else ":")]
        lines += [f"- {v}" for v in info.findings]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class SweepInfo:
    """A sweep folder's contents at a glance.

    Attributes
    ----------
    source : str
        The folder name.
    name, kind : str
        The sweep's name and the command of its runs (``train``, ``fluctuations``).
    axes : list of (str, list)
        Every axis of the sweep with its values, in file order.
    point_axes : list of str
        The axes that make separate runs (grid points).
    tasks : dict of str to int
        Number of tasks per status (finished, diverged, failed, pending, …).
    errors : list of str
        ``point: error`` of each failed task.
    run : RunInfo or None
        The combined view (:func:`spectralntk.open_sweep`) of the finished runs, with
        the settings common to every grid point as its configuration; None when no
        task has finished.
    findings : list of str
        The sweep document's findings (empty when not asked for or nothing finished).
    findings_total : int
    """

    source: str
    name: str
    kind: str
    axes: list[tuple[str, list[Any]]]
    point_axes: list[str]
    tasks: dict[str, int]
    errors: list[str]
    run: RunInfo | None
    findings: list[str] = field(default_factory=list)
    findings_total: int = 0


def _common_settings(configs: list[Any]) -> dict[str, Any]:
    """The flattened settings with one value at every grid point."""
    flat = [flatten_config(c) for c in configs if isinstance(c, dict)]
    if not flat:
        return {}
    return {
        k: v for k, v in sorted(flat[0].items()) if all(f.get(k, object()) == v for f in flat[1:])
    }


def sweep_info(folder: str | Path, *, findings: bool = True, count: int = 4) -> SweepInfo:
    """The contents of a sweep folder written by ``spectralntk sweep`` or ``reproduce``.

    Parameters
    ----------
    folder : path
        A folder with ``index.json``.
    findings : bool
        Build every finished point's report and the sweep document for its findings
        (seconds per grid point).
    count : int
        Findings kept.

    Raises
    ------
    SweepError
        If the folder has no readable index.
    """
    from collections import Counter

    from spectralntk.reports.sweep import point_name
    from spectralntk.sweeps.execute import DONE, read_index

    root = Path(folder)
    index = read_index(root)
    tasks = list(index.get("tasks", []))
    status = dict(Counter(str(t.get("status", "unknown")) for t in tasks))
    errors = [
        f"{point_name(t.get('point', {}))}: {t.get('error') or 'failed'}"
        for t in tasks
        if t.get("status") == "failed"
    ]
    axes = [(str(k), list(v)) for k, v in index.get("axes", [])]
    point_axes = [str(k) for k in index.get("point_axes", [])]
    run: RunInfo | None = None
    headlines: list[str] = []
    total = 0
    if any(t.get("status") in DONE for t in tasks):
        from spectralntk import open_sweep

        combined = open_sweep(root)
        base = run_info(combined, root.name, findings=False)
        common = _common_settings([p.get("config") for p in index.get("points", [])])
        run = dataclasses.replace(base, config=common)
        if findings:
            from spectralntk.reports.sweep import sweep_reports
            from spectralntk.reports.sweep_document import SweepPoint, sweep_document

            points = [
                SweepPoint(point, point_name(point), report, ds)
                for point, report, ds in sweep_reports(root)
            ]
            doc = sweep_document(str(index.get("name", root.name)), axes, point_axes, points)
            headlines, total = list(doc.verdicts[:count]), len(doc.verdicts)
    return SweepInfo(
        source=root.name,
        name=str(index.get("name", root.name)),
        kind=str(index.get("kind", "")),
        axes=axes,
        point_axes=point_axes,
        tasks=status,
        errors=errors,
        run=run,
        findings=headlines,
        findings_total=total,
    )


def format_sweep_info(info: SweepInfo, *, variables: bool = True) -> str:
    """``info`` of a sweep folder as plain text."""
    from spectralntk.presets import format_setting

    def axis(name: str, values: list[Any]) -> str:
        return f"{name} = {format_setting(values)}"

    points = [axis(k, v) for k, v in info.axes if k in info.point_axes]
    within = [axis(k, v) for k, v in info.axes if k not in info.point_axes]
    order = ("finished", "diverged", "failed", "running", "pending")
    counts = [f"{info.tasks[s]} {s}" for s in order if info.tasks.get(s)]
    counts += [f"{n} {s}" for s, n in info.tasks.items() if s not in order]
    lines = [
        f"{info.source}: sweep '{info.name}' of {info.kind} runs over "
        + (" × ".join(points) or "no axis")
        + (f"; within each run {', '.join(within)}" if within else ""),
        f"tasks ({sum(info.tasks.values())}): " + (", ".join(counts) or "none"),
    ]
    lines += [f"  failed {e}" for e in info.errors]
    if info.run is None:
        lines += ["", "no run has finished yet: nothing to combine or report"]
        return "\n".join(lines) + "\n"
    body = format_run_info(info.run, variables=variables).splitlines()
    start = next(i for i, line in enumerate(body) if line.startswith("dimensions: "))
    body = body[start:]
    body[0] = "dimensions of the combined view (spectralntk.open_sweep): " + body[0].removeprefix(
        "dimensions: "
    )
    at = body.index("configuration:")
    body[at] = "configuration (the same at every grid point; the axes above vary):"
    lines += ["", *body]
    if info.findings:
        more = info.findings_total - len(info.findings)
        lines += ["", "findings of the sweep" + (f" ({more} more in its report):" if more else ":")]
        lines += [f"- {v}" for v in info.findings]
    return "\n".join(lines) + "\n"
