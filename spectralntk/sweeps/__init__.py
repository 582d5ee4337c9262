"""Grids of runs on Dask (``spectralntk sweep``), combined into one labelled Dataset.

:mod:`~spectralntk.sweeps.grid` reads sweep files and plans the tasks (grain,
hashes); :mod:`~spectralntk.sweeps.execute` runs them on a Dask cluster and keeps
the index; :mod:`~spectralntk.sweeps.combine` opens a sweep folder as one lazy
:class:`xarray.Dataset`. Dask and xarray are imported only when used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spectralntk.sweeps.combine import open_sweep, sweep_points
    from spectralntk.sweeps.execute import SweepError, SweepResult, run_sweep
    from spectralntk.sweeps.grid import SweepSpec, load_sweep_file, plan_tasks, sweep_spec

_LAZY = {
    "open_sweep": "spectralntk.sweeps.combine",
    "sweep_points": "spectralntk.sweeps.combine",
    "SweepError": "spectralntk.sweeps.execute",
    "SweepResult": "spectralntk.sweeps.execute",
    "run_sweep": "spectralntk.sweeps.execute",
    "SweepSpec": "spectralntk.sweeps.grid",
    "load_sweep_file": "spectralntk.sweeps.grid",
    "plan_tasks": "spectralntk.sweeps.grid",
    "sweep_spec": "spectralntk.sweeps.grid",
}

__all__ = [
    "SweepError",
    "SweepResult",
    "SweepSpec",
    "load_sweep_file",
    "open_sweep",
    "plan_tasks",
    "run_sweep",
    "sweep_points",
    "sweep_spec",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'spectralntk.sweeps' has no attribute {name!r}")
