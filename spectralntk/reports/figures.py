"""Figures of the reports (seaborn style on matplotlib's Agg canvas), PNG and SVG.

Each figure a report lists (:class:`~spectralntk.reports.models.FigureRef`) is drawn by
the function of the same name here from the report and the run Dataset it was built from.
Figures are drawn on :class:`matplotlib.figure.Figure` objects with an Agg canvas (no
pyplot, no global backend switch) and saved deterministically: no dates or software
versions in the metadata, a fixed SVG hash salt, so the same run gives the same bytes. PNGs
are re-encoded with a 256-colour palette (Pillow) to keep committed reports small.
Axis labels come from the variables' ``long_name`` and ``units``.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spectralntk.reports._common import quiet

__all__ = [
    "DPI",
    "FIGURES",
    "LABELS",
    "PAGE_WIDTH",
    "axis_label",
    "draw_available_figures",
    "draw_figures",
    "legend_outside",
]

FloatArray = NDArray[np.float64]

#: Resolution of the PNG files (print quality; the palette re-encoding keeps them small).
DPI = 200
#: Widest figure, inches: a two-column paper's text width. At this size, printed 1:1,
#: the 8-point labels and 7-point ticks read as the paper's own small print.
PAGE_WIDTH = 7.0
#: Most panels side by side before a figure wraps onto another row.
MAX_COLUMNS = 4
_RC: dict[str, Any] = {
    "svg.hashsalt": "spectralntk",
    "svg.fonttype": "none",
    "path.simplify": True,
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "legend.frameon": False,
    "figure.constrained_layout.h_pad": 0.04,
    "figure.constrained_layout.w_pad": 0.04,
}
_PNG_META = {"Software": None}
_SVG_META = {"Date": None, "Creator": None}

#: Axis labels in the notation of the legends and the reports (the run files' ``long_name``
#: attributes are ASCII for CF tools; a figure speaks the papers' notation).
LABELS: dict[str, str] = {
    "frequency": "frequency k",
    "step": "gradient-descent step t",
    "angle": "angle γ",
    "width": "width n",
    "beta": "β = Σ_l 1/n_l",
    "empirical_ntk_profile": "Θ(x₀, x(γ))",
    "empirical_ntk_rayleigh": "Rayleigh quotient of Θ at frequency k, / N",
    "relative_error": "RelErr to the NTK predictor",
    "eval_prediction": "output f(x(γ))",
    "normalized_second_moment": "E[K²]/E[K]² of K(x, x)",
    "first_step_relative_change": "|E[ΔK]/E[K]| of K(x₀, x₀) per unit ηΘ(x₀, x₀)",
    "training_kernel_drift": "kernel drift ‖K_T − K_0‖/‖K_0‖",
    "ntk_empirical_profile": "K(x₀, x(γ))",
    "ntk_eigenvalue": "NTK eigenvalue λ_k",
    "nngp_eigenvalue": "NNGP eigenvalue λ_k",
    "ntk_profile": "NTK Θ(x₀, x(γ))",
    "nngp_profile": "NNGP Σ(x₀, x(γ))",
    "ntk_relative_distance": "‖K − K_∞‖/‖K_∞‖",
}


def axis_label(ds: Any, name: str, fallback: str | None = None, width: int = 44) -> str:
    """Axis label of variable ``name``: :data:`LABELS` (the papers' notation) or its
    ``long_name``, with ``[units]`` unless they are ``"1"``, wrapped at ``width``."""
    if name in LABELS:
        text = LABELS[name]
    elif name in ds.variables:
        text = str(ds[name].attrs.get("long_name", fallback or name))
    else:
        return fallback or name
    units = str(ds[name].attrs.get("units", "1")) if name in ds.variables else "1"
    if units == "radian":
        units = "rad"
    return textwrap.fill(text if units == "1" else f"{text} [{units}]", width)


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib as mpl
    import seaborn as sns

    with mpl.rc_context(), sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        mpl.rcParams.update(_RC)  # type: ignore[arg-type]
        yield


def _figure(nrows: int, ncols: int, width: float, height: float) -> tuple[Any, Any]:
    """A figure of nrows × ncols panels of ``width`` × ``height`` inches, at most
    :data:`PAGE_WIDTH` wide (the panels shrink to fit)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    total = min(width * ncols, PAGE_WIDTH)
    scale = max(total / (width * ncols), 0.75)  # narrower panels: a little lower too
    fig = Figure(figsize=(total, height * nrows * scale), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _panels(count: int, width: float, height: float) -> tuple[Any, list[Any]]:
    """``count`` panels in rows of at most :data:`MAX_COLUMNS`; unused cells hidden."""
    ncols = max(1, min(MAX_COLUMNS, count))
    nrows = max(1, math.ceil(count / ncols))
    fig, axes = _figure(nrows, ncols, width, height)
    flat = list(axes.ravel())
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


def legend_outside(fig: Any, axes: Any, where: str = "right", **kw: Any) -> Any:
    """One legend of the labelled artists of ``axes`` (deduplicated), outside the panels:
    ``right`` of them or ``below`` them, so it never covers data."""
    seen: dict[str, Any] = {}
    for ax in np.ravel(np.asarray(axes, dtype=object)):
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if not label.startswith("_"):
                seen.setdefault(label, handle)
    if not seen:
        return None
    if where == "below":
        ncols = kw.pop("ncols", min(4, len(seen)))
        return fig.legend(
            list(seen.values()), list(seen), loc="outside lower center", ncols=ncols, **kw
        )
    return fig.legend(list(seen.values()), list(seen), loc="outside right upper", **kw)


def _palette(n: int) -> list[Any]:
    import seaborn as sns

    return list(sns.color_palette("viridis", max(n, 1)))


def _wrap(angle: FloatArray, *values: FloatArray) -> tuple[FloatArray, ...]:
    """Angles moved to [−π, π) and sorted, with ``values`` (last axis) reordered alike."""
    wrapped = np.mod(angle + np.pi, 2 * np.pi) - np.pi
    order = np.argsort(wrapped, kind="stable")
    return (wrapped[order], *(v[..., order] for v in values))


def step_label(value: float, _pos: Any = None) -> str:
    """A step count for a tick: "20,000" below 10⁵, "100k", "1M", "2.5M" from there (a panel
    of a grid has room for a few characters only)."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:g}M"
    if abs(value) >= 1e5:
        return f"{value / 1e3:g}k"
    return f"{value:,.0f}"


def _step_axis(axis: Any, bins: int = 4) -> None:
    """Steps as plain integers with thousands separators, at most ``bins`` + 1 ticks
    (no '1e4' offset text to collide with the label)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axis.set_major_locator(MaxNLocator(bins, integer=True, steps=[1, 2, 3, 5, 10]))
    axis.set_major_formatter(FuncFormatter(step_label))


def _outer_labels(fig: Any, axes: list[Any], xlabel: str, ylabel: str) -> None:
    """One x and one y label for a grid of panels (none repeated, none colliding)."""
    if len(axes) == 1:
        axes[0].set_xlabel(xlabel)
        axes[0].set_ylabel(ylabel)
        return
    fig.supxlabel(xlabel, fontsize=8)
    fig.supylabel(ylabel, fontsize=8)


def _angle_ticks(ax: Any) -> None:
    """Ticks at −π, −π/2, 0, π/2, π on an angle axis."""
    ax.set_xticks([-np.pi, -np.pi / 2, 0, np.pi / 2, np.pi], ["−π", "−π/2", "0", "π/2", "π"])


def _band(ax: Any, x: FloatArray, values: FloatArray, color: Any, label: str, **kw: Any) -> None:
    """Median line and 10–90 % band of ``values`` (seeds, len(x)) over the seed axis."""
    v = np.where(np.isfinite(values), values, np.nan)
    if not np.isfinite(v).any():
        return
    with np.errstate(invalid="ignore"), quiet():
        lo, med, hi = np.nanquantile(v, [0.1, 0.5, 0.9], axis=0)
    ax.plot(x, med, color=color, label=label, **kw)
    ax.fill_between(x, lo, hi, color=color, alpha=0.2, linewidth=0)


# --------------------------------------------------------------------------
# convergence report
# --------------------------------------------------------------------------
def _target_columns(report: Any) -> list[int]:
    return sorted({r.frequency for r in report.rows})


def _live(report: Any) -> list[tuple[int, int]]:
    """(index, width) of the widths with a seed that did not diverge."""
    return [(j, w.width) for j, w in enumerate(report.widths) if w.diverged_seeds < w.seeds]


def _edges(centres: NDArray[Any]) -> FloatArray:
    """Cell edges around increasing ``centres``: midpoints, the ends mirrored."""
    c = np.asarray(centres, dtype=np.float64)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def residual_heatmap(report: Any, ds: Any) -> Any:
    """Rahaman et al. (2019) Fig. 1: frequency × step, colour = share of the mode left."""
    import seaborn as sns

    from spectralntk.reports.training_modes import mode_fractions

    ks = _target_columns(report)
    frac = mode_fractions(ds)[..., ks]  # (W, S, T, K)
    steps = ds["step"].values
    live = _live(report)
    fig, axes = _panels(len(live), 1.9 + 0.12 * len(ks), 2.2)
    cmap = sns.color_palette("rocket", as_cmap=True)
    mesh = None
    ncols = min(MAX_COLUMNS, len(live))
    for i, (j, width) in enumerate(live):
        ax = axes[i]
        with quiet():
            share = np.clip(np.nanmedian(frac[j], axis=0), 0.0, 1.0)  # (T, K)
        mesh = ax.pcolormesh(
            np.arange(len(ks) + 1) - 0.5, _edges(steps), share, cmap=cmap, vmin=0, vmax=1
        )
        ax.set_ylim(steps[0], steps[-1])
        ax.set_xticks(np.arange(len(ks)), [str(k) for k in ks])
        _step_axis(ax.yaxis)
        ax.set_title(f"n = {width}")
        ax.grid(False)
        if i % ncols:
            ax.tick_params(labelleft=False)
    _outer_labels(fig, axes, axis_label(ds, "frequency"), axis_label(ds, "step"))
    if mesh is not None:
        fig.colorbar(mesh, ax=axes, label="share of the mode left", shrink=0.9)
    return fig


def mode_decay(report: Any, ds: Any) -> Any:
    """Measured mode curves per width against the discrete and flow predictions."""
    from matplotlib.lines import Line2D

    from spectralntk.reports.training_modes import mode_fractions

    ks = _target_columns(report)
    steps = ds["step"].values
    measured = mode_fractions(ds)
    predicted = mode_fractions(ds, "predicted_residual")
    flow = (
        mode_fractions(ds, "flow_residual")
        if "flow_residual_cos" in ds and "flow_residual_sin" in ds
        else None
    )
    live = _live(report)
    fig, axes = _panels(len(ks), 2.6 if len(ks) > 2 else 3.2, 2.0 if len(ks) > 2 else 2.4)
    colors = _palette(len(report.widths))
    for i, k in enumerate(ks):
        ax = axes[i]
        for j, width in live:
            v = measured[j, :, :, k]
            with quiet():
                q25, med, q75 = np.nanquantile(v, [0.25, 0.5, 0.75], axis=0)
                pred = np.nanmedian(predicted[j, :, :, k], axis=0)
            ax.plot(steps, med, color=colors[j], label=f"n = {width}")
            ax.fill_between(steps, q25, q75, color=colors[j], alpha=0.2, linewidth=0)
            ax.plot(steps, pred, color=colors[j], linestyle="--", linewidth=0.9)
            if flow is not None:
                with quiet():
                    fl = np.nanmedian(flow[j, :, :, k], axis=0)
                ax.plot(steps, fl, color=colors[j], linestyle=":", linewidth=0.9)
        ax.axhline(0.1, color="0.5", linewidth=0.6)
        ax.set_yscale("log")
        live_idx = [j for j, _ in live]
        with quiet():
            sel = measured[live_idx][:, :, :, k]
            low = np.nanmin(sel) if np.isfinite(sel).any() else 1
        ax.set_ylim(min(max(low / 2, 1e-3), 0.05), 2.0)
        ax.set_title(f"k = {k}")
        _step_axis(ax.xaxis, 2)
    _outer_labels(fig, axes, axis_label(ds, "step"), "mode amplitude / start")
    handles = [Line2D([], [], color=colors[j], label=f"n = {w}") for j, w in live]
    handles += [
        Line2D([], [], color="0.3", label="measured (median, IQR)"),
        Line2D([], [], color="0.3", linestyle="--", label="predicted (1 − cηK)^t"),
    ]
    if flow is not None:
        handles.append(Line2D([], [], color="0.3", linestyle=":", label="gradient flow"))
    handles.append(Line2D([], [], color="0.5", linewidth=0.6, label="10 % of the start"))
    fig.legend(handles=handles, loc="outside right upper")
    return fig


def steps_to_converge(report: Any, ds: Any) -> Any:
    """Steps to 10 % against k on log-log axes, with the k² reference; the modes not
    reached sit on a marked row above every plotted value."""
    from matplotlib.ticker import NullFormatter

    fig, axes = _figure(1, 1, 5.0, 3.0)
    ax = axes[0, 0]
    live = _live(report)
    colors = _palette(len(report.widths))
    ks_all = _target_columns(report)
    first = [r for r in report.rows if r.width == (live[0][1] if live else report.widths[0].width)]
    pk = np.array([r.frequency for r in first if r.predicted_steps_discrete is not None])
    pv = np.array(
        [r.predicted_steps_discrete for r in first if r.predicted_steps_discrete is not None]
    )
    # the run's own kernel prediction (each seed's r₀ through (I − cηK)^t): on inputs off
    # the grid the modes mix and it can differ much from the closed form; shown where it does
    ck = np.array([r.frequency for r in first if r.predicted_steps_curve is not None])
    cv = np.array([r.predicted_steps_curve for r in first if r.predicted_steps_curve is not None])
    closed = dict(zip(pk.tolist(), pv.tolist(), strict=True))
    differs = any(abs(v - closed.get(k, v)) > 0.05 * v for k, v in zip(ck, cv, strict=True))
    if not differs:
        ck, cv = ck[:0], cv[:0]
    k_ref = np.array(ks_all, dtype=float)
    ref = pv[0] * (k_ref / pk[0]) ** 2 if pk.size else np.array([])
    # every plotted value first, so the 'not reached' row goes above all of them
    plotted = [float(report.steps), *map(float, cv)]
    for _, width in live:
        for r in report.rows:
            if r.width == width:
                plotted += [
                    v for v in (r.measured_steps.median, r.measured_steps.q75) if v is not None
                ]
    plotted += [float(v) for v in pv] + [float(v) for v in ref]
    top = max(plotted) * 2.0
    for n, (j, width) in enumerate(live):
        rows = [r for r in report.rows if r.width == width]
        shift = 1.0 + 0.03 * (n - (len(live) - 1) / 2)  # dodge the widths
        ks = np.array([r.frequency for r in rows], dtype=float) * shift
        med = np.array(
            [np.nan if r.measured_steps.median is None else r.measured_steps.median for r in rows]
        )
        lo = np.array(
            [np.nan if r.measured_steps.q25 is None else r.measured_steps.q25 for r in rows]
        )
        hi = np.array([top if r.measured_steps.q75 is None else r.measured_steps.q75 for r in rows])
        ok = np.isfinite(med)
        if ok.any():
            ax.errorbar(
                ks[ok],
                med[ok],
                yerr=[med[ok] - np.nan_to_num(lo[ok], nan=med[ok]), hi[ok] - med[ok]],
                fmt="o",
                color=colors[j],
                label=f"measured, n = {width}",
                markersize=4,
                capsize=2,
            )
        if (~ok).any():
            ax.plot(
                ks[~ok],
                np.full((~ok).sum(), top),
                "^",
                color=colors[j],
                markersize=5,
                linestyle="none",
                label=f"not reached by step {report.steps:,}, n = {width}",
            )
    if pk.size:
        ax.plot(
            pk,
            pv,
            "s--",
            color="black",
            markersize=3,
            linewidth=0.9,
            label="predicted (1 − cημ_k)^t",
        )
        if ck.size:
            ax.plot(
                ck,
                cv,
                "s:",
                color="0.35",
                markerfacecolor="none",
                markersize=3,
                linewidth=0.9,
                label="predicted, run's own (I − cηK)^t r₀",
            )
        if len(set(np.asarray(k_ref).tolist())) > 1:  # one frequency: no slope to show
            ax.plot(k_ref, ref, color="0.6", linewidth=0.9, label="k² reference")
    ax.axhline(
        report.steps, color="0.4", linewidth=0.6, linestyle=":", label=f"T = {report.steps:,}"
    )
    if any(r.measured_steps.median is None for r in report.rows if r.width in {w for _, w in live}):
        ax.axhspan(top / 1.35, top * 1.35, color="0.93", zorder=0)
        ax.text(
            0.01,
            top * 1.45,
            f"not reached by step {report.steps:,}",
            transform=ax.get_yaxis_transform(),
            fontsize=7,
            color="0.3",
            va="bottom",
        )
    else:
        top = max(plotted) / 1.5
    ax.set_xlim(min(ks_all) / 1.4, max(ks_all) * 1.4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(top=top * 3.5)
    ax.set_xticks(ks_all, [str(k) for k in ks_all])  # the target frequencies themselves
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(axis_label(ds, "frequency"))
    ax.set_ylabel(f"steps until the mode stays at ≤ {report.fraction:g} of its start")
    legend_outside(fig, ax)
    return fig


def _power_law(ax: Any, lam: FloatArray, color: Any = "0.3") -> str:
    """Draw the fitted power law; return ``k^-p`` for the panel's title ('' if none)."""
    from spectralntk.spectral.decomposition import fit_power_law

    fit = fit_power_law(lam)
    if not math.isfinite(fit.exponent):
        return ""
    k = np.arange(max(1, fit.k_min), fit.k_max + 1, dtype=float)
    ax.plot(
        k,
        fit.prefactor * k**-fit.exponent,
        linestyle="--",
        color=color,
        linewidth=0.9,
        label="power-law fit",
    )
    return f"λ_k ∝ k^-{fit.exponent:.2f}"


def _loglog(ax: Any, k: FloatArray, values: FloatArray, **kw: Any) -> None:
    v = np.where(values > 0, values, np.nan)
    ax.plot(k, v, **kw)


def ntk_spectrum(report: Any, ds: Any) -> Any:
    """Analytic λ_k with its fit, and empirical Rayleigh quotients at step 0 and T."""
    from spectralntk.reports.training_modes import analytic_eigenvalues, train_eigenvalues

    k_max = ds.sizes["frequency"] - 1
    lam = analytic_eigenvalues(ds, k_max)[0]
    same_points = train_eigenvalues(ds)[0] / ds.sizes["sample"]
    k = np.arange(1, k_max + 1, dtype=float)
    ray = ds["empirical_ntk_rayleigh"].values  # (W, S, C, F)
    checkpoints = ds["checkpoint"].values
    fig, axes = _figure(1, 2, 2.6, 2.6)
    colors = _palette(len(report.widths))
    diverged = ds["diverged"].values.astype(bool)
    for col, (c, when) in enumerate(((0, "step 0"), (-1, f"step {checkpoints[-1]:,}"))):
        ax = axes[0, col]
        _loglog(ax, k, lam[1:], color="black", linewidth=1.4, label="analytic λ_k")
        _loglog(
            ax,
            k,
            same_points[1:],
            color="black",
            linestyle=":",
            linewidth=1.0,
            label="analytic Gram, same points",
        )
        _power_law(ax, lam)
        for j, width in _live(report):
            values = ray[j, ~diverged[j], c, 1:]
            _band(
                ax,
                k,
                np.where(values > 0, values, np.nan),
                colors[j],
                f"n = {width}",
                linewidth=0.9,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(when)
        ax.set_xlabel(axis_label(ds, "frequency"))
        if col == 0:
            ax.set_ylabel(axis_label(ds, "empirical_ntk_rayleigh", width=30))
    legend_outside(fig, axes[0])
    return fig


def kernel_profiles(report: Any, ds: Any) -> Any:
    """Profiles Θ(x0, x(γ)) (Jacot et al. 2018, Fig. 1): analytic and per-width seed bands."""
    if report.report_type == "spectrum":
        return _spectrum_profiles(report, ds)
    from spectralntk.kernels.circle import circle_kernel
    from spectralntk.reports.training_modes import _config
    from spectralntk.runs.training import network_at_width

    cfg = _config(ds)
    angle = ds["angle"].values
    prof = ds["empirical_ntk_profile"].values  # (W, S, C, M)
    analytic = circle_kernel(network_at_width(cfg, cfg.widths[0]), angle).ntk
    x, prof, analytic = _wrap(angle, prof, analytic)
    fig, axes = _figure(1, 1, 5.0, 3.0)
    ax = axes[0, 0]
    colors = _palette(len(report.widths))
    diverged = ds["diverged"].values.astype(bool)
    last = ds["checkpoint"].values[-1]
    ax.plot(x, analytic, color="black", linewidth=1.4, label="analytic Θ (n → ∞)")
    for j, width in _live(report):
        ok = ~diverged[j]
        _band(ax, x, prof[j, ok, 0], colors[j], f"n = {width}, step 0", linewidth=1.0)
        _band(
            ax,
            x,
            prof[j, ok, -1],
            colors[j],
            f"n = {width}, step {last:,}",
            linewidth=1.0,
            linestyle="--",
        )
    ax.set_xlabel(axis_label(ds, "angle"))
    _angle_ticks(ax)
    ax.set_ylabel(axis_label(ds, "empirical_ntk_profile"))
    legend_outside(fig, ax)
    return fig


def relative_error(report: Any, ds: Any) -> Any:
    """RelErr against the NTK predictor (and t → ∞ regression) by width."""
    fig, axes = _figure(1, 1, 5.0, 2.8)
    ax = axes[0, 0]
    live = [report.widths[j] for j, _ in _live(report)]
    widths = np.array([w.width for w in live], dtype=float)
    for attr, label, color in (
        ("relative_error", f"vs NTK predictor at step {report.steps:,}", "C0"),
        ("relative_error_limit", "vs t → ∞ kernel regression", "C1"),
    ):
        stats = [getattr(w, attr) for w in live]
        med = np.array([np.nan if s.median is None else s.median for s in stats])
        lo = np.array([np.nan if s.q25 is None else s.q25 for s in stats])
        hi = np.array([np.nan if s.q75 is None else s.q75 for s in stats])
        ax.errorbar(
            widths,
            med,
            yerr=[np.nan_to_num(med - lo), np.nan_to_num(hi - med)],
            fmt="o-",
            color=color,
            label=label,
            markersize=4,
            capsize=2,
        )
    ax.set_xscale("log")
    if widths.size:
        ax.set_xticks(widths, [f"{int(w)}" for w in widths])
        ax.xaxis.set_minor_formatter(_null_formatter())
    ax.set_xlabel(axis_label(ds, "width"))
    ax.set_ylabel(axis_label(ds, "relative_error"))
    ax.set_ylim(bottom=0)
    legend_outside(fig, ax)
    return fig


def _null_formatter() -> Any:
    from matplotlib.ticker import NullFormatter

    return NullFormatter()


def predictions(report: Any, ds: Any) -> Any:
    """Network outputs at the last step against the NTK predictor and the target."""
    from spectralntk.reports.training_modes import _config

    cfg = _config(ds)
    angle = ds["angle"].values
    net = ds["eval_prediction"].values[:, :, -1]  # (W, S, M)
    ntk = ds["ntk_prediction"].values[:, -1]  # (W, M)
    x, net, ntk, target = _wrap(angle, net, ntk, cfg.target(angle))
    tx = np.mod(ds["train_angle"].values + np.pi, 2 * np.pi) - np.pi
    live = _live(report)
    diverged = ds["diverged"].values.astype(bool)
    fig, axes = _panels(len(live), 2.6 if len(live) > 1 else 5.0, 2.2)  # one: room for k
    ncols = min(MAX_COLUMNS, len(live))
    colors = _palette(len(report.widths))
    for i, (j, width) in enumerate(live):
        ax = axes[i]
        if i:
            ax.sharey(axes[0])
        ax.plot(x, target, color="0.6", linewidth=1.0, label="target")
        if cfg.inputs != "gaussian":  # Gaussian inputs lie off the circle: no scatter
            ax.scatter(tx, ds["train_target"].values, s=3, color="0.4", label="training points")
        ax.plot(x, ntk[j], color="black", linestyle="--", linewidth=1.0, label="NTK predictor")
        _band(ax, x, net[j, ~diverged[j]], colors[j], f"networks, n = {width}", linewidth=1.0)
        ax.set_title(f"n = {width}")
        _angle_ticks(ax)
        if i % ncols:
            ax.tick_params(labelleft=False)
    _outer_labels(fig, axes, axis_label(ds, "angle"), axis_label(ds, "eval_prediction"))
    when = f"step {ds['checkpoint'].values[-1]:,}"
    if len(axes) == 1:  # one panel: the step in its title (a suptitle would meet the legend)
        axes[0].set_title(f"{axes[0].get_title()}, {when}")
    else:
        fig.suptitle(f"at {when}", fontsize=9)
    legend_outside(fig, axes)
    return fig


# --------------------------------------------------------------------------
# spectrum report
# --------------------------------------------------------------------------
def spectrum(report: Any, ds: Any) -> Any:
    """λ_k per kernel (rows) and depth (columns) with fit; empirical bands per width."""
    depths = ds["depth"].values
    freqs = ds["frequency"].values
    k = freqs[1:].astype(float)
    fig, axes = _figure(2, len(depths), 2.6, 2.2)
    colors = _palette(ds.sizes["width"]) if report.empirical else []
    for r, kernel in enumerate(("ntk", "nngp")):
        lam = ds[f"{kernel}_eigenvalue"].values
        for i, depth in enumerate(depths):
            ax = axes[r, i]
            _loglog(ax, k, lam[i, 1:], color="black", linewidth=1.4, label="analytic λ_k")
            fit = _power_law(ax, lam[i])
            if report.empirical:
                ray = ds[f"{kernel}_empirical_rayleigh"].values[i]  # (W, S, F)
                for j, width in enumerate(ds["width"].values):
                    v = ray[j, :, 1:]
                    _band(
                        ax, k, np.where(v > 0, v, np.nan), colors[j], f"n = {width}", linewidth=0.9
                    )
            ax.set_xscale("log")
            ax.set_yscale("log")
            _grid_labels(ax, ds, (r, i), (kernel, int(depth)), ("frequency", "eigenvalue"))
            if fit:
                ax.set_title(f"{kernel.upper()}, depth {depth}: {fit}")
    legend_outside(fig, axes)
    return fig


def _grid_labels(
    ax: Any, ds: Any, where: tuple[int, int], what: tuple[str, int], names: tuple[str, str]
) -> None:
    """Title and outer axis labels of panel (row, col) of a kernel × depth grid."""
    (row, col), (kernel, depth), (x_name, y_suffix) = where, what, names
    ax.set_title(f"{kernel.upper()}, depth {depth}")
    if row == 1:
        ax.set_xlabel(axis_label(ds, x_name))
    if col == 0:
        ax.set_ylabel(axis_label(ds, f"{kernel}_{y_suffix}", width=28))


def _spectrum_profiles(report: Any, ds: Any) -> Any:
    depths = ds["depth"].values
    angle = ds["angle"].values
    fig, axes = _figure(2, len(depths), 2.6, 2.0)
    colors = _palette(ds.sizes["width"]) if report.empirical else []
    for r, kernel in enumerate(("ntk", "nngp")):
        x, prof = _wrap(angle, ds[f"{kernel}_profile"].values)
        emp = None
        if report.empirical:
            _, emp = _wrap(angle, ds[f"{kernel}_empirical_profile"].values)
        for i, depth in enumerate(depths):
            ax = axes[r, i]
            ax.plot(x, prof[i], color="black", linewidth=1.4, label="analytic")
            if emp is not None:
                for j, width in enumerate(ds["width"].values):
                    _band(ax, x, emp[i, j], colors[j], f"n = {width}", linewidth=0.9)
            _grid_labels(ax, ds, (r, i), (kernel, int(depth)), ("angle", "profile"))
            _angle_ticks(ax)
    legend_outside(fig, axes)
    return fig


def distance_vs_width(report: Any, ds: Any) -> Any:
    """Relative distance of the empirical to the analytic Gram against width."""
    fig, axes = _figure(1, 1, 5.0, 2.8)
    ax = axes[0, 0]
    keys = sorted({(w.kernel, w.depth) for w in report.widths})
    colors = _palette(len(keys))
    widths = np.array(sorted({w.width for w in report.widths}), dtype=float)
    for c, (kernel, depth) in enumerate(keys):
        rows = [w for w in report.widths if (w.kernel, w.depth) == (kernel, depth)]
        n = np.array([w.width for w in rows], dtype=float)
        st = [w.relative_distance for w in rows]
        med = np.array([np.nan if s.median is None else s.median for s in st])
        lo = np.array([np.nan if s.q25 is None else s.q25 for s in st])
        hi = np.array([np.nan if s.q75 is None else s.q75 for s in st])
        ax.errorbar(
            n,
            med,
            yerr=[np.nan_to_num(med - lo), np.nan_to_num(hi - med)],
            fmt="o-",
            color=colors[c],
            label=f"{kernel.upper()}, depth {depth}",
            markersize=4,
            capsize=2,
        )
        if c == 0 and np.isfinite(med[0]):
            ax.plot(
                widths,
                med[0] * (widths / widths[0]) ** -0.5,
                color="0.6",
                linewidth=0.9,
                label="n^-1/2 reference",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(axis_label(ds, "width"))
    ax.set_ylabel(axis_label(ds, "ntk_relative_distance"))
    legend_outside(fig, ax)
    return fig


FIGURES: dict[str, Callable[[Any, Any], Any]] = {
    f.__name__: f
    for f in (
        residual_heatmap,
        mode_decay,
        steps_to_converge,
        ntk_spectrum,
        kernel_profiles,
        relative_error,
        predictions,
        spectrum,
        distance_vs_width,
    )
}
"""Figure functions by the name a report lists them under."""


def register(name: str) -> Callable[[Callable[[Any, Any], Any]], Callable[[Any, Any], Any]]:
    """Decorator adding a figure function under ``name`` (used by the fluctuation figures)."""

    def add(func: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        FIGURES[name] = func
        return func

    return add


def _compact_png(path: Path) -> None:
    """Re-encode a PNG with a 256-colour palette (about 3× smaller; deterministic)."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        palette = image.convert("RGB").quantize(colors=256)
    palette.save(path, format="PNG", optimize=True)


def _plain_log_label(value: float, _pos: Any = None) -> str:
    """A log-axis tick label as a plain number ("20", "0.3"), only at 1, 2, 3 and 5 times a
    power of ten (the other minor ticks stay unlabelled)."""
    if not np.isfinite(value) or value <= 0:
        return ""
    mantissa = value / 10.0 ** np.floor(np.log10(value) + 1e-9)
    if not any(abs(mantissa - m) < 1e-6 for m in (1, 2, 3, 5)):
        return ""
    return f"{value:,.10g}" if value >= 1 else f"{value:.10g}"


def _thin_log_ticks(fig: Any) -> None:
    """Log axes: no minor ticks where the axis spans over two decades (unlabelled, slow to
    lay out); plain-number labels (20, 30, 50, not 2×10¹) where it spans less and its
    values are between 0.01 and 10⁵."""
    from matplotlib.ticker import FuncFormatter, NullLocator

    for ax in fig.axes:
        for axis, lim in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            lo, hi = sorted(lim)
            if axis.get_scale() != "log" or lo <= 0:
                continue
            if hi / lo > 100:
                axis.set_minor_locator(NullLocator())
            elif (
                lo >= 0.01
                and hi <= 1e5
                and not isinstance(axis.get_major_formatter(), FuncFormatter)
            ):
                from matplotlib.ticker import FixedFormatter

                if isinstance(axis.get_major_formatter(), FixedFormatter):
                    continue  # labels set by the figure (frequencies, widths)
                axis.set_major_formatter(FuncFormatter(_plain_log_label))
                axis.set_minor_formatter(FuncFormatter(_plain_log_label))


def _overlap(a: Any, b: Any, pad: float = 1.0) -> bool:
    return bool(a.x0 < b.x1 + pad and b.x0 < a.x1 + pad and a.y0 < b.y1 + pad and b.y0 < a.y1 + pad)


def _declutter_ticks(fig: Any) -> None:
    """Blank the tick labels that would overlap a neighbour (kept: the first of each
    clash, in axis order), so dense ticks (k = 35, 40, 45, 50 on a log axis) stay legible."""
    from matplotlib.ticker import FixedFormatter, FixedLocator

    renderer = fig.canvas.get_renderer()
    fig.draw_without_rendering()
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            ticks = [
                t for t in axis.get_major_ticks() if t.label1.get_visible() and t.label1.get_text()
            ]
            lo, hi = sorted(axis.get_view_interval())
            ticks = [t for t in ticks if lo <= t.get_loc() <= hi]
            if len(ticks) < 2:
                continue
            boxes = [t.label1.get_window_extent(renderer) for t in ticks]
            keep, last = [], None
            for tick, box in zip(ticks, boxes, strict=True):
                if last is None or not _overlap(last, box):
                    keep.append(tick)
                    last = box
            if len(keep) == len(ticks):
                continue
            kept = {id(t) for t in keep}
            locs = [t.get_loc() for t in ticks]
            labels = [t.label1.get_text() if id(t) in kept else "" for t in ticks]
            axis.set_major_locator(FixedLocator(locs))
            axis.set_major_formatter(FixedFormatter(labels))


def draw_figures(report: Any, ds: Any, folder: str | Path, *, svg: bool = True) -> list[Path]:
    """Draw every figure ``report`` lists into ``folder`` (PNG, and SVG with ``svg``).

    Parameters
    ----------
    report : SpectrumReport, ConvergenceReport or FluctuationReport
    ds : xarray.Dataset
        The run the report was built from.
    folder : path
        The report folder; files go to the paths the report names (``figures/…``).
    svg : bool
        Also write the SVG files.

    Returns
    -------
    list of Path
        The files written.
    """
    import warnings

    if report.report_type == "convergence":  # registers the linearized_modes figure
        __import__("spectralntk.reports.linearized")
    root = Path(folder)
    written = []
    with _style(), warnings.catch_warnings(), quiet():
        # the figures show what is finite; nothing about NaN seeds or empty panels is news
        warnings.simplefilter("ignore")
        for ref in report.figures:
            written += _draw_one(ref, report, ds, root, svg=svg)
    return written


def save_figure(fig: Any, ref: Any, root: Path, *, svg: bool) -> list[Path]:
    """Tidy the ticks of ``fig`` and write it as ``root/ref.png`` (and ``ref.svg`` with
    ``svg``); the files written. Run and sweep figures alike go through here."""
    _thin_log_ticks(fig)
    _declutter_ticks(fig)
    png = root / ref.png
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=DPI, metadata=_PNG_META)
    _compact_png(png)
    written = [png]
    if svg and ref.svg:
        fig.savefig(root / ref.svg, metadata=_SVG_META)
        written.append(root / ref.svg)
    return written


def _draw_one(ref: Any, report: Any, ds: Any, root: Path, *, svg: bool) -> list[Path]:
    """Draw figure ``ref`` of ``report`` into ``root``; the files written."""
    return save_figure(FIGURES[ref.name](report, ds), ref, root, svg=svg)


def draw_available_figures(
    report: Any, ds: Any, folder: str | Path, *, svg: bool = True
) -> tuple[Any, list[Path]]:
    """Like :func:`draw_figures`, but a figure the run cannot give is left out.

    A figure whose drawing fails on the run's values (a damaged or unusual run file)
    is removed from the report's figures, its files are deleted, and
    ``report.omitted`` says which figure was left out and why. Failures to write
    (:class:`OSError`) and :class:`MemoryError` propagate.

    Returns
    -------
    report
        The report as drawn: without the figures left out.
    list of Path
        The files written.
    """
    if report.report_type == "convergence":  # registers the linearized_modes figure
        __import__("spectralntk.reports.linearized")
    root = Path(folder)
    written: list[Path] = []
    kept, omitted = [], list(report.omitted)
    with _style(), quiet():
        for ref in report.figures:
            try:
                written += _draw_one(ref, report, ds, root, svg=svg)
            except (OSError, MemoryError):  # the disk or the machine, not the run: fail
                raise
            except Exception as exc:  # any other failure comes from the run: leave it out
                for path in (root / ref.png, root / ref.svg if ref.svg else None):
                    if path is not None:
                        path.unlink(missing_ok=True)
                reason = " ".join(str(exc).split())[:200] or type(exc).__name__
                omitted.append(
                    f"figure {ref.name!r}: cannot be drawn from this run's values "
                    f"({type(exc).__name__}: {reason})"
                )
                continue
            kept.append(ref)
    if len(kept) != len(report.figures):
        report = report.model_copy(update={"figures": kept, "omitted": omitted})
    return report, written


# --------------------------------------------------------------------------
# figures of the fluctuation report (Hanin & Nica 2019)
# --------------------------------------------------------------------------
_MARKERS = "osD^vP*X"


def _beta_axes(ds: Any, width: float = 5.0) -> tuple[Any, Any]:
    fig, axes = _figure(1, 1, width, 3.0)
    ax = axes[0, 0]
    ax.set_xlabel(axis_label(ds, "beta"))
    return fig, ax


def _cells_errorbar(ax: Any, report: Any, triple: Any, *, magnitude: bool = False) -> None:
    """One marker per cell at (β, value) with its interval; ``triple(cell)`` gives
    (value, low, high), None where missing. Colour: depth; marker: width.

    With ``magnitude`` the marker sits at |value| (for a log axis): filled where the value
    is positive, open where it is negative; an interval that contains 0 runs down to the
    axis floor."""
    depths = sorted({c.depth for c in report.cells})
    widths = sorted({c.width for c in report.cells})
    colors = _palette(len(depths))
    for c in report.cells:
        v, lo, hi = triple(c)
        if v is None:
            continue
        lo = v if lo is None else lo
        hi = v if hi is None else hi
        color = colors[depths.index(c.depth)]
        face: Any = color
        if magnitude:
            face = color if v > 0 else "none"
            ends = sorted((abs(lo), abs(hi)))
            bottom = 0.0 if lo <= 0 <= hi else ends[0]
            top = ends[1]
            v = abs(v)
            lo, hi = min(bottom, v), max(top, v)
        through_zero = magnitude and lo <= 0
        if through_zero:  # the interval holds 0: the bar runs off the bottom (caret)
            lo = v / 20
            ax.plot([c.beta], [lo], "v", color=color, markersize=3)
        ax.errorbar(
            [c.beta],
            [v],
            yerr=[[v - lo], [hi - v]],
            fmt=_MARKERS[widths.index(c.width) % 8],
            color=color,
            markerfacecolor=face,
            markersize=5,
            capsize=2,
        )
    for d, depth in enumerate(depths):
        ax.plot([], [], "o", color=colors[d], label=f"depth {depth}")
    for w, width in enumerate(widths):
        ax.plot([], [], _MARKERS[w % 8], color="0.4", label=f"n = {width}")


@register("ratio_vs_beta")
def ratio_vs_beta(report: Any, ds: Any) -> Any:
    """E[K²]/E[K]² against β with exp(5β) (Hanin & Nica 2019, Thm 1)."""
    fig, ax = _beta_axes(ds)
    _cells_errorbar(ax, report, lambda c: (c.ratio, c.ratio_low, c.ratio_high))
    betas = np.array([c.beta for c in report.cells])
    grid = np.linspace(0, betas.max() * 1.05, 100)
    ax.plot(grid, np.exp(5 * grid), color="black", linewidth=1.0, label="exp(5β)")
    ax.set_ylabel(axis_label(ds, "normalized_second_moment"))
    legend_outside(fig, ax)
    return fig


@register("first_step_vs_beta")
def first_step_vs_beta(report: Any, ds: Any) -> Any:
    """|First-step relative change| against β with the (dβ/n0)·exp(5β) scaling, log axis.

    The measured change may be negative while the prediction is a positive size: the
    markers show |E[ΔK]/E[K]|, filled for a positive, open for a negative measurement."""
    from matplotlib.lines import Line2D

    fig, ax = _beta_axes(ds)
    _cells_errorbar(
        ax,
        report,
        lambda c: (c.first_step_change, c.first_step_change_low, c.first_step_change_high),
        magnitude=True,
    )
    pred = [
        (c.beta, c.first_step_prediction)
        for c in report.cells
        if c.first_step_prediction is not None and c.first_step_prediction > 0
    ]
    if pred:
        b, p = zip(*pred, strict=True)
        ax.plot(
            b,
            p,
            "_",
            color="black",
            markersize=12,
            markeredgewidth=1.5,
            linestyle="none",
            label="(dβ/n0)·exp(5β)",
        )
    ax.set_yscale("log")
    ax.set_ylabel(axis_label(ds, "first_step_relative_change", width=34))
    ax.plot([], [], "o", color="0.4", label="E[ΔK] > 0 (filled)")
    ax.add_line(
        Line2D(
            [],
            [],
            marker="o",
            color="0.4",
            markerfacecolor="none",
            linestyle="none",
            label="E[ΔK] < 0 (open)",
        )
    )
    legend_outside(fig, ax)
    return fig


@register("drift_vs_beta")
def drift_vs_beta(report: Any, ds: Any) -> Any:
    """Kernel drift after training against β (median and IQR over seeds)."""
    fig, ax = _beta_axes(ds)

    def triple(c: Any) -> tuple[float | None, float | None, float | None]:
        s = c.drift
        return (None, None, None) if s is None else (s.median, s.q25, s.q75)

    _cells_errorbar(ax, report, triple)
    ax.set_ylabel(axis_label(ds, "training_kernel_drift"))
    legend_outside(fig, ax)
    return fig


@register("fluctuation_profiles")
def fluctuation_profiles(report: Any, ds: Any) -> Any:
    """Seed bands of K(x0, x(γ)) per depth (panels) and width (colours)."""
    depths = ds["depth"].values
    angle = ds["angle"].values
    x, prof = _wrap(angle, ds["ntk_empirical_profile"].values)  # (D, W, S, M)
    fig, axes = _panels(len(depths), 2.4, 2.2)
    colors = _palette(ds.sizes["width"])
    for i, depth in enumerate(depths):
        ax = axes[i]
        for j, width in enumerate(ds["width"].values):
            _band(ax, x, prof[i, j], colors[j], f"n = {width}", linewidth=1.0, marker=".")
        ax.set_title(f"depth {depth}")
        _angle_ticks(ax)
    _outer_labels(fig, axes, axis_label(ds, "angle"), axis_label(ds, "ntk_empirical_profile"))
    legend_outside(fig, axes)
    return fig
