r"""The convergence report of a training run: which frequencies are learned by step t.

For every target frequency k and width (Rahaman et al. 2019; the seed write-up's
experiments 2.2–2.5), from a ``training`` run Dataset:

* the analytic NTK eigenvalue λ_k on S¹ and μ_k on the training points — the Rayleigh
  quotient v_kᵀ K v_k of the unit cos/sin vectors of frequency k (averaged) of the analytic
  NTK Gram K (exactly the eigenvalue of frequency k on a uniform grid);
* the kernel-regime rate x_k = c·η·μ_k (c of the loss convention, docs/conventions.md; on
  inputs other than a grid the Fourier vectors are not eigenvectors of K and μ_k is replaced
  by its continuum value N·λ_k) and
  the predicted steps until the mode's amplitude is 10 % of its start: the least t with
  |1 − x_k|^t ≤ 0.1 (discrete gradient descent) and ln(10)/x_k (gradient flow),
  :func:`spectralntk.dynamics.predict.steps_to_fraction`;
* the measured steps: the amplitude A_t = √(a_k² + b_k²) of the residual's frequency-k
  coefficients over A_0 is interpolated log-linearly between recorded steps, and the
  crossing of 0.1 after which the curve stays at or below 0.1 to the last step is rounded
  up to a step (exact for a mode that decays geometrically, whatever the recording
  cadence); median and IQR over seeds, "not reached" (None) when the median seed does not
  get there and stay. A mode that falls to 0.1 and rises above it again *rebounded*: its
  first dip is kept (``first_dip_steps``) and the rebound is reported, not counted as
  learned;
* the predicted and measured share of the mode left at the last step (the predictions are
  the run's own ``predicted_residual_*``/``flow_residual_*``: each seed's initial residual
  propagated by (I − cηK)^t and e^{−cηKt});
* the curve gap max_t |A_t − P_t|/A_0 (how far the measured curve sits from the
  discrete prediction), and per width RelErr against the NTK predictor, kernel drift and
  Spearman's ρ between k and the measured steps.

Diverged seeds are left out of every statistic, and named with the step they diverged
at; a width whose seeds all diverged gets no statistic and no figure.

The findings use stated thresholds:

* the kernel regime *holds* at a width when its median kernel drift ‖K_T − K_0‖/‖K_0‖ is
  at most :data:`REGIME_DRIFT` (0.1: the Gram, and so the rates c·η·μ_k, moved by at
  most about 10 %, half the 20 % by which a mode is called faster or slower than the
  prediction) and its median RelErr to the NTK predictor at T at most
  :data:`REGIME_RELERR` (0.2: the network's function within 20 % of the kernel regime's);
  only then is "the kernel regime explains it" said of that width, with its own numbers;
* an order of learning is claimed only when Spearman's ρ between k and the steps to 10 %
  (or the share left at T) is significant, one-sided permutation p < :data:`ORDER_P`
  (exact over all orderings up to 8 frequencies): "in order of frequency" with
  ρ ≥ :data:`ORDER_RHO`, "roughly in order" below it.
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
from spectralntk.reports.training_modes import (  # noqa: F401  (re-exported)
    _amplitude,
    _config,
    analytic_eigenvalues,
    mode_fractions,
    target_frequencies,
    train_eigenvalues,
)

__all__ = [
    "FRACTION",
    "ORDER_P",
    "ORDER_RHO",
    "REGIME_DRIFT",
    "REGIME_RELERR",
    "convergence_report",
    "mode_fractions",
    "order_p_value",
    "steps_to_reach",
    "train_eigenvalues",
]

FloatArray = NDArray[np.float64]

#: A mode counts as learned when its amplitude is down to this share of its start
#: (and stays there).
FRACTION = 0.1
#: The kernel regime holds at a width up to this median kernel drift ‖K_T − K_0‖/‖K_0‖.
REGIME_DRIFT = 0.1
#: ... and up to this median RelErr to the NTK predictor at the last step.
REGIME_RELERR = 0.2
#: An order of learning is claimed below this one-sided permutation p-value of ρ.
ORDER_P = 0.05
#: ... and called "in order of frequency" (not "roughly") from this ρ on.
ORDER_RHO = 0.8
#: Orderings drawn for the permutation p-value above 8 frequencies (fixed seed 0).
PERMUTATIONS = 20_000


def steps_to_reach(
    steps: NDArray[Any], fraction: FloatArray, level: float = FRACTION, *, stay: bool = True
) -> FloatArray:
    """Step at which ``fraction`` falls to ``level`` (and, with ``stay``, stays), per curve.

    Parameters
    ----------
    steps : ndarray, shape (T,)
        Recorded steps, increasing, starting at 0.
    fraction : ndarray, shape (..., T)
        Mode amplitude over its start (1 at step 0).
    level : float
        Threshold in (0, 1).
    stay : bool
        Count only the crossing after which every record up to the last is at or below
        ``level`` (a mode that dips and rebounds is not learned); False: the first dip.

    Returns
    -------
    ndarray, shape (...)
        The crossing of ``level`` between the recorded steps s_i < s_{i+1} bracketing
        the first record at or below it (``stay``: the first record of the final run of
        records at or below it), interpolated linearly in log(fraction) and rounded up
        to an integer step; +inf where the curve never gets there (``stay``: ends above
        ``level``), NaN where the curve is all NaN (a diverged seed).
    """
    s = np.asarray(steps, dtype=np.float64)
    f = np.asarray(fraction, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        below = f <= level
    if stay:
        above = ~below
        reached = below[..., -1]
        last_above = f.shape[-1] - 1 - np.argmax(above[..., ::-1], axis=-1)
        first = np.where(above.any(axis=-1), last_above + 1, 0)
    else:
        reached = np.asarray(below.any(axis=-1))
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


def order_p_value(x: list[float], y: list[float]) -> float | None:
    """One-sided permutation p-value of Spearman's ρ(x, y): P(ρ ≥ observed) under no order.

    Exact (every ordering of ``y``) up to 8 values, else :data:`PERMUTATIONS` random
    orderings with seed 0 (p = (hits + 1)/(draws + 1)). Ties get average ranks; +inf
    ranks last. None when ρ is undefined (fewer than 2 values or ``y`` all tied).
    """
    from scipy.stats import rankdata

    n = len(x)
    if n < 2 or len(set(y)) < 2 or len(set(x)) < 2:
        return None
    rx = rankdata(x) - (n + 1) / 2
    ry = rankdata(y)
    if n <= 8:
        orders = np.array(list(itertools.permutations(range(n))))
    else:
        rng = np.random.default_rng(0)
        orders = rng.permuted(np.tile(np.arange(n), (PERMUTATIONS, 1)), axis=1)
    values = ry[orders]
    values = values - values.mean(axis=1, keepdims=True)
    rho = values @ rx / (np.linalg.norm(values, axis=1) * np.linalg.norm(rx))
    observed = float((ry - ry.mean()) @ rx / (np.linalg.norm(ry - ry.mean()) * np.linalg.norm(rx)))
    hits = int((rho >= observed - 1e-12).sum())
    if n <= 8:
        return hits / len(orders)
    return (hits + 1) / (len(orders) + 1)


def _fmt_steps(value: float | None) -> str:
    return "not reached" if value is None else f"{value:,.0f}"


def _fmt_left(value: float) -> str:
    """A share of a mode left: 2 decimals, or 'more than 10× its start' past 10."""
    return "more than 10× its start" if value > 10 else f"{value:.2f}"


def _list(items: list[str]) -> str:
    return ", ".join(items)


def regime_state(drift: float | None, relative_error: float | None) -> str:
    """'holds', 'does not hold' or 'unknown': the kernel regime at a width (see the module)."""
    if drift is None or relative_error is None:
        if (drift is not None and drift > REGIME_DRIFT) or (
            relative_error is not None and relative_error > REGIME_RELERR
        ):
            return "does not hold"
        return "unknown"
    return "holds" if drift <= REGIME_DRIFT and relative_error <= REGIME_RELERR else "does not hold"


def _regime_reason(s: WidthSummary) -> str:
    """The width's own drift and RelErr against the thresholds."""
    parts = []
    drift, rel = s.kernel_drift.median, s.relative_error.median
    if drift is not None:
        sign = "≤" if drift <= REGIME_DRIFT else ">"
        parts.append(f"kernel drift {drift:.3g} {sign} {REGIME_DRIFT:g}")
    if rel is not None:
        sign = "≤" if rel <= REGIME_RELERR else ">"
        parts.append(f"RelErr to the NTK predictor {rel:.3g} {sign} {REGIME_RELERR:g}")
    return ", ".join(parts) if parts else "no kernel drift or RelErr recorded"


