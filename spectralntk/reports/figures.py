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

__all__ = ["DPI", "FIGURES", "axis_label", "draw_available_figures", "draw_figures"]

FloatArray = NDArray[np.float64]

#: Resolution of the PNG files (small: the gallery is committed).
DPI = 80
_RC: dict[str, Any] = {
    "svg.hashsalt": "spectralntk",
    "svg.fonttype": "none",
    "path.simplify": True,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 7,
}
_PNG_META = {"Software": None}
_SVG_META = {"Date": None, "Creator": None}


def axis_label(ds: Any, name: str, fallback: str | None = None, width: int = 44) -> str:
    """``long_name [units]`` of variable ``name`` (units left out when ``"1"``), wrapped."""
    if name not in ds.variables:
        return fallback or name
    attrs = ds[name].attrs
    text = str(attrs.get("long_name", fallback or name))
    units = str(attrs.get("units", "1"))
    return textwrap.fill(text if units == "1" else f"{text} [{units}]", width)


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib as mpl
    import seaborn as sns

    with mpl.rc_context(), sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        mpl.rcParams.update(_RC)  # type: ignore[arg-type]
        yield


def _figure(nrows: int, ncols: int, width: float, height: float) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _palette(n: int) -> list[Any]:
    import seaborn as sns

    return list(sns.color_palette("viridis", max(n, 1)))


def _wrap(angle: FloatArray, *values: FloatArray) -> tuple[FloatArray, ...]:
    """Angles moved to [−π, π) and sorted, with ``values`` (last axis) reordered alike."""
    wrapped = np.mod(angle + np.pi, 2 * np.pi) - np.pi
    order = np.argsort(wrapped, kind="stable")
    return (wrapped[order], *(v[..., order] for v in values))


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

    from spectralntk.reports.convergence import mode_fractions

    ks = _target_columns(report)
    frac = mode_fractions(ds)[..., ks]  # (W, S, T, K)
    steps = ds["step"].values
    widths = ds["width"].values
    fig, axes = _figure(1, len(widths), 2.6 + 0.15 * len(ks), 3.0)
    cmap = sns.color_palette("rocket", as_cmap=True)
    mesh = None
    for j, width in enumerate(widths):
        ax = axes[0, j]
        with quiet():
            share = np.clip(np.nanmedian(frac[j], axis=0), 0.0, 1.0)  # (T, K)
        mesh = ax.pcolormesh(
            np.arange(len(ks) + 1) - 0.5, _edges(steps), share, cmap=cmap, vmin=0, vmax=1
        )
        ax.set_ylim(steps[0], steps[-1])
        ax.set_xticks(np.arange(len(ks)), [str(k) for k in ks])
        ax.set_xlabel(axis_label(ds, "frequency"))
        ax.set_title(f"n = {width}")
        ax.grid(False)
        if j == 0:
            ax.set_ylabel(axis_label(ds, "step"))  # steps increase upwards
    if mesh is not None:
        fig.colorbar(mesh, ax=axes[0, :].tolist(), label="share of the mode's residual left")
    return fig


