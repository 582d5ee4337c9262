"""Tests of the ``spectralntk`` command line (``spectralntk.cli``) with Typer's CliRunner.

Every test runs in its own temporary folder (``monkeypatch.chdir(tmp_path)``), so the
default output ``runs/spectrum-<time>.nc`` lands there. The library results the CLI
must reproduce are recomputed directly with ``circle_spectrum``, ``circle_kernel`` and
``fit_power_law`` for the same :class:`~spectralntk.NetworkConfig`.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import spectralntk
from spectralntk import (
    Activation,
    BiasInit,
    NetworkConfig,
    Parameterization,
    circle_kernel,
    circle_spectrum,
    fit_power_law,
)
from spectralntk.cli import app
from spectralntk.cli import decompose as decompose_module
from spectralntk.kernels import uniform_angles
from spectralntk.store import load
from spectralntk.store.schema import read_config

REPO_ROOT = Path(spectralntk.__file__).resolve().parent.parent
HEAVY_MODULES = ("torch", "seaborn", "dask")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test inside ``tmp_path`` so that default outputs land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str):  # type: ignore[no-untyped-def]
    """Run ``spectralntk *args`` in-process and return the click Result."""
    return CliRunner().invoke(app, list(args))


def stdout_of(result) -> str:  # type: ignore[no-untyped-def]
    """What went to stdout only (older click mixes stderr into ``output``)."""
    try:
        return result.stdout
    except ValueError:  # pragma: no cover - click < 8.2 with mix_stderr
        return result.output


def stderr_of(result) -> str:  # type: ignore[no-untyped-def]
    """What went to stderr; the combined output where the runner does not separate it."""
    try:
        err = result.stderr
    except ValueError:  # pragma: no cover - stderr mixed into output
        err = ""
    return err if err.strip() else result.output


def flat(text: str) -> str:
    """``text`` with every run of whitespace (including rich's line wraps) as one space."""
    return " ".join(text.split())


def wrote_path(result) -> Path:  # type: ignore[no-untyped-def]
    """The path of the ``Wrote <path>`` line; asserts it is there once."""
    found = re.findall(r"^Wrote (.+)$", stdout_of(result), flags=re.MULTILINE)
    assert len(found) == 1, result.output
    return Path(found[0].strip())


def run_ok(*args: str) -> tuple[object, Path]:
    """``decompose *args``; asserts success; returns (result, written path)."""
    result = invoke("decompose", *args)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Traceback" not in result.output
    if "--quiet" in args:
        path = Path(stdout_of(result).strip())
    else:
        path = wrote_path(result)
    assert path.is_file(), path
    return result, path


def table_header_lines(text: str) -> list[str]:
    """Lines of the printed tables that are column headers."""
    return [
        line
        for line in text.splitlines()
        if re.match(r"^\s*k\s+mult\b", line) or re.match(r"^\s*k\s+.*λ_k", line)
    ]


def table_rows(text: str) -> list[int]:
    """The frequencies k of the printed table rows (lines starting with an integer k)."""
    rows = []
    for line in text.splitlines():
        m = re.match(r"^\s*(\d+)\s+([12])\s+\S+e[-+]\d+", line)
        if m:
            rows.append(int(m.group(1)))
    return rows


def decay_fits(text: str) -> list[tuple[str, float, int, int]]:
    """(kernel, p, k_min, k_max) of every decay line: ``NTK: ... p = 2.0005 ... 64 ≤ k ≤ 256``."""
    pattern = r"\b(NTK|NNGP)\b:[^:]*?\bp = ([-+]?[0-9.]+(?:e[-+]?\d+)?|nan)\b.*?(\d+) ≤ k ≤ (\d+)"
    return [
        (name, float(p), int(lo), int(hi)) for name, p, lo, hi in re.findall(pattern, flat(text))
    ]


def config_of(path: Path) -> dict:
    """The stored JSON run configuration of the run file at ``path``."""
    return read_config(load(path))


def assert_spectrum_matches(path: Path, config: NetworkConfig, depths, k_max: int) -> None:  # type: ignore[no-untyped-def]
    """The stored eigenvalues/traces equal the library's for ``config`` at each depth
    (eigenvalues below the zero tolerance stored as 0)."""
    from spectralntk.spectral import zero_small

    ds = load(path)
    assert list(ds["depth"].values) == list(depths)
    assert ds.sizes["frequency"] == k_max + 1
    for depth in depths:
        ref = circle_spectrum(config.replace(depth=depth), k_max)
        for name in ("ntk", "nngp"):
            lam = zero_small(getattr(ref.eigenvalues, name))
            stored = ds[f"{name}_eigenvalue"].sel(depth=depth).values
            np.testing.assert_allclose(stored, lam, rtol=1e-15, atol=1e-15 * abs(lam[0]))
            at_zero = ds[f"{name}_profile"].sel(depth=depth).values[0]
            np.testing.assert_allclose(at_zero, float(getattr(ref.trace, name)), rtol=1e-15)


def assert_one_error_line(result, option: str, *, usage_ok: bool = False) -> str:  # type: ignore[no-untyped-def]
    """Exit 2, one ``Error:`` line naming ``option``, no traceback; returns the line.

    ``usage_ok``: Typer's own parse errors (bad enum choice) put its standard
    ``Usage:``/``Try ... --help`` preamble before the error line; allow that, but
    still only one error line.
    """
    assert result.exit_code == 2, (result.output, result.exception)
    err = stderr_of(result)
    assert "Traceback" not in result.output + err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1, err
    line = errors[0]
    assert option in line, (option, line)
    if usage_ok:
        others = [line for line in lines if not line.startswith("Error:")]
        assert all(o.startswith(("Usage:", "Try ")) for o in others), err
    else:
        assert lines == errors, f"expected exactly one line, got: {err!r}"
        # Nothing at all on stdout: no table printed before failing.
        assert stdout_of(result).strip() == "" or stdout_of(result) == result.output
    return line


def override(base: list[str], *args: str) -> list[str]:
    """``base`` with the options of ``args`` replaced by them (a repeated single-valued
    option is an error, so a test that changes one drops it from ``base`` first)."""
    given = {a for a in args if a.startswith("--")}
    out, skip = [], False
    for token in base:
        if skip:
            skip = False
            if not token.startswith("--"):
                continue
        if token in given:
            skip = True
            continue
        out.append(token)
    return [*out, *args]


def no_run_files(folder: Path) -> bool:
    """No file was left in the default output folder ``runs/`` (absent or empty)."""
    runs = folder / "runs"
    return not runs.exists() or not any(runs.iterdir())


# ---------------------------------------------------------------------------
# the main job
# ---------------------------------------------------------------------------
def test_decompose_depth_4_table_fit_and_file(in_tmp: Path) -> None:
    result, path = run_ok("--kernel", "analytic", "--depth", "4")
    out = stdout_of(result)

    headers = table_header_lines(out)
    assert len(headers) == 1, out
    header = headers[0]
    for column in ("k", "mult", "λ_k", "λ_k/λ_0"):
        assert column in header.split(), (column, header)
    assert re.search(r"cum(\.|ulative)\s+share", header), header
    assert "NTK" in header and "NNGP" in header

    # Rows: the first 16 frequencies, then powers of two up to K = 256.
    rows = table_rows(out)
    assert rows[:17] == list(range(17))
    assert rows[-1] == 256 and 128 in rows and 64 in rows

    fits = dict((name, (p, lo, hi)) for name, p, lo, hi in decay_fits(out))
    assert set(fits) == {"NTK", "NNGP"}, out
    p, lo, hi = fits["NTK"]
    assert abs(p - 2.0) < 0.05, p  # the deep ReLU NTK decays like k^-2
    assert (lo, hi) == (64, 256)
    assert re.search(r"p = 2\.0\d*", flat(out))
    assert "64 ≤ k ≤ 256" in flat(out)

    # The printed fit is the library fit of the stored eigenvalues.
    ref = circle_spectrum(NetworkConfig(depth=4), 256)
    expected_p = fit_power_law(ref.eigenvalues.ntk, (64, 256)).exponent
    assert abs(p - expected_p) < 1e-3

    # A printed λ_k agrees with the library to the printed precision.
    row_k3 = next(line for line in out.splitlines() if re.match(r"^\s*3\s+2\s", line))
    assert float(row_k3.split()[2]) == pytest.approx(ref.eigenvalues.ntk[3], rel=1e-6)

    # The default output lands in ./runs/.
    assert path.parent == in_tmp / "runs"
    ds = load(path)
    assert ds.sizes["depth"] == 1
    assert ds.sizes["frequency"] == 257
    assert ds.sizes["angle"] == 360
    assert list(ds["depth"].values) == [4]
    np.testing.assert_allclose(
        ds["ntk_eigenvalue"].values[0], ref.eigenvalues.ntk, rtol=1e-15, atol=1e-15
    )
    np.testing.assert_allclose(
        ds["nngp_eigenvalue"].values[0], ref.eigenvalues.nngp, rtol=1e-15, atol=1e-15
    )
    assert float(ds["ntk_profile"].sel(angle=0.0).values[0]) == pytest.approx(
        float(ref.trace.ntk), rel=1e-15
    )
    np.testing.assert_allclose(ds["angle"].values, uniform_angles(360), rtol=0, atol=1e-15)
    profile = circle_kernel(NetworkConfig(depth=4), uniform_angles(360))
    np.testing.assert_allclose(ds["ntk_profile"].values[0], profile.ntk, rtol=1e-14)
    assert float(ds["ntk_decay_exponent"].values[0]) == pytest.approx(expected_p, rel=1e-12)

    cfg = read_config(ds)
    assert cfg["kernel"] == "analytic"
    assert cfg["depths"] == [4]
    assert cfg["max_frequency"] == 256
    assert cfg["angles"] == 360
    assert cfg["fit_range"] == [64, 256]
    assert cfg["network"]["activation"] == "relu"
    assert cfg["network"]["parameterization"] == "ntk"
    assert cfg["network"]["weight_std"] == 1.0
    assert cfg["network"]["bias_std"] == 0.1


def test_default_depth_is_4(in_tmp: Path) -> None:
    _, path = run_ok("--quiet")
    assert list(load(path)["depth"].values) == [4]


@pytest.mark.parametrize("order", [("1", "4"), ("4", "1")])
def test_several_depths_give_a_sorted_depth_dimension(in_tmp: Path, order: tuple[str, str]) -> None:
    result, path = run_ok("--depth", order[0], "--depth", order[1], "--max-frequency", "64")
    out = stdout_of(result)
    assert len(table_header_lines(out)) == 2, out
    assert len(decay_fits(out)) == 4  # NTK and NNGP per depth
    first, second = out.find("depth 1"), out.find("depth 4")
    assert 0 <= first < second, out  # sections in ascending depth
    ds = load(path)
    assert list(ds["depth"].values) == [1, 4]
    assert list(ds["jacot_layers"].values) == [2, 5]
    assert config_of(path)["depths"] == [1, 4]
    assert_spectrum_matches(path, NetworkConfig(), [1, 4], 64)
    # Depth 1 and depth 4 are different kernels.
    assert not np.allclose(ds["ntk_eigenvalue"].values[0], ds["ntk_eigenvalue"].values[1])


# ---------------------------------------------------------------------------
# options map onto the library configuration
# ---------------------------------------------------------------------------
K_SMALL = "48"


def test_activation_erf(in_tmp: Path) -> None:
    _, path = run_ok("--activation", "erf", "--max-frequency", K_SMALL, "--quiet")
    assert config_of(path)["network"]["activation"] == "erf"
    assert_spectrum_matches(path, NetworkConfig(depth=4, activation=Activation.ERF), [4], 48)
    relu = circle_spectrum(NetworkConfig(depth=4), 48).eigenvalues.ntk
    assert not np.allclose(load(path)["ntk_eigenvalue"].values[0], relu)


def test_weight_and_bias_std(in_tmp: Path) -> None:
    _, path = run_ok(
        "--weight-std", "1.5", "--bias-std", "0.3", "--max-frequency", K_SMALL, "--quiet"
    )
    network = config_of(path)["network"]
    assert network["weight_std"] == 1.5
    assert network["bias_std"] == 0.3
    assert_spectrum_matches(path, NetworkConfig(weight_std=1.5, bias_std=0.3), [4], 48)


def test_bias_init_zero(in_tmp: Path) -> None:
    _, path = run_ok("--bias-init", "zero", "--max-frequency", K_SMALL, "--quiet")
    assert config_of(path)["network"]["bias_init"] == "zero"
    assert_spectrum_matches(path, NetworkConfig(bias_init=BiasInit.ZERO), [4], 48)
    # Biases trained from 0 add nothing to the NNGP: it is the bias-free one.
    ds = load(path)
    no_bias = circle_spectrum(NetworkConfig(bias_std=0.0), 48).eigenvalues.nngp
    np.testing.assert_allclose(ds["nngp_eigenvalue"].values[0], no_bias, rtol=1e-14, atol=1e-18)
    normal = circle_spectrum(NetworkConfig(), 48).eigenvalues.ntk
    assert not np.allclose(ds["ntk_eigenvalue"].values[0], normal)


def test_no_output_bias(in_tmp: Path) -> None:
    _, with_bias = run_ok("--max-frequency", K_SMALL, "--quiet", "--out", "with.nc")
    _, without = run_ok(
        "--no-output-bias", "--max-frequency", K_SMALL, "--quiet", "--out", "without.nc"
    )
    assert config_of(with_bias)["network"]["output_bias"] is True
    assert config_of(without)["network"]["output_bias"] is False
    assert_spectrum_matches(without, NetworkConfig(output_bias=False), [4], 48)
    # The output bias adds the constant σ_b² = 0.01 to both kernels: only λ_0 moves.
    a, b = load(with_bias), load(without)
    for name in ("ntk", "nngp"):
        lam_a = a[f"{name}_eigenvalue"].values[0]
        lam_b = b[f"{name}_eigenvalue"].values[0]
        assert lam_a[0] - lam_b[0] == pytest.approx(0.1**2, rel=1e-12)
        np.testing.assert_allclose(lam_a[1:], lam_b[1:], rtol=0, atol=1e-15 * lam_a[0])


def test_standard_parameterization_with_width(in_tmp: Path) -> None:
    _, path = run_ok(
        "--parameterization", "standard", "--width", "512", "--max-frequency", K_SMALL, "--quiet"
    )
    network = config_of(path)["network"]
    assert network["parameterization"] == "standard"
    assert network["width"] == 512
    standard = NetworkConfig(parameterization=Parameterization.STANDARD, width=512)
    assert_spectrum_matches(path, standard, [4], 48)
    ntk = circle_spectrum(NetworkConfig(), 48).eigenvalues.ntk
    assert not np.allclose(load(path)["ntk_eigenvalue"].values[0], ntk)


def test_max_frequency(in_tmp: Path) -> None:
    result, path = run_ok("--max-frequency", "32")
    ds = load(path)
    assert ds.sizes["frequency"] == 33
    assert list(ds["frequency"].values) == list(range(33))
    assert config_of(path)["max_frequency"] == 32
    assert max(table_rows(stdout_of(result))) == 32
    assert_spectrum_matches(path, NetworkConfig(), [4], 32)
    # Default fit range [⌈K/4⌉, K].
    assert {(lo, hi) for _, _, lo, hi in decay_fits(stdout_of(result))} == {(8, 32)}


def test_angles(in_tmp: Path) -> None:
    _, path = run_ok("--angles", "64", "--max-frequency", K_SMALL, "--quiet")
    ds = load(path)
    assert ds.sizes["angle"] == 64
    assert config_of(path)["angles"] == 64
    np.testing.assert_allclose(ds["angle"].values, uniform_angles(64), rtol=0, atol=1e-15)
    ref = circle_kernel(NetworkConfig(), uniform_angles(64))
    np.testing.assert_allclose(ds["ntk_profile"].values[0], ref.ntk, rtol=1e-14)
    np.testing.assert_allclose(ds["nngp_profile"].values[0], ref.nngp, rtol=1e-14)


def test_fit_range(in_tmp: Path) -> None:
    result, path = run_ok("--fit-range", "8", "32", "--max-frequency", "64")
    fits = decay_fits(stdout_of(result))
    assert {(lo, hi) for _, _, lo, hi in fits} == {(8, 32)}
    assert config_of(path)["fit_range"] == [8, 32]
    lam = circle_spectrum(NetworkConfig(), 64).eigenvalues
    for name, p, _, _ in fits:
        expected = fit_power_law(getattr(lam, name.lower()), (8, 32)).exponent
        assert p == pytest.approx(expected, abs=1e-3)
    ds = load(path)
    assert float(ds["ntk_decay_exponent"].values[0]) == pytest.approx(
        fit_power_law(lam.ntk, (8, 32)).exponent, rel=1e-12
    )
    # The default range would give a different fit.
    assert fit_power_law(lam.ntk, (8, 32)).exponent != pytest.approx(
        fit_power_law(lam.ntk, (16, 64)).exponent, rel=1e-6
    )


def test_all_rows(in_tmp: Path) -> None:
    short, _ = run_ok("--max-frequency", "40", "--out", "short.nc")
    full, _ = run_ok("--max-frequency", "40", "--all-rows", "--out", "full.nc")
    assert table_rows(stdout_of(short)) == [*range(17), 32, 40]
    assert table_rows(stdout_of(full)) == list(range(41))


# ---------------------------------------------------------------------------
# output: --quiet, --out, --overwrite
# ---------------------------------------------------------------------------
def test_quiet_prints_only_the_path(in_tmp: Path) -> None:
    result, path = run_ok("--quiet")
    lines = stdout_of(result).splitlines()
    assert lines == [str(path)]
    assert path.is_absolute() and path.is_file()
    assert stderr_of(result).strip() in ("", stdout_of(result).strip())


def test_out_writes_there(in_tmp: Path) -> None:
    result, path = run_ok("--out", "x.nc", "--max-frequency", K_SMALL)
    assert path == in_tmp / "x.nc"
    assert stdout_of(result).rstrip().endswith(f"Wrote {path}")
    assert path.is_file()
    assert no_run_files(in_tmp)
    assert load(path).sizes["frequency"] == 49


def test_out_creates_missing_folders(in_tmp: Path) -> None:
    _, path = run_ok("--out", "a/b/x.nc", "--max-frequency", K_SMALL, "--quiet")
    assert path == in_tmp / "a" / "b" / "x.nc"


def test_existing_out_needs_overwrite(in_tmp: Path) -> None:
    target = in_tmp / "x.nc"
    sentinel = b"not a run file, must survive\n"
    target.write_bytes(sentinel)
    result = invoke("decompose", "--out", str(target), "--max-frequency", K_SMALL)
    line = assert_one_error_line(result, "--out")
    assert "overwrite" in line
    assert target.read_bytes() == sentinel
    assert [p.name for p in in_tmp.iterdir()] == ["x.nc"]  # no temporary files left

    _, path = run_ok("--out", str(target), "--overwrite", "--max-frequency", K_SMALL, "--quiet")
    assert path == target
    assert target.read_bytes() != sentinel
    assert load(target).sizes["frequency"] == 49
    assert sorted(p.name for p in in_tmp.iterdir()) == ["x.nc"]


# ---------------------------------------------------------------------------
# bad input: exit 2, one line naming the option, no traceback, nothing written
# ---------------------------------------------------------------------------
BAD_VALUES = [
    (["--depth", "-1"], "--depth"),
    (["--weight-std", "nan"], "--weight-std"),
    (["--weight-std", "-1"], "--weight-std"),
    (["--bias-std", "inf"], "--bias-std"),
    (["--bias-std", "-0.5"], "--bias-std"),
    (["--max-frequency", "-1"], "--max-frequency"),
    (["--angles", "0"], "--angles"),
    (["--parameterization", "standard"], "--width"),
    (["--parameterization", "standard", "--width", "0"], "--width"),
    (["--fit-range", "10", "5"], "--fit-range"),
    (["--fit-range", "0", "5"], "--fit-range"),
    (["--max-frequency", "32", "--fit-range", "8", "64"], "--fit-range"),
    (["--depth", "2", "--depth", "2"], "--depth"),
    (["--depth", "1", "--depth", "-3"], "--depth"),
    (["--activation", "foo"], "--activation"),
    (["--bias-init", "uniform"], "--bias-init"),
    (["--parameterization", "mup"], "--parameterization"),
    (["--kernel", "foo"], "--kernel"),
    (["--width", "4", "--width", "8"], "--width"),
    (["--kernel", "empirical"], "--width"),
    (["--kernel", "empirical", "--width", "0"], "--width"),
    (["--kernel", "empirical", "--width", "4", "--seeds", "0"], "--seeds"),
    (["--kernel", "empirical", "--width", "4", "--points", "2"], "--points"),
    (["--kernel", "empirical", "--width", "4", "--dtype", "float16"], "--dtype"),
    (["--kernel", "empirical", "--width", "4", "--device", "nowhere"], "--device"),
    (["--kernel", "empirical", "--width", "4", "--memory-budget", "0"], "--memory-budget"),
]


def _ids(cases: list) -> list[str]:  # type: ignore[type-arg]
    return [" ".join(args) for args, _ in cases]


@pytest.mark.parametrize(("args", "option"), BAD_VALUES, ids=_ids(BAD_VALUES))
def test_bad_value_default_out(in_tmp: Path, args: list[str], option: str) -> None:
    result = invoke("decompose", *args)
    assert_one_error_line(result, option)
    assert no_run_files(in_tmp)


@pytest.mark.parametrize(("args", "option"), BAD_VALUES, ids=_ids(BAD_VALUES))
def test_bad_value_leaves_existing_out_untouched(
    in_tmp: Path, args: list[str], option: str
) -> None:
    target = in_tmp / "keep.nc"
    target.write_bytes(b"precious")
    result = invoke("decompose", *args, "--out", str(target), "--overwrite")
    assert_one_error_line(result, option)
    assert target.read_bytes() == b"precious"
    assert sorted(p.name for p in in_tmp.iterdir()) == ["keep.nc"]


def test_out_is_an_existing_directory(in_tmp: Path) -> None:
    folder = in_tmp / "adir"
    folder.mkdir()
    result = invoke("decompose", "--out", str(folder), "--overwrite")
    line = assert_one_error_line(result, "--out")
    assert "director" in line
    assert list(folder.iterdir()) == []
    assert no_run_files(in_tmp)


@pytest.mark.parametrize("below", ["x.nc", "sub/x.nc"])
def test_out_below_a_regular_file(in_tmp: Path, below: str) -> None:
    blocker = in_tmp / "afile"
    blocker.write_bytes(b"plain file")
    result = invoke("decompose", "--out", str(blocker / below))
    assert_one_error_line(result, "--out")
    assert blocker.read_bytes() == b"plain file"
    assert sorted(p.name for p in in_tmp.iterdir()) == ["afile"]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_out_in_proc_is_unwritable(in_tmp: Path) -> None:
    result = invoke("decompose", "--out", "/proc/x.nc")
    assert_one_error_line(result, "--out")
    assert not Path("/proc/x.nc").exists()
    assert no_run_files(in_tmp)


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None or __import__("torch").cuda.is_available(),
    reason="needs torch and a machine without CUDA",
)
def test_empirical_cuda_without_cuda_is_a_clear_error(in_tmp: Path) -> None:
    result = invoke("decompose", "--kernel", "empirical", "--width", "4", "--device", "cuda")
    assert "CUDA is not available" in assert_one_error_line(result, "--device")
    assert no_run_files(in_tmp)