def _alive(s: WidthSummary) -> bool:
    return s.diverged_seeds < s.seeds


def _seed_list(ids: list[int], steps: list[int]) -> str:
    return _list([f"seed {i} at step {t:,}" for i, t in zip(ids, steps, strict=True)])


def _diverged_verdict(s: WidthSummary) -> str:
    """The all-diverged width, named with the step (steps) it diverged at."""
    steps = sorted(set(s.diverged_steps))
    if len(steps) == 1:
        when = f"diverged at step {steps[0]:,}"
    elif steps:
        when = (
            f"diverged at step {steps[0]:,} to {steps[-1]:,} "
            f"({_seed_list(s.diverged_seed_ids, s.diverged_steps)})"
        )
    else:
        when = "diverged"
    limit = (
        f" (stability limit η_max = {s.stability_limit:.3g})"
        if s.stability_limit is not None
        else ""
    )
    return (
        f"n = {s.width}: all {s.seeds} seeds {when}{limit}: no statistic and no figure for "
        "this width."
    )


def _percent(share: float) -> str:
    """A share as a percentage with two significant digits: never "0.0%" for a small one."""
    return "0 %" if share == 0 else f"{100 * share:.2g} %"


def _order_verdict(s: WidthSummary, rows: list[FrequencyRow], steps: int) -> str:
    """Order of learning at one width, with the thresholds and the p-value."""
    reached = sum(r.measured_steps.median is not None for r in rows)
    rule = (
        f"one-sided permutation test; an order is claimed for p < {ORDER_P:g}, "
        f"'in order' from ρ ≥ {ORDER_RHO:g}"
    )
    if s.spearman_rho is not None and reached >= 2:
        rho, p, what = s.spearman_rho, s.spearman_p, "measured steps to 10 %"
        detail = f"{reached} reached 10 % by step {steps:,} and stayed there; the others rank last"
    elif s.spearman_rho_left is not None:
        rho, p = s.spearman_rho_left, s.spearman_p_left
        what = f"share of the mode left at step {steps:,}"
        none = "none" if reached == 0 else f"only {reached}"
        p_text = "p undefined" if p is None else f"p = {p:.2g}"
        order = (
            "show no order of frequency"
            if p is None or p >= ORDER_P
            else "are in order of frequency"
            if rho >= ORDER_RHO
            else "are roughly in order of frequency"
        )
        return (
            f"n = {s.width}: {none} of the {len(rows)} target frequencies reached 10 % and "
            f"stayed there by step {steps:,}; the shares left at that step {order} (less is "
            f"left of lower k when ρ > 0): Spearman ρ(k, {what}) = {rho:.2f}, {p_text} "
            f"({rule})."
        )
    else:
        return (
            f"n = {s.width}: the order of learning cannot be ranked "
            f"({'none' if reached == 0 else reached} of {len(rows)} target frequencies "
            f"reached 10 % by step {steps:,})."
        )
    p_text = "p undefined" if p is None else f"p = {p:.2g}"
    if p is not None and p < ORDER_P:
        word = (
            "modes are learned in order of frequency"
            if rho >= ORDER_RHO
            else "modes are learned roughly in order of frequency"
        )
    else:
        word = "no order of frequency is shown"
    return (
        f"n = {s.width}: {word}: Spearman ρ(k, {what}) = {rho:.2f} over {len(rows)} target "
        f"frequencies, {p_text} ({rule}; {detail})."
    )


