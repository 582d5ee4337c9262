"""Reports: typed models from synthetic runs with known answers, schemas, renderers, figures."""

from __future__ import annotations

import html.parser
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spectralntk import NetworkConfig, RunFileError, analytic_spectrum
from spectralntk.dynamics.predict import loss_factor, steps_to_fraction
from spectralntk.kernels import circle_kernel, uniform_angles
from spectralntk.reports.build import build_report
from spectralntk.reports.convergence import steps_to_reach, train_eigenvalues
from spectralntk.reports.models import (
    REPORT_SCHEMA_VERSION,
    ConvergenceReport,
    SpectrumReport,
    load_report,
)
from spectralntk.reports.render import render_html, render_json, render_markdown
from spectralntk.reports.schema import SCHEMA_DIR, report_schemas, schema_text
from spectralntk.runs.training import TrainingConfig
from spectralntk.spectral import circulant_eigenvalues
from spectralntk.spectral.decomposition import circle_spectrum
from spectralntk.store import schema
from spectralntk.targets import make_target

NET = NetworkConfig(depth=1, output_bias=False)
FREQS = (1, 2, 4, 6)
WIDTHS = (8, 32)
SEEDS = (0, 1, 2, 3)
POINTS = 32
LR = 0.05
LOSS = "half_sum"


# ---------------------------------------------------------------------------
# synthetic runs with known answers
# ---------------------------------------------------------------------------
def grid_mu() -> np.ndarray:
    """μ_k of the analytic NTK Gram on the 32-point grid, independently: circulant eigenvalues."""
    row = circle_kernel(NET, uniform_angles(POINTS)).ntk
    return circulant_eigenvalues(row)


def _synthetic_steps() -> tuple[int, np.ndarray]:
    """T between the predicted 10 % steps of k = 4 and k = 6; records every 7 steps."""
    mu = grid_mu()
    c = loss_factor(LOSS, POINTS)
    pred = {k: float(steps_to_fraction(mu[k], LR, c)) for k in FREQS}
    assert pred[1] < pred[2] < pred[4] < pred[6]  # ReLU NTK: decreasing in k here
    t_end = int((pred[4] + pred[6]) / 2)
    steps = np.unique(np.r_[np.arange(0, t_end, 7), t_end])
    return t_end, steps


def training_dataset(*, diverged_seed: int | None = None):  # type: ignore[no-untyped-def]
    """A training run whose modes decay exactly as (1 − cημ_k)^t (the kernel regime).

    Every seed's frequency-k residual starts at amplitude 1 + seed/10 with phase k/7; the
    measured curves equal the discrete prediction; RelErr of seed s at width j is
    0.1·(j + 1) + 0.01·s, kernel drift 0.02/(j + 1).
    """
    cfg = TrainingConfig(
        network=NET,
        widths=WIDTHS,
        seeds=SEEDS,
        target=make_target(
            "fourier-mixture", frequencies=list(FREQS), amplitudes=[1, 0.8, 0.6, 0.4]
        ),
        inputs="grid",
        points=POINTS,
        eval_points=64,
        loss=LOSS,
        lr=LR,
        steps=10,
        max_frequency=8,
    )
    t_end, steps = _synthetic_steps()
    cfg_dict = cfg.to_dict()
    cfg_dict["steps"] = t_end
    cfg_dict["checkpoints"] = [0, t_end]
    cfg = TrainingConfig.from_dict(cfg_dict)
    mu = grid_mu()[: cfg.k_max + 1]
    c = loss_factor(LOSS, POINTS)
    w_, s_, t_, f_ = len(WIDTHS), len(SEEDS), len(steps), cfg.k_max + 1
    decay = (1.0 - c * LR * mu)[None, :] ** steps[:, None]  # (T, F)
    amp0 = 1.0 + np.arange(s_) / 10
    phase = np.arange(f_) / 7
    cos = amp0[None, :, None, None] * decay[None, None] * np.cos(phase)
    sin = amp0[None, :, None, None] * decay[None, None] * np.sin(phase)
    cos = np.broadcast_to(cos, (w_, s_, t_, f_)).copy()
    sin = np.broadcast_to(sin, (w_, s_, t_, f_)).copy()
    flow = np.exp(-c * LR * mu)[None, :] ** steps[:, None]
    diverged_step = np.full((w_, s_), -1, dtype=np.int32)
    if diverged_seed is not None:
        diverged_step[:, diverged_seed] = 3
        cos[:, diverged_seed] = 1e30  # garbage that must not enter any statistic
    gamma = uniform_angles(POINTS)
    rel = 0.1 * (np.arange(w_)[:, None] + 1) + 0.01 * np.arange(s_)[None, :]
    data = {
        "loss": np.zeros((w_, s_, t_)),
        "residual_cos": cos,
        "residual_sin": sin,
        "predicted_residual_cos": cos.copy(),
        "predicted_residual_sin": sin.copy(),
        "flow_residual_cos": cos * (flow / decay)[None, None],
        "flow_residual_sin": sin * (flow / decay)[None, None],
        "relative_error": np.repeat(rel[:, :, None], 2, axis=2),
        "relative_error_limit": np.repeat(2 * rel[:, :, None], 2, axis=2),
        "kernel_drift": np.broadcast_to(
            (0.02 / (np.arange(w_) + 1))[:, None, None], (w_, s_, 2)
        ).copy(),
        "stability_limit": np.full(w_, 2.0 / (c * mu.max())),
        "diverged_step": diverged_step,
        "diverged": (diverged_step >= 0).astype(np.int8),
        "train_x1": np.cos(gamma),
        "train_x2": np.sin(gamma),
        "train_angle": gamma,
        "train_target": cfg.target(gamma),
    }
    coords = {
        schema.WIDTH: np.asarray(WIDTHS, dtype=np.int32),
        schema.SEED: np.asarray(SEEDS, dtype=np.int32),
        schema.STEP: steps.astype(np.int32),
        schema.FREQUENCY: np.arange(f_, dtype=np.int32),
        schema.SAMPLE: np.arange(POINTS, dtype=np.int32),
        schema.ANGLE: uniform_angles(64),
        schema.CHECKPOINT: np.array([0, t_end], dtype=np.int32),
    }
    return schema.make_dataset(
        schema.TRAINING, config=cfg.to_dict(), data_vars=data, coords=coords, title="synthetic"
    )


