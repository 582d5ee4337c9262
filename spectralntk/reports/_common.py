"""Pieces every report builder shares: provenance, seed statistics, figure references."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from spectralntk._version import __version__
from spectralntk.reports.models import FigureRef, Provenance, Stat, num

__all__ = ["figure", "provenance", "quiet", "seed_stat"]


@contextmanager
def quiet() -> Iterator[None]:
    """Silence numpy's warnings about all-NaN slices (seeds left out are NaN on purpose)."""
    with (
        warnings.catch_warnings(),
        np.errstate(invalid="ignore", divide="ignore", over="ignore", under="ignore"),
    ):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def seed_stat(values: ArrayLike) -> Stat:
    """Median and quartiles of ``values`` (one per seed); NaN entries are left out.

    ``+inf`` counts (a seed that never got there) and makes a quantile ``None`` when
    it lands on it; ``count`` is the number of seeds with a value (infinite included).
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[~np.isnan(v)]
    if v.size == 0:
        return Stat(median=None, q25=None, q75=None, count=0)
    q25, med, q75 = (_quantile(np.sort(v), q) for q in (0.25, 0.5, 0.75))
    # linear interpolation towards +inf gives inf: report None
    return Stat(median=num(med), q25=num(q25), q75=num(q75), count=int(v.size))


def _quantile(ordered: Any, q: float) -> float:
    """numpy's ``linear`` quantile of sorted values, exact at a rank next to +inf.

    ``np.quantile([10, 20, inf], 0.5)`` is NaN (it computes 20 + 0·inf); the median seed
    there is 20. Between a finite value and +inf the quantile is +inf.
    """
    h = (ordered.size - 1) * q
    lo, hi = int(np.floor(h)), int(np.ceil(h))
    if lo == hi or ordered[lo] == ordered[hi]:
        return float(ordered[lo])
    return float(ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo]))


def provenance(ds: Any, source: str | Path | None) -> Provenance:
    """Provenance of a report built from the validated run dataset ``ds``."""
    from spectralntk.store import schema

    name = source if source is not None else ds.encoding.get("source", "")
    return Provenance(
        source=Path(str(name)).name,
        run_type=str(ds.attrs[schema.ATTR_RUN_TYPE]),
        run_schema_version=int(ds.attrs[schema.ATTR_SCHEMA_VERSION]),
        run_spectralntk_version=str(ds.attrs.get(schema.ATTR_VERSION, "unknown")),
        report_spectralntk_version=__version__,
        title=str(ds.attrs.get(schema.ATTR_TITLE, "")),
        history=str(ds.attrs.get(schema.ATTR_HISTORY, "")),
        config=schema.read_config(ds),
    )


def figure(name: str, caption: str) -> FigureRef:
    """Reference to figure ``name`` in the report folder's ``figures/``."""
    return FigureRef(
        name=name, caption=caption, png=f"figures/{name}.png", svg=f"figures/{name}.svg"
    )
