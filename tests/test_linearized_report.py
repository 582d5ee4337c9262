"""Where the kernel picture breaks: the gap split into the initial kernel and training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_reports import SEEDS, WIDTHS, training_dataset

from spectralntk.reports.build import build_report
from spectralntk.reports.convergence import mode_fractions, train_eigenvalues
from spectralntk.reports.models import load_report
from spectralntk.reports.render import render_json, render_markdown


def _with_linearized(ds):  # type: ignore[no-untyped-def]
    """The synthetic run (exact (1 − cημ)^t decay) with known network and linearized curves.

    n = 8: linearized = analytic; the network is back at half its start at the last step.
    n = 32: linearized and network both at half the start at the last step.
    Rayleigh quotients: 10 % above μ_k/N at step 0, 5 % higher again at the end.
    """
    ds = ds.copy(deep=True)
    lin = {p: ds[f"predicted_residual_{p}"].values.copy() for p in ("cos", "sin")}
    for p in ("cos", "sin"):
        start = ds[f"residual_{p}"].values[:, :, 0]
        ds[f"residual_{p}"].values[:, :, -1] = 0.5 * start
        lin[p][1, :, -1] = 0.5 * start[1]
        ds[f"linearized_residual_{p}"] = (ds[f"residual_{p}"].dims, lin[p])
        ds[f"linearized_residual_{p}"].attrs.update(long_name="x", units="1")
    mu = train_eigenvalues(ds) / ds.sizes["sample"]  # (W, F)
    r0 = 1.1 * mu
    q = np.stack([r0, 1.05 * r0], axis=1)[:, None]  # (W, 1, C, F)
    q = np.broadcast_to(q, (len(WIDTHS), len(SEEDS), 2, mu.shape[1])).copy()
    ds["empirical_ntk_rayleigh"] = (("width", "seed", "checkpoint", "frequency"), q)
    ds["empirical_ntk_rayleigh"].attrs.update(long_name="q", units="1")
    return ds


@pytest.fixture(scope="module")
def split_ds():  # type: ignore[no-untyped-def]
    return _with_linearized(training_dataset())


def test_gap_split_known_answers(split_ds) -> None:  # type: ignore[no-untyped-def]
    report = build_report(split_ds, "x.nc")
    analytic = mode_fractions(split_ds, "predicted_residual")
    ks = sorted({r.frequency for r in report.rows})
    assert [(g.width, g.frequency) for g in report.gap_split] == [
        (w, k) for w in WIDTHS for k in ks
    ]
    for g in report.gap_split:
        j = WIDTHS.index(g.width)
        # the analytic curve decays; the changed curves sit at 0.5 of the start at T
        expected = abs(0.5 - float(np.median(analytic[j, :, -1, g.frequency])))
        assert g.total_gap == pytest.approx(expected, rel=1e-9)
        if j == 0:
            assert g.initial_kernel_gap == pytest.approx(0.0, abs=1e-12)
            assert g.training_gap == pytest.approx(expected, rel=1e-9)
            assert g.dominant == "training"
        else:
            assert g.initial_kernel_gap == pytest.approx(expected, rel=1e-9)
            assert g.training_gap == pytest.approx(0.0, abs=1e-12)
            assert g.dominant == "initial kernel"
        assert g.initial_rayleigh_deviation == pytest.approx(0.1, rel=1e-9)
        assert g.rayleigh_change == pytest.approx(0.05, rel=1e-9)
    found = {w: [v for v in report.verdicts if v.startswith(f"n = {w}: the gap")] for w in WIDTHS}
    assert all(len(v) == 1 for v in found.values())
    assert "comes mostly from what changed during training" in found[WIDTHS[0]][0]
    assert "; training dominates at every one of them." in found[WIDTHS[0]][0]
    assert "comes mostly from the finite-width initial kernel" in found[WIDTHS[1]][0]
    assert "; the initial kernel dominates at every one of them." in found[WIDTHS[1]][0]
    # mixed: the initial kernel at the lowest frequency of n = 32, training elsewhere
    mixed = split_ds.copy(deep=True)
    for p in ("cos", "sin"):
        mixed[f"linearized_residual_{p}"].values[1, :, :, ks[1:]] = mixed[
            f"predicted_residual_{p}"
        ].values[1, :, :, ks[1:]]
    text = next(
        v for v in build_report(mixed, "x.nc").verdicts if v.startswith(f"n = {WIDTHS[1]}: the gap")
    )
    rest = ", ".join(map(str, ks[1:]))
    assert f"the initial kernel dominates at k = {ks[0]}, training at k = {rest}." in text
    assert "comes mostly from what changed during training" in text
    assert "by up to 10 %" in found[WIDTHS[0]][0] and "by up to 5 %" in found[WIDTHS[0]][0]
    assert "kernel drift ‖K_T − K_0‖/‖K_0‖ = 2 %" in found[WIDTHS[0]][0]
    # rendered as a table, round-trips through JSON, figure listed
    md = render_markdown(report)
    assert "Gap to the analytic prediction, split" in md
    assert load_report(render_json(report)) == report
    assert "linearized_modes" in [f.name for f in report.figures]


def test_runs_without_linearized_modes_have_no_split() -> None:
    report = build_report(training_dataset(), "x.nc")
    assert report.gap_split == []
    assert "linearized_modes" not in [f.name for f in report.figures]
    assert not any(": the gap between" in v for v in report.verdicts)


def test_linearized_figure_is_drawn(split_ds, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from spectralntk.reports.figures import draw_figures

    report = build_report(split_ds, "x.nc")
    report = report.model_copy(
        update={"figures": [f for f in report.figures if f.name == "linearized_modes"]}
    )
    (png,) = draw_figures(report, split_ds, tmp_path, svg=False)
    assert png.name == "linearized_modes.png" and png.stat().st_size > 5000


@pytest.mark.slow
def test_a_linearized_training_has_no_training_gap() -> None:
    """Trained as its own Taylor model, a network's gap is all initial kernel."""
    pytest.importorskip("torch")
    from test_training import small_config

    from spectralntk.runs.training import train

    run = train(small_config(model="linearized", widths=(16,)))
    assert run is not None
    report = build_report(run.to_dataset(), "x.nc")
    assert report.gap_split
    for g in report.gap_split:
        assert g.training_gap is not None and g.training_gap < 1e-9
        assert g.initial_kernel_gap is not None and g.initial_kernel_gap > 1e-4
        assert g.total_gap == pytest.approx(g.initial_kernel_gap, abs=1e-9)
        assert g.dominant == "initial kernel"


