r"""Where the kernel picture breaks, per frequency: the initial kernel against training.

A training run records three residual curves per frequency k and seed, all from the same
initial residual r₀ (so the same start A_0):

* the network's own, A_t (``residual_*``);
* the analytic kernel's prediction (I − cηK)^t r₀ with the infinite-width NTK Gram K
  (``predicted_residual_*``), P_t;
* the network linearized at step 0, (I − cηK̂₀)^t r₀ with the seed's own empirical NTK K̂₀
  (``linearized_residual_*``, one eigendecomposition of K̂₀ per seed:
  :class:`spectralntk.dynamics.predict.KernelPredictor`), L_t.

The gap max_t |A_t − P_t|/A_0 between the network and the analytic prediction is split into

(a) the finite-width initial kernel, max_t |L_t − P_t|/A_0: how far the kernel at
    initialisation already is from its limit (its Rayleigh quotient of frequency k at
    step 0 against the analytic Gram's says by how much, per frequency), and
(b) what changed during training, max_t |A_t − L_t|/A_0: the network against its own
    linearization, with the kernel drift ‖K_T − K_0‖_F/‖K_0‖_F and the change of the
    empirical NTK's Rayleigh quotient of frequency k between step 0 and the last
    checkpoint.

Each is a median over the seeds that did not diverge. By the triangle inequality the total
is at most (a) + (b). A part "dominates" when it is at least :data:`DOMINANCE` (1.5) times
the other; within that factor the two are reported as alike ("both"), per frequency and,
for the finding of a width, for their sums over the target frequencies. The report lists
the split per width and target frequency (:class:`~spectralntk.reports.models.GapSplit`),
a finding per width and the figure ``linearized_modes`` (analytic, linearized and network
curves per frequency).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from spectralntk.reports._common import figure, quiet
from spectralntk.reports.figures import register
from spectralntk.reports.models import FigureRef, GapSplit, num

__all__ = [
    "DOMINANCE",
    "FIGURE",
    "dominant_part",
    "gap_figures",
    "gap_split",
    "gap_table",
    "gap_verdicts",
    "has_linearized",
    "linearized_modes",
]

FloatArray = NDArray[np.float64]

#: Name of the figure of this module.
FIGURE = "linearized_modes"

#: Frequencies in one row of the figure; more wrap onto further rows.
MAX_COLUMNS = 7

#: A part of the gap dominates when it is at least this many times the other.
DOMINANCE = 1.5


def dominant_part(initial: float, training: float) -> str:
    """``"initial kernel"``, ``"training"`` or ``"both"`` (within :data:`DOMINANCE`)."""
    if initial >= DOMINANCE * training and initial > 0:
        return "initial kernel"
    if training >= DOMINANCE * initial and training > 0:
        return "training"
    return "both"


def has_linearized(ds: Any) -> bool:
    """Whether the run records the linearized residual modes (runs written since issue 12)."""
    return "linearized_residual_cos" in ds and "linearized_residual_sin" in ds


def _median(values: FloatArray) -> float | None:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return num(np.median(v)) if v.size else None


def _curve_gap(a: FloatArray, b: FloatArray) -> FloatArray:
    """max over steps of |a − b| (…, T) → (…); NaN where a curve is all NaN."""
    with quiet():
        return np.asarray(np.nanmax(np.abs(a - b), axis=-1))


def gap_split(ds: Any, frequencies: list[int], mu: FloatArray | None = None) -> list[GapSplit]:
    """The gap to the analytic prediction split per width and target frequency.

    Parameters
    ----------
    ds : xarray.Dataset
        A training run with ``linearized_residual_*`` (an empty list otherwise).
    frequencies : list of int
        Target frequencies k.
    mu : ndarray, shape (W, K + 1), optional
        μ_k of the analytic Gram on the training points
        (:func:`spectralntk.reports.convergence.train_eigenvalues`; computed if omitted).

    Returns
    -------
    list of GapSplit
        Width-major, frequencies ascending.
    """
    from spectralntk.reports.training_modes import mode_fractions, train_eigenvalues

    if not has_linearized(ds) or not frequencies:
        return []
    measured = mode_fractions(ds, "residual")  # (W, S, T, F)
    analytic = mode_fractions(ds, "predicted_residual")
    linear = mode_fractions(ds, "linearized_residual")
    diverged = ds["diverged"].values.astype(bool)
    points = ds.sizes["sample"]
    rayleigh = ds["empirical_ntk_rayleigh"].values if "empirical_ntk_rayleigh" in ds else None
    if rayleigh is not None and mu is None:
        mu = train_eigenvalues(ds)
    out: list[GapSplit] = []
    for j, width in enumerate(ds["width"].values):
        ok = ~diverged[j]
        for k in frequencies:
            a, p, lin = measured[j, ok, :, k], analytic[j, ok, :, k], linear[j, ok, :, k]
            total = _median(_curve_gap(a, p))
            initial = _median(_curve_gap(lin, p))
            training = _median(_curve_gap(a, lin))
            deviation = change = None
            if rayleigh is not None and mu is not None and ok.any():
                r0, rt = rayleigh[j, ok, 0, k], rayleigh[j, ok, -1, k]
                reference = mu[j, k] / points
                with quiet():
                    if reference > 0:
                        deviation = _median((r0 - reference) / reference)
                    if rayleigh.shape[2] > 1:
                        change = _median(np.abs(rt - r0) / np.abs(r0))
            dominant = None
            if initial is not None and training is not None:
                dominant = dominant_part(initial, training)
            out.append(
                GapSplit(
                    width=int(width),
                    frequency=int(k),
                    total_gap=total,
                    initial_kernel_gap=initial,
                    training_gap=training,
                    initial_rayleigh_deviation=deviation,
                    rayleigh_change=change,
                    dominant=dominant,  # type: ignore[arg-type]
                )
            )
    return out


def _ks(items: list[int]) -> str:
    return ", ".join(map(str, items)) if items else "none"


def gap_verdicts(ds: Any, rows: list[GapSplit]) -> list[str]:
    """One finding per width: which part of the gap to the analytic prediction dominates."""
    out: list[str] = []
    drift = ds["kernel_drift"].values if "kernel_drift" in ds else None
    diverged = ds["diverged"].values.astype(bool)
    for j, width in enumerate(ds["width"].values):
        mine = [
            r
            for r in rows
            if r.width == int(width)
            and r.initial_kernel_gap is not None
            and r.training_gap is not None
        ]
        if not mine:
            continue
        initial = sum(float(r.initial_kernel_gap or 0.0) for r in mine)
        training = sum(float(r.training_gap or 0.0) for r in mine)
        worst = max(mine, key=lambda r: r.total_gap or 0.0)
        by_initial = [r.frequency for r in mine if r.dominant == "initial kernel"]
        by_training = [r.frequency for r in mine if r.dominant == "training"]
        alike = [r.frequency for r in mine if r.dominant == "both"]
        part = {
            "initial kernel": "comes mostly from the finite-width initial kernel",
            "training": "comes mostly from what changed during training",
            "both": (
                "comes from the finite-width initial kernel and from what changed during "
                f"training alike (neither is {DOMINANCE:g} times the other)"
            ),
        }[dominant_part(initial, training)]
        big_i = max(mine, key=lambda r: r.initial_kernel_gap or 0.0)
        big_t = max(mine, key=lambda r: r.training_gap or 0.0)
        text = (
            f"n = {width}: the gap between the networks' mode curves and the analytic "
            f"prediction (max over steps of |A_t − P_t|/A_0, median over seeds; largest "
            f"{(worst.total_gap or 0.0):.3g} at k = {worst.frequency}) {part}: "
            f"the network linearized at step 0, (I − cηK̂₀)^t r₀, is up to "
            f"{(big_i.initial_kernel_gap or 0.0):.3g} (k = {big_i.frequency}) from the analytic "
            f"curve, the network up to {(big_t.training_gap or 0.0):.3g} (k = {big_t.frequency}) "
            f"from its linearization"
        )
        names = {
            "initial kernel": "the initial kernel",
            "training": "training",
            "both": f"neither by a factor {DOMINANCE:g}",
        }
        pairs = ((by_initial, "initial kernel"), (by_training, "training"), (alike, "both"))
        groups = [(ks, key) for ks, key in pairs if ks]
        # "the initial kernel dominates at k = 1, training at k = 2, 4"; one group: "… at
        # every one of them"
        parts = [
            f"{names[key]}{' dominates' if i == 0 and key != 'both' else ''} at "
            + ("every one of them" if len(groups) == 1 else f"k = {_ks(ks)}")
            for i, (ks, key) in enumerate(groups)
        ]
        if len(mine) == 1:
            text += "."
        else:
            text += (
                f" (summed over the {len(mine)} target frequencies {initial:.3g} against "
                f"{training:.3g}); " + ", ".join(parts) + "."
            )
        facts = []
        deviations = [r for r in mine if r.initial_rayleigh_deviation is not None]
        if deviations:
            d = max(deviations, key=lambda r: abs(r.initial_rayleigh_deviation or 0.0))
            facts.append(
                f"at step 0 the empirical NTK's Rayleigh quotient differs from the analytic "
                f"Gram's by up to {100 * abs(d.initial_rayleigh_deviation or 0.0):.3g} % "
                f"(k = {d.frequency})"
            )
        changes = [r for r in mine if r.rayleigh_change is not None]
        if changes:
            c = max(changes, key=lambda r: r.rayleigh_change or 0.0)
            facts.append(
                f"during training it moves by up to {100 * (c.rayleigh_change or 0.0):.3g} % "
                f"(k = {c.frequency})"
            )
        if drift is not None and (~diverged[j]).any():
            with quiet():
                value = _median(drift[j, ~diverged[j], -1])
            if value is not None:
                facts.append(f"kernel drift ‖K_T − K_0‖/‖K_0‖ = {100 * value:.3g} %")
        if facts:
            joined = "; ".join(facts)
            text += " " + joined[0].upper() + joined[1:] + "."
        out.append(text)
    return out


def gap_figures(ds: Any, frequencies: list[int]) -> list[FigureRef]:
    """The figure reference of this module, for runs that have the linearized modes."""
    if not has_linearized(ds) or not frequencies:
        return []
    return [
        figure(
            FIGURE,
            "Where the kernel picture breaks, per frequency: residual amplitude of each target "
            "frequency over its start for the network (median and IQR over seeds), the "
            "network linearized at step 0 with its own empirical NTK, (I − cηK̂₀)^t r₀ "
            "(dash-dot), and the analytic NTK's prediction (I − cηK)^t r₀ (dashed); one "
            "row per width. Linearized against analytic is the finite-width initial "
            "kernel; network against linearized is what changed during training.",
        )
    ]


def gap_table(report: Any) -> tuple[str, list[str], list[list[str]]] | None:
    """The split as a table (title, header, rows) for the renderers; None without rows."""
    rows = getattr(report, "gap_split", None)
    if not rows:
        return None

    def g(value: float | None, scale: float = 1.0, fmt: str = ".3g") -> str:
        return "—" if value is None else format(scale * value, fmt)

    return (
        "Gap to the analytic prediction, split: the finite-width initial kernel (linearized "
        "at step 0 vs analytic) and training (network vs linearized); max over steps of the "
        "amplitude difference / start, median over seeds",
        [
            "n",
            "k",
            "network vs analytic",
            "initial kernel",
            "training",
            "dominant",
            "Rayleigh at 0 vs analytic (%)",
            "Rayleigh change 0 → T (%)",
        ],
        [
            [
                str(r.width),
                str(r.frequency),
                g(r.total_gap),
                g(r.initial_kernel_gap),
                g(r.training_gap),
                r.dominant or "—",
                g(r.initial_rayleigh_deviation, 100.0),
                g(r.rayleigh_change, 100.0),
            ]
            for r in rows
        ],
    )


@register(FIGURE)
def linearized_modes(report: Any, ds: Any) -> Any:
    """Analytic, linearized and network mode curves: rows widths, columns target frequencies."""
    from spectralntk.reports.figures import _figure, _step_axis, legend_outside
    from spectralntk.reports.training_modes import mode_fractions

    ks = sorted({r.frequency for r in report.rows})
    steps = ds["step"].values
    measured = mode_fractions(ds, "residual")
    analytic = mode_fractions(ds, "predicted_residual")
    linear = mode_fractions(ds, "linearized_residual")
    widths = ds["width"].values
    # at most MAX_COLUMNS frequencies a row: more wrap onto further rows of the same width
    ncols = min(len(ks), MAX_COLUMNS)
    chunks = -(-len(ks) // ncols)
    fig, axes = _figure(len(widths) * chunks, ncols, 2.1 if len(ks) > 2 else 3.0, 1.9)
    for j, width in enumerate(widths):
        for i, k in enumerate(ks):
            row = j * chunks + i // ncols
            ax = axes[row, i % ncols]
            with quiet():
                q25, med, q75 = np.nanquantile(measured[j, :, :, k], [0.25, 0.5, 0.75], axis=0)
                lin = np.nanmedian(linear[j, :, :, k], axis=0)
                ana = np.nanmedian(analytic[j, :, :, k], axis=0)
                low = np.nanmin([np.nanmin(med), np.nanmin(lin), np.nanmin(ana)])
            ax.plot(steps, med, color="C0", linewidth=1.2, label="network")
            ax.fill_between(steps, q25, q75, color="C0", alpha=0.2, linewidth=0)
            ax.plot(steps, lin, color="C2", linestyle="-.", linewidth=1.1, label="linearized at 0")
            ax.plot(steps, ana, color="black", linestyle="--", linewidth=0.9, label="analytic NTK")
            ax.axhline(0.1, color="0.6", linewidth=0.5)
            ax.set_yscale("log")
            bottom = min(max(low / 2, 1e-4), 0.05) if np.isfinite(low) else 0.05
            ax.set_ylim(bottom, 2.0)
            if row == 0 or chunks > 1:
                ax.set_title(f"k = {k}")
            if i % ncols == 0:
                ax.set_ylabel(f"n = {width}\namplitude / start")
            if row == len(widths) * chunks - 1 or (j == len(widths) - 1 and i + ncols >= len(ks)):
                ax.set_xlabel("step")
            _step_axis(ax.xaxis, bins=2)
            if i % ncols > 0:
                ax.tick_params(labelleft=False)  # one log scale per row, labelled once
        for ax in axes[j * chunks + (len(ks) - 1) // ncols, (len(ks) - 1) % ncols + 1 :]:
            ax.set_visible(False)  # the unused cells after the last frequency
    for row_axes in axes:  # the same amplitude axis along a row: curves compare across k
        shown = [ax for ax in row_axes if ax.get_visible()]
        low = min(ax.get_ylim()[0] for ax in shown)
        for ax in shown:
            ax.set_ylim(low, 2.0)
    legend_outside(fig, axes, "below")
    return fig
