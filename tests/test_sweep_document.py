"""The sweep document across its axes, the β section and the beta-sweep preset."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_reports import training_dataset

from spectralntk.reports.build import build_report
from spectralntk.reports.sweep_document import (
    REPORT_COLUMN,
    SweepPoint,
    beta_verdicts,
    draw_sweep_figures,
    render_sweep_html,
    render_sweep_markdown,
    sweep_document,
)


# ---------------------------------------------------------------------------
# the beta-sweep preset
# ---------------------------------------------------------------------------
def test_beta_sweep_preset_is_the_published_configuration() -> None:
    """EXPERIMENTS.md: depths 1, 2, 4, 8 × widths 64 … 1024, 5 seeds, x1·x2 on 512 Gaussian
    inputs, 200 steps at lr 1.0, in EXP001's setting (Experiment 2.1)."""
    from spectralntk.sweeps.grid import resolved_config
    from spectralntk.sweeps.presets import sweep_preset_spec

    spec = sweep_preset_spec("beta-sweep")
    assert spec.kind == "train" and spec.name == "beta-sweep"
    assert dict(spec.axes) == {"width": (64, 128, 256, 512, 1024), "depth": (1, 2, 4, 8)}
    assert [p["depth"] for p in spec.points()] == [1, 2, 4, 8]
    for point in spec.points():
        cfg, dtype = resolved_config(spec, point)
        net = cfg.network
        assert net.depth == point["depth"] and cfg.widths == (64, 128, 256, 512, 1024)
        assert cfg.seeds == (0, 1, 2, 3, 4) and dtype == "float64"
        assert (cfg.inputs, cfg.points, cfg.eval_points) == ("gaussian", 512, 720)
        assert cfg.target.name == "product" and cfg.label_noise == 0.0
        assert (cfg.steps, cfg.lr, cfg.loss) == (200, 1.0, "mean")
        assert cfg.checkpoints == (0, 200)
        assert (net.activation.value, net.parameterization.value) == ("relu", "ntk")
        assert (net.weight_std, net.bias_std, net.bias_init.value) == (1.0, 0.1, "normal")
        assert net.output_bias is False
    quick = sweep_preset_spec("beta-sweep", quick=True)
    assert dict(quick.axes) == {"width": (64, 128, 256), "depth": (1, 2, 4)}
    cfg, _ = resolved_config(quick, quick.points()[0])
    assert (cfg.steps, cfg.lr, cfg.points, len(cfg.seeds)) == (50, 1.0, 128, 3)
    assert cfg.target.name == "product" and cfg.inputs == "gaussian"


def test_beta_sweep_preset_bad_input() -> None:
    from spectralntk import ParameterError
    from spectralntk.sweeps.presets import sweep_preset_spec

    with pytest.raises(ParameterError, match="'preset'"):
        sweep_preset_spec("gamma-sweep")
    with pytest.raises(ParameterError, match="'set'"):
        sweep_preset_spec("beta-sweep", overrides={"depth": 3})
    assert sweep_preset_spec("beta-sweep", overrides={"seeds": 2}).base["seeds"] == 2


def test_beta_is_the_sum_of_inverse_widths() -> None:
    from spectralntk.reports.sweep_document import _beta

    for depth, width in ((1, 64), (2, 128), (4, 256), (8, 1024), (3, 7)):
        assert _beta(depth, width) == pytest.approx(sum(1 / width for _ in range(depth)))
    assert _beta(4, 256) == _beta(1, 64) == 1 / 64


# ---------------------------------------------------------------------------
# the document from synthetic points with known numbers
# ---------------------------------------------------------------------------
def _point(depth: int, lr: float, scale: float) -> tuple[dict[str, Any], Any]:
    """The synthetic run (test_reports) as a grid point at ``depth``: RelErr times
    ``scale``, kernel drift depth·scale/width (so β·scale), a profile per seed."""
    ds = training_dataset().copy(deep=True)
    cfg = json.loads(ds.attrs["spectralntk_config"])
    cfg["network"]["depth"] = depth
    cfg["lr"] = lr
    ds.attrs["spectralntk_config"] = json.dumps(cfg)
    widths = ds["width"].values.astype(float)
    ds["relative_error"].values[:] *= scale
    drift = depth * scale / widths  # β·scale
    ds["kernel_drift"].values[:] = drift[:, None, None]
    m = ds.sizes["angle"]
    prof = np.ones((len(widths), ds.sizes["seed"], 2, m))
    prof *= (1 + 0.1 * np.arange(ds.sizes["seed"]))[None, :, None, None]
    ds["empirical_ntk_profile"] = (("width", "seed", "checkpoint", "angle"), prof)
    ds["empirical_ntk_profile"].attrs.update(long_name="p", units="1")
    ds["eval_prediction"] = (("width", "seed", "checkpoint", "angle"), 0.5 * prof)
    ds["eval_prediction"].attrs.update(long_name="f", units="1")
    ds["ntk_prediction"] = (("width", "checkpoint", "angle"), np.zeros((len(widths), 2, m)))
    ds["ntk_prediction"].attrs.update(long_name="f", units="1")
    return {"depth": depth, "lr": lr}, ds