def test_empirical_kernel_table_and_file(in_tmp: Path) -> None:
    pytest.importorskip("torch")
    from spectralntk.runs.empirical import empirical_spectrum

    args = ["--depth", "2", "--width", "32", "--width", "8", "--seeds", "3", "--points", "16"]
    result, path = run_ok("--kernel", "empirical", *args, "--bias-init", "zero")
    text = stdout_of(result)
    assert "analytic λ_k" in text and "grid μ_k/N" in text
    assert "n = 8" in text and "n = 32" in text
    assert text.count("‖K − K_analytic‖_F/‖K_analytic‖_F") == 2
    ds = load(path)
    assert dict(ds.sizes) == {
        "depth": 1,
        "width": 2,
        "seed": 3,
        "frequency": 9,
        "angle": 16,
        "rank": 16,
    }
    assert config_of(path)["kernel"] == "empirical"
    ref = empirical_spectrum(NetworkConfig(depth=2, bias_init="zero"), [8, 32], 3, points=16)
    np.testing.assert_array_equal(ds["ntk_empirical_rayleigh"].values, ref.rayleigh.ntk)
    np.testing.assert_array_equal(ds["nngp_relative_distance"].values, ref.distance.nngp)

    # The printed numbers are the file's, summarised as the report states them: the
    # Rayleigh quotients as mean ± sd (ddof 1) over seeds, distances as median [IQR].
    rayleigh = ds["ntk_empirical_rayleigh"].values[0]  # (W, S, F), widths 32 then 8
    rows = {
        int(line.split()[0]): line.split()
        for line in text.splitlines()
        if re.match(r"^\s*\d+\s+\S+e[-+]\d+\s+\S+e[-+]\d+\s", line)
    }
    assert sorted(rows) == list(range(9))
    for k, cells in rows.items():
        assert float(cells[1]) == pytest.approx(ds["ntk_eigenvalue"].values[0, k], rel=1e-4)
        assert float(cells[2]) == pytest.approx(ds["ntk_grid_eigenvalue"].values[0, k], rel=1e-4)
        for j, (mean, sd) in enumerate(((cells[3], cells[5]), (cells[6], cells[8]))):
            assert float(mean) == pytest.approx(rayleigh[j, :, k].mean(), rel=1e-4)
            assert float(sd) == pytest.approx(rayleigh[j, :, k].std(ddof=1), rel=0.06, abs=1e-15)
    distance = ds["nngp_relative_distance"].values[0, list(ds["width"].values).index(8)]
    q25, median, q75 = np.quantile(distance, [0.25, 0.5, 0.75])
    assert f"NNGP {median:.4f} [{q25:.4f}, {q75:.4f}]" in flat(text)
    top = np.median(ds["ntk_empirical_eigenvalue"].values[0, 0].max(axis=-1))
    assert f"largest eigenvalue of K/N {top:.4e}" in flat(text)


