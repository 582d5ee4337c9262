r"""The convergence report of a training run: which frequencies are learned by step t.

For every target frequency k and width (Rahaman et al. 2019; the seed write-up's
experiments 2.2–2.5), from a ``training`` run Dataset:

* the analytic NTK eigenvalue λ_k on S¹ and μ_k on the training points — the Rayleigh
  quotient v_kᵀ K v_k of the unit cos/sin vectors of frequency k (averaged) of the analytic
  NTK Gram K (exactly the eigenvalue of frequency k on a uniform grid);
* the kernel-regime rate x_k = c·η·μ_k (c of the loss convention, ../shared/DESIGN.md; on
  inputs other than a grid the Fourier vectors are not eigenvectors of K and μ_k is replaced
  by its continuum value N·λ_k) and
  the predicted steps until the mode's amplitude is 10 % of its start: the least t with
  |1 − x_k|^t ≤ 0.1 (discrete gradient descent) and ln(10)/x_k (gradient flow),
  :func:`spectralntk.dynamics.predict.steps_to_fraction`;
* the measured steps: the amplitude A_t = √(a_k² + b_k²) of the residual's frequency-k
  coefficients over A_0 is interpolated log-linearly between recorded steps, and the first
  crossing of 0.1 is rounded up to a step (exact for a mode that decays geometrically,
  whatever the recording cadence); median and IQR over seeds, "not reached" (None) when
  the median seed never gets there;
* the predicted and measured share of the mode left at the last step (the predictions are
  the run's own ``predicted_residual_*``/``flow_residual_*``: each seed's initial residual
  propagated by (I − cηK)^t and e^{−cηKt});
* the curve gap max_t |A_t − P_t|/A_0 (how far the measured curve sits from the
  discrete prediction), and per width RelErr against the NTK predictor, kernel drift and
  Spearman's ρ between k and the measured steps.

Diverged seeds are left out of every statistic (and counted).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spectralntk.reports._common import figure, provenance, quiet, seed_stat
from spectralntk.reports.models import (
    ConvergenceReport,
    FigureRef,
    FrequencyRow,
    WidthSummary,
    num,
)

__all__ = [
    "FRACTION",
    "convergence_report",
    "mode_fractions",
    "steps_to_reach",
    "train_eigenvalues",
]

FloatArray = NDArray[np.float64]

#: A mode counts as learned when its amplitude is down to this share of its start.
FRACTION = 0.1


def steps_to_reach(
    steps: NDArray[Any], fraction: FloatArray, level: float = FRACTION
) -> FloatArray:
    """First step at which ``fraction`` falls to ``level``, per curve.

    Parameters
    ----------
    steps : ndarray, shape (T,)
        Recorded steps, increasing, starting at 0.
    fraction : ndarray, shape (..., T)
        Mode amplitude over its start (1 at step 0).
    level : float
        Threshold in (0, 1).

    Returns
    -------
    ndarray, shape (...)
        The crossing of ``level`` between the recorded steps s_i < s_{i+1} bracketing
        the first record at or below it, interpolated linearly in log(fraction) and
        rounded up to an integer step; +inf where the curve never reaches ``level``,
        NaN where the curve is all NaN (a diverged seed).
    """
    s = np.asarray(steps, dtype=np.float64)
    f = np.asarray(fraction, dtype=np.float64)
    below = f <= level
    reached = below.any(axis=-1)
    first = np.argmax(below, axis=-1)
    out = np.full(f.shape[:-1], np.inf)
    idx = np.nonzero(reached)
    for pos in zip(*idx, strict=True):
        i = int(first[pos])
        curve = f[pos]
        if i == 0:
            out[pos] = s[0]
            continue
        hi, lo = curve[i - 1], curve[i]
        if hi > 0 and lo > 0 and np.isfinite(hi):
            share = (math.log(hi) - math.log(level)) / (math.log(hi) - math.log(lo))
        else:  # an exact zero: the crossing is at the record itself
            share = 1.0
        crossing = s[i - 1] + share * (s[i] - s[i - 1])
        # a hair below the integer (rounding of the logs) must not add a step
        out[pos] = min(s[i], math.ceil(crossing - 1e-9 * max(1.0, crossing)))
    out[np.all(np.isnan(f), axis=-1)] = np.nan
    return out


def _amplitude(ds: Any, prefix: str) -> FloatArray:
    """√(a_k² + b_k²) of ``{prefix}_cos``/``_sin``: (W, S, T, F)."""
    return np.hypot(ds[f"{prefix}_cos"].values, ds[f"{prefix}_sin"].values)


def mode_fractions(ds: Any, prefix: str = "residual") -> FloatArray:
    """Amplitude of every mode over its amplitude at step 0: (W, S, T, F).

    ``prefix`` is ``residual`` (measured), ``predicted_residual`` (discrete theory) or
    ``flow_residual`` (gradient flow). Diverged seeds are NaN; a mode that starts at 0
    is NaN.
    """
    amp = _amplitude(ds, prefix)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = amp / amp[:, :, :1, :]
    out[ds["diverged"].values.astype(bool)] = np.nan
    return np.where(np.isfinite(out), out, np.nan)


def _config(ds: Any) -> Any:
    from spectralntk.runs.training import TrainingConfig
    from spectralntk.store.schema import read_config

    return TrainingConfig.from_dict(read_config(ds))


def target_frequencies(ds: Any) -> list[tuple[int, float]]:
    """(k, a_k) of the target's frequencies that the run records, ascending k."""
    cfg = _config(ds)
    pairs = sorted(
        (int(k), abs(float(a)))
        for k, a in zip(cfg.target.frequencies, cfg.target.amplitudes, strict=True)
        if k <= cfg.k_max
    )
    return pairs