def _first_fall_order(rows: list[FrequencyRow], width: int) -> str:
    """The order of the first falls to 10 % (rebounds included) at one width, as a clause:
    spectral bias can show in when modes first reach 10 % even where rebounds hide it in
    when they stay there. Same test and thresholds as the order of learning."""
    mine = [r for r in rows if r.width == width]
    ks = [r.frequency for r in mine]
    dips = [
        r.first_dip_steps.median
        if r.first_dip_steps is not None and r.first_dip_steps.median is not None
        else np.inf
        for r in mine
    ]
    rho, p = _spearman(ks, dips), order_p_value([float(k) for k in ks], dips)
    if rho is None or len(mine) < 3 or sum(np.isfinite(dips)) < 2:
        return ""  # one fall (or none) has no order to show
    if p is not None and p < ORDER_P:
        word = (
            "are in order of frequency" if rho >= ORDER_RHO else "are roughly in order of frequency"
        )
    else:
        word = "show no order of frequency"
    p_text = "p undefined" if p is None else f"p = {p:.2g}"
    return (
        f"; the first falls to 10 % {word}: Spearman ρ(k, first step at 10 %) = {rho:.2f}, {p_text}"
    )


def _rebound_verdict(rows: list[FrequencyRow], summaries: list[WidthSummary]) -> str | None:
    parts = []
    for s in summaries:
        hits = []
        for r in rows:
            if r.width != s.width or r.rebounded_seeds == 0:
                continue
            dip = r.first_dip_steps.median if r.first_dip_steps is not None else None
            left = r.measured_fraction.median
            now = (
                f"stays under from step {r.measured_steps.median:,.0f}"
                if r.measured_steps.median is not None
                else "not learned" + (f", {left:.3g} left at the end" if left is not None else "")
            )
            first = f"first at step {dip:,.0f}, " if dip is not None else ""
            hits.append(f"k = {r.frequency} ({r.rebounded_seeds} of {r.seeds} seeds; {first}{now})")
        if hits:
            parts.append(f"n = {s.width}: " + _list(hits) + _first_fall_order(rows, s.width))
    if not parts:
        return None
    return (
        "Rebounds (a mode fell to 10 % of its start and rose above it again; it counts as "
        "learned only from the step after which it stays under, medians over seeds): "
        + "; ".join(parts)
        + "."
    )