def test_decompose_prints_the_report_of_its_run_file(in_tmp: Path) -> None:
    """One source of truth: the printed summary is the spectrum report of the written file."""
    from rich.console import Console

    from spectralntk.cli.decompose import report_tables
    from spectralntk.reports.spectrum import spectrum_report

    result, path = run_ok("--depth", "1", "--depth", "3", "--max-frequency", "64", "--all-rows")
    console = Console(width=120, highlight=False, soft_wrap=True, record=True, file=io.StringIO())
    for item in report_tables(spectrum_report(load(path), path), all_rows=True):
        console.print(item)
    assert stdout_of(result) == console.export_text() + f"Wrote {path}\n"
    assert table_rows(stdout_of(result)).count(64) == 2
    # the command holds no computation of its own: numbers come from the report model
    source = Path(decompose_module.__file__).read_text(encoding="utf-8")
    assert "import numpy" not in source and "np." not in source


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert spectralntk.__version__ in result.output
    assert result.output.strip() == f"spectralntk {spectralntk.__version__}"


def test_help_lists_decompose_and_its_options() -> None:
    top = invoke("--help")
    assert top.exit_code == 0
    assert "decompose" in top.output
    sub = invoke("decompose", "--help")
    assert sub.exit_code == 0
    for option in (
        "--kernel",
        "--depth",
        "--activation",
        "--weight-std",
        "--bias-std",
        "--bias-init",
        "--output-bias",
        "--no-output-bias",
        "--parameterization",
        "--width",
        "--max-frequency",
        "--angles",
        "--fit-range",
        "--out",
        "--overwrite",
        "--quiet",
    ):
        assert option in sub.output, option