def train_eigenvalues(ds: Any) -> FloatArray:
    """μ_k of the analytic NTK Gram on the run's training points, per width: (W, F).

    The Rayleigh quotient v_kᵀ K v_k of the unit vectors cos kγ_j and sin kγ_j (those
    not identically zero on the points), averaged; on a uniform grid these are the
    Gram's eigenvalues of frequency k (circulant).
    """
    from spectralntk.kernels.recursion import kernel_matrix
    from spectralntk.runs.recorders import fourier_rayleigh, unit_fourier_vectors
    from spectralntk.runs.training import network_at_width

    cfg = _config(ds)
    x = np.stack([ds["train_x1"].values, ds["train_x2"].values], axis=1)
    waves = unit_fourier_vectors(ds["train_angle"].values, cfg.k_max)
    out = np.empty((len(cfg.widths), cfg.k_max + 1))
    cache: dict[Any, FloatArray] = {}
    for j, width in enumerate(cfg.widths):
        net = network_at_width(cfg, width)
        if net not in cache:
            gram = kernel_matrix(net, x).ntk
            cache[net] = fourier_rayleigh(gram[None], waves)[0] * len(x)
        out[j] = cache[net]
    return out


def analytic_eigenvalues(ds: Any, max_frequency: int) -> FloatArray:
    """λ_k of the analytic NTK on S¹, k = 0..K, per width: (W, K + 1)."""
    from spectralntk.runs.training import network_at_width
    from spectralntk.spectral.decomposition import circle_spectrum

    cfg = _config(ds)
    cache: dict[Any, FloatArray] = {}
    rows = []
    for width in cfg.widths:
        net = network_at_width(cfg, width)
        if net not in cache:
            cache[net] = circle_spectrum(net, max_frequency).eigenvalues.ntk
        rows.append(cache[net])
    return np.stack(rows)


def _median(values: FloatArray) -> float | None:
    v = values[~np.isnan(values)]
    if v.size == 0:
        return None
    with np.errstate(invalid="ignore"):
        return num(np.median(v))