def empirical_dataset(exponent: float = 0.5, error: float = 0.03):  # type: ignore[no-untyped-def]
    """An empirical-spectrum run whose Gram distance is 2·n^-exponent exactly and whose
    Rayleigh quotients are (1 + error)·μ_k/N for every seed."""
    depths, widths, seeds, n = (1, 3), (16, 64, 256), (0, 1), 32
    f_ = n // 2 + 1
    lam, mu, prof = [], [], []
    for depth in depths:
        cfg = NET.replace(depth=depth)
        row = circle_kernel(cfg, uniform_angles(n))
        lam.append(circle_spectrum(cfg, n // 2).eigenvalues)
        mu.append((circulant_eigenvalues(row.ntk) / n, circulant_eigenvalues(row.nngp) / n))
        prof.append(row)
    d_, w_, s_ = len(depths), len(widths), len(seeds)
    data = {}
    for i, kernel in enumerate(("ntk", "nngp")):
        grid = np.stack([m[i][:f_] for m in mu])
        data[f"{kernel}_eigenvalue"] = np.stack([getattr(x, kernel) for x in lam])
        data[f"{kernel}_grid_eigenvalue"] = grid
        data[f"{kernel}_profile"] = np.stack([getattr(p, kernel) for p in prof])
        data[f"{kernel}_empirical_rayleigh"] = np.broadcast_to(
            (1 + error) * grid[:, None, None, :], (d_, w_, s_, f_)
        ).copy()
        data[f"{kernel}_empirical_leakage"] = np.full((d_, w_, s_, f_), 0.01)
        data[f"{kernel}_empirical_eigenvalue"] = np.ones((d_, w_, s_, n))
        data[f"{kernel}_empirical_profile"] = np.broadcast_to(
            data[f"{kernel}_profile"][:, None, None, :], (d_, w_, s_, n)
        ).copy()
        data[f"{kernel}_relative_distance"] = np.broadcast_to(
            2.0 * np.asarray(widths, dtype=float)[None, :, None] ** -exponent, (d_, w_, s_)
        ).copy()
    coords = {
        schema.DEPTH: np.asarray(depths, dtype=np.int32),
        schema.JACOT_LAYERS: np.asarray(depths, dtype=np.int32) + 1,
        schema.WIDTH: np.asarray(widths, dtype=np.int32),
        schema.SEED: np.asarray(seeds, dtype=np.int32),
        schema.FREQUENCY: np.arange(f_, dtype=np.int32),
        schema.ANGLE: uniform_angles(n),
        schema.RANK: np.arange(n, dtype=np.int32),
    }
    return schema.make_dataset(
        schema.EMPIRICAL_SPECTRUM,
        config={"command": "decompose", "kernel": "empirical"},
        data_vars=data,
        coords=coords,
        title="synthetic empirical",
    )


@pytest.fixture(scope="module")
def training_ds():  # type: ignore[no-untyped-def]
    return training_dataset()


@pytest.fixture(scope="module")
def convergence(training_ds) -> ConvergenceReport:  # type: ignore[no-untyped-def]
    return build_report(training_ds, "synthetic.nc")


@pytest.fixture(scope="module")
def spectrum_ds():  # type: ignore[no-untyped-def]
    return analytic_spectrum(NetworkConfig(depth=2), [1, 2], max_frequency=64).to_dataset()


@pytest.fixture(scope="module")
def reports(convergence, spectrum_ds):  # type: ignore[no-untyped-def]
    return {
        "convergence": convergence,
        "spectrum": build_report(spectrum_ds, "spectrum.nc"),
        "empirical": build_report(empirical_dataset(), "empirical.nc"),
        "fluctuation": build_report(fluctuation_dataset(), "fluctuation.nc"),
    }


# ---------------------------------------------------------------------------
# convergence: known answers
# ---------------------------------------------------------------------------
def test_mu_on_the_grid_is_the_circulant_eigenvalue(training_ds) -> None:  # type: ignore[no-untyped-def]
    mu = train_eigenvalues(training_ds)
    np.testing.assert_allclose(mu, np.broadcast_to(grid_mu()[:9], mu.shape), rtol=1e-10)


def test_exact_geometric_decay_is_measured_at_the_predicted_step(convergence) -> None:  # type: ignore[no-untyped-def]
    t_end = convergence.steps
    learned = [r for r in convergence.rows if r.frequency in (1, 2, 4)]
    assert len(learned) == 3 * len(WIDTHS)
    for row in learned:
        # records every 7 steps, yet the crossing is recovered to the step
        assert row.predicted_steps_discrete is not None
        assert row.measured_steps.median == row.predicted_steps_discrete
        assert row.measured_steps.q25 == row.measured_steps.q75 == row.predicted_steps_discrete
        assert row.seeds_reached == row.seeds == len(SEEDS)
        assert row.predicted_steps_discrete < t_end
        assert row.predicted_steps_curve == row.predicted_steps_discrete  # grid: the same
        assert row.curve_gap == pytest.approx(0.0, abs=1e-12)
        # share left at T: (1 − x)^T, measured and predicted alike
        left = (1 - row.rate) ** t_end
        assert row.measured_fraction.median == pytest.approx(left, rel=1e-9)
        assert row.predicted_fraction_discrete == pytest.approx(left, rel=1e-9)
        assert row.predicted_fraction_flow == pytest.approx(math.exp(-row.rate * t_end), rel=1e-9)
        assert row.predicted_steps_flow == pytest.approx(math.log(10) / row.rate, rel=1e-12)


def test_unlearned_mode_reads_not_reached(convergence) -> None:  # type: ignore[no-untyped-def]
    for row in (r for r in convergence.rows if r.frequency == 6):
        assert row.measured_steps.median is None
        assert row.seeds_reached == 0
        assert row.predicted_steps_discrete > convergence.steps
        assert row.predicted_steps_curve is None
        assert row.exponent_at_end < math.log(10)
    text = render_markdown(convergence)
    assert "not reached" in text
    out_of_reach = [v for v in convergence.verdicts if v.startswith("Out of reach")]
    assert len(out_of_reach) == 1 and "k = 6" in out_of_reach[0]
    assert "k = 1," not in out_of_reach[0]


def test_order_verdict_and_width_statistics(convergence) -> None:  # type: ignore[no-untyped-def]
    for j, summary in enumerate(convergence.widths):
        # the steps grow with k and the unlearned k = 6 ranks last: ρ = 1
        assert summary.spearman_rho == pytest.approx(1.0)
        assert summary.spearman_rho_left == pytest.approx(1.0)  # more is left of higher k
        rel = 0.1 * (j + 1) + 0.01 * np.arange(len(SEEDS))
        assert summary.relative_error.median == pytest.approx(np.median(rel))
        assert summary.relative_error.q25 == pytest.approx(np.quantile(rel, 0.25))
        assert summary.kernel_drift.median == pytest.approx(0.02 / (j + 1))
        assert summary.diverged_seeds == 0
    assert any(
        "in order of frequency: Spearman ρ(k, measured steps to 10 %) = 1.00" in v
        for v in convergence.verdicts
    )
    assert any(v.startswith("RelErr") and "rises with width" in v for v in convergence.verdicts)


def test_diverged_seeds_are_left_out() -> None:
    report = build_report(training_dataset(diverged_seed=1), "x.nc")
    for row in (r for r in report.rows if r.frequency in (1, 2, 4)):
        assert row.seeds == len(SEEDS) - 1
        assert row.measured_steps.median == row.predicted_steps_discrete
    assert all(w.diverged_seeds == 1 for w in report.widths)
    assert any("diverged" in v for v in report.verdicts)


@given(
    rate=st.floats(1e-3, 0.6),
    every=st.integers(1, 40),
    level=st.sampled_from([0.1, 0.05, 0.3]),
)
def test_steps_to_reach_matches_the_closed_form(rate: float, every: int, level: float) -> None:
    expected = float(steps_to_fraction(rate, 1.0, 1.0, level))
    t_end = int(expected) + 3 * every
    steps = np.unique(np.r_[np.arange(0, t_end, every), t_end])
    curve = (1 - rate) ** steps.astype(float)
    assert steps_to_reach(steps, curve[None], level)[0] == expected
    # a curve that stops short of the level is never reached
    assert steps_to_reach(steps, np.maximum(curve, 2 * level)[None], level)[0] == math.inf


# ---------------------------------------------------------------------------
# spectrum: known answers
# ---------------------------------------------------------------------------
def test_analytic_spectrum_report(reports, spectrum_ds) -> None:  # type: ignore[no-untyped-def]
    report: SpectrumReport = reports["spectrum"]
    assert not report.empirical and report.widths == []
    for ks in report.kernels:
        i = list(spectrum_ds["depth"].values).index(ks.depth)
        lam = spectrum_ds[f"{ks.kernel}_eigenvalue"].values[i]
        np.testing.assert_array_equal(ks.eigenvalues, lam)
        # Mercer: k(0) = λ_0 + 2 Σ λ_k, up to the tail beyond K = 64 (λ_k ~ k^-2 or faster)
        assert ks.trace == pytest.approx(lam[0] + 2 * lam[1:].sum(), rel=0.02)
        share = (lam[0] + 2 * np.cumsum(np.r_[0, lam[1:]])) / ks.trace
        assert ks.frequency_for_90_percent == int(np.argmax(share >= 0.9))
    ntk = [k for k in report.kernels if k.kernel == "ntk"]
    assert all(k.decay_exponent == pytest.approx(2.0, abs=0.05) for k in ntk)


def test_empirical_spectrum_report_known_answers(reports) -> None:  # type: ignore[no-untyped-def]
    report: SpectrumReport = reports["empirical"]
    assert report.empirical
    for key, q in report.distance_width_exponent.items():
        assert q == pytest.approx(0.5, rel=1e-10), key
    for row in report.widths:
        assert row.relative_distance.median == pytest.approx(2.0 * row.width**-0.5)
        assert row.rayleigh_relative_error.median == pytest.approx(0.03, rel=1e-9)
        assert row.leakage.median == pytest.approx(0.01)
    assert any("n^-0.50" in v for v in report.verdicts)


def test_spectrum_report_holds_what_decompose_prints() -> None:
    """Ratios, grid eigenvalues and per-k Rayleigh mean ± sd are in the model (the CLI
    prints them from it): known answers on a synthetic run whose seeds differ."""
    ds = empirical_dataset(error=0.0)
    spread = np.array([0.9, 1.3])  # seed s has Rayleigh quotients spread[s]·μ_k/N
    for kernel in ("ntk", "nngp"):
        ds[f"{kernel}_empirical_rayleigh"] = (
            ds[f"{kernel}_empirical_rayleigh"] * spread[None, None, :, None]
        )
        top = np.zeros(ds[f"{kernel}_empirical_eigenvalue"].shape)
        top[..., 5] = [2.0, 4.0]  # the largest eigenvalue per seed, not at rank 0
        ds[f"{kernel}_empirical_eigenvalue"] = (ds[f"{kernel}_empirical_eigenvalue"].dims, top)
    report = build_report(ds, "empirical.nc")
    assert report.zero_tolerance == pytest.approx(1e-13)
    for ks in report.kernels:
        i = list(ds["depth"].values).index(ks.depth)
        lam = ds[f"{ks.kernel}_eigenvalue"].values[i]
        assert ks.ratio_reference == "lambda_0"
        np.testing.assert_allclose(ks.ratios, lam / lam[0], rtol=1e-15)
        np.testing.assert_array_equal(ks.grid_eigenvalues, ds[f"{ks.kernel}_grid_eigenvalue"][i])
    for row in report.widths:
        mu = np.asarray(
            next(
                k for k in report.kernels if (k.kernel, k.depth) == (row.kernel, row.depth)
            ).grid_eigenvalues
        )
        np.testing.assert_allclose(row.rayleigh_mean, 1.1 * mu, rtol=1e-14)  # mean of 0.9, 1.3
        np.testing.assert_allclose(row.rayleigh_sd, 0.4 / np.sqrt(2) * mu, rtol=1e-13)  # ddof 1
        assert (row.largest_eigenvalue.q25, row.largest_eigenvalue.median) == (2.5, 3.0)
    # an odd kernel: λ_0 = 0, so ratios are to λ_max and the zeros stay zeros
    odd = analytic_spectrum(NET.replace(activation="erf", bias_std=0.0), [1], max_frequency=16)
    report = build_report(odd.to_dataset(), "odd.nc")
    for ks in report.kernels:
        lam = np.asarray(ks.eigenvalues)
        assert ks.ratio_reference == "lambda_max" and lam[0] == 0.0
        np.testing.assert_allclose(ks.ratios, lam / lam.max(), rtol=1e-15)
        assert ks.ratios[0] == 0.0 and max(ks.ratios) == 1.0 and ks.grid_eigenvalues is None


def test_a_run_type_without_report_is_a_one_line_error(spectrum_ds) -> None:  # type: ignore[no-untyped-def]
    ds = spectrum_ds.copy()
    ds.attrs[schema.ATTR_RUN_TYPE] = "mystery"
    with pytest.raises(RunFileError, match="No report for run type 'mystery'"):
        build_report(ds)


# ---------------------------------------------------------------------------
# schema round trip
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["convergence", "spectrum", "empirical", "fluctuation"])
def test_json_round_trip_and_published_schema(reports, kind: str) -> None:  # type: ignore[no-untyped-def]
    jsonschema = pytest.importorskip("jsonschema")
    report = reports[kind]
    text = render_json(report)
    data = json.loads(text)
    assert data["schema_version"] == REPORT_SCHEMA_VERSION
    assert data["report_type"] == report.report_type
    assert data["provenance"]["run_type"] in schema.REQUIRED_VARIABLES
    assert load_report(text) == report
    published = json.loads((SCHEMA_DIR / f"{report.report_type}.schema.json").read_text())
    jsonschema.validate(data, published)
    items, field = {"convergence": ("rows", "frequency"), "fluctuation": ("cells", "depth")}.get(
        kind, ("kernels", "depth")
    )
    data[items][0][field] = "two"  # a string where the schema says integer
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, published)
    with pytest.raises(RunFileError, match="Invalid"):
        load_report(json.dumps(data))


