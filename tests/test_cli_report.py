"""``spectralntk report`` and ``spectralntk reproduce``: folders, stdout, bad input, HTML."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from test_cli import invoke, stderr_of, stdout_of
from test_reports import empirical_dataset, fluctuation_dataset, training_dataset

from spectralntk import NetworkConfig, analytic_spectrum, save
from spectralntk.reports.models import load_report
from spectralntk.reports.write import REPORT_FILES


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    out = {
        "training": root / "training.nc",
        "spectrum": root / "spectrum.nc",
        "empirical": root / "empirical.nc",
        "fluctuation": root / "fluctuation.nc",
    }
    save(training_dataset(), out["training"])
    save(analytic_spectrum(NetworkConfig(depth=3), max_frequency=32).to_dataset(), out["spectrum"])
    save(empirical_dataset(), out["empirical"])
    save(fluctuation_dataset(), out["fluctuation"])
    return out


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def one_error_line(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, (result.output, result.exception)
    lines = [line for line in stderr_of(result).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error:") and "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(
    ("kind", "report_type"),
    [
        ("training", "convergence"),
        ("spectrum", "spectrum"),
        ("empirical", "spectrum"),
        ("fluctuation", "fluctuation"),
    ],
)
def test_report_folder_for_every_run_type(
    runs, tmp_path: Path, kind: str, report_type: str
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "rep"
    result = invoke("report", str(runs[kind]), "--out", str(out), "--no-svg")
    assert result.exit_code == 0, (result.output, result.exception)
    assert stdout_of(result).strip().splitlines()[-1] == f"Wrote {out.absolute()}"
    assert entries(out) == sorted([*REPORT_FILES, "figures"])
    report = load_report((out / "report.json").read_text())
    assert stdout_of(result).splitlines()[:2] == [report.title, f"- {report.verdicts[0]}"]
    assert report.report_type == report_type
    assert report.provenance.source == runs[kind].name
    for fig in report.figures:
        assert (out / fig.png).read_bytes().startswith(b"\x89PNG")
        assert fig.svg is None
    readme = (out / "README.md").read_text()
    assert all(f"]({fig.png})" in readme for fig in report.figures)


def test_format_json_goes_to_stdout_and_writes_nothing(runs, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    result = invoke("report", str(runs["spectrum"]), "--format", "json")
    assert result.exit_code == 0, result.output
    report = load_report(stdout_of(result))
    assert report.report_type == "spectrum" and report.kernels[0].depth == 3
    assert json.loads(stdout_of(result))["schema_version"] == 1
    assert entries(tmp_path) == []


def test_existing_report_needs_overwrite_and_is_replaced_whole(runs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "rep"
    assert invoke("report", str(runs["spectrum"]), "--out", str(out)).exit_code == 0
    assert (out / "figures" / "spectrum.svg").is_file()
    line = one_error_line(invoke("report", str(runs["empirical"]), "--out", str(out)))
    assert "--out" in line and "--overwrite" in line
    assert not load_report((out / "report.json").read_text()).empirical  # untouched
    result = invoke("report", str(runs["empirical"]), "--out", str(out), "--overwrite", "--no-svg")
    assert result.exit_code == 0, result.output
    assert load_report((out / "report.json").read_text()).empirical
    assert not (out / "figures" / "spectrum.svg").exists()  # nothing stale survives
    assert entries(tmp_path) == ["rep"]


def _not_a_run(tmp_path: Path) -> Path:
    path = tmp_path / "plain.nc"
    xr.Dataset({"x": ("t", np.arange(3.0))}).to_netcdf(path, engine="netcdf4")
    return path


def _unknown_kind(tmp_path: Path, runs) -> Path:  # type: ignore[no-untyped-def]
    import netCDF4

    path = tmp_path / "odd.nc"
    shutil.copy(runs["spectrum"], path)
    with netCDF4.Dataset(path, "a") as nc:
        nc.setncattr("spectralntk_run_type", "astrology")
    return path


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda tmp, runs: tmp / "missing.nc", "no such file"),
        (lambda tmp, runs: (tmp / "t.txt", (tmp / "t.txt").write_text("hello"))[0], "not a NetCDF"),
        (lambda tmp, runs: _not_a_run(tmp), "not a spectralntk run"),
        (_unknown_kind, "unknown run type 'astrology'"),
    ],
    ids=["missing", "text", "plain-netcdf", "unknown-type"],
)
def test_bad_run_files(runs, tmp_path: Path, make, match: str) -> None:  # type: ignore[no-untyped-def]
    run = make(tmp_path, runs)
    before = entries(tmp_path)
    line = one_error_line(invoke("report", str(run), "--out", str(tmp_path / "rep")))
    assert match in line
    assert entries(tmp_path) == before  # no report folder, no staging folder


def test_unwritable_or_foreign_output_folders(runs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    line = one_error_line(invoke("report", str(runs["spectrum"]), "--out", str(blocker / "r")))
    assert "--out" in line and "is not a folder" in line
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    line = one_error_line(
        invoke("report", str(runs["spectrum"]), "--out", str(mine), "--overwrite")
    )
    assert "holds other files" in line
    assert entries(mine) == ["thesis.tex"] and (mine / "thesis.tex").read_text() == "precious"
    line = one_error_line(
        invoke("report", str(runs["spectrum"]), "--format", "json", "--out", str(mine))
    )
    assert "--out" in line


def test_reproduce_end_to_end_small(tmp_path: Path) -> None:
    # the smallest preset, shrunk further with --set so that it runs in seconds
    out, run = tmp_path / "reports", tmp_path / "run.nc"
    args = ["reproduce", "exp2.4", "--quick", "--out", str(out), "--run", str(run), "--quiet"]
    args += ["--set", "width=[4, 32]", "--set", "seeds=2", "--set", "steps=60", "--no-svg"]
    args += ["--set", "points=48", "--set", "eval_points=96"]  # modes k ≤ N/4 = 12
    result = invoke(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    assert run.is_file()
    report = load_report((out / "exp2.4" / "report.json").read_text())
    assert report.report_type == "convergence" and report.steps == 60
    assert [w.width for w in report.widths] == [4, 32]
    assert sorted({r.frequency for r in report.rows}) == [2, 4, 7, 11]
    assert "reproduce exp2.4 --quick" in report.provenance.history
    # the same destination again without --overwrite: refused before any training
    line = one_error_line(invoke(*args))
    assert "--out" in line


def test_reproduce_fluctuations_small(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    args = ["reproduce", "hanin-nica", "--quick", "--out", str(out), "--quiet", "--no-svg"]
    args += ["--run", str(tmp_path / "f.nc"), "--set", "depths=[2, 3]", "--set", "widths=[8]"]
    args += ["--set", "seeds=3", "--set", "probes=4", "--set", "steps=5", "--set", "bootstrap=20"]
    result = invoke(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    report = load_report((out / "hanin-nica" / "report.json").read_text())
    assert report.report_type == "fluctuation" and report.steps == 5
    assert [(c.depth, c.width) for c in report.cells] == [(2, 8), (3, 8)]
    assert report.cells[0].beta == pytest.approx(2 / 8)
    line = one_error_line(
        invoke("reproduce", "hanin-nica", "--quick", "--set", "colour=red", "--out", str(out / "x"))
    )
    assert "colour=red" in line


def test_gallery_index_links_every_report(tmp_path: Path, runs) -> None:  # type: ignore[no-untyped-def]
    from spectralntk.reports.gallery import write_gallery_index

    for name, kind in (("exp2.2", "training"), ("hanin-nica", "fluctuation")):
        assert invoke("report", str(runs[kind]), "--out", str(tmp_path / name)).exit_code == 0
    index = write_gallery_index(tmp_path, ["exp2.2", "missing", "hanin-nica"]).read_text()
    assert "## [exp2.2](exp2.2/README.md) — *quick variant*" in index and "missing" not in index
    assert "(exp2.2/figures/residual_heatmap.png)" in index
    assert "(hanin-nica/figures/ratio_vs_beta.png)" in index
    assert "spectralntk reproduce NAME --quick --out reports/" in index


def test_reproduce_bad_input(tmp_path: Path) -> None:
    line = one_error_line(invoke("reproduce", "exp9.9", "--quick", "--out", str(tmp_path)))
    assert "exp9.9" in line
    line = one_error_line(invoke("reproduce", "--quick", "--out", str(tmp_path)))
    assert "--all" in line
    line = one_error_line(
        invoke("reproduce", "exp2.4", "--quick", "--set", "lr=-1", "--out", str(tmp_path))
    )
    assert "lr" in line
    assert entries(tmp_path) == []


@pytest.mark.slow
def test_reproduce_the_smallest_quick_preset_unchanged(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = invoke(
        "reproduce", "exp2.1", "--quick", "--out", str(out), "--run", str(tmp_path / "r.nc")
    )
    assert result.exit_code == 0, (result.output, result.exception)
    report = load_report((out / "exp2.1" / "report.json").read_text())
    assert {f.name for f in report.figures} >= {"residual_heatmap", "kernel_profiles"}
    assert all((out / "exp2.1" / f.svg).is_file() for f in report.figures if f.svg)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _needs_chromium() -> str:
    """The chromium binary; skips without one, fails where CI requires it."""
    found = _chromium()
    if found is None:
        if os.environ.get("SPECTRALNTK_REQUIRE_CHROMIUM"):
            pytest.fail("chromium not installed but SPECTRALNTK_REQUIRE_CHROMIUM is set")
        pytest.skip("needs chromium (Debian package 'chromium')")
    return found


#: Appended to a report page: after layout, the body's ``data-measure`` attribute holds
#: each table's (scroll width, visible width), the smallest table font and the page width.
_MEASURE = """<script>
window.addEventListener('load', () => {
  const tables = [...document.querySelectorAll('table')].map(t => [t.scrollWidth, t.clientWidth]);
  const fonts = [...document.querySelectorAll('td,th')]
    .map(e => parseFloat(getComputedStyle(e).fontSize));
  document.body.setAttribute('data-measure', JSON.stringify({tables, font: Math.min(...fonts),
    page: document.documentElement.scrollWidth, window: window.innerWidth}));
});
</script>"""


@pytest.mark.parametrize("kind", ["training", "spectrum", "empirical", "fluctuation"])
def test_html_tables_fit_a_1200_px_window(runs, tmp_path: Path, kind: str) -> None:  # type: ignore[no-untyped-def]
    """At 1200 px no table needs a horizontal scroll bar and no table text is below 12 px."""
    import html as html_module

    chromium = _needs_chromium()
    out = tmp_path / "rep"
    assert invoke("report", str(runs[kind]), "--out", str(out), "--no-svg").exit_code == 0
    page = tmp_path / "measured.html"
    text = (out / "report.html").read_text(encoding="utf-8")
    assert text.count("</body>") == 1
    page.write_text(text.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    proc = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1200,900",
            "--virtual-time-budget=5000",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'data-measure="([^"]*)"', proc.stdout)
    assert found, proc.stdout[-2000:]
    measure = json.loads(html_module.unescape(found.group(1)))
    assert measure["window"] == 1200
    assert measure["tables"], "the report has tables"
    for scroll, visible in measure["tables"]:
        assert scroll <= visible + 1, measure  # the table's columns fit its box
    assert measure["page"] <= measure["window"], measure  # and the page needs no scrolling
    assert measure["font"] >= 12.0, measure


@pytest.mark.skipif(_chromium() is None, reason="needs chromium (Debian package 'chromium')")
def test_html_opens_in_headless_chromium_without_console_errors(runs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "rep"
    assert invoke("report", str(runs["training"]), "--out", str(out), "--no-svg").exit_code == 0
    proc = subprocess.run(
        [
            str(_chromium()),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            (out / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console
    dom = proc.stdout
    report = load_report((out / "report.json").read_text())
    assert report.title.split(":")[0] in dom
    assert dom.count("data:image/png;base64,") == len(report.figures)