def _spearman(ks: list[int], steps: list[float]) -> float | None:
    """Spearman ρ of k against steps (inf = not reached ranks last); None if undefined."""
    from scipy.stats import spearmanr

    if len(ks) < 2 or len(set(steps)) < 2:
        return None
    return num(spearmanr(ks, steps).statistic)


def _fmt_steps(value: float | None) -> str:
    return "not reached" if value is None else f"{value:,.0f}"


def _list(items: list[str]) -> str:
    return ", ".join(items)


def _verdicts(
    report_rows: list[FrequencyRow], summaries: list[WidthSummary], steps: int
) -> list[str]:
    out: list[str] = []
    widths = [s.width for s in summaries]
    # 1. spectral order
    for s in summaries:
        rows = [r for r in report_rows if r.width == s.width]
        reached = sum(r.measured_steps.median is not None for r in rows)
        if len(rows) == 1:
            r = rows[0]
            when = (
                f"reaches 10 % at step {r.measured_steps.median:,.0f}"
                if r.measured_steps.median is not None
                else f"does not reach 10 % by step {steps:,}"
            )
            curve = (
                f"reaches it at step {r.predicted_steps_curve:,.0f}"
                if r.predicted_steps_curve is not None
                else f"does not reach it by step {steps:,}"
            )
            out.append(
                f"n = {s.width}: the one target frequency k = {r.frequency} {when} (median over "
                f"{r.seeds} seeds); the run's kernel-regime prediction (I − cηK)^t {curve}, "
                f"the closed form (1 − cημ_k)^t at step "
                f"{_fmt_steps(r.predicted_steps_discrete)}."
            )
            continue
        if s.spearman_rho is not None and reached >= 2:
            rho, what = s.spearman_rho, "measured steps to 10 %"
            detail = f"{reached} reached 10 % by step {steps:,}; the others rank last"
        elif s.spearman_rho_left is not None:
            rho, what = s.spearman_rho_left, f"share of the mode left at step {steps:,}"
            detail = f"{reached} reached 10 %, so ranked by what is left"
        else:
            out.append(
                f"n = {s.width}: the order of learning cannot be ranked ({reached} of "
                f"{len(rows)} target frequencies reached 10 % by step {steps:,})."
            )
            continue
        word = (
            "in order of frequency"
            if rho >= 0.8
            else "roughly in order of frequency"
            if rho > 0.3
            else "not in order of frequency"
        )
        out.append(
            f"n = {s.width}: modes are learned {word}: Spearman ρ(k, {what}) = "
            f"{rho:.2f} over {len(rows)} target frequencies ({detail})."
        )
    # 2. out of reach, and why
    ks = sorted({r.frequency for r in report_rows})
    never = [
        k
        for k in ks
        if all(r.measured_steps.median is None for r in report_rows if r.frequency == k)
    ]
    if never:
        first = [r for r in report_rows if r.width == widths[0] and r.frequency in never]
        explained = [
            f"k = {r.frequency} ({r.predicted_fraction_discrete:.2f} left; c·η·N·λ_k·T = "
            f"{r.analytic_exponent_at_end:.3g})"
            for r in first
            if r.predicted_fraction_discrete is not None
            and r.analytic_exponent_at_end is not None
            and r.predicted_fraction_discrete > FRACTION
        ]
        unexplained = [
            str(r.frequency)
            for r in first
            if r.predicted_fraction_discrete is not None
            and r.predicted_fraction_discrete <= FRACTION
        ]
        text = (
            f"Out of reach by step {steps:,} at every width: k = {_list([str(k) for k in never])}."
        )
        if explained:
            text += (
                f" The kernel regime explains it (n = {widths[0]}): its own prediction "
                f"(I − cηK)^T leaves more than 10 % of these modes: {_list(explained)}; "
                "ηλ_k·T is too small: the share left is about exp(−c·η·N·λ_k·T), and 10 % "
                "needs c·η·N·λ_k·T ≈ ln 10 ≈ 2.3."
            )
        if unexplained:
            text += (
                f" The kernel regime would have reached 10 % for k = {_list(unexplained)} "
                f"(n = {widths[0]}): the networks lag it."
            )
        out.append(text)
    else:
        out.append(f"Every target frequency reaches 10 % by step {steps:,} at some width.")
    for word, test in (
        (
            "Slower",
            lambda m, p: (
                (m is None and p is not None) or (m is not None and p is not None and m > 1.2 * p)
            ),
        ),
        ("Faster", lambda m, p: m is not None and (p is None or m < p / 1.2)),
    ):
        by_width = []
        for s in summaries:
            hits = [
                f"{r.frequency} ({_fmt_steps(r.measured_steps.median)} vs "
                f"{_fmt_steps(r.predicted_steps_curve)})"
                for r in report_rows
                if r.width == s.width and test(r.measured_steps.median, r.predicted_steps_curve)
            ]
            if hits:
                by_width.append(f"n = {s.width}: k = {_list(hits)}")
        if by_width:
            out.append(
                f"{word} than the kernel regime by more than 20 % (steps to 10 %, measured "
                f"median vs the run's own (I − cηK)^t prediction; 'not reached' = not by step "
                f"{steps:,}): {'; '.join(by_width)}."
            )
    # 3. RelErr by width
    rel = [(s.width, s.relative_error.median) for s in summaries]
    known = [(w, v) for w, v in rel if v is not None]
    if known:
        values = [v for _, v in known]
        trend = (
            "falls with width"
            if len(values) > 1 and all(b < a for a, b in itertools.pairwise(values))
            else "rises with width"
            if len(values) > 1 and all(b > a for a, b in itertools.pairwise(values))
            else "does not change monotonically with width"
            if len(values) > 1
            else "at the one width"
        )
        out.append(
            f"RelErr against the NTK predictor at step {steps:,} (median over seeds) {trend}: "
            + _list([f"{v:.3g} (n = {w})" for w, v in known])
            + "; kernel drift ‖K_T − K_0‖/‖K_0‖: "
            + _list(
                [
                    f"{s.kernel_drift.median:.3g} (n = {s.width})"
                    for s in summaries
                    if s.kernel_drift.median is not None
                ]
            )
            + "."
        )
    gaps = [(s.width, s.max_curve_gap) for s in summaries if s.max_curve_gap is not None]
    if gaps:
        out.append(
            "Largest gap between measured and predicted mode curves (share of the start, "
            "median over seeds): " + _list([f"{g:.3f} (n = {w})" for w, g in gaps]) + "."
        )
    # 4. discrete against flow
    pairs = [
        (r.frequency, r.predicted_steps_discrete, r.predicted_steps_flow)
        for r in report_rows
        if r.width == widths[0]
        and r.predicted_steps_discrete is not None
        and r.predicted_steps_flow is not None
    ]
    if pairs:
        worst = max(pairs, key=lambda p: abs(p[1] - p[2]) / p[2])
        out.append(
            "Discrete (1 − cημ_k)^t against gradient flow e^{−cημ_k t}: the predicted steps "
            f"to 10 % differ by at most {abs(worst[1] - worst[2]) / worst[2]:.1%} "
            f"(k = {worst[0]}: {worst[1]:,.0f} vs {worst[2]:,.1f})."
        )
    for s in summaries:
        if s.diverged_seeds:
            out.append(
                f"n = {s.width}: {s.diverged_seeds} of {s.seeds} seeds diverged "
                f"(stability limit η_max = {s.stability_limit:.3g}); left out of every statistic."
            )
    return out