def _reach_verdict(s: WidthSummary, rows: list[FrequencyRow], steps: int) -> str | None:
    """Why the modes not reached at one width are not: the width's own numbers."""
    missed = [r for r in rows if r.measured_steps.median is None]
    if not missed:
        return None
    explained = [
        r
        for r in missed
        if r.predicted_fraction_discrete is not None and r.predicted_fraction_discrete > FRACTION
    ]
    lagging = [
        r
        for r in missed
        if r.predicted_fraction_discrete is not None and r.predicted_fraction_discrete <= FRACTION
    ]
    text = (
        f"n = {s.width}: k = {_list([str(r.frequency) for r in missed])} not learned by step "
        f"{steps:,} (median seed)."
    )
    numbers = _list(
        [
            f"k = {r.frequency} ({_fmt_left(r.predicted_fraction_discrete)} left; "  # type: ignore[arg-type]
            f"c·η·N·λ_k·T = {r.analytic_exponent_at_end:.3g})"
            for r in explained
            if r.analytic_exponent_at_end is not None
        ]
    )
    lag = _list([f"{r.frequency} (by step {_fmt_steps(r.predicted_steps_curve)})" for r in lagging])
    if s.kernel_regime == "holds":
        text += f" The kernel regime holds at this width ({_regime_reason(s)})"
        if explained:
            which = (
                "these modes"
                if not lagging
                else "k = " + _list([str(r.frequency) for r in explained])
            )
            text += (
                " and explains it: its own prediction (I − cηK)^T leaves more than 10 % of "
                f"{which}"
                f": {numbers}; the share left is about exp(−c·η·N·λ_k·T), and 10 % needs "
                "c·η·N·λ_k·T ≈ ln 10 ≈ 2.3."
            )
        else:
            text += "."
        if lagging:
            text += f" It would have brought k = {lag} under 10 %: the networks lag it."
        return text
    if s.kernel_regime == "does not hold":
        text += (
            f" The kernel regime does not hold at this width ({_regime_reason(s)}), so it "
            "does not explain this"
        )
    else:
        text += f" Whether the kernel regime holds at this width is unknown ({_regime_reason(s)})"
    compare = []
    if explained:
        compare.append(
            "leave more than 10 % of k = " + _list([str(r.frequency) for r in explained])
        )
    if lagging:
        compare.append(f"bring k = {lag} under 10 %")
    if compare:
        text += "; its prediction (I − cηK)^T would " + " and ".join(compare)
    return text + "."