def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.pop("COLUMNS", None)
    return env


_IMPORT_PROBE = r"""
import sys

HEAVY = {heavy!r}

def heavy():
    return sorted(m for m in HEAVY if m in sys.modules)

import spectralntk
print("AFTER_IMPORT", heavy())

from spectralntk.cli import app

def run(args):
    sys.argv = ["spectralntk", *args]
    try:
        rc = app(args, prog_name="spectralntk", standalone_mode=False)
    except SystemExit as exc:
        rc = exc.code
    return 0 if rc is None else rc

rc = run(["--help"])
print("AFTER_HELP", rc, heavy())
rc = run(["sweep", "--help"])
print("AFTER_SWEEP_HELP", rc, heavy())
rc = run(["fluctuations", "--help"])
print("AFTER_FLUCTUATIONS_HELP", rc, heavy())
rc = run(["decompose", "--kernel", "analytic", "--depth", "4", "--quiet", "--out", {out!r}])
print("AFTER_DECOMPOSE", rc, heavy())
rc = run(["report", "--help"])
print("AFTER_REPORT_HELP", rc, heavy())
rc = run(["reproduce", "--help"])
print("AFTER_REPRODUCE_HELP", rc, heavy())
rc = run(["report", {out!r}, "--format", "json"])
print("AFTER_REPORT_JSON", rc, heavy())
"""


