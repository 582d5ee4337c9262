"""Choose and build the report of a run from its run type."""

from __future__ import annotations

from typing import Any

from spectralntk.errors import RunFileError

__all__ = ["REPORT_OF_RUN", "build_report"]

#: Report type of each run type.
REPORT_OF_RUN: dict[str, str] = {
    "spectrum": "spectrum",
    "empirical_spectrum": "spectrum",
    "training": "convergence",
    "fluctuation": "fluctuation",
}


def build_report(ds: Any, source: Any = None) -> Any:
    """The typed report of a validated run Dataset (a pure function of it).

    Parameters
    ----------
    ds : xarray.Dataset
        A run that passed :func:`spectralntk.store.schema.validate`.
    source : str or path, optional
        The run's file name, recorded in the provenance.

    Returns
    -------
    SpectrumReport, ConvergenceReport or FluctuationReport

    Raises
    ------
    RunFileError
        For a run type that has no report.
    """
    from spectralntk.reports._common import quiet

    # Values a run may hold (NaN, ±inf, huge) end as None in the report, not as warnings.
    with quiet():
        return _build(ds, source)


def _build(ds: Any, source: Any) -> Any:
    from spectralntk.store.schema import ATTR_RUN_TYPE

    run_type = ds.attrs.get(ATTR_RUN_TYPE)
    kind = REPORT_OF_RUN.get(str(run_type))
    if kind == "spectrum":
        from spectralntk.reports.spectrum import spectrum_report

        return spectrum_report(ds, source)
    if kind == "convergence":
        from spectralntk.reports.convergence import convergence_report

        return convergence_report(ds, source)
    if kind == "fluctuation":
        from spectralntk.reports.fluctuation import fluctuation_report

        return fluctuation_report(ds, source)
    known = ", ".join(repr(k) for k in REPORT_OF_RUN)
    raise RunFileError(f"No report for run type {run_type!r} (reports exist for {known})")