def test_a_near_tie_is_reported_as_both_parts(split_ds) -> None:  # type: ignore[no-untyped-def]
    """The linearized curve halfway between network and analytic at the last step: the two
    parts are equal, so neither dominates (per frequency and in the width's finding)."""
    from spectralntk.reports.linearized import DOMINANCE, dominant_part

    tie = split_ds.copy(deep=True)
    for p in ("cos", "sin"):
        net = tie[f"residual_{p}"].values[0, :, -1]
        analytic = tie[f"predicted_residual_{p}"].values[0, :, -1]
        tie[f"linearized_residual_{p}"].values[0, :, -1] = 0.5 * (net + analytic)
    report = build_report(tie, "x.nc")
    rows = [g for g in report.gap_split if g.width == WIDTHS[0]]
    for g in rows:
        assert g.initial_kernel_gap == pytest.approx(g.training_gap, rel=1e-9)
        assert g.dominant == "both"
    text = next(v for v in report.verdicts if v.startswith(f"n = {WIDTHS[0]}: the gap"))
    assert "from what changed during training alike (neither is 1.5 times the other)" in text
    assert "comes mostly" not in text
    assert "neither by a factor 1.5 at every one of them." in text
    # the rule itself: a factor of DOMINANCE is needed, exactly at it the larger dominates
    assert dominant_part(1.0, 1.0 / DOMINANCE) == "initial kernel"
    assert dominant_part(1.0, 0.99 / DOMINANCE * DOMINANCE) == "both"
    assert dominant_part(0.0, 1e-30) == "training"
    assert dominant_part(0.0, 0.0) == "both"


def test_linearized_figure_wraps_many_frequencies(
    split_ds, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """More frequencies than a row holds wrap onto further rows of the same width, every
    panel titled and the layout clean (rahaman has 10)."""
    from test_report_findings import layout_problems

    from spectralntk.reports import linearized
    from spectralntk.reports.figures import _declutter_ticks, _style

    monkeypatch.setattr(linearized, "MAX_COLUMNS", 3)
    report = build_report(split_ds, "x.nc")
    ks = sorted({r.frequency for r in report.rows})  # 4 frequencies: rows of 3 and 1
    with _style():
        fig = linearized.linearized_modes(report, split_ds)
        _declutter_ticks(fig)
        shown = [ax for ax in fig.axes if ax.get_visible()]
        assert len(fig.axes) == len(WIDTHS) * 2 * 3
        assert len(shown) == len(WIDTHS) * len(ks)
        assert sorted(ax.get_title() for ax in shown) == sorted(
            f"k = {k}" for k in ks for _ in WIDTHS
        )
        assert layout_problems(fig) == []
