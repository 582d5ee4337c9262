r"""The fluctuation report of a ``fluctuation`` run: finite-width NTK against Hanin & Nica.

Per (depth, width), from the run's variables (``spectralntk fluctuations``):
β = Σ_l 1/n_l; the on-diagonal NTK's normalised second moment E[K²]/E[K]² with its
bootstrap interval against Hanin & Nica's (2019) exp(5β) and the first-order prediction;
the mean K(x, x) against its exact finite-width value and the infinite-width Θ(x, x);
the seed spread of the profile K(x0, x(γ)) (median over angles of std/|mean|); the
relative change E[ΔK]/E[K] after one step on x0 (per unit η·Θ(x0, x0), as the run stores it)
against (dβ/n0)·exp(5β); with training
steps, the kernel drift ‖K_T − K_0‖_F/‖K_0‖_F (median and IQR over seeds).

Report-wide: the least-squares c of log(E[K²]/E[K]²) = c·β over the cells (Hanin–Nica:
c ≈ 5), how many bootstrap intervals contain exp(5β), and Spearman's ρ between β and the
drift. Its figures are drawn by :mod:`spectralntk.reports.figures` (this module imports
no plotting code).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from spectralntk.reports._common import figure, provenance, quiet, seed_stat
from spectralntk.reports.models import DepthFluctuation, FigureRef, FluctuationReport, num

__all__ = ["fluctuation_report"]


def _get(ds: Any, name: str, i: int, j: int) -> float | None:
    return num(ds[name].values[i, j]) if name in ds else None


def _verdicts(
    cells: list[DepthFluctuation], c: float | None, covered: int, rho: float | None, steps: int
) -> list[str]:
    out = []
    with_ratio = [x for x in cells if x.ratio is not None]
    if c is not None:
        out.append(
            f"log(E[K²]/E[K]²) against β = Σ 1/n_l over {len(with_ratio)} (depth, width) cells: "
            f"least-squares slope c = {c:.2f} (Hanin–Nica: E[K²]/E[K]² ≃ exp(5β), c = 5); "
            f"exp(5β) lies inside the bootstrap interval in {covered} of "
            f"{sum(x.ratio_low is not None for x in cells)} cells."
        )
    if with_ratio:
        top = max(with_ratio, key=lambda x: x.beta)
        log_first = top.small_beta_log_ratio
        first_order = math.exp(log_first) if log_first is not None and log_first < 700 else None
        out.append(
            f"At the largest β = {top.beta:.3g} (depth {top.depth}, n = {top.width}): "
            f"E[K²]/E[K]² = {top.ratio:.3g} [{_fmt(top.ratio_low)}, {_fmt(top.ratio_high)}] "
            f"against exp(5β) = {_fmt(top.exp_5beta)}"
            + (
                f" and the first-order prediction exp({top.small_beta_log_ratio:.3g}) = "
                f"{_fmt(first_order)}."
                if log_first is not None
                else "."
            )
        )
    steps_ok = [x for x in cells if x.first_step_change is not None and x.first_step_prediction]
    if steps_ok:
        ratios = [x.first_step_change / x.first_step_prediction for x in steps_ok]  # type: ignore[operator]
        out.append(
            "First-step change E[ΔK]/E[K] (per unit η·Θ(x0, x0)) over the Hanin–Nica scaling "
            "(dβ/n0)·exp(5β): "
            f"median {np.median(ratios):.3g} (range {min(ratios):.3g} … {max(ratios):.3g}) "
            f"over {len(steps_ok)} cells; a constant ratio means the scaling holds."
        )
        negative = [x for x in steps_ok if x.first_step_change < 0]  # type: ignore[operator]
        if negative:
            out[-1] += (
                f" The measured change is negative in {len(negative)} of {len(steps_ok)} "
                "cells, opposite in sign to the (positive) prediction: only its size follows "
                "the scaling, if anything."
            )
    spreads = [x for x in cells if x.profile_spread is not None]
    if spreads:
        lo = min(spreads, key=lambda x: x.profile_spread)  # type: ignore[arg-type,return-value]
        hi = max(spreads, key=lambda x: x.profile_spread)  # type: ignore[arg-type,return-value]
        out.append(
            "Seed spread of the profile K(x0, x(γ)) (median over angles of std/|mean|) runs "
            f"from {lo.profile_spread:.3g} (depth {lo.depth}, n = {lo.width}, β = {lo.beta:.3g}) "
            f"to {hi.profile_spread:.3g} (depth {hi.depth}, n = {hi.width}, β = {hi.beta:.3g})."
        )
    drifts = [x for x in cells if x.drift is not None and x.drift.median is not None]
    if drifts and rho is not None:
        word = "grows" if rho > 0.5 else "falls" if rho < -0.5 else "does not follow"
        out.append(
            f"Kernel drift after {steps:,} training steps {word} with β: Spearman ρ(β, median "
            f"drift) = {rho:.2f}; from {min(x.drift.median for x in drifts):.3g} to "  # type: ignore[union-attr,type-var]
            f"{max(x.drift.median for x in drifts):.3g}."  # type: ignore[union-attr,type-var]
        )
    return out


def _int_attr(value: Any) -> int:
    """An integer global attribute (``steps``); 0 when it is not a whole number."""
    try:
        out = float(np.asarray(value).item())
    except (TypeError, ValueError):
        return 0
    return int(out) if math.isfinite(out) and out == int(out) else 0


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def _figures(ds: Any) -> list[FigureRef]:
    out = [
        figure(
            "ratio_vs_beta",
            "E[K²]/E[K]² of the on-diagonal NTK against β = Σ 1/n_l with bootstrap intervals "
            "(colour: depth, marker: width) and Hanin–Nica's exp(5β).",
        ),
        figure(
            "first_step_vs_beta",
            "Size of the relative change |E[ΔK]/E[K]| after one gradient step on x0 (per unit "
            "η·Θ(x0, x0)) against β on a log axis, with bootstrap intervals (filled markers: "
            "the change is positive, open: negative; an interval containing 0 runs to the "
            "floor), and the Hanin–Nica scaling (dβ/n0)·exp(5β) (black bars).",
        ),
        figure(
            "fluctuation_profiles",
            "Profiles K(x0, x(γ)) of the finite networks: median and 10–90 % band over seeds "
            "per width, one panel per depth.",
        ),
    ]
    if "training_kernel_drift" in ds and np.isfinite(ds["training_kernel_drift"].values).any():
        out.append(
            figure(
                "drift_vs_beta",
                "Kernel drift ‖K_T − K_0‖_F/‖K_0‖_F after training against β (median and IQR "
                "over seeds).",
            )
        )
    return out


def fluctuation_report(ds: Any, source: Any = None) -> FluctuationReport:
    """The fluctuation report of a ``fluctuation`` run (a pure function of the Dataset).

    Parameters
    ----------
    ds : xarray.Dataset
        A validated fluctuation run.
    source : str or path, optional
        The run's file name.

    Returns
    -------
    FluctuationReport
    """
    from scipy.stats import spearmanr

    depths = ds["depth"].values.astype(int)
    widths = ds["width"].values.astype(int)
    steps = _int_attr(ds.attrs.get("steps", 0))
    drift = ds["training_kernel_drift"].values if "training_kernel_drift" in ds else None
    if "ntk_profile_relative_spread" in ds:
        spread = ds["ntk_profile_relative_spread"].values
    else:
        prof = ds["ntk_empirical_profile"].values
        with quiet():
            spread = prof.std(axis=2, ddof=1) / np.abs(prof.mean(axis=2))
    cells = []
    for i, depth in enumerate(depths):
        for j, width in enumerate(widths):
            beta = float(ds["beta"].values[i, j])
            ratio = _get(ds, "normalized_second_moment", i, j)
            d_stat = None
            if drift is not None and np.isfinite(drift[i, j]).any():
                d_stat = seed_stat(drift[i, j])
            with quiet():
                spread_ij = num(np.nanmedian(spread[i, j]))
            cells.append(
                DepthFluctuation(
                    depth=int(depth),
                    width=int(width),
                    beta=beta,
                    seeds=int(ds.sizes["seed"]),
                    ntk_diagonal_mean=_get(ds, "ntk_diagonal_mean", i, j),
                    ntk_diagonal_mean_stderr=_get(ds, "ntk_diagonal_mean_stderr", i, j),
                    exact_ntk_diagonal_mean=_get(ds, "exact_ntk_diagonal_mean", i, j),
                    analytic_ntk_diagonal=_get(ds, "analytic_ntk_diagonal", i, j),
                    ratio=ratio,
                    ratio_low=_get(ds, "normalized_second_moment_low", i, j),
                    ratio_high=_get(ds, "normalized_second_moment_high", i, j),
                    exp_5beta=_get(ds, "hanin_nica_second_moment", i, j),
                    small_beta_log_ratio=_get(ds, "small_beta_log_second_moment", i, j),
                    log_ratio_over_beta=num(math.log(ratio) / beta)
                    if ratio is not None and ratio > 0 and beta > 0
                    else None,
                    profile_spread=spread_ij,
                    first_step_change=_get(ds, "first_step_relative_change", i, j),
                    first_step_change_low=_get(ds, "first_step_relative_change_low", i, j),
                    first_step_change_high=_get(ds, "first_step_relative_change_high", i, j),
                    first_step_prediction=_get(ds, "first_step_prediction", i, j),
                    drift=d_stat,
                )
            )
    usable = [x for x in cells if x.ratio is not None and x.ratio > 0 and x.beta > 0]
    c = None
    if usable:
        b = np.array([x.beta for x in usable])
        y = np.log([x.ratio for x in usable])  # type: ignore[arg-type]
        c = num(float(b @ y / (b @ b)))  # least squares through the origin
    covered = sum(
        x.ratio_low is not None
        and x.ratio_high is not None
        and x.exp_5beta is not None
        and x.ratio_low <= x.exp_5beta <= x.ratio_high
        for x in cells
    )
    with_drift = [x for x in cells if x.drift is not None and x.drift.median is not None]
    rho = None
    if len(with_drift) >= 2 and len({x.beta for x in with_drift}) >= 2:
        rho = num(
            spearmanr([x.beta for x in with_drift], [x.drift.median for x in with_drift]).statistic  # type: ignore[union-attr]
        )
    return FluctuationReport(
        title=(
            f"NTK fluctuations at finite depth and width: depths {', '.join(map(str, depths))}, "
            f"widths {', '.join(map(str, widths))}, {ds.sizes['seed']} seeds"
        ),
        provenance=provenance(ds, source),
        verdicts=_verdicts(cells, c, covered, rho, steps),
        figures=_figures(ds),
        steps=steps,
        cells=cells,
        fitted_coefficient=c,
        covered=covered,
        drift_beta_spearman=rho,
    )
