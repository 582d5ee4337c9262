"""Reports of runs: typed documents (pydantic), figures (seaborn) and renderers.

``build_report(ds)`` picks the report type from the run type and returns a typed report
(:mod:`spectralntk.reports.models`); :func:`~spectralntk.reports.write.write_report`
draws its figures and writes Markdown, a self-contained HTML page and JSON into a
folder atomically; :func:`~spectralntk.reports.sweep.write_sweep_report` does the same
for every grid point of a sweep folder. Everything heavy (pydantic, xarray, matplotlib,
seaborn) is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["build_report", "load_report", "write_report", "write_sweep_report"]

_LAZY = {
    "build_report": "spectralntk.reports.build",
    "load_report": "spectralntk.reports.models",
    "write_report": "spectralntk.reports.write",
    "write_sweep_report": "spectralntk.reports.sweep",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'spectralntk.reports' has no attribute {name!r}")