#: RelErr against the t → ∞ predictor "barely moves" with width when its largest and
#: smallest medians differ by less than this share of the largest.
BARELY = 0.10


def _regime_verdicts(
    ds: Any, rows: list[FrequencyRow], summaries: list[WidthSummary], steps: int
) -> list[str]:
    """How far each width is from the kernel regime: RelErr at T against t → ∞, the
    modes down to 10 % at T, and the per-frequency drift of the empirical NTK."""
    out: list[str] = []
    at_t = [(s.width, s.relative_error.median) for s in summaries]
    limit = [(s.width, s.relative_error_limit.median) for s in summaries]
    if all(v is not None for _, v in at_t + limit) and len(summaries) > 1:
        values = [float(v) for _, v in limit if v is not None]
        spread = (max(values) - min(values)) / max(max(values), 1e-300)
        moves = (
            f"barely moves with width (by {100 * spread:.3g} % of its largest value, under "
            f"{100 * BARELY:.3g} %)"
            if spread < BARELY
            else f"changes with width by {100 * spread:.3g} % of its largest value"
        )
        text = (
            "RelErr against the t → ∞ kernel regression (median over seeds) "
            + moves
            + ": "
            + _list([f"{v:.3g} (n = {w})" for w, v in limit])
            + f"; against the NTK predictor at the same step {steps:,}: "
            + _list([f"{v:.3g} (n = {w})" for w, v in at_t])
            + "."
        )
        if all(
            a is not None and b is not None and a < 0.5 * b
            for (_, a), (_, b) in zip(at_t, limit, strict=True)
        ):
            text += (
                f" At every width the networks are closer to the kernel regime's prediction "
                f"at step {steps:,} than to its t → ∞ limit by more than a factor 2: "
                "training has not run long enough for the limit, not away from the regime."
            )
        out.append(text)
    reached = []
    for s in summaries:
        ks = [
            r.frequency
            for r in rows
            if r.width == s.width
            and r.measured_fraction.median is not None
            and r.measured_fraction.median < FRACTION
        ]
        reached.append((s.width, ks))
    if len(rows) > len(summaries):  # several target frequencies
        out.append(
            f"Target frequencies with less than 10 % left at step {steps:,} (median over "
            "seeds): "
            + "; ".join(
                f"n = {w}: " + (f"k = {_list([str(k) for k in ks])}" if ks else "none")
                for w, ks in reached
            )
            + "."
        )
        counts = [len(ks) for _, ks in reached]
        if (
            len(counts) > 1
            and counts[-1] > counts[0]
            and all(b >= a for a, b in itertools.pairwise(counts))
        ):
            out.append(
                f"Narrow networks learn fewer of the harmonics: n = {reached[0][0]} brings "
                f"{counts[0]} of the {len(rows) // len(summaries)} target frequencies under "
                f"10 %, n = {reached[-1][0]} brings {counts[-1]} "
                f"(k = {_list([str(k) for k in reached[-1][1]])})."
            )
    if "empirical_ntk_rayleigh" in ds and ds.sizes.get("checkpoint", 0) > 1:
        quotients = ds["empirical_ntk_rayleigh"].values  # (W, S, C, F)
        diverged = ds["diverged"].values.astype(bool)
        ks = sorted({r.frequency for r in rows})
        parts = []
        for j, s in enumerate(summaries):
            ok = ~diverged[j]
            if not ok.any() or not ks:
                continue
            with quiet():
                first, final = quotients[j, ok, 0][:, ks], quotients[j, ok, -1][:, ks]
                change = np.nanmedian(np.abs(final - first) / np.abs(first), axis=0)
            if not np.isfinite(change).any():
                continue
            worst = int(np.nanargmax(change))
            parts.append(f"n = {s.width}: up to {100 * change[worst]:.3g} % (k = {ks[worst]})")
        if parts:
            out.append(
                "Drift of the empirical NTK per target frequency (its Rayleigh quotient at "
                f"step {steps:,} against step 0, |Δ|/start, median over seeds): "
                + "; ".join(parts)
                + "."
            )
    return out