def test_no_heavy_imports(tmp_path: Path) -> None:
    out = tmp_path / "probe.nc"
    code = _IMPORT_PROBE.format(heavy=HEAVY_MODULES, out=str(out))
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_subprocess_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    marks = {
        line.split()[0]: line for line in proc.stdout.splitlines() if line.startswith("AFTER_")
    }
    assert marks["AFTER_IMPORT"] == "AFTER_IMPORT []", proc.stdout
    assert marks["AFTER_HELP"] == "AFTER_HELP 0 []", proc.stdout
    assert marks["AFTER_FLUCTUATIONS_HELP"] == "AFTER_FLUCTUATIONS_HELP 0 []", proc.stdout
    assert marks["AFTER_SWEEP_HELP"] == "AFTER_SWEEP_HELP 0 []", proc.stdout
    # Writing the run file builds an xarray Dataset, and xarray itself imports dask
    # (when installed: a dependency of `spectralntk sweep`) to recognise dask arrays;
    # spectralntk's own code never does on this path.
    assert marks["AFTER_DECOMPOSE"] in (
        "AFTER_DECOMPOSE 0 []",
        "AFTER_DECOMPOSE 0 ['dask']",
    ), proc.stdout
    for mark in ("AFTER_REPORT_HELP", "AFTER_REPRODUCE_HELP", "AFTER_REPORT_JSON"):
        # the typed report of an analytic run needs neither torch nor seaborn
        # (xarray's NetCDF writer imports dask when it is installed: not checked here)
        assert marks[mark].startswith(f"{mark} 0 "), proc.stdout
        assert "torch" not in marks[mark] and "seaborn" not in marks[mark], proc.stdout
    assert '"report_type": "spectrum"' in proc.stdout
    assert out.is_file()
    assert list(load(out)["depth"].values) == [4]


