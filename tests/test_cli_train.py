"""``spectralntk train`` through Typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from test_cli import assert_one_error_line, invoke, no_run_files, override, stdout_of

from spectralntk import load
from spectralntk.store.schema import read_config


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


SMALL = [
    "--width",
    "8",
    "--width",
    "32",
    "--seeds",
    "2",
    "--points",
    "16",
    "--inputs",
    "grid",
    "--eval-points",
    "32",
    "--steps",
    "30",
    "--lr",
    "0.5",
    "--target",
    "sine",
    "--frequency",
    "2",
]


def test_train_small_run(in_tmp: Path) -> None:
    result = invoke("train", *SMALL, "--out", "t.nc")
    assert result.exit_code == 0, result.output
    text = stdout_of(result)
    assert "predicted (1 − cημ)^t / measured" in text
    assert "n = 8" in text and "n = 32" in text and "RelErr" in text
    ds = load(in_tmp / "t.nc")
    assert dict(ds.sizes)["width"] == 2 and dict(ds.sizes)["seed"] == 2
    cfg = read_config(ds)
    assert cfg["lr"] == 0.5 and cfg["target"]["frequencies"] == [2]
    assert "η_max" in result.stderr


def test_train_config_file_preset_and_set(in_tmp: Path) -> None:
    (in_tmp / "s.toml").write_text('preset = "exp2.2"\nlr = 0.05\nsteps = 20\n')
    result = invoke(
        "train",
        "--config",
        "s.toml",
        "--quick",
        "--width",
        "8",
        "--set",
        "seeds=1",
        "--set",
        "points=16",
        "--out",
        "p.nc",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    cfg = read_config(load(in_tmp / "p.nc"))
    # preset (exp2.2 quick: product target, mean loss) < file (lr, steps) < CLI (width) < --set
    assert cfg["target"]["name"] == "product" and cfg["loss"] == "mean"
    assert cfg["lr"] == 0.05 and cfg["steps"] == 20 and cfg["widths"] == [8]
    assert cfg["seeds"] == [0] and cfg["points"] == 16
    assert stdout_of(result).strip() == str(in_tmp / "p.nc")


def test_stability_warning(in_tmp: Path) -> None:
    result = invoke("train", *override(SMALL, "--lr", "300", "--out", "d.nc"))
    assert result.exit_code == 0, result.output
    assert "exceeds the kernel-regime stability limit" in result.stderr
    assert np.all(load(in_tmp / "d.nc")["diverged"].values == 1)


BAD = [
    (["--lr", "0"], "--lr"),
    (["--lr", "-1"], "--lr"),
    (["--steps", "0"], "--steps"),
    (["--target", "square"], "--target"),
    (["--frequency", "8"], "--frequency"),
    (["--loss", "l2"], "--loss"),
    (["--set", "nonsense=1"], "--set"),
    (["--set", "lr"], "--set"),
    (["--preset", "exp9"], "--preset"),
    (["--quick"], "--quick"),
    (["--resume"], "--resume"),
    (["--config", "missing.toml"], "--config"),
    (["--device", "nowhere"], "--device"),
]


@pytest.mark.parametrize(("args", "option"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input(in_tmp: Path, args: list[str], option: str) -> None:
    result = invoke("train", *override(SMALL, *args))
    assert_one_error_line(result, option)
    assert no_run_files(in_tmp)


@pytest.mark.slow
def test_ctrl_c_keeps_progress_and_resume_finishes(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run.nc"
    args = [
        sys.executable,
        "-m",
        "spectralntk",
        "train",
        *override(SMALL, "--steps", "20000"),
        "--record-every",
        "1000",
        "--out",
        str(out),
        "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    time.sleep(6)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    state = out.with_name(out.name + ".state.pt")
    assert state.exists() and not out.exists()
    done = subprocess.run([*args, "--resume"], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert out.exists() and not state.exists()
    assert np.isfinite(load(out)["loss"].values).all()