@pytest.fixture(scope="module")
def grid() -> tuple[Any, list[SweepPoint]]:
    points = []
    for depth in (1, 4):
        for lr, scale in ((0.05, 1.0), (0.1, 2.0)):
            point, ds = _point(depth, lr, scale)
            folder = f"depth={depth},lr={lr:g}"
            points.append(SweepPoint(point, folder, build_report(ds, f"{folder}.nc"), ds))
    axes = [("width", [8, 32]), ("depth", [1, 4]), ("lr", [0.05, 0.1]), ("seed", [0, 1, 2, 3])]
    return sweep_document("grid", axes, ["depth", "lr"], points), points


def test_document_has_the_axes_tables_and_links(grid) -> None:  # type: ignore[no-untyped-def]
    doc, points = grid
    assert doc.title == "Sweep grid: depth (1, 4) × lr (0.05, 0.1) × width (8, 32)"
    assert len(doc.cells) == 4 * 2  # grid points × widths
    (_, head, rows), (_, head2, rows2) = doc.tables
    assert len(rows2) == len(rows)
    assert head[:3] == ["depth", "lr", "n"] and head[-1] == REPORT_COLUMN and "β" in head
    assert [r[-1] for r in rows] == [p.folder for p in points for _ in range(2)]
    assert [f"k = {k}" for k in (1, 2, 4, 6)] == head2[3:-1]
    md = render_sweep_markdown(doc)
    for p in points:  # every grid point's report is a linked sub-page
        assert f"[{p.folder}]({p.folder}/README.md)" in md
    assert "- `depth`: 1, 4 (grid points)" in md and "- `width`: 8, 32 (within each run)" in md
    page = render_sweep_html(doc, {})
    for p in points:
        assert f'<a href="{p.folder}/report.html">{p.folder}</a>' in page
    # RelErr of seed s at width j is (0.1(j + 1) + 0.01 s)·scale: the median over 4 seeds
    med = [0.1 * (j + 1) + 0.015 for j in range(2)]
    cell = next(c for c in doc.cells if c["point"] == {"depth": 4, "lr": 0.1} and c["width"] == 32)
    assert cell["relative_error"]["median"] == pytest.approx(2 * med[1])
    assert cell["beta"] == 4 / 32
    assert any(
        v.startswith("RelErr at T at the widest width (n = 32) against lr (0.05, 0.1): rises")
        and "at 2 of 2 settings" in v
        for v in doc.verdicts
    )
    assert any("against width: rises at 4" in v for v in doc.verdicts)
    # k = 6 is never reached (the synthetic T lies between the 10 % steps of k = 4 and 6)
    assert any(v.startswith("Target frequencies") and "k = 6 at none" in v for v in doc.verdicts)


def test_beta_findings_known_answers(grid) -> None:  # type: ignore[no-untyped-def]
    doc, _ = grid
    drift = next(v for v in doc.verdicts if v.startswith("Kernel drift"))
    # drift = β·scale exactly: a power law of exponent 1 through cells of two scales
    assert "Spearman ρ(β, ·)" in drift
    # β = 1/8 at depth 1 (n = 8) and depth 4 (n = 32): equal drift at equal scale, and
    # the two scales differ by a factor 2
    assert "β = 1/8" in drift and "up to a factor 2 " in drift
    # one scale only: β sets the drift exactly, the power law is β^1
    cells = [c for c in doc.cells if c["point"]["lr"] == 0.05]
    text = beta_verdicts(cells)[0]
    assert "∝ β^1.00" in text and "Spearman ρ(β, ·) = 1.00" in text
    assert "within a factor 1.5" in text
    spread = next(v for v in doc.verdicts if v.startswith("Seed spread"))
    s = np.std(1 + 0.1 * np.arange(4), ddof=1) / np.mean(1 + 0.1 * np.arange(4))
    assert f"{s:.3g}" in spread