def _verdicts(
    report_rows: list[FrequencyRow], summaries: list[WidthSummary], steps: int
) -> list[str]:
    out: list[str] = []
    live = [s for s in summaries if _alive(s)]
    live_widths = {s.width for s in live}
    rows_live = [r for r in report_rows if r.width in live_widths]
    # 1. spectral order (an all-diverged width says so instead)
    for s in summaries:
        rows = [r for r in report_rows if r.width == s.width]
        if not _alive(s):
            out.append(_diverged_verdict(s))
            continue
        if len(rows) == 1:
            r = rows[0]
            when = (
                f"reaches 10 % at step {r.measured_steps.median:,.0f} and stays under"
                if r.measured_steps.median is not None
                else f"does not reach 10 % and stay there by step {steps:,}"
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
        out.append(_order_verdict(s, rows, steps))
    rebound = _rebound_verdict(rows_live, live)
    if rebound:
        out.append(rebound)
    # 2. out of reach, and why: each width with its own numbers
    ks = sorted({r.frequency for r in rows_live})
    never = [
        k for k in ks if all(r.measured_steps.median is None for r in rows_live if r.frequency == k)
    ]
    if never:
        out.append(
            f"Out of reach by step {steps:,} at every width: k = {_list([str(k) for k in never])}."
        )
    elif ks:
        out.append(f"Every target frequency reaches 10 % by step {steps:,} at some width.")
    if len(ks) > 1:
        for s in live:
            text = _reach_verdict(s, [r for r in rows_live if r.width == s.width], steps)
            if text:
                out.append(text)
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
        for s in live:
            hits = [
                f"{r.frequency} ({_fmt_steps(r.measured_steps.median)} vs "
                f"{_fmt_steps(r.predicted_steps_curve)})"
                for r in rows_live
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
    rel = [(s.width, s.relative_error.median) for s in live]
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
                    for s in live
                    if s.kernel_drift.median is not None
                ]
            )
            + "."
        )
    regime = [s for s in live if s.kernel_regime != "unknown"]
    if regime:
        holds = [str(s.width) for s in regime if s.kernel_regime == "holds"]
        fails = [str(s.width) for s in regime if s.kernel_regime == "does not hold"]
        out.append(
            f"The kernel regime (median kernel drift ≤ {REGIME_DRIFT:g} and RelErr to the NTK "
            f"predictor ≤ {REGIME_RELERR:g}: the rates c·η·μ_k move by at most about 10 %, "
            "and the function stays within 20 % of the prediction) "
            + (f"holds at n = {_list(holds)}" if holds else "holds at no width")
            + (f" and does not hold at n = {_list(fails)}" if fails else "")
            + "."
        )
    gaps = [(s.width, s.max_curve_gap) for s in live if s.max_curve_gap is not None]
    if gaps:
        out.append(
            "Largest gap between measured and predicted mode curves (share of the start, "
            "median over seeds): "
            + _list([f"{_fmt_left(g) if g > 10 else f'{g:.3f}'} (n = {w})" for w, g in gaps])
            + "."
        )
    # 4. discrete against flow
    first_width = live[0].width if live else summaries[0].width
    pairs = [
        (r.frequency, r.predicted_steps_discrete, r.predicted_steps_flow)
        for r in report_rows
        if r.width == first_width
        and r.predicted_steps_discrete is not None
        and r.predicted_steps_flow is not None
    ]
    if pairs:
        worst = max(pairs, key=lambda p: abs(p[1] - p[2]) / p[2])
        out.append(
            "Discrete (1 − cημ_k)^t against gradient flow e^{−cημ_k t}: the predicted steps "
            f"to 10 % differ by at most {_percent(abs(worst[1] - worst[2]) / worst[2])} "
            f"(k = {worst[0]}: {worst[1]:,.0f} vs {worst[2]:,.1f})."
        )
    for s in live:
        if s.diverged_seeds:
            limit = (
                f"; stability limit η_max = {s.stability_limit:.3g}"
                if s.stability_limit is not None
                else ""
            )
            out.append(
                f"n = {s.width}: {s.diverged_seeds} of {s.seeds} seeds diverged "
                f"({_seed_list(s.diverged_seed_ids, s.diverged_steps)}{limit}); left out of "
                "every statistic."
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
    live = [
        s
        for s in summaries
        if _alive(s)
        and s.relative_error.median is not None
        and s.relative_error_limit.median is not None
    ]
    at_t = [(s.width, s.relative_error.median) for s in live]
    limit = [(s.width, s.relative_error_limit.median) for s in live]
    if len(live) > 1:
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
        if not _alive(s):
            continue
        ks = [
            r.frequency
            for r in rows
            if r.width == s.width
            and r.measured_fraction.median is not None
            and r.measured_fraction.median < FRACTION
        ]
        reached.append((s.width, ks))
    if len(rows) > len(summaries) and reached:  # several target frequencies
        dead = [str(s.width) for s in summaries if not _alive(s)]
        out.append(
            f"Target frequencies with less than 10 % left at step {steps:,} (median over "
            "seeds): "
            + "; ".join(
                f"n = {w}: " + (f"k = {_list([str(k) for k in ks])}" if ks else "none")
                for w, ks in reached
            )
            + (f" (n = {_list(dead)}: every seed diverged)" if dead else "")
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


def off_circle_note(ds: Any) -> str:
    """A caption's note for runs trained on Gaussian inputs (off the circle); else ""."""
    from spectralntk.store.schema import read_config

    if read_config(ds).get("inputs") != "gaussian":
        return ""
    return (
        " The training inputs are Gaussian points of R², mostly off the circle: on it the "
        "networks and the NTK predictor extrapolate, and need not meet the target."
    )


def _figures(ds: Any, freqs: list[int], summaries: list[WidthSummary]) -> list[FigureRef]:
    """The figures of the report; none of a width whose seeds all diverged (none at all
    when every width did)."""
    names = set(map(str, ds.data_vars))
    out: list[FigureRef] = []
    dead = [s.width for s in summaries if not _alive(s)]
    if len(dead) == len(summaries):
        return out
    note = f" Left out: n = {_list([str(w) for w in dead])} (every seed diverged)." if dead else ""
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
                "and IQR per width, predicted (the discrete closed form (1 − cημ_k)^t and, "
                "where it differs from it by over 5 %, the run's own (I − cηK)^t r₀: off the "
                "grid the modes mix), and a k² reference; triangles at the top mark modes not "
                "reached.",
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
                "band over seeds) against the NTK predictor at the same step and the target."
                + off_circle_note(ds),
            )
        )
    return [f.model_copy(update={"caption": f.caption + note}) for f in out]


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
    dip = steps_to_reach(steps, np.moveaxis(measured, 2, -1), stay=False)
    predicted_reach = steps_to_reach(steps, np.moveaxis(predicted, 2, -1))
    diverged_step = (
        ds["diverged_step"].values if "diverged_step" in ds else np.where(diverged, last, -1)
    )

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
            seed_dips = dip[j, ok, k]
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
                    first_dip_steps=seed_stat(seed_dips),
                    rebounded_seeds=int((np.isfinite(seed_dips) & (seed_steps > seed_dips)).sum()),
                )
            )
        rows += width_rows

        def final(name: str, j: int = j, ok: NDArray[np.bool_] = ok) -> Any:
            if name not in ds:
                return seed_stat([])
            return seed_stat(ds[name].values[j, ok, -1])

        gaps = [r.curve_gap for r in width_rows if r.curve_gap is not None]
        order_k = [r.frequency for r in width_rows]
        order_steps = [
            math.inf if r.measured_steps.median is None else r.measured_steps.median
            for r in width_rows
        ]
        left_k = [r.frequency for r in width_rows if r.measured_fraction.median is not None]
        left = [
            r.measured_fraction.median for r in width_rows if r.measured_fraction.median is not None
        ]
        ids = np.nonzero(diverged[j])[0]
        relative = final("relative_error")
        drift = final("kernel_drift")
        alive = bool(ok.any())
        summaries.append(
            WidthSummary(
                width=int(width),
                seeds=len(cfg.seeds),
                diverged_seeds=int(diverged[j].sum()),
                relative_error=relative,
                relative_error_limit=final("relative_error_limit"),
                kernel_drift=drift,
                max_curve_gap=max(gaps) if gaps else None,
                spearman_rho=_spearman(order_k, order_steps) if alive else None,
                spearman_rho_left=_spearman(left_k, left),  # type: ignore[arg-type]
                spearman_p=order_p_value(order_k, order_steps) if alive else None,  # type: ignore[arg-type]
                spearman_p_left=order_p_value(left_k, left),  # type: ignore[arg-type]
                stability_limit=num(ds["stability_limit"].values[j])
                if "stability_limit" in ds
                else None,
                diverged_seed_ids=[int(cfg.seeds[i]) for i in ids],
                diverged_steps=[int(diverged_step[j, i]) for i in ids],
                kernel_regime=regime_state(drift.median, relative.median),  # type: ignore[arg-type]
            )
        )
    from spectralntk.reports.linearized import gap_figures, gap_split, gap_verdicts

    split = gap_split(ds, freqs, mu)
    target = cfg.target
    return ConvergenceReport(
        title=(
            f"Convergence per frequency: depth {cfg.network.depth} "
            f"{cfg.network.activation.value} MLPs, widths "
            f"{', '.join(map(str, cfg.widths))}, target {target.name}, η = {cfg.lr:g}, "
            f"{last:,} steps"
        ),
        provenance=provenance(ds, source),
        verdicts=_verdicts(rows, summaries, last)
        + _regime_verdicts(ds, rows, summaries, last)
        + gap_verdicts(ds, split),
        figures=_figures(ds, freqs, summaries) + gap_figures(ds, freqs),
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
        eigenvalue="mu" if cfg.inputs == "grid" else "n_lambda",
        regime_drift=REGIME_DRIFT,
        regime_relative_error=REGIME_RELERR,
        gap_split=split,
    )