def test_committed_schemas_are_up_to_date() -> None:
    for name, schema_ in report_schemas().items():
        path = SCHEMA_DIR / f"{name}.schema.json"
        assert path.read_text(encoding="utf-8") == schema_text(schema_), (
            f"{path} is stale: run python -m spectralntk.reports.schema"
        )


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("not json", "invalid JSON"),
        ("[1, 2]", "not an object"),
        ('{"schema_version": 99, "report_type": "spectrum"}', "schema version 99"),
        ('{"schema_version": 1, "report_type": "poem"}', "Unknown report type 'poem'"),
        ('{"schema_version": 1, "report_type": "spectrum"}', "Invalid spectrum report"),
    ],
)
def test_load_report_rejects_bad_documents(text: str, match: str) -> None:
    with pytest.raises(RunFileError, match=match):
        load_report(text)


# ---------------------------------------------------------------------------
# renderers
# ---------------------------------------------------------------------------
class _Collector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.images: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize("kind", ["convergence", "spectrum", "empirical", "fluctuation"])
def test_renderers_on_every_report_type(reports, kind: str) -> None:  # type: ignore[no-untyped-def]
    report = reports[kind]
    md = render_markdown(report)
    assert md.startswith(f"# {report.title}")
    for verdict in report.verdicts:
        assert verdict in md
    for fig in report.figures:
        assert f"]({fig.png})" in md and not Path(fig.png).is_absolute()
    fake_png = {f.name: b"\x89PNG fake " + f.name.encode() for f in report.figures}
    page = render_html(report, fake_png)
    parser = _Collector()
    parser.feed(page)
    assert "script" not in parser.tags  # self-contained: no scripts, no external resources
    assert 'src="http' not in page and 'href="http' not in page
    assert len(parser.images) == len(report.figures)
    assert all(src.startswith("data:image/png;base64,") for src in parser.images)
    assert report.verdicts[0] in "".join(parser.text)
    # pure: the same report renders the same text
    assert render_html(report, fake_png) == page and render_markdown(report) == md


