"""What a run file holds, in a few lines: ``spectralntk info RUN.nc``.

:func:`run_info` reads a validated run Dataset into a :class:`RunInfo` (type, title,
versions, history, dimensions and sizes, variables with their ``long_name`` and
``units``, the configuration, and the headline findings of its report);
:func:`format_run_info` renders it as plain text. Both are pure functions of the Dataset,
and older run files (without the variables newer versions add) read the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RunInfo", "flatten_config", "format_run_info", "run_info"]


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
