"""``spectralntk presets``, ``spectralntk info``, and what ``reproduce`` and ``report
--format markdown`` print (issue 12)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from test_cli import invoke, stderr_of, stdout_of
from test_cli_report import one_error_line
from test_reports import training_dataset

from spectralntk import NetworkConfig, analytic_spectrum, load, save
from spectralntk.presets import PRESETS, format_setting, preset_settings


# ---------------------------------------------------------------------------
# presets
# ---------------------------------------------------------------------------
def test_presets_lists_every_preset_with_its_description() -> None:
    from spectralntk.cli.report import reproduce_names

    result = invoke("presets")
    assert result.exit_code == 0, result.output
    out = stdout_of(result)
    rows = {line.split()[0]: line for line in out.splitlines() if line and line[0] != " "}
    for name in reproduce_names():
        assert name in rows, name
    for name, preset in PRESETS.items():
        assert preset.description in rows[name] and " train " in rows[name]
    assert "fluctuations" in rows["hanin-nica"] and "Hanin & Nica" in rows["hanin-nica"]
    assert "spectralntk presets NAME" in out and "spectralntk reproduce NAME" in out


def _section(text: str, title: str) -> dict[str, str]:
    """``key = value`` lines of the section that starts with ``title``."""
    block = text.split(title, 1)[1].split("\n\n", 1)[0]
    return dict((m.group(1), m.group(2)) for m in re.finditer(r"^  (\S+)\s+= (.*)$", block, re.M))


def test_presets_name_shows_its_settings_and_its_quick_variant() -> None:
    result = invoke("presets", "exp2.3")
    assert result.exit_code == 0, result.output
    out = stdout_of(result)
    assert out.startswith(f"exp2.3 (train): {PRESETS['exp2.3'].description}")
    full, quick = preset_settings("exp2.3"), preset_settings("exp2.3", quick=True)
    shown = _section(out, "settings:")
    assert shown == {k: format_setting(v) for k, v in full.items()}
    assert shown["lr"] == "0.01" and shown["target"] == '"fourier-mixture"'
    changes = _section(out, "quick variant (--quick) changes:")
    assert changes == {k: format_setting(v) for k, v in quick.items() if full.get(k) != v}
    assert changes["width"] == "[256, 1024]" and changes["steps"] == "1000"
    assert "spectralntk reproduce exp2.3 [--quick]" in out
    assert "spectralntk train --preset exp2.3" in out


def test_presets_shows_the_fluctuation_study_as_reproduce_runs_it() -> None:
    from spectralntk.cli.report import FLUCTUATION_REPRODUCE
    from spectralntk.runs.fluctuations import FLUCTUATION_PRESETS

    out = stdout_of(invoke("presets", "hanin-nica"))
    (full, steps), (quick, quick_steps) = FLUCTUATION_REPRODUCE["hanin-nica"]
    shown = _section(out, "settings:")
    assert shown["steps"] == str(steps)
    assert shown["depths"] == format_setting(FLUCTUATION_PRESETS[full]["depths"])
    changes = _section(out, "quick variant (--quick) changes:")
    assert changes["steps"] == str(quick_steps)
    assert changes["widths"] == format_setting(FLUCTUATION_PRESETS[quick]["widths"])


def test_long_settings_are_shortened_with_their_length() -> None:
    assert format_setting(list(range(0, 100001, 500))) == (
        "[0, 500, 1000, …, 99500, 100000] (201 values)"
    )
    assert format_setting([1, 2, 3]) == "[1, 2, 3]"
    assert format_setting(True) == "true" and format_setting(None) == "none"
    assert format_setting('say "hi"') == '"say \\"hi\\""'


def test_presets_unknown_name_is_one_error_line() -> None:
    line = one_error_line(invoke("presets", "exp9.9"))
    assert "NAME" in line and "'exp9.9'" in line and "exp2.1" in line


# ---------------------------------------------------------------------------
# info
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spectrum_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = analytic_spectrum(NetworkConfig(depth=2), [1, 2], max_frequency=32, angles=16)
    return save(run.to_dataset(history="test"), tmp_path_factory.mktemp("i") / "spec.nc")


def test_info_of_a_spectrum_run(spectrum_file: Path) -> None:
    result = invoke("info", str(spectrum_file))
    assert result.exit_code == 0, result.output
    out = stdout_of(result)
    assert out.startswith("spec.nc: spectrum run, Analytic NNGP/NTK spectra")
    assert "dimensions: " in out
    dims = dict(re.findall(r"(\w+) = (\d+)", out.split("dimensions: ")[1].splitlines()[0]))
    assert dims == {"frequency": "33", "depth": "2", "angle": "16"}
    assert re.search(r"^  ntk_eigenvalue\(depth, frequency\)\s+NTK eigenvalue lambda_k", out, re.M)
    config = _section(out, "configuration:")
    assert config["network.activation"] == '"relu"' and config["depths"] == "[1, 2]"
    assert config["max_frequency"] == "32"
    findings = out.split("findings:")[1].strip().splitlines()
    assert len(findings) == 2 and findings[0].startswith("- depth 1 (L = 2): NTK λ_k ∝ k^-")


def test_info_of_an_older_training_run_without_the_answer_variables(tmp_path: Path) -> None:
    path = save(training_dataset(), tmp_path / "old.nc")  # written without the new variables
    assert "analytic_eigenvalue" not in load(path)
    result = invoke("info", str(path))
    assert result.exit_code == 0, result.output
    out = stdout_of(result)
    assert out.startswith("old.nc: training run")
    assert "residual_cos(width, seed, step, frequency)" in out
    assert "findings (" in out and "more in its report):" in out
    assert "network.depth" in _section(out, "configuration:")
    quick = stdout_of(invoke("info", str(path), "--no-findings", "--no-variables"))
    assert "findings" not in quick and "variables" not in quick and "configuration:" in quick


def test_info_of_a_file_that_is_not_a_run_is_one_error_line(tmp_path: Path) -> None:
    text = tmp_path / "t.nc"
    text.write_text("hello")
    assert "not a NetCDF" in one_error_line(invoke("info", str(text)))
    assert "no such file" in one_error_line(invoke("info", str(tmp_path / "missing.nc")))
    folder = tmp_path / "plain"
    folder.mkdir()
    for command in ("info", "report"):
        line = one_error_line(invoke(command, str(folder)))
        assert "is a folder, and not a sweep folder (those have index.json)" in line


# ---------------------------------------------------------------------------
# report --format markdown, reproduce
# ---------------------------------------------------------------------------
def test_markdown_on_stdout_links_no_figure(
    spectrum_file: Path, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    result = invoke("report", str(spectrum_file), "--format", "markdown")
    assert result.exit_code == 0, result.output
    out = stdout_of(result)
    assert out.startswith("# NTK and NNGP spectra") and "## Findings" in out
    assert "figures/" not in out and "![" not in out and ".png" not in out
    assert list(tmp_path.iterdir()) == []


def test_publishing_a_run_reports_each_phase(tmp_path: Path) -> None:
    from spectralntk.cli.report import publish_run

    run = analytic_spectrum(NetworkConfig(depth=1), max_frequency=16, angles=8)
    seen: list[tuple[int, int, str]] = []
    folder = publish_run(
        run, tmp_path / "r.nc", tmp_path / "rep", "test", overwrite=False, svg=False,
        on_progress=lambda done, total, text: seen.append((done, total, text)),
    )  # fmt: skip
    assert [d for d, _, _ in seen] == [0, 1, 2, 3, 4] and {t for _, t, _ in seen} == {4}
    assert "writing r.nc" in seen[1][2] and "figures" in seen[3][2]
    assert (folder / "report.json").is_file() and load(tmp_path / "r.nc") is not None


def test_reproduce_prints_the_findings(tmp_path: Path) -> None:
    from spectralntk.reports.models import load_report

    out, run = tmp_path / "reports", tmp_path / "run.nc"
    args = ["reproduce", "exp2.4", "--quick", "--out", str(out), "--run", str(run), "--no-svg"]
    args += ["--set", "width=[4]", "--set", "seeds=2", "--set", "steps=20"]
    args += ["--set", "points=48", "--set", "eval_points=96"]
    result = invoke(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    report = load_report((out / "exp2.4" / "report.json").read_text())
    lines = stdout_of(result).splitlines()
    assert lines[0] == report.title
    assert lines[1 : 1 + len(report.verdicts)] == [f"- {v}" for v in report.verdicts]
    assert lines[-1].startswith(f"Wrote {out / 'exp2.4'}")
    assert "Traceback" not in stderr_of(result)
    ds = load(run)  # and the run file holds the answer per frequency
    assert ds["predicted_steps_discrete"].dims == ("width", "frequency")
    assert np.all(ds["target_amplitude"].values[[2, 4, 7, 11]] > 0)


_PROBE = r"""
import sys
from spectralntk.cli import app

def run(args):
    try:
        rc = app(args, prog_name="spectralntk", standalone_mode=False)
    except SystemExit as exc:
        rc = exc.code
    return 0 if rc is None else rc

codes = [run(a) for a in (["--help"], ["presets", "--help"], ["info", "--help"], ["presets"],
                          ["presets", "hanin-nica"], ["info", {path!r}, "--no-findings"])]
print("HEAVY", codes, sorted(m for m in ("torch", "seaborn") if m in sys.modules))
"""


def test_presets_and_info_import_no_torch(spectrum_file: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from test_cli import _subprocess_env

    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(path=str(spectrum_file))],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_subprocess_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY [0, 0, 0, 0, 0, 0] []" in proc.stdout, proc.stdout
