"""Run files: the schema of names and attributes, and atomic NetCDF save/load.

``check_writable`` needs no xarray; the rest imports it on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from spectralntk.store.paths import check_writable

if TYPE_CHECKING:
    from spectralntk.store.netcdf import load, save
    from spectralntk.store.schema import SCHEMA_VERSION, make_dataset, validate

_LAZY = {
    "load": "spectralntk.store.netcdf",
    "save": "spectralntk.store.netcdf",
    "SCHEMA_VERSION": "spectralntk.store.schema",
    "make_dataset": "spectralntk.store.schema",
    "validate": "spectralntk.store.schema",
}

__all__ = ["SCHEMA_VERSION", "check_writable", "load", "make_dataset", "save", "validate"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'spectralntk.store' has no attribute {name!r}")