def test_document_figures_are_drawn(grid, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc, points = grid
    names = [f.name for f in doc.figures]
    assert names == [
        "sweep_relative_error",
        "sweep_steps",
        "beta_drift",
        "beta_profiles",
        "beta_overlays",
    ]
    written = draw_sweep_figures(doc, points, tmp_path, svg=False)
    assert sorted(p.name for p in written) == sorted(f"{n}.png" for n in names)
    assert all(p.stat().st_size > 3000 for p in written)


def test_a_sweep_without_depth_has_no_beta_section(grid) -> None:  # type: ignore[no-untyped-def]
    _, points = grid
    mine = [p for p in points if p.point["depth"] == 1]
    doc = sweep_document("lr", [("lr", [0.05, 0.1])], ["lr"], mine)
    assert [f.name for f in doc.figures] == ["sweep_relative_error", "sweep_steps"]
    assert not any(v.startswith("Kernel drift") for v in doc.verdicts)
    assert "β" not in doc.tables[0][1]


# ---------------------------------------------------------------------------
# end to end: reproduce beta-sweep on a tiny grid, report of the sweep folder
# ---------------------------------------------------------------------------
@pytest.mark.slow
def test_reproduce_a_tiny_beta_sweep(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from test_cli import invoke

    sets = [
        "--set=steps=6",
        "--set=points=16",
        "--set=eval_points=32",
        "--set=seeds=2",
        "--set=checkpoint_steps=[0, 6]",
    ]
    from spectralntk.sweeps import presets

    tiny = presets.SweepPreset(
        "beta-sweep",
        "tiny",
        presets.SWEEP_PRESETS["beta-sweep"].base,
        {"width": [8, 16], "depth": [1, 2]},
    )
    saved = presets.SWEEP_PRESETS["beta-sweep"]
    presets.SWEEP_PRESETS["beta-sweep"] = tiny
    try:
        result = invoke(
            "reproduce", "beta-sweep", "--out", str(tmp_path / "rep"),
            "--run", str(tmp_path / "runs"), "--no-svg", *sets,
        )  # fmt: skip
    finally:
        presets.SWEEP_PRESETS["beta-sweep"] = saved
    assert result.exit_code == 0, result.output
    root = tmp_path / "rep" / "beta-sweep"
    index = json.loads((root / "sweep.json").read_text())
    # reproduce prints the sweep document's title and findings, as report does
    assert f"{index['title']}\n" in result.stdout
    assert all(f"- {v}\n" in result.stdout for v in index["verdicts"])
    assert index["point_axes"] == ["depth"] and len(index["cells"]) == 4
    assert {c["beta"] for c in index["cells"]} == {1 / 8, 1 / 16, 2 / 8, 2 / 16}
    md = (root / "README.md").read_text()
    assert "[depth=1](depth=1/README.md)" in md and "[depth=2](depth=2/README.md)" in md
    for name in ("beta_drift", "beta_profiles", "beta_overlays", "sweep_relative_error"):
        assert (root / "figures" / f"{name}.png").is_file()
    assert (root / "depth=2" / "report.json").is_file()
    assert re.search(r"Kernel drift .* against β", md)
    assert not math.isnan(index["cells"][0]["kernel_drift"]["median"])


def test_gallery_lists_a_sweep_report(grid, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from spectralntk.reports.gallery import write_gallery_index
    from spectralntk.reports.sweep_document import sweep_json

    doc, _ = grid
    (tmp_path / "beta-sweep").mkdir()
    (tmp_path / "beta-sweep" / "sweep.json").write_text(json.dumps(sweep_json(doc, "x")))
    text = write_gallery_index(tmp_path, ["beta-sweep"]).read_text()
    assert "## [beta-sweep](beta-sweep/README.md) — **full size** (sweep)" in text
    assert "![beta-sweep: beta_drift](beta-sweep/figures/beta_drift.png)" in text
    assert text.split("beta_drift.png)")[1].lstrip().startswith("- Kernel drift")


def test_sweep_figures_are_uncluttered(grid) -> None:  # type: ignore[no-untyped-def]
    """The layout checks of the run figures (test_report_findings) on every sweep figure,
    and the 'not reached' legend entry in a neutral colour (each marker in its point's)."""
    import warnings

    from matplotlib.colors import to_rgb
    from test_report_findings import layout_problems

    from spectralntk.reports.figures import _declutter_ticks, _style, _thin_log_ticks
    from spectralntk.reports.sweep_document import SWEEP_FIGURES

    doc, points = grid
    problems = []
    with _style(), warnings.catch_warnings():
        warnings.simplefilter("error")
        for ref in doc.figures:
            fig = SWEEP_FIGURES[ref.name](doc, points)
            _thin_log_ticks(fig)
            _declutter_ticks(fig)
            problems += [f"{ref.name}: {p}" for p in layout_problems(fig)]
            if ref.name == "sweep_steps":
                (legend,) = fig.legends
                labels = [t.get_text() for t in legend.get_texts()]
                (i,) = [i for i, t in enumerate(labels) if t.startswith("not reached by step ")]
                entry = legend.legend_handles[i]
                assert to_rgb(entry.get_color()) == to_rgb("0.3")
                lines = [ln for ax in fig.axes for ln in ax.get_lines() if len(ln.get_xdata())]
                triangles = [ln for ln in lines if ln.get_marker() == "^"]
                assert triangles, "k = 6 is never reached: its markers are drawn"
                colours = {to_rgb(ln.get_color()) for ln in lines if ln.get_marker() == "o"}
                assert all(to_rgb(t.get_color()) in colours for t in triangles)
    assert problems == [], "\n".join(problems)