def _figures(ds: Any, freqs: list[int]) -> list[FigureRef]:
    names = set(map(str, ds.data_vars))
    out = []
    if freqs:
        out += [
            figure(
                "residual_heatmap",
                "Share of each target frequency's residual left (median over seeds, clipped "
                "to [0, 1]) against the step, one panel per width (Rahaman et al. 2019, Fig. 1).",
            ),
            figure(
                "mode_decay",
                "Residual amplitude of each target frequency over its start: measured median "
                "and IQR over seeds per width, with the kernel-regime predictions "
                "(1 − cημ)^t (dashed) and gradient flow (dotted).",
            ),
            figure(
                "steps_to_converge",
                "Steps until each mode is down to 10 % against k (log-log): measured median "
                "and IQR per width, predicted (discrete), and a k² reference; triangles at the "
                "top mark modes not reached.",
            ),
        ]
    if "empirical_ntk_rayleigh" in names:
        out.append(
            figure(
                "ntk_spectrum",
                "Analytic NTK eigenvalues λ_k with the fitted power law, the analytic Gram's "
                "Rayleigh quotients on the run's training points (dotted), and the empirical "
                "NTK's Rayleigh quotients per frequency at step 0 and at the last step "
                "(median and 10–90 % band over seeds) per width. On inputs other than a grid "
                "the sampled waves are not orthogonal and the quotients level off at a floor "
                "above λ_k.",
            )
        )
    if "empirical_ntk_profile" in names and np.isfinite(ds["empirical_ntk_profile"].values).any():
        out.append(
            figure(
                "kernel_profiles",
                "NTK profile Θ(x0, x(γ)) of the networks at step 0 and at the last step "
                "(median and 10–90 % band over seeds) against the analytic limit "
                "(Jacot et al. 2018, Fig. 1).",
            )
        )
    if "relative_error" in names:
        out.append(
            figure(
                "relative_error",
                "RelErr of the networks against the NTK predictor at the last step and "
                "against t → ∞ kernel regression, by width (median and IQR over seeds).",
            )
        )
    if "eval_prediction" in names and "ntk_prediction" in names:
        out.append(
            figure(
                "predictions",
                "Network outputs at the last step on the evaluation grid (median and 10–90 % "
                "band over seeds) against the NTK predictor at the same step and the target.",
            )
        )
    return out