def test_python_dash_m_help(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "spectralntk", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_subprocess_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "decompose" in proc.stdout


def test_real_process_bad_input_is_one_stderr_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "spectralntk", "decompose", "--weight-std", "nan"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_subprocess_env(),
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("Error:") and "--weight-std" in lines[0]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_history_records_the_command(in_tmp: Path) -> None:
    _, path = run_ok("--quiet", "--max-frequency", K_SMALL)
    ds = load(path)
    assert "spectralntk" in ds.attrs["history"]
    assert json.loads(ds.attrs["spectralntk_config"])["command"] == "decompose"


def test_odd_kernel_table_shows_zeros_ratios_to_lambda_max_and_no_exponent(in_tmp: Path) -> None:
    # erf without bias: depth 0 is cos γ / 2 (λ_1 = 1/4, nothing else), depth 1 is odd
    result, path = run_ok(
        "--activation", "erf", "--bias-std", "0", "--depth", "0", "--depth", "1",
        "--max-frequency", "32",
    )  # fmt: skip
    out = flat(stdout_of(result))
    assert "e+16" not in out and "e+15" not in out  # no ratio to rounding noise
    assert "k^--" not in out and "p = " not in out  # no exponent for these spectra
    assert out.count("λ_k/λ_max") == 4 and "λ_k/λ_0" not in out
    assert "no power law: every λ_k with 8 ≤ k ≤ 32 is 0" in out
    assert out.count("erf is smooth") == 2 and "decays exponentially" in out
    lines = stdout_of(result).splitlines()
    depth0 = lines[: next(i for i, line in enumerate(lines) if line.startswith("depth 1"))]
    row = {
        int(line.split()[0]): line.split() for line in depth0 if re.match(r"^\s*\d+\s+[12]\s", line)
    }
    assert row[0][2:5] == ["0", "0", "0.000000"] and row[2][2:4] == ["0", "0"]
    assert row[1][2:4] == ["2.500000e-01", "1.0000e+00"]
    ds = load(path)
    assert np.all(ds["ntk_eigenvalue"].values[0, [0, *range(2, 33)]] == 0.0)
    assert np.all(ds["nngp_eigenvalue"].values[1, 0::2] == 0.0)
    assert np.all(np.isnan(ds["ntk_decay_exponent"].values))
    assert "erf is smooth" in ds["ntk_decay_exponent"].attrs["comment"]
    report = invoke("report", str(path), "--format", "json")
    verdicts = json.loads(stdout_of(report))["verdicts"]
    assert "NTK: no power law (every λ_k with 8 ≤ k ≤ 32 is 0" in verdicts[0]
    assert "NNGP: no power law (erf is smooth" in verdicts[1]
    assert not any("e+1" in v or "k^" in v for v in verdicts)


def test_bias_free_depth_2_nngp_exponent_is_4(in_tmp: Path) -> None:
    result, _ = run_ok("--bias-std", "0", "--depth", "2", "--max-frequency", "1024")
    fits = {name: p for name, p, _, _ in decay_fits(stdout_of(result))}
    assert fits["NNGP"] == pytest.approx(4.0, abs=0.01)
    assert fits["NTK"] == pytest.approx(2.0, abs=0.01)