# ---------------------------------------------------------------------------
# figures and folders
# ---------------------------------------------------------------------------
def test_figures_are_deterministic(reports, spectrum_ds, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from spectralntk.reports.figures import draw_figures

    report = reports["spectrum"]
    first = draw_figures(report, spectrum_ds, tmp_path / "a")
    second = draw_figures(report, spectrum_ds, tmp_path / "b")
    assert len(first) == 2 * len(report.figures)
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    svg = (tmp_path / "a" / "figures" / "spectrum.svg").read_text()
    assert "<dc:date>" not in svg and "frequency k" in svg  # axis label from long_name


def test_report_folder_of_a_training_run(convergence, training_ds, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from spectralntk.reports.write import REPORT_FILES, write_report

    out = write_report(convergence, training_ds, tmp_path / "rep", svg=False)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([*REPORT_FILES, "figures"])
    pngs = sorted(p.name for p in (out / "figures").iterdir())
    assert pngs == sorted(f"{f.name}.png" for f in convergence.figures)
    assert load_report((out / "report.json").read_text()).rows == convergence.rows
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]  # no staging folder left


def test_a_failing_figure_leaves_nothing_behind(
    convergence, training_ds, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from spectralntk.reports import figures, write

    old = write.write_report(convergence, training_ds, tmp_path / "rep", svg=False)
    before = {p: p.read_bytes() for p in old.rglob("*") if p.is_file()}

    def broken(report, ds):  # type: ignore[no-untyped-def]
        raise OSError("disk on fire")  # a failure to write: the whole report fails

    monkeypatch.setitem(figures.FIGURES, "mode_decay", broken)
    with pytest.raises(OSError, match="disk on fire"):
        write.write_report(convergence, training_ds, tmp_path / "rep", overwrite=True)
    after = {p: p.read_bytes() for p in old.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]


def test_a_figure_the_run_cannot_give_is_left_out_and_listed(
    convergence, training_ds, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from spectralntk.reports import figures, write
    from spectralntk.reports.models import load_report

    def broken(report, ds):  # type: ignore[no-untyped-def]
        raise ValueError("all values are NaN")

    monkeypatch.setitem(figures.FIGURES, "mode_decay", broken)
    out = write.write_report(convergence, training_ds, tmp_path / "rep", svg=True)
    written = load_report((out / "report.json").read_text())
    assert [f.name for f in written.figures] == [
        f.name for f in convergence.figures if f.name != "mode_decay"
    ]
    assert len(written.omitted) == 1
    assert "'mode_decay'" in written.omitted[0] and "all values are NaN" in written.omitted[0]
    assert not list(out.glob("figures/mode_decay.*"))
    assert "## Left out" in (out / "README.md").read_text()
    assert all((out / f.png).is_file() for f in written.figures)


def test_report_folder_rules(tmp_path: Path) -> None:
    from spectralntk import ParameterError
    from spectralntk.reports.write import check_report_folder

    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(ParameterError, match="holds other files"):
        check_report_folder(other, overwrite=True)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ParameterError, match="is not a folder"):
        check_report_folder(blocker / "sub")
    with pytest.raises(ParameterError, match="not an existing file"):
        check_report_folder(blocker)
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(ParameterError, match="writable folder"):
            check_report_folder(locked / "rep")
    assert (other / "notes.txt").read_text() == "keep me"


# ---------------------------------------------------------------------------
# fluctuation: known answers
# ---------------------------------------------------------------------------
def fluctuation_dataset(coefficient: float = 3.0, spread: float = 0.2):  # type: ignore[no-untyped-def]
    """A fluctuation run with E[K²]/E[K]² = exp(c·β) exactly, bootstrap intervals ±10 %,
    drift 2β for every seed, and profiles m·(1 ± a) over two seeds (relative spread a√2)."""
    depths, widths, seeds, probes, m_ = (2, 4, 8), (16, 64), (0, 1), 4, 8
    d = np.asarray(depths, dtype=float)[:, None]
    n = np.asarray(widths, dtype=float)[None, :]
    beta = d / n
    ratio = np.exp(coefficient * beta)
    angle = uniform_angles(m_)
    base = 1.0 + np.cos(angle)
    profile = base[None, None, None, :] * (1 + spread * np.array([1.0, -1.0]))[None, None, :, None]
    shape = (len(depths), len(widths))
    data = {
        "beta": beta,
        "ntk_diagonal": np.ones((*shape, len(seeds), probes)),
        "ntk_diagonal_mean": np.ones(shape),
        "normalized_second_moment": ratio,
        "normalized_second_moment_low": 0.9 * ratio,
        "normalized_second_moment_high": 1.1 * ratio,
        "hanin_nica_second_moment": np.exp(5 * beta),
        "ntk_empirical_profile": np.broadcast_to(profile, (*shape, len(seeds), m_)).copy(),
        "first_step_relative_change": 0.5 * (d + 1) * beta / 2 * np.exp(5 * beta),
        "first_step_prediction": (d + 1) * beta / 2 * np.exp(5 * beta),
        "training_kernel_drift": np.broadcast_to(2 * beta[:, :, None], (*shape, 2)).copy(),
    }
    coords = {
        schema.DEPTH: np.asarray(depths, dtype=np.int32),
        schema.JACOT_LAYERS: np.asarray(depths, dtype=np.int32) + 1,
        schema.WIDTH: np.asarray(widths, dtype=np.int32),
        schema.SEED: np.asarray(seeds, dtype=np.int32),
        schema.PROBE: np.arange(probes, dtype=np.int32),
        schema.PROBE_ANGLE: uniform_angles(probes),
        schema.ANGLE: angle,
    }
    ds = schema.make_dataset(
        schema.FLUCTUATION,
        config={"depths": list(depths), "widths": list(widths)},
        data_vars=data,
        coords=coords,
        title="synthetic fluctuations",
    )
    ds.attrs["steps"] = np.int32(100)
    return ds


def test_fluctuation_report_known_answers() -> None:
    report = build_report(fluctuation_dataset(), "f.nc")
    assert report.report_type == "fluctuation" and report.steps == 100
    assert report.fitted_coefficient == pytest.approx(3.0, rel=1e-12)
    # exp(5β) is inside [0.9, 1.1]·exp(3β) exactly when β ≤ ln(1.1)/2
    betas = np.array([c.beta for c in report.cells])
    inside = int((betas <= math.log(1.1) / 2).sum())
    assert report.covered == inside and 0 < inside < len(betas)
    for c in report.cells:
        assert c.beta == pytest.approx(c.depth / c.width)
        assert c.log_ratio_over_beta == pytest.approx(3.0)
        assert c.profile_spread == pytest.approx(0.2 * math.sqrt(2))
        assert c.first_step_change / c.first_step_prediction == pytest.approx(0.5)
        assert c.drift is not None and c.drift.median == pytest.approx(2 * c.beta)
    assert report.drift_beta_spearman == pytest.approx(1.0)
    assert any("slope c = 3.00" in v and f"{inside} of 6 cells" in v for v in report.verdicts)
    assert any("median 0.5" in v for v in report.verdicts)
    assert any("grows with β" in v for v in report.verdicts)
    md = render_markdown(report)
    assert all(v in md for v in report.verdicts)
    assert load_report(render_json(report)) == report


def test_kernel_regime_verdicts_on_known_numbers() -> None:
    ds = training_dataset()
    # RelErr at T of seed s, width j: 0.1(j + 1) + 0.01 s; against t → ∞: twice that
    report = build_report(ds, "x.nc")
    text = next(v for v in report.verdicts if v.startswith("RelErr against the t → ∞"))
    limits = [2 * np.median(0.1 * (j + 1) + 0.01 * np.arange(len(SEEDS))) for j in range(2)]
    spread = (max(limits) - min(limits)) / max(limits)
    assert f"changes with width by {100 * spread:.3g} % of its largest value" in text
    assert "factor 2" not in text  # RelErr at T is half the limit's, not less
    # exact geometric decay with T between the 10 % steps of k = 4 and k = 6
    left = next(v for v in report.verdicts if v.startswith("Target frequencies with less"))
    assert left.count("k = 1, 2, 4") == len(WIDTHS) and "6" not in left.split("seeds):")[1]
    assert not any(v.startswith("Narrow networks") for v in report.verdicts)
    # fewer modes under 10 % at the narrow width: its curves stay at the start
    narrow = training_dataset()
    for name in ("residual_cos", "residual_sin"):
        narrow[name].values[0] = narrow[name].values[0, :, :1]
    fewer = build_report(narrow, "x.nc").verdicts
    assert any(
        v.startswith(
            f"Narrow networks learn fewer of the harmonics: n = {WIDTHS[0]} brings 0 "
            f"of the 4 target frequencies under 10 %, n = {WIDTHS[1]} brings 3 "
            "(k = 1, 2, 4)"
        )
        for v in fewer
    )  # same at all widths
    # a limit that does not move, and RelErr at T far below it
    ds["relative_error_limit"][:] = 0.7
    ds["relative_error"][:] = 0.05
    text = next(
        v for v in build_report(ds, "x.nc").verdicts if v.startswith("RelErr against the t → ∞")
    )
    assert "barely moves with width (by 0 % of its largest value, under 10 %)" in text
    assert "factor 2" in text
    # per-frequency drift: quotients up 1 % per unit of k at the narrow width, 0.1 % at the wide
    f_ = ds.sizes["frequency"]
    rayleigh = np.ones((len(WIDTHS), len(SEEDS), 2, f_))
    for j, per_k in enumerate((0.01, 0.001)):
        rayleigh[j, :, 1] = 1 + per_k * np.arange(f_)
    ds["empirical_ntk_rayleigh"] = (("width", "seed", "checkpoint", "frequency"), rayleigh)
    ds["empirical_ntk_rayleigh"].attrs.update(long_name="q", units="1")
    text = next(v for v in build_report(ds, "x.nc").verdicts if v.startswith("Drift of the"))
    k_max = max(FREQS)
    assert f"n = {WIDTHS[0]}: up to {100 * 0.01 * k_max:.3g} % (k = {k_max})" in text
    assert f"n = {WIDTHS[1]}: up to {100 * 0.001 * k_max:.3g} % (k = {k_max})" in text


def test_gallery_marks_full_and_quick_runs() -> None:
    from spectralntk.presets import preset_settings
    from spectralntk.reports.gallery import report_size
    from spectralntk.settings import merge_settings, training_config

    for name in ("exp2.3", "long-time", "kernel-drift"):
        full, _, _ = training_config(merge_settings(preset_settings(name)))
        quick, _, _ = training_config(merge_settings(preset_settings(name, quick=True)))
        assert report_size(name, full.to_dict()) == "full"
        assert report_size(name, quick.to_dict()) == "quick"
    assert report_size("hanin-nica", {}) == "quick"


def test_gallery_headlines_prefer_the_findings_across_widths() -> None:
    from spectralntk.reports.gallery import headline_verdicts

    verdicts = ["n = 2: a", "n = 4: b", "Drift of the empirical NTK c"]
    verdicts.append("RelErr against the t → ∞ d")
    assert headline_verdicts(verdicts, 3) == [verdicts[3], verdicts[2], verdicts[0]]
    assert headline_verdicts(["x", "y"]) == ["x", "y"]


def test_theory_table_has_one_row_per_frequency_when_no_width_changes_it(convergence) -> None:  # type: ignore[no-untyped-def]
    from spectralntk.reports.render import tables

    widths = sorted({r.width for r in convergence.rows})
    frequencies = sorted({r.frequency for r in convergence.rows})
    assert len(widths) > 1
    title, _head, rows = tables(convergence)[0]
    assert title.startswith("Kernel-regime prediction per frequency")
    assert [row[0] for row in rows] == [f"every n ({len(widths)})"] * len(frequencies)
    assert [int(row[1]) for row in rows] == frequencies
    # a width whose theory differs (standard parameterization: λ_k depends on n) keeps
    # one row per width and frequency
    first = min(widths)
    changed = convergence.model_copy(
        update={
            "rows": [
                r.model_copy(update={"analytic_eigenvalue": 2 * (r.analytic_eigenvalue or 1)})
                if r.width == first
                else r
                for r in convergence.rows
            ]
        }
    )
    _, _, rows = tables(changed)[0]
    assert len(rows) == len(widths) * len(frequencies)
    assert {row[0] for row in rows} == {str(w) for w in widths}


def test_a_quartile_range_of_equal_values_reads_as_one_value() -> None:
    from spectralntk.reports.models import Stat
    from spectralntk.reports.render import _iqr, _steps

    never = Stat(median=None, q25=None, q75=None, count=10)
    assert _iqr(never, _steps) == "not reached (all seeds)"
    assert _iqr(Stat(median=3.0, q25=2.0, q75=None, count=3), _steps) == "3 [2, not reached]"
    assert _iqr(Stat(median=3.0, q25=3.0, q75=3.0, count=1), _steps) == "3"
    assert _iqr(Stat(median=None, q25=None, q75=None, count=0), _steps) == "—"


def test_predictions_caption_says_when_the_inputs_lie_off_the_circle(training_ds) -> None:  # type: ignore[no-untyped-def]
    import json

    from spectralntk.reports.convergence import off_circle_note

    assert json.loads(training_ds.attrs["spectralntk_config"])["inputs"] == "grid"
    assert off_circle_note(training_ds) == ""
    gaussian = training_ds.copy()
    cfg = json.loads(gaussian.attrs["spectralntk_config"])
    cfg["inputs"] = "gaussian"
    gaussian.attrs["spectralntk_config"] = json.dumps(cfg)
    assert "Gaussian points of R², mostly off the circle" in off_circle_note(gaussian)
    # the function-space figure of a Gaussian-input run carries the note in its caption
    n = gaussian.sizes["angle"]
    w, s_, c = gaussian.sizes["width"], gaussian.sizes["seed"], gaussian.sizes["checkpoint"]
    gaussian["eval_prediction"] = (
        ("width", "seed", "checkpoint", "angle"),
        np.zeros((w, s_, c, n)),
    )
    gaussian["ntk_prediction"] = (("width", "checkpoint", "angle"), np.zeros((w, c, n)))
    for name in ("eval_prediction", "ntk_prediction"):
        gaussian[name].attrs.update(long_name="f", units="1")
    report = build_report(gaussian, "x.nc")
    caption = next(f.caption for f in report.figures if f.name == "predictions")
    assert caption.endswith(off_circle_note(gaussian))
