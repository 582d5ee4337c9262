"""``spectralntk fluctuations`` through Typer's CliRunner."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from test_cli import assert_one_error_line, flat, invoke, no_run_files, override, stdout_of

from spectralntk import load
from spectralntk.store.schema import read_config


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run inside ``tmp_path`` so that default outputs land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


SMALL = [
    "--depth", "2", "--depth", "3",
    "--width", "8", "--width", "16",
    "--seeds", "4", "--probes", "6", "--bootstrap", "50",
]  # fmt: skip


def test_small_sweep_prints_the_table_and_writes_the_run(in_tmp: Path) -> None:
    result = invoke("fluctuations", *SMALL, "--out", "fl.nc")
    assert result.exit_code == 0, result.output
    out = flat(stdout_of(result))
    assert "E[K²]/E[K]² [CI]" in out and "exp(5β)" in out and "(dβ/n0)e^{5β}" in out
    assert out.rstrip().endswith(f"Wrote {in_tmp / 'fl.nc'}")
    ds = load(in_tmp / "fl.nc")
    assert ds.sizes == {"depth": 2, "width": 2, "seed": 4, "probe": 6, "angle": 6}
    # the table shows exp(5β) of depth 3 width 8 as stored
    assert f"{math.exp(5 * 3 / 8):.4f}" in out
    cfg = read_config(ds)
    assert cfg["depths"] == [2, 3] and cfg["parameterization"] == "standard"
    assert cfg["weight_std"] == pytest.approx(math.sqrt(2.0)) and cfg["bias_std"] == 0.0
    assert "spectralntk" in ds.attrs["history"]


def test_steps_add_the_drift(in_tmp: Path) -> None:
    result = invoke(
        "fluctuations", *SMALL, "--steps", "3", "--points", "8", "--inputs", "grid",
        "--target", "sine", "--frequency", "2", "--quiet", "--out", "d.nc",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert stdout_of(result).strip() == str(in_tmp / "d.nc")
    ds = load(in_tmp / "d.nc")
    assert ds["training_kernel_drift"].dims == ("depth", "width", "seed")
    assert np.all(ds["training_kernel_drift"].values > 0)
    assert ds["training_ntk_eigenvalue_final"].sizes["rank"] == 8


def test_ntk_parameterization_mean_is_depth_plus_one(in_tmp: Path) -> None:
    result = invoke(
        "fluctuations", "--depth", "2", "--width", "64", "--seeds", "40", "--probes", "8",
        "--parameterization", "ntk", "--bootstrap", "20", "--quiet", "--out", "n.nc",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ds = load(in_tmp / "n.nc")
    assert float(ds["exact_ntk_diagonal_mean"][0, 0]) == pytest.approx(3.0)
    assert float(ds["analytic_ntk_diagonal"][0, 0]) == pytest.approx(3.0)
    mean, se = float(ds["ntk_diagonal_mean"][0, 0]), float(ds["ntk_diagonal_mean_stderr"][0, 0])
    assert abs(mean - 3.0) < 4 * se


BAD = [
    (["--depth", "0"], "--depth"),
    (["--width", "0"], "--width"),
    (["--seeds", "1"], "--seeds"),
    (["--probes", "0"], "--probes"),
    (["--confidence", "1"], "--confidence"),
    (["--first-step-size", "-1"], "--first-step-size"),
    (["--parameterization", "mup"], "--parameterization"),
    (["--weight-std", "nan"], "--weight-std"),
    (["--preset", "huge"], "--preset"),
    (["--quick", "--preset", "hanin-nica"], "--quick"),
    (["--steps", "2", "--target", "square"], "--target"),
    (["--steps", "2", "--loss", "l2"], "--loss"),
    (["--device", "nowhere"], "--device"),
    (["--memory-budget", "0"], "--memory-budget"),
]


@pytest.mark.parametrize(("args", "option"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input(in_tmp: Path, args: list[str], option: str) -> None:
    result = invoke("fluctuations", *override(SMALL, *args))
    assert_one_error_line(result, option)
    assert no_run_files(in_tmp)


def test_existing_or_unwritable_out_is_refused_before_work(in_tmp: Path) -> None:
    (in_tmp / "keep.nc").write_text("precious")
    result = invoke("fluctuations", *SMALL, "--out", "keep.nc")
    assert_one_error_line(result, "--out")
    assert (in_tmp / "keep.nc").read_text() == "precious"
    if os.geteuid() != 0:
        locked = in_tmp / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            result = invoke("fluctuations", *SMALL, "--out", str(locked / "x.nc"))
            assert_one_error_line(result, "--out")
            assert not any(locked.iterdir())
        finally:
            locked.chmod(0o700)


def test_help_lists_the_options() -> None:
    result = invoke("fluctuations", "--help")
    assert result.exit_code == 0
    text = flat(result.output)
    for option in ("--depth", "--width", "--seeds", "--probes", "--steps", "--quick", "--preset"):
        assert option in text