def mode_decay(report: Any, ds: Any) -> Any:
    """Measured mode curves per width against the discrete and flow predictions."""
    from spectralntk.reports.convergence import mode_fractions

    ks = _target_columns(report)
    steps = ds["step"].values
    measured = mode_fractions(ds)
    predicted = mode_fractions(ds, "predicted_residual")
    flow = (
        mode_fractions(ds, "flow_residual")
        if "flow_residual_cos" in ds and "flow_residual_sin" in ds
        else None
    )
    ncols = min(4, len(ks))
    nrows = math.ceil(len(ks) / ncols)
    big = len(ks) <= 2  # one or two panels: room for the legend
    fig, axes = _figure(nrows, ncols, 3.6 if big else 2.4, 2.8 if big else 2.0)
    colors = _palette(ds.sizes["width"])
    for i, k in enumerate(ks):
        ax = axes[i // ncols, i % ncols]
        for j, width in enumerate(ds["width"].values):
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
        with quiet():
            low = np.nanmin(measured[:, :, :, k]) if np.isfinite(measured[:, :, :, k]).any() else 1
        ax.set_ylim(min(max(low / 2, 1e-3), 0.05), 2.0)
        ax.set_title(f"k = {k}")
        if i % ncols == 0:
            ax.set_ylabel("mode amplitude / start")
        if i // ncols == nrows - 1:
            ax.set_xlabel(axis_label(ds, "step"))
    for i in range(len(ks), nrows * ncols):
        axes[i // ncols, i % ncols].set_visible(False)
    axes[0, 0].legend(loc="lower left", title="measured (solid)\ndiscrete (--), flow (:)")
    return fig


def steps_to_converge(report: Any, ds: Any) -> Any:
    """Steps to 10 % against k on log-log axes, with the k² reference."""
    fig, axes = _figure(1, 1, 4.2, 3.2)
    ax = axes[0, 0]
    widths = [w.width for w in report.widths]
    colors = _palette(len(widths))
    top = report.steps * 1.6
    ks_all = _target_columns(report)
    for j, width in enumerate(widths):
        rows = [r for r in report.rows if r.width == width]
        shift = 1.0 + 0.03 * (j - (len(widths) - 1) / 2)  # dodge the widths
        ks = np.array([r.frequency for r in rows], dtype=float) * shift
        med = np.array(
            [np.nan if r.measured_steps.median is None else r.measured_steps.median for r in rows]
        )
        lo = np.array(
            [np.nan if r.measured_steps.q25 is None else r.measured_steps.q25 for r in rows]
        )
        hi = np.array([top if r.measured_steps.q75 is None else r.measured_steps.q75 for r in rows])
        ok = np.isfinite(med)
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
                label=f"not reached, n = {width}",
            )
    first = [r for r in report.rows if r.width == widths[0]]
    pk = np.array([r.frequency for r in first if r.predicted_steps_discrete is not None])
    pv = np.array(
        [r.predicted_steps_discrete for r in first if r.predicted_steps_discrete is not None]
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
        k_ref = np.array(ks_all, dtype=float)
        ax.plot(
            k_ref, pv[0] * (k_ref / pk[0]) ** 2, color="0.6", linewidth=0.9, label="k² reference"
        )
    ax.axhline(report.steps, color="0.4", linewidth=0.6, linestyle=":")
    ax.set_xlim(min(ks_all) / 1.5, max(ks_all) * 1.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import NullFormatter

    ax.set_xticks(ks_all, [str(k) for k in ks_all])  # the target frequencies themselves
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(axis_label(ds, "frequency"))
    ax.set_ylabel(f"steps until the mode is at {report.fraction:g} of its start")
    ax.legend(loc="best")
    return fig


def _power_law(ax: Any, lam: FloatArray, color: Any = "0.3") -> None:
    from spectralntk.spectral.decomposition import fit_power_law

    fit = fit_power_law(lam)
    if math.isfinite(fit.exponent):
        k = np.arange(max(1, fit.k_min), fit.k_max + 1, dtype=float)
        ax.plot(
            k,
            fit.prefactor * k**-fit.exponent,
            linestyle="--",
            color=color,
            linewidth=0.9,
            label=f"fit ∝ k^-{fit.exponent:.2f}",
        )


def _loglog(ax: Any, k: FloatArray, values: FloatArray, **kw: Any) -> None:
    v = np.where(values > 0, values, np.nan)
    ax.plot(k, v, **kw)


def ntk_spectrum(report: Any, ds: Any) -> Any:
    """Analytic λ_k with its fit, and empirical Rayleigh quotients at step 0 and T."""
    from spectralntk.reports.convergence import analytic_eigenvalues, train_eigenvalues

    k_max = ds.sizes["frequency"] - 1
    lam = analytic_eigenvalues(ds, k_max)[0]
    same_points = train_eigenvalues(ds)[0] / ds.sizes["sample"]
    k = np.arange(1, k_max + 1, dtype=float)
    ray = ds["empirical_ntk_rayleigh"].values  # (W, S, C, F)
    checkpoints = ds["checkpoint"].values
    fig, axes = _figure(1, 2, 3.4, 3.0)
    colors = _palette(ds.sizes["width"])
    for col, (c, when) in enumerate(((0, "step 0"), (-1, f"step {checkpoints[-1]}"))):
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
        for j, width in enumerate(ds["width"].values):
            values = ray[j, :, c, 1:]
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
            ax.set_ylabel(axis_label(ds, "empirical_ntk_rayleigh"), fontsize=7)
            ax.legend(loc="lower left")
    return fig


def kernel_profiles(report: Any, ds: Any) -> Any:
    """Profiles K(x0, x(γ)) (Jacot et al. 2018, Fig. 1): analytic and per-width seed bands."""
    if report.report_type == "spectrum":
        return _spectrum_profiles(report, ds)
    from spectralntk.kernels.circle import circle_kernel
    from spectralntk.reports.convergence import _config
    from spectralntk.runs.training import network_at_width

    cfg = _config(ds)
    angle = ds["angle"].values
    prof = ds["empirical_ntk_profile"].values  # (W, S, C, M)
    analytic = circle_kernel(network_at_width(cfg, cfg.widths[0]), angle).ntk
    x, prof, analytic = _wrap(angle, prof, analytic)
    fig, axes = _figure(1, 1, 4.6, 3.2)
    ax = axes[0, 0]
    colors = _palette(ds.sizes["width"])
    last = ds["checkpoint"].values[-1]
    ax.plot(x, analytic, color="black", linewidth=1.4, label="analytic (n → ∞)")
    for j, width in enumerate(ds["width"].values):
        _band(ax, x, prof[j, :, 0], colors[j], f"n = {width}, step 0", linewidth=1.0)
        _band(
            ax,
            x,
            prof[j, :, -1],
            colors[j],
            f"n = {width}, step {last}",
            linewidth=1.0,
            linestyle="--",
        )
    ax.set_xlabel(axis_label(ds, "angle"))
    ax.set_ylabel(axis_label(ds, "empirical_ntk_profile"), fontsize=7)
    ax.legend(loc="upper right")
    return fig


def relative_error(report: Any, ds: Any) -> Any:
    """RelErr against the NTK predictor (and t → ∞ regression) by width."""
    fig, axes = _figure(1, 1, 4.0, 3.0)
    ax = axes[0, 0]
    widths = np.array([w.width for w in report.widths], dtype=float)
    for attr, label, color in (
        ("relative_error", f"vs NTK predictor at step {report.steps}", "C0"),
        ("relative_error_limit", "vs t → ∞ kernel regression", "C1"),
    ):
        stats = [getattr(w, attr) for w in report.widths]
        med = np.array([np.nan if s.median is None else s.median for s in stats])
        lo = np.array([np.nan if s.q25 is None else s.q25 for s in stats])
        hi = np.array([np.nan if s.q75 is None else s.q75 for s in stats])
        ax.errorbar(
            widths,
            med,
            yerr=[med - lo, hi - med],
            fmt="o-",
            color=color,
            label=label,
            markersize=4,
            capsize=2,
        )
    ax.set_xscale("log")
    ax.set_xlabel(axis_label(ds, "width"))
    ax.set_ylabel(axis_label(ds, "relative_error"), fontsize=7)
    ax.set_ylim(bottom=0)
    ax.legend()
    return fig


def predictions(report: Any, ds: Any) -> Any:
    """Network outputs at the last step against the NTK predictor and the target."""
    from spectralntk.reports.convergence import _config

    cfg = _config(ds)
    angle = ds["angle"].values
    net = ds["eval_prediction"].values[:, :, -1]  # (W, S, M)
    ntk = ds["ntk_prediction"].values[:, -1]  # (W, M)
    x, net, ntk, target = _wrap(angle, net, ntk, cfg.target(angle))
    tx = np.mod(ds["train_angle"].values + np.pi, 2 * np.pi) - np.pi
    widths = ds["width"].values
    fig, axes = _figure(1, len(widths), 3.4, 2.8)
    colors = _palette(len(widths))
    for j, width in enumerate(widths):
        ax = axes[0, j]
        ax.plot(x, target, color="0.6", linewidth=1.0, label="target")
        if cfg.inputs != "gaussian":  # Gaussian inputs lie off the circle: no scatter
            ax.scatter(tx, ds["train_target"].values, s=3, color="0.4", label="training points")
        ax.plot(x, ntk[j], color="black", linestyle="--", linewidth=1.0, label="NTK predictor")
        _band(ax, x, net[j], colors[j], "networks", linewidth=1.0)
        ax.set_title(f"n = {width}, step {ds['checkpoint'].values[-1]}")
        ax.set_xlabel(axis_label(ds, "angle", width=34))
        if j == 0:
            ax.set_ylabel(axis_label(ds, "eval_prediction", width=34))
            ax.legend(loc="lower left")
    return fig


# --------------------------------------------------------------------------
# spectrum report
# --------------------------------------------------------------------------
def spectrum(report: Any, ds: Any) -> Any:
    """λ_k per kernel (rows) and depth (columns) with fit; empirical bands per width."""
    depths = ds["depth"].values
    freqs = ds["frequency"].values
    k = freqs[1:].astype(float)
    fig, axes = _figure(2, len(depths), 3.2, 2.6)
    colors = _palette(ds.sizes["width"]) if report.empirical else []
    for r, kernel in enumerate(("ntk", "nngp")):
        lam = ds[f"{kernel}_eigenvalue"].values
        for i, depth in enumerate(depths):
            ax = axes[r, i]
            _loglog(ax, k, lam[i, 1:], color="black", linewidth=1.4, label="analytic λ_k")
            _power_law(ax, lam[i])
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
    return fig


def _grid_labels(
    ax: Any, ds: Any, where: tuple[int, int], what: tuple[str, int], names: tuple[str, str]
) -> None:
    """Title, outer axis labels and legend of panel (row, col) of a kernel × depth grid."""
    (row, col), (kernel, depth), (x_name, y_suffix) = where, what, names
    ax.set_title(f"{kernel.upper()}, depth {depth}")
    if row == 1:
        ax.set_xlabel(axis_label(ds, x_name))
    if col == 0:
        ax.set_ylabel(axis_label(ds, f"{kernel}_{y_suffix}"), fontsize=7)
    ax.legend(loc="lower left" if x_name == "frequency" else "upper right")


def _spectrum_profiles(report: Any, ds: Any) -> Any:
    depths = ds["depth"].values
    angle = ds["angle"].values
    fig, axes = _figure(2, len(depths), 3.2, 2.4)
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
    return fig


def distance_vs_width(report: Any, ds: Any) -> Any:
    """Relative distance of the empirical to the analytic Gram against width."""
    fig, axes = _figure(1, 1, 4.0, 3.0)
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
            yerr=[med - lo, hi - med],
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
    ax.set_ylabel(axis_label(ds, "ntk_relative_distance"), fontsize=7)
    ax.legend()
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


def _thin_log_ticks(fig: Any) -> None:
    """No minor ticks on log axes spanning over two decades (unlabelled, slow to lay out)."""
    from matplotlib.ticker import NullLocator

    for ax in fig.axes:
        for axis, lim in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            lo, hi = sorted(lim)
            if axis.get_scale() == "log" and lo > 0 and hi / lo > 100:
                axis.set_minor_locator(NullLocator())


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
    if report.report_type == "fluctuation":
        import spectralntk.reports.fluctuation  # noqa: F401  (registers its figures)
    root = Path(folder)
    written = []
    with _style():
        for ref in report.figures:
            written += _draw_one(ref, report, ds, root, svg=svg)
    return written


def _draw_one(ref: Any, report: Any, ds: Any, root: Path, *, svg: bool) -> list[Path]:
    """Draw figure ``ref`` of ``report`` into ``root``; the files written."""
    fig = FIGURES[ref.name](report, ds)
    _thin_log_ticks(fig)
    png = root / ref.png
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=DPI, metadata=_PNG_META)
    _compact_png(png)
    written = [png]
    if svg:
        fig.savefig(root / ref.svg, metadata=_SVG_META)
        written.append(root / ref.svg)
    return written


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
    if report.report_type == "fluctuation":
        import spectralntk.reports.fluctuation  # noqa: F401  (registers its figures)
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