def convergence_report(ds: Any, source: Any = None) -> ConvergenceReport:
    """The convergence report of a ``training`` run (a pure function of the Dataset).

    Parameters
    ----------
    ds : xarray.Dataset
        A validated training run.
    source : str or path, optional
        The run's file name (default: the dataset's ``source`` encoding).

    Returns
    -------
    ConvergenceReport
    """
    from spectralntk.dynamics.predict import loss_factor, steps_to_fraction

    cfg = _config(ds)
    steps = ds["step"].values.astype(np.int64)
    last = int(steps[-1])
    targets = target_frequencies(ds)
    freqs = [k for k, _ in targets]
    c = loss_factor(cfg.loss, cfg.points)
    measured = mode_fractions(ds, "residual")
    predicted = mode_fractions(ds, "predicted_residual")
    flow = (
        mode_fractions(ds, "flow_residual")
        if "flow_residual_cos" in ds and "flow_residual_sin" in ds
        else None
    )
    mu = train_eigenvalues(ds)
    lam = analytic_eigenvalues(ds, max(freqs, default=0))
    diverged = ds["diverged"].values.astype(bool)
    reach = steps_to_reach(steps, np.moveaxis(measured, 2, -1))  # (W, S, F)
    predicted_reach = steps_to_reach(steps, np.moveaxis(predicted, 2, -1))

    rows: list[FrequencyRow] = []
    summaries: list[WidthSummary] = []
    for j, width in enumerate(cfg.widths):
        ok = ~diverged[j]
        width_rows = []
        for k, amp in targets:
            # the eigenvalue that carries mode k: exact on a grid; elsewhere the Fourier
            # vectors are not eigenvectors and their Rayleigh quotient is inflated by the
            # non-orthogonal sampling, so the continuum value N·λ_k is used
            mu_k = mu[j, k] if cfg.inputs == "grid" else cfg.points * lam[j, k]
            rate = c * cfg.lr * mu_k
            positive = mu_k > 0
            pred_d = float(steps_to_fraction(mu_k, cfg.lr, c, FRACTION)) if positive else math.inf
            pred_f = (
                float(steps_to_fraction(mu_k, cfg.lr, c, FRACTION, dynamics="flow"))
                if positive
                else math.inf
            )
            seed_steps = reach[j, ok, k]
            curve_steps = predicted_reach[j, ok, k]
            with quiet():
                gap = np.nanmax(np.abs(measured[j, :, :, k] - predicted[j, :, :, k]), axis=-1)
            width_rows.append(
                FrequencyRow(
                    width=int(width),
                    frequency=k,
                    amplitude=amp,
                    analytic_eigenvalue=num(lam[j, k]),
                    train_eigenvalue=num(mu[j, k]),
                    rate=num(rate),
                    predicted_steps_discrete=num(pred_d),
                    predicted_steps_flow=num(pred_f),
                    predicted_steps_curve=seed_stat(curve_steps).median,
                    measured_steps=seed_stat(seed_steps),
                    seeds_reached=int(np.isfinite(seed_steps).sum()),
                    seeds=int(ok.sum()),
                    predicted_fraction_discrete=_median(predicted[j, ok, -1, k]),
                    predicted_fraction_flow=None if flow is None else _median(flow[j, ok, -1, k]),
                    measured_fraction=seed_stat(measured[j, ok, -1, k]),
                    exponent_at_end=num(rate * last),
                    analytic_exponent_at_end=num(c * cfg.lr * cfg.points * lam[j, k] * last),
                    curve_gap=_median(gap[ok]),
                )
            )
        rows += width_rows

        def final(name: str, j: int = j, ok: NDArray[np.bool_] = ok) -> Any:
            if name not in ds:
                return seed_stat([])
            return seed_stat(ds[name].values[j, ok, -1])

        gaps = [r.curve_gap for r in width_rows if r.curve_gap is not None]
        summaries.append(
            WidthSummary(
                width=int(width),
                seeds=len(cfg.seeds),
                diverged_seeds=int(diverged[j].sum()),
                relative_error=final("relative_error"),
                relative_error_limit=final("relative_error_limit"),
                kernel_drift=final("kernel_drift"),
                max_curve_gap=max(gaps) if gaps else None,
                spearman_rho=_spearman(
                    [r.frequency for r in width_rows],
                    [
                        math.inf if r.measured_steps.median is None else r.measured_steps.median
                        for r in width_rows
                    ],
                ),
                spearman_rho_left=_spearman(
                    [r.frequency for r in width_rows if r.measured_fraction.median is not None],
                    [
                        r.measured_fraction.median
                        for r in width_rows
                        if r.measured_fraction.median is not None
                    ],
                ),
                stability_limit=num(ds["stability_limit"].values[j])
                if "stability_limit" in ds
                else None,
            )
        )
    target = cfg.target
    return ConvergenceReport(
        title=(
            f"Convergence per frequency: depth {cfg.network.depth} "
            f"{cfg.network.activation.value} MLPs, widths "
            f"{', '.join(map(str, cfg.widths))}, target {target.name}, η = {cfg.lr:g}, "
            f"{last:,} steps"
        ),
        provenance=provenance(ds, source),
        verdicts=_verdicts(rows, summaries, last) + _regime_verdicts(ds, rows, summaries, last),
        figures=_figures(ds, freqs),
        loss=cfg.loss,
        loss_factor=c,
        lr=cfg.lr,
        steps=last,
        fraction=FRACTION,
        depth=cfg.network.depth,
        points=cfg.points,
        inputs=cfg.inputs,
        rows=rows,
        widths=summaries,
    )
