"""Findings and figures of the convergence report on synthetic runs with known answers.

Each finding's wording is checked where the answer is known: a mode that rebounds, a
width whose seeds all diverged, the kernel-regime sentence with each width's own numbers,
order-of-learning claims only with a significant ρ, and the 'not reached' markers above
every plotted value. The figures are checked for print resolution, paper width, and no
overlapping ticks, no legend over the panels and no text outside the figure.
"""

from __future__ import annotations

import itertools
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_reports import FREQS, SEEDS, WIDTHS, empirical_dataset, fluctuation_dataset
from test_reports import training_dataset as base_dataset

from spectralntk.reports.build import build_report
from spectralntk.reports.convergence import (
    REGIME_DRIFT,
    REGIME_RELERR,
    order_p_value,
    steps_to_reach,
)
from spectralntk.reports.render import render_html, render_markdown, tables


def training_dataset(**kw):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # building the synthetic run is quiet too
        return base_dataset(**kw)


def report_of(ds):  # type: ignore[no-untyped-def]
    """The report, with every warning an error: none may reach the user."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return build_report(ds, "synthetic.nc")


def set_mode(ds, k: int, share: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    """Make the measured frequency-k residual of every seed and width follow ``share``."""
    for name in ("residual_cos", "residual_sin"):
        start = ds[name].values[:, :, :1, k].copy()
        ds[name].values[:, :, :, k] = start * share[None, None, :]


def all_diverged(ds, widths: list[int], step: int = 3) -> None:  # type: ignore[no-untyped-def]
    """Every seed of the widths at ``widths`` (indices) diverged at ``step``; garbage values."""
    for j in widths:
        ds["diverged_step"].values[j] = step
        ds["diverged"].values[j] = 1
        for name in ("residual_cos", "predicted_residual_cos", "flow_residual_cos"):
            ds[name].values[j] = 5.98e56
        for name in ("relative_error", "kernel_drift", "relative_error_limit"):
            ds[name].values[j] = 5.98e56


# ---------------------------------------------------------------------------
# a mode that dips under 10 % and rebounds is not learned
# ---------------------------------------------------------------------------
def test_steps_to_reach_counts_only_a_mode_that_stays() -> None:
    steps = np.arange(0, 101, 10)
    curve = np.array([1, 0.5, 0.2, 0.08, 0.05, 0.12, 0.2, 0.15, 0.09, 0.05, 0.02])
    # the first dip: between steps 20 (0.2) and 30 (0.08), log-linear
    dip = math.ceil(20 + 10 * math.log(0.2 / 0.1) / math.log(0.2 / 0.08))
    assert steps_to_reach(steps, curve[None], stay=False)[0] == dip
    # the last crossing: between steps 70 (0.15) and 80 (0.09), log-linear
    share = math.log(0.15 / 0.1) / math.log(0.15 / 0.09)
    assert steps_to_reach(steps, curve[None])[0] == math.ceil(70 + 10 * share)
    ends_above = curve.copy()
    ends_above[-1] = 0.15
    assert steps_to_reach(steps, ends_above[None])[0] == math.inf
    assert steps_to_reach(steps, ends_above[None], stay=False)[0] == dip


def test_a_rebounding_mode_is_reported_not_learned() -> None:
    ds = training_dataset()
    steps = ds["step"].values.astype(float)
    t_end = steps[-1]
    # k = 1 falls to 0.05 by a third of the run, then rises to 0.15 at the end
    third = t_end / 3
    share = np.where(
        steps <= third, 0.05 ** (steps / third), 0.05 + 0.10 * (steps - third) / (t_end - third)
    )
    set_mode(ds, 1, share)
    report = report_of(ds)
    dip = int(steps_to_reach(steps, share[None], stay=False)[0])
    for row in (r for r in report.rows if r.frequency == 1):
        assert row.measured_steps.median is None  # not learned: it did not stay
        assert row.seeds_reached == 0
        assert row.rebounded_seeds == len(SEEDS)
        assert row.first_dip_steps is not None and row.first_dip_steps.median == dip
        assert row.measured_fraction.median == pytest.approx(0.15)
    text = next(v for v in report.verdicts if v.startswith("Rebounds"))
    for width in WIDTHS:
        assert (
            f"n = {width}: k = 1 ({len(SEEDS)} of {len(SEEDS)} seeds; first at step {dip:,}, "
            "not learned, 0.15 left at the end)"
        ) in text
    # the tables say so too
    measured = tables(report)[1]
    k1 = [row for row in measured[2] if row[1] == "1"]
    assert all(row[4] == f"0/{len(SEEDS)}" and row[5] == str(len(SEEDS)) for row in k1)


def test_a_mode_that_rebounds_and_settles_is_learned_when_it_settles() -> None:
    ds = training_dataset()
    steps = ds["step"].values.astype(float)
    t_end = steps[-1]
    half = t_end / 2
    # down to 0.05, back to 0.3 at half time, then down to 0.01 at the end
    share = np.where(
        steps <= half / 2,
        0.05 ** (steps / (half / 2)),
        np.where(
            steps <= half,
            0.05 + 0.25 * (steps - half / 2) / (half / 2),
            0.3 * (0.01 / 0.3) ** ((steps - half) / (t_end - half)),
        ),
    )
    set_mode(ds, 2, share)
    report = report_of(ds)
    settled = steps_to_reach(steps, share[None])[0]
    assert half < settled < t_end
    for row in (r for r in report.rows if r.frequency == 2):
        assert row.measured_steps.median == settled
        assert row.rebounded_seeds == len(SEEDS)
    text = next(v for v in report.verdicts if v.startswith("Rebounds"))
    assert f"stays under from step {settled:,.0f}" in text


def test_first_falls_in_order_are_reported_where_rebounds_hide_the_order() -> None:
    """k = 1, 2, 4 first fall to 10 % in order of k, rebound, and settle in the reverse
    order; k = 6 never falls. The learned-for-good order is reversed; the first falls are
    in order: Spearman ρ = 1 over 4 frequencies, exact p = 1/4! ≈ 0.042 < 0.05."""
    from scipy.stats import spearmanr

    ds = training_dataset()
    steps = ds["step"].values.astype(float)
    t_end = steps[-1]
    for k, (dip_at, settle_at) in {1: (0.1, 0.9), 2: (0.2, 0.7), 4: (0.3, 0.5)}.items():
        x = steps / t_end
        share = np.where(
            x <= dip_at,
            0.05 ** (x / dip_at),  # down to 0.05 at dip_at
            np.where(
                x <= settle_at - 0.05,
                0.3,
                0.3 * (0.01 / 0.3) ** ((x - settle_at + 0.05) / (1.05 - settle_at)),
            ),
        )
        set_mode(ds, k, share)
    set_mode(ds, 6, np.ones_like(steps))
    report = report_of(ds)
    text = next(v for v in report.verdicts if v.startswith("Rebounds"))
    for width in WIDTHS:
        rows = [r for r in report.rows if r.width == width]
        dips = [
            r.first_dip_steps.median if r.first_dip_steps.median is not None else np.inf
            for r in rows
        ]
        assert spearmanr([r.frequency for r in rows], dips).statistic == pytest.approx(1.0)
        stays = [r.measured_steps.median for r in rows[:3]]
        assert stays == sorted(stays, reverse=True)  # learned for good in reverse order
    clause = (
        "the first falls to 10 % are in order of frequency: Spearman ρ(k, first step at "
        "10 %) = 1.00, p = 0.042"
    )
    assert text.count(clause) == len(WIDTHS), text
    order = [v for v in report.verdicts if ": modes are learned" in v or "no order" in v]
    assert order and all("in order of frequency" not in v for v in order)


# ---------------------------------------------------------------------------
# the kernel regime is said to explain a width only with that width's numbers
# ---------------------------------------------------------------------------
def test_regime_sentence_uses_each_widths_own_numbers() -> None:
    report = report_of(training_dataset())
    # RelErr of seed s at width j: 0.1(j + 1) + 0.01 s; drift 0.02/(j + 1)
    rel = [float(np.median(0.1 * (j + 1) + 0.01 * np.arange(len(SEEDS)))) for j in range(2)]
    drift = [0.02 / (j + 1) for j in range(2)]
    assert rel[0] <= REGIME_RELERR < rel[1] and max(drift) <= REGIME_DRIFT
    assert [w.kernel_regime for w in report.widths] == ["holds", "does not hold"]
    narrow = next(v for v in report.verdicts if v.startswith(f"n = {WIDTHS[0]}: k = 6 not"))
    assert (
        f"The kernel regime holds at this width (kernel drift {drift[0]:.3g} ≤ {REGIME_DRIFT:g}, "
        f"RelErr to the NTK predictor {rel[0]:.3g} ≤ {REGIME_RELERR:g}) and explains it"
    ) in narrow
    row = next(r for r in report.rows if r.width == WIDTHS[0] and r.frequency == 6)
    assert (
        f"k = 6 ({row.predicted_fraction_discrete:.2f} left; "
        f"c·η·N·λ_k·T = {row.analytic_exponent_at_end:.3g})"
    ) in narrow
    wide = next(v for v in report.verdicts if v.startswith(f"n = {WIDTHS[1]}: k = 6 not"))
    assert (
        f"The kernel regime does not hold at this width (kernel drift {drift[1]:.3g} ≤ "
        f"{REGIME_DRIFT:g}, RelErr to the NTK predictor {rel[1]:.3g} > {REGIME_RELERR:g}), so "
        "it does not explain this"
    ) in wide
    assert "explains it" not in wide
    # nowhere is the regime's explanation given with another width's numbers
    for v in report.verdicts:
        if "explains it" in v:
            assert v.startswith(f"n = {WIDTHS[0]}:")
    summary = next(v for v in report.verdicts if v.startswith("The kernel regime (median"))
    assert f"holds at n = {WIDTHS[0]} and does not hold at n = {WIDTHS[1]}" in summary


def test_drift_alone_breaks_the_regime() -> None:
    ds = training_dataset()
    ds["kernel_drift"].values[0] = 4.81
    report = report_of(ds)
    assert report.widths[0].kernel_regime == "does not hold"
    narrow = next(v for v in report.verdicts if v.startswith(f"n = {WIDTHS[0]}: k = 6 not"))
    assert f"kernel drift 4.81 > {REGIME_DRIFT:g}" in narrow and "explains it" not in narrow


# ---------------------------------------------------------------------------
# order of learning: claimed only when significant, with the thresholds stated
# ---------------------------------------------------------------------------
def test_order_p_value_exact_and_sampled() -> None:
    assert order_p_value([1, 2, 4, 6], [1, 2, 3, 4]) == pytest.approx(1 / 24)
    assert order_p_value([1, 2, 4, 6], [4, 3, 2, 1]) == pytest.approx(1.0)
    assert order_p_value([1, 2, 3], [5, 5, 5]) is None
    # ties: 'not reached' (inf) ranks last, shared
    assert order_p_value([1, 2, 3, 4], [1, 2, math.inf, math.inf]) == pytest.approx(2 / 24)
    ten = list(range(10))
    assert order_p_value(ten, ten) == pytest.approx(1 / 20_001)
    assert order_p_value(ten, ten[::-1]) == pytest.approx(1.0)


def test_no_order_is_claimed_for_an_unordered_share_left() -> None:
    ds = training_dataset()
    steps = ds["step"].values.astype(float)
    t_end = steps[-1]
    # no mode gets under 10 %; the shares left at T are 0.5, 0.3, 0.6, 0.4 for k = 1, 2, 4, 6
    for k, left in zip(FREQS, (0.5, 0.3, 0.6, 0.4), strict=True):
        set_mode(ds, k, left ** (steps / t_end))
    report = report_of(ds)
    for w in report.widths:
        assert w.spearman_rho_left == pytest.approx(0.0)
        assert w.spearman_p_left is not None and w.spearman_p_left >= 0.05
    text = next(v for v in report.verdicts if v.startswith(f"n = {WIDTHS[0]}:"))
    assert "none of the 4 target frequencies reached 10 % and stayed there" in text
    assert "show no order of frequency" in text and "in order of frequency" not in text
    assert "an order is claimed for p < 0.05, 'in order' from ρ ≥ 0.8" in text
    # ordered shares, none under 10 %: in order, with p = 1/24
    for k, left in zip(FREQS, (0.2, 0.3, 0.5, 0.9), strict=True):
        set_mode(ds, k, left ** (steps / t_end))
    text = next(v for v in report_of(ds).verdicts if v.startswith(f"n = {WIDTHS[0]}:"))
    assert "the shares left at that step are in order of frequency" in text
    assert "p = 0.042" in text


# ---------------------------------------------------------------------------
# diverged seeds: left out, named; an all-diverged width says so and gets no figure
# ---------------------------------------------------------------------------
def test_an_all_diverged_width_says_so_and_leaves_no_garbage(tmp_path: Path) -> None:
    ds = training_dataset()
    all_diverged(ds, [0], step=3)
    report = report_of(ds)
    dead, alive = report.widths
    assert dead.diverged_seed_ids == list(SEEDS) and dead.diverged_steps == [3] * len(SEEDS)
    assert dead.relative_error.median is None and dead.kernel_regime == "unknown"
    assert (
        f"n = {WIDTHS[0]}: all {len(SEEDS)} seeds diverged at step 3 "
        f"(stability limit η_max = {dead.stability_limit:.3g}): no statistic and no figure "
        "for this width."
    ) in report.verdicts
    # nothing else speaks of the dead width
    others = [v for v in report.verdicts if "diverged" not in v]
    assert not any(f"n = {WIDTHS[0]}" in v for v in others)
    assert alive.relative_error.median is not None
    # the tables: 'diverged', and no garbage number anywhere
    text = render_markdown(report) + render_html(report)
    assert "5.98e+56" not in text and not re.search(r"e\+(1\d|[2-9]\d)", text)
    measured = tables(report)[1][2]
    assert all(row[3] == "diverged" for row in measured if row[0] == str(WIDTHS[0]))
    # the figures leave the width out and say so; no warning on the way
    assert all("Left out: n = 8 (every seed diverged)" in f.caption for f in report.figures)
    from spectralntk.reports.figures import FIGURES, _style

    with _style(), warnings.catch_warnings():
        warnings.simplefilter("error")
        for ref in report.figures:
            fig = FIGURES[ref.name](report, ds)
            labels = [t.get_text() for t in fig.findobj(match=lambda a: hasattr(a, "get_text"))]
            assert not any(f"n = {WIDTHS[0]}" in t for t in labels), ref.name


def test_every_width_diverged_gives_no_figures_and_a_clean_report() -> None:
    ds = training_dataset()
    all_diverged(ds, [0, 1], step=2)
    report = report_of(ds)
    assert report.figures == []
    for width in WIDTHS:
        assert any(
            v.startswith(f"n = {width}: all {len(SEEDS)} seeds diverged at step 2")
            for v in report.verdicts
        )
    assert not any(v.startswith("Out of reach") or "RelErr" in v for v in report.verdicts)
    text = render_markdown(report)
    assert not re.search(r"e\+(1\d|[2-9]\d)", text)


def test_a_diverged_seed_is_named() -> None:
    report = report_of(training_dataset(diverged_seed=1))
    for width in WIDTHS:
        assert (
            f"n = {width}: 1 of {len(SEEDS)} seeds diverged (seed 1 at step 3; stability limit"
        ) in " ".join(report.verdicts)


def test_train_summary_comes_from_the_report_and_shows_no_garbage() -> None:
    from rich.console import Console

    from spectralntk.cli.train import report_summary

    ds = training_dataset()
    all_diverged(ds, [0], step=3)
    ds["predicted_residual_cos"].values[1, :, 1:] *= 1e50  # theory past its stability limit
    report = report_of(ds)
    console = Console(width=140, record=True, highlight=False)
    for item in report_summary(report):
        console.print(item)
    text = console.export_text()
    assert not re.search(r"e\+(1\d|[2-9]\d)", text) and "598" not in text
    assert f"n = {WIDTHS[0]}: all {len(SEEDS)} seeds diverged at step 3" in text
    assert "> 10 (diverges)" in text


def test_columns_say_what_they_hold() -> None:
    grid = report_of(training_dataset())
    head = tables(grid)[0][1]
    assert "μ_k (grid eigenvalue)" in head and "rate cημ_k" in head
    ds = training_dataset()
    import json

    from spectralntk.store import schema

    cfg = json.loads(ds.attrs[schema.ATTR_CONFIG])
    cfg["inputs"] = "random"
    ds.attrs[schema.ATTR_CONFIG] = json.dumps(cfg)
    off = report_of(ds)
    assert off.eigenvalue == "n_lambda"
    title, head, _ = tables(off)[0]
    assert "rate cηNλ_k" in head and not any("μ_k" in h for h in head if h != "λ_k")
    assert "continuum value Nλ_k" in title


# ---------------------------------------------------------------------------
# figures worth printing
# ---------------------------------------------------------------------------
ASCII_GREEK = re.compile(r"\b(Theta|theta|gamma|lambda|beta|Sigma|sigma|eta|mu)\b")


def layout_problems(fig) -> list[str]:  # type: ignore[no-untyped-def]
    """Overlapping tick labels, legends over panels, text outside the figure, tiny fonts,
    ASCII-spelled Greek in axis labels, a figure wider than a page."""
    from spectralntk.reports.figures import PAGE_WIDTH

    out = []
    if fig.get_figwidth() > PAGE_WIDTH + 1e-9:
        out.append(f"figure {fig.get_figwidth():.2f} in wide")
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    hidden = set()  # tick labels of ticks outside the view are not drawn
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                if not lo - 1e-9 * abs(hi - lo) <= tick.get_loc() <= hi + 1e-9 * abs(hi - lo):
                    hidden.update({id(tick.label1), id(tick.label2)})
    for text in fig.findobj(match=lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontsize")):
        if not text.get_visible() or not text.get_text().strip() or id(text) in hidden:
            continue
        if not text.axes or text.axes.get_visible() is False:
            if text.axes is not None:
                continue
        box = text.get_window_extent(renderer)
        if (
            box.x0 < page.x0 - 1
            or box.y0 < page.y0 - 1
            or box.x1 > page.x1 + 1
            or box.y1 > page.y1 + 1
        ):
            out.append(f"text outside the figure: {text.get_text()!r}")
        if text.get_fontsize() < 6:
            out.append(f"font {text.get_fontsize()} pt: {text.get_text()!r}")
    for ax in axes:
        for label in (ax.get_xlabel(), ax.get_ylabel()):
            if ASCII_GREEK.search(label):
                out.append(f"ASCII Greek in {label!r}")
        for axis in (ax.xaxis, ax.yaxis):
            boxes = [
                t.get_window_extent(renderer)
                for t in axis.get_ticklabels()
                if t.get_visible() and t.get_text() and id(t) not in hidden
            ]
            for a, b in itertools.pairwise(boxes):
                if a.overlaps(b):
                    out.append(f"overlapping ticks on {ax.get_title()!r}")
        if ax.get_legend() is not None:
            out.append(f"legend inside the panel {ax.get_title()!r}")
    ticks = [  # tick labels of neighbouring panels must not run into each other
        (id(ax), t.get_text(), t.get_window_extent(renderer))
        for ax in axes
        for axis in (ax.xaxis, ax.yaxis)
        for t in axis.get_ticklabels()
        if t.get_visible() and t.get_text() and id(t) not in hidden
    ]
    for (ax_a, a, box_a), (ax_b, b, box_b) in itertools.combinations(ticks, 2):
        if ax_a != ax_b and box_a.overlaps(box_b):
            out.append(f"tick labels {a!r} and {b!r} of two panels overlap")
    titles = [
        (ax.get_title(), ax.title.get_window_extent(renderer))
        for ax in axes
        if ax.get_title().strip()
    ]
    for (a, box_a), (b, box_b) in itertools.combinations(titles, 2):
        if box_a.overlaps(box_b):
            out.append(f"overlapping panel titles {a!r} and {b!r}")
    for sup in (fig._supxlabel, fig._supylabel):
        if sup is not None and ASCII_GREEK.search(sup.get_text()):
            out.append(f"ASCII Greek in {sup.get_text()!r}")
    for legend in fig.legends:
        box = legend.get_window_extent(renderer)
        for ax in axes:
            if box.overlaps(ax.get_window_extent(renderer)):
                out.append(f"legend over the panel {ax.get_title()!r}")
        for sup in (fig._supxlabel, fig._supylabel, fig._suptitle):
            if sup is not None and sup.get_text() and box.overlaps(sup.get_window_extent(renderer)):
                out.append(f"legend over the label {sup.get_text()!r}")
    return out


def _all_reports():  # type: ignore[no-untyped-def]
    from spectralntk import NetworkConfig, analytic_spectrum

    spectrum_ds = analytic_spectrum(NetworkConfig(depth=2), [1, 2], max_frequency=64).to_dataset()
    train = training_dataset()
    empirical = empirical_dataset()
    fluct = fluctuation_dataset()
    fluct["first_step_relative_change"].values[0] *= -1  # a negative measurement
    return [(build_report(d, "x.nc"), d) for d in (train, spectrum_ds, empirical, fluct)]


def test_figures_are_print_quality_and_uncluttered(tmp_path: Path) -> None:
    from PIL import Image

    from spectralntk.reports.figures import DPI, FIGURES, PAGE_WIDTH, _style, draw_figures

    assert DPI >= 150
    problems = []
    for report, ds in _all_reports():
        if report.report_type == "fluctuation":
            import spectralntk.reports.fluctuation  # noqa: F401
        with _style(), warnings.catch_warnings():
            warnings.simplefilter("error")
            for ref in report.figures:
                problems += [
                    f"{ref.name}: {p}"
                    for p in layout_problems(_drawn(FIGURES[ref.name](report, ds)))
                ]
        written = draw_figures(report, ds, tmp_path / report.report_type, svg=False)
        for png in written:
            with Image.open(png) as image:
                assert 150 * 2.5 <= image.width <= DPI * PAGE_WIDTH + 1, (png.name, image.size)
    assert problems == [], "\n".join(problems)


def _drawn(fig):  # type: ignore[no-untyped-def]
    from spectralntk.reports.figures import _declutter_ticks, _thin_log_ticks

    _thin_log_ticks(fig)
    _declutter_ticks(fig)
    return fig


def test_not_reached_markers_sit_above_every_plotted_value() -> None:
    from spectralntk.reports.figures import _style, steps_to_converge

    report = report_of(training_dataset())
    slow = [r for r in report.rows if r.frequency == 6]
    # k = 6 is slow: not reached, and its own prediction lies beyond T
    assert all(r.measured_steps.median is None for r in slow)
    assert all(r.predicted_steps_discrete > report.steps for r in slow)
    with _style():
        fig = steps_to_converge(report, training_dataset())
    ax = fig.axes[0]
    markers = [ln for ln in ax.get_lines() if ln.get_label().startswith("not reached")]
    assert len(markers) == len(WIDTHS)
    assert all(ln.get_label().endswith(f"n = {w}") for ln, w in zip(markers, WIDTHS, strict=True))
    floor = min(float(np.min(ln.get_ydata())) for ln in markers)
    others = [ln for ln in ax.get_lines() if ln not in markers and len(ln.get_ydata())]
    highest = max(float(np.nanmax(np.asarray(ln.get_ydata(), dtype=float))) for ln in others)
    assert floor > highest  # the slow mode reads as slow
    assert any(t.get_text() == f"not reached by step {report.steps:,}" for t in ax.texts)


def test_first_step_figure_shows_the_size_and_marks_the_sign() -> None:
    import spectralntk.reports.fluctuation  # noqa: F401
    from spectralntk.reports.figures import FIGURES, _style

    ds = fluctuation_dataset()
    ds["first_step_relative_change"].values[0] *= -1  # depth 2: negative
    report = build_report(ds, "f.nc")
    with _style():
        fig = FIGURES["first_step_vs_beta"](report, ds)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    sizes = {round(abs(c.first_step_change), 12): c.first_step_change < 0 for c in report.cells}
    assert any(sizes.values()) and not all(sizes.values())
    seen = 0
    for line in ax.get_lines():
        y = line.get_ydata()
        if len(y) == 1 and round(float(y[0]), 12) in sizes and line.get_marker() in "osD":
            assert (line.get_markerfacecolor() == "none") == sizes[round(float(y[0]), 12)]
            seen += 1
    assert seen == len(report.cells)  # every cell at |value|: a log axis holds them all
    assert any("opposite in sign" in v for v in report.verdicts)


def test_one_first_fall_has_no_order_to_report() -> None:
    from spectralntk.reports.convergence import _first_fall_order
    from spectralntk.reports.models import Stat

    report = report_of(training_dataset())
    width = WIDTHS[0]
    rows = [r for r in report.rows if r.width == width]

    def with_dips(*dips):  # type: ignore[no-untyped-def]
        return [
            r.model_copy(update={"first_dip_steps": Stat(median=d, q25=d, q75=d, count=1)})
            for r, d in zip(rows, dips, strict=True)
        ]

    assert _first_fall_order(with_dips(10.0, None, None, None), width) == ""
    two = _first_fall_order(with_dips(10.0, 20.0, None, None), width)
    assert two.startswith("; the first falls to 10 % ")
    assert "Spearman ρ(k, first step at 10 %) = " in two


def test_steps_figure_shows_the_runs_own_prediction_where_it_differs() -> None:
    from spectralntk.reports.figures import _style, steps_to_converge

    ds = training_dataset()
    report = report_of(ds)
    label = "predicted, run's own (I − cηK)^t r₀"

    def labels(rep):  # type: ignore[no-untyped-def]
        with _style():
            fig = steps_to_converge(rep, ds)
        return [ln.get_label() for ln in fig.axes[0].get_lines()]

    # grid inputs: the run's curve gives the closed form's steps, so one prediction is drawn
    assert label not in labels(report)
    moved = report.model_copy(
        update={
            "rows": [
                r.model_copy(update={"predicted_steps_curve": 3.0 * r.predicted_steps_discrete})
                if r.predicted_steps_curve is not None
                else r
                for r in report.rows
            ]
        }
    )
    assert label in labels(moved)
