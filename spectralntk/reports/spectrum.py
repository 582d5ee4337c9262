r"""The spectrum report of a ``decompose`` run (analytic or empirical kernels).

Per depth and kernel (NTK, NNGP): the eigenvalues λ_k on S¹ (those below
:data:`~spectralntk.spectral.decomposition.ZERO_TOLERANCE`·λ_max reported as 0), the
trace k(0), the cumulative share of the trace, the power-law fit λ_k ≈ C·k^−p
(:func:`spectralntk.spectral.decomposition.decay_fit` of the stored eigenvalues, over the
analytic run's stored fit range or [⌈K/4⌉, K]: over the non-vanishing parity and above the
float64 floor, and none for a smooth activation, with the reason) and the smallest
frequency holding 90 % of the trace. For an
empirical run, per (depth, width): the relative Frobenius distance of the empirical to
the analytic Gram, the relative error of the empirical Rayleigh quotients against the
aliased grid eigenvalues μ_k/N and the energy leaked to other frequencies (median over
k ≤ 16, then median and IQR over seeds), and the exponent q of distance ≈ n^−q across
widths (fluctuations of a width-n kernel shrink like n^−1/2; Jacot et al. 2018, Hanin &
Nica 2019).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from spectralntk.reports._common import figure, provenance, quiet, seed_stat
from spectralntk.reports.models import (
    FigureRef,
    KernelSpectrum,
    SpectrumReport,
    WidthDistance,
    num,
)

__all__ = ["LOW_FREQUENCIES", "spectrum_report"]

#: Frequencies k ≤ this summarise the empirical spectra (where the kernels carry weight).
LOW_FREQUENCIES = 16
KERNELS: tuple[Literal["ntk"], Literal["nngp"]] = ("ntk", "nngp")
_LABEL = {"ntk": "NTK", "nngp": "NNGP"}


def _trace(ds: Any, kernel: str) -> Any:
    """k(0) per depth: the profile at angle 0 when the grid has it, else λ_0/share_0."""
    angle = ds["angle"].values
    if angle.size and abs(angle[0]) < 1e-15:
        return ds[f"{kernel}_profile"].values[:, 0]
    lam = ds[f"{kernel}_eigenvalue"].values
    if f"{kernel}_cumulative_share" not in ds:  # Mercer: k(0) = λ_0 + 2·Σ_{k≥1} λ_k
        return lam[:, 0] + 2.0 * lam[:, 1:].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return lam[:, 0] / ds[f"{kernel}_cumulative_share"].values[:, 0]


def _stored_fit_range(ds: Any, kernel: str) -> tuple[int, int] | None:
    """The fit range in the attributes of ``{kernel}_decay_exponent``; None if absent."""
    attrs = ds[f"{kernel}_decay_exponent"].attrs
    if "fit_min_frequency" not in attrs or "fit_max_frequency" not in attrs:
        return None
    return int(attrs["fit_min_frequency"]), int(attrs["fit_max_frequency"])


def _zero_tolerance(ds: Any) -> float:
    """The run's zero tolerance (attribute of ``ntk_eigenvalue``; the library's if absent)."""
    from spectralntk.spectral.decomposition import ZERO_TOLERANCE

    value = ds["ntk_eigenvalue"].attrs.get("zero_tolerance", ZERO_TOLERANCE)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return ZERO_TOLERANCE
    return value if 0.0 <= value < 1.0 else ZERO_TOLERANCE


def _kernels(ds: Any, empirical: bool, omitted: list[str]) -> list[KernelSpectrum]:
    from spectralntk.spectral.decomposition import (
        cumulative_share,
        decay_fit,
        ratio_reference,
        zero_small,
    )
    from spectralntk.store.schema import read_config

    out = []
    freqs = ds["frequency"].values.astype(int).tolist()
    network = read_config(ds).get("network")
    activation = network.get("activation") if isinstance(network, dict) else None
    if not isinstance(activation, str):
        omitted.append(
            "the activation of the run's configuration (missing or not text): the decay "
            "is fitted as a power law, as for ReLU"
        )
        activation = "relu"
    tolerance = _zero_tolerance(ds)
    for kernel in KERNELS:
        lam = zero_small(ds[f"{kernel}_eigenvalue"].values, tolerance)
        grid = ds[f"{kernel}_grid_eigenvalue"].values if empirical else None
        trace = _trace(ds, kernel)
        share = cumulative_share(lam, trace)
        rng = None if empirical else _stored_fit_range(ds, kernel)
        if not empirical and rng is None:
            omitted.append(
                f"the stored {_LABEL[kernel]} power-law fit range (its attributes are "
                "missing): refitted over [K/4, K]"
            )
        for i, depth in enumerate(ds["depth"].values.astype(int)):
            # refitted from the stored λ_k, so that older files (fitted with a floor that
            # dropped one parity, or fitted to noise) report the same as new ones
            fit = decay_fit(lam[i], rng, activation=activation, depth=int(depth))
            reach = np.nonzero(share[i] >= 0.9)[0]
            ref, label = ratio_reference(lam[i], tolerance)
            with np.errstate(invalid="ignore", divide="ignore"):
                ratios = lam[i] / ref if ref > 0 else np.full_like(lam[i], np.nan)
            out.append(
                KernelSpectrum(
                    kernel=kernel,
                    depth=int(depth),
                    jacot_layers=int(depth) + 1,
                    trace=num(trace[i]),
                    frequencies=freqs,
                    eigenvalues=[num(v) for v in lam[i]],
                    cumulative_share=[num(v) for v in share[i]],
                    ratio_reference="lambda_0" if label == "λ_0" else "lambda_max",
                    ratios=[num(v) for v in ratios],
                    grid_eigenvalues=None if grid is None else [num(v) for v in grid[i]],
                    decay_exponent=num(fit.exponent),
                    decay_prefactor=num(fit.prefactor),
                    fit_range=(fit.k_min, fit.k_max),
                    frequency_for_90_percent=int(freqs[reach[0]]) if reach.size else None,
                    decay_fit=fit.describe(),
                )
            )
    return out


def _widths(ds: Any) -> tuple[list[WidthDistance], dict[str, float | None]]:
    rows: list[WidthDistance] = []
    exponents: dict[str, float | None] = {}
    widths = ds["width"].values.astype(int)
    f_low = min(LOW_FREQUENCIES, ds.sizes["frequency"] - 1)
    for kernel in KERNELS:
        mu = ds[f"{kernel}_grid_eigenvalue"].values[:, : f_low + 1]  # (D, F)
        ray = ds[f"{kernel}_empirical_rayleigh"].values[..., : f_low + 1]  # (D, W, S, F)
        leak = ds[f"{kernel}_empirical_leakage"].values[..., : f_low + 1]
        dist = ds[f"{kernel}_relative_distance"].values  # (D, W, S)
        rayleigh = ds[f"{kernel}_empirical_rayleigh"].values  # (D, W, S, F), every k
        with quiet():  # (D, W, S): the largest eigenvalue of K/N
            largest = np.nanmax(ds[f"{kernel}_empirical_eigenvalue"].values, axis=-1)
        for i, depth in enumerate(ds["depth"].values.astype(int)):
            keep = mu[i] > 1e-12 * abs(mu[i, 0])  # exact zeros (odd modes) are left out
            with np.errstate(invalid="ignore", divide="ignore"):
                rel = np.abs(ray[i][..., keep] - mu[i, keep]) / mu[i, keep]
            medians = []
            for j, width in enumerate(widths):
                per_seed = rayleigh[i, j]  # (S, F)
                with quiet():
                    mean = np.mean(per_seed, axis=0)
                    sd = (
                        np.std(per_seed, axis=0, ddof=1)
                        if per_seed.shape[0] > 1
                        else np.zeros_like(mean)
                    )
                rows.append(
                    WidthDistance(
                        depth=int(depth),
                        width=int(width),
                        seeds=int(ds.sizes["seed"]),
                        kernel=kernel,
                        relative_distance=seed_stat(dist[i, j]),
                        rayleigh_relative_error=seed_stat(np.median(rel[j], axis=-1)),
                        leakage=seed_stat(np.median(leak[i, j][..., keep], axis=-1)),
                        largest_eigenvalue=seed_stat(largest[i, j]),
                        rayleigh_mean=[num(v) for v in mean],
                        rayleigh_sd=[num(v) for v in sd],
                    )
                )
                medians.append(np.median(dist[i, j]))
            med = np.asarray(medians)
            usable = np.all(np.isfinite(med) & (med > 0)) and np.all(widths > 0)
            if len(set(widths.tolist())) >= 2 and usable:
                slope = np.polyfit(np.log(widths), np.log(med), 1)[0]
                exponents[f"{kernel} depth {depth}"] = num(-slope)
            else:
                exponents[f"{kernel} depth {depth}"] = None
    return rows, exponents


def _verdicts(
    kernels: list[KernelSpectrum],
    widths: list[WidthDistance],
    exponents: dict[str, float | None],
) -> list[str]:
    out = []
    for ntk in (k for k in kernels if k.kernel == "ntk"):
        nngp = next(k for k in kernels if k.kernel == "nngp" and k.depth == ntk.depth)

        def slope(k: KernelSpectrum) -> str:
            label = _LABEL[k.kernel]
            if k.decay_exponent is None:
                why = (k.decay_fit or "").removeprefix("no power law: ")
                return f"{label}: no power law" + (f" ({why})" if why else "")
            return f"{label} λ_k ∝ k^{-k.decay_exponent:.2f}"

        lo, hi = ntk.fit_range
        fitted = ntk.decay_exponent is not None or nngp.decay_exponent is not None
        out.append(
            f"depth {ntk.depth} (L = {ntk.jacot_layers}): {slope(ntk)}, {slope(nngp)}"
            + (f" (log-log fit over {lo} ≤ k ≤ {hi})" if fitted else "")
            + f"; 90 % of the trace k(0) lies in k ≤ {ntk.frequency_for_90_percent} for the "
            f"NTK and k ≤ {nngp.frequency_for_90_percent} for the NNGP."
        )
    for key, q in exponents.items():
        kernel, _, depth = key.split()
        rows = [w for w in widths if w.kernel == kernel and w.depth == int(depth)]
        values = ", ".join(
            f"{w.relative_distance.median:.3g} (n = {w.width})"
            for w in rows
            if w.relative_distance.median is not None
        )
        law = "" if q is None else f"; across widths it falls like n^-{q:.2f} (n^-0.5 expected)"
        out.append(
            f"depth {depth} {_LABEL[kernel]}: ‖K − K_∞‖_F/‖K_∞‖_F (median over seeds) "
            f"{values}{law}."
        )
        ray = ", ".join(
            f"{w.rayleigh_relative_error.median:.3g} (n = {w.width})"
            for w in rows
            if w.rayleigh_relative_error.median is not None
        )
        out.append(
            f"depth {depth} {_LABEL[kernel]}: relative error of the empirical Rayleigh "
            f"quotients against μ_k/N (median over k ≤ {LOW_FREQUENCIES}, then over seeds) "
            f"{ray}."
        )
    return out


def _figures(empirical: bool) -> list[FigureRef]:
    out = [
        figure(
            "spectrum",
            "Eigenvalues λ_k of the NTK and NNGP on the circle (log-log) per depth, with the "
            "fitted power law"
            + (
                " and the empirical Rayleigh quotients per width (median and 10–90 % band "
                "over seeds)."
                if empirical
                else "."
            ),
        ),
        figure(
            "kernel_profiles",
            "Kernel profiles K(x0, x(γ)) per depth"
            + (
                ": analytic, and the empirical NTK per width (median and 10–90 % band over "
                "seeds; Jacot et al. 2018, Fig. 1)."
                if empirical
                else "."
            ),
        ),
    ]
    if empirical:
        out.append(
            figure(
                "distance_vs_width",
                "Relative Frobenius distance of the empirical to the analytic Gram matrix "
                "against width (median and IQR over seeds), with an n^-1/2 reference.",
            )
        )
    return out


def spectrum_report(ds: Any, source: Any = None) -> SpectrumReport:
    """The spectrum report of a ``spectrum`` or ``empirical_spectrum`` run (pure).

    Parameters
    ----------
    ds : xarray.Dataset
        A validated run of either type.
    source : str or path, optional
        The run's file name.

    Returns
    -------
    SpectrumReport
    """
    from spectralntk.store import schema

    empirical = ds.attrs[schema.ATTR_RUN_TYPE] == schema.EMPIRICAL_SPECTRUM
    omitted: list[str] = []
    kernels = _kernels(ds, empirical, omitted)
    widths, exponents = _widths(ds) if empirical else ([], {})
    depths = ", ".join(map(str, ds["depth"].values.astype(int)))
    kind = "empirical and analytic" if empirical else "analytic"
    return SpectrumReport(
        title=f"NTK and NNGP spectra on the circle ({kind}), depth {depths}",
        provenance=provenance(ds, source),
        verdicts=_verdicts(kernels, widths, exponents),
        figures=_figures(empirical),
        empirical=empirical,
        kernels=kernels,
        zero_tolerance=_zero_tolerance(ds),
        widths=widths,
        distance_width_exponent=exponents,
        omitted=omitted,
    )
