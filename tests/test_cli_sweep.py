"""``spectralntk sweep`` through Typer's CliRunner, on a 2-worker LocalCluster."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
distributed = pytest.importorskip("distributed")

from test_cli import assert_one_error_line, invoke, stdout_of  # noqa: E402

from spectralntk import load, open_sweep  # noqa: E402
from spectralntk.sweeps.execute import local_cluster  # noqa: E402

SWEEP = """\
[sweep]
name = "small"

[base]
target = "sine"
frequency = 2
inputs = "grid"
points = 16
eval_points = 32
steps = 20
seeds = 2

[axes]
width = [8, 16]
lr = [0.5, 0.25]
"""


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """Address of a LocalCluster of 2 worker processes, 1 thread each."""
    cluster = local_cluster(2)
    yield cluster.scheduler_address
    cluster.close()


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text(SWEEP)
    return tmp_path


def test_sweep_on_a_scheduler_then_nothing_to_do(in_tmp: Path, scheduler: str) -> None:
    result = invoke("sweep", "s.toml", "--scheduler", scheduler)
    assert result.exit_code == 0, result.output
    text = stdout_of(result)
    assert "sweep 'small': 2 grid points, 2 runs" in text and "finished     2" in text
    assert "Wrote runs/small" in text
    index = json.loads((in_tmp / "runs/small/index.json").read_text())
    assert [t["status"] for t in index["tasks"]] == ["finished", "finished"]
    ds = open_sweep(in_tmp / "runs/small")
    assert ds["loss"].dims == ("lr", "width", "seed", "step")
    # requirement: the combined data are those of `spectralntk train` at that grid point
    (in_tmp / "point.toml").write_text(
        SWEEP.split("[base]\n")[1].split("[axes]")[0] + "width = [8, 16]\nlr = 0.25\n"
    )
    trained = invoke("train", "--config", "point.toml", "--out", "t.nc", "--quiet")
    assert trained.exit_code == 0, trained.output
    ref, got = load(in_tmp / "t.nc"), ds.sel(lr=0.25).load()
    for name, var in ref.data_vars.items():
        np.testing.assert_array_equal(got[name].values, var.values, err_msg=name, strict=True)
    again = invoke("sweep", "s.toml", "--scheduler", scheduler)
    assert again.exit_code == 0 and "Nothing to do" in stdout_of(again)
    quiet = invoke("sweep", "s.toml", "--scheduler", scheduler, "--resume", "--quiet")
    assert quiet.exit_code == 0 and stdout_of(quiet).strip() == "runs/small"


def test_sweep_on_its_own_local_cluster(in_tmp: Path) -> None:
    result = invoke("sweep", "s.toml", "--workers", "2", "--out", "here", "--quiet")
    assert result.exit_code == 0, result.output
    assert stdout_of(result).strip() == "here"
    assert len(list((in_tmp / "here/runs").glob("*.nc"))) == 2


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (SWEEP.replace("lr = [0.5, 0.25]", "lrr = [0.5]"), "'lrr'"),
        (SWEEP.replace("lr = [0.5, 0.25]", "lr = []"), "'lr'"),
        (SWEEP.replace("seeds = 2", "seeds = 2\nlr = 0.1"), "'lr'"),
        (SWEEP.replace("steps = 20", "stepz = 20"), "'stepz'"),
        (SWEEP.replace('name = "small"', 'name = "small"\nflavour = 1'), "'flavour'"),
        ("[axes\n", "sweep file"),
    ],
    ids=["unknown-axis", "empty-axis", "axis-in-base", "unknown-base", "unknown-sweep", "toml"],
)
def test_bad_sweep_files(in_tmp: Path, text: str, key: str) -> None:
    (in_tmp / "bad.toml").write_text(text)
    result = invoke("sweep", "bad.toml", "--scheduler", "tcp://127.0.0.1:1")
    line = assert_one_error_line(result, key)
    assert "bad.toml" in line
    assert not (in_tmp / "runs").exists()


def test_unknown_device_fails_before_anything_is_written(in_tmp: Path, scheduler: str) -> None:
    result = invoke("sweep", "s.toml", "--scheduler", scheduler, "--device", "cuda:5")
    assert_one_error_line(result, "--device")
    assert not (in_tmp / "runs").exists()
    result = invoke("sweep", "s.toml", "--scheduler", scheduler, "--device", "gpu")
    assert_one_error_line(result, "--device")


@pytest.mark.slow
def test_unreachable_scheduler_is_one_line(in_tmp: Path) -> None:
    result = invoke("sweep", "s.toml", "--scheduler", "tcp://127.0.0.1:1")
    assert_one_error_line(result, "tcp://127.0.0.1:1")


@pytest.mark.slow
def test_ctrl_c_keeps_finished_runs_and_resume_completes(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    # one quick run and one long one: interrupt once the quick one is written
    (tmp_path / "s.toml").write_text(
        SWEEP.replace("steps = 20\n", "").replace("lr = [0.5, 0.25]", "steps = [20, 20000]")
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    args = [sys.executable, "-m", "spectralntk", "sweep", "s.toml", "--workers", "2", "--quiet"]
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    runs = tmp_path / "runs/small/runs"
    deadline = time.monotonic() + 240
    while not list(runs.glob("*.nc")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "continue with --resume" in err and "Traceback" not in err
    index = json.loads((tmp_path / "runs/small/index.json").read_text())
    assert sorted(t["status"] for t in index["tasks"]) == ["finished", "pending"]
    # the long run stopped at a step boundary and kept its progress
    long_run = next(t for t in index["tasks"] if t["status"] == "pending")
    assert "interrupted" in long_run["note"]
    assert (tmp_path / "runs/small" / f"{long_run['file']}.state.pt").is_file()
    again = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert again.returncode == 2 and "--resume" in again.stderr
    done = subprocess.run(
        [*args, "--resume"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    index = json.loads((tmp_path / "runs/small/index.json").read_text())
    assert [t["status"] for t in index["tasks"]] == ["finished", "finished"]
    assert next(t for t in index["tasks"] if t["key"] == long_run["key"])["resumed"] is True


def test_report_of_a_sweep_folder(in_tmp: Path, scheduler: str) -> None:
    from spectralntk.reports.build import build_report
    from spectralntk.reports.models import load_report

    assert invoke("sweep", "s.toml", "--scheduler", scheduler).exit_code == 0
    result = invoke("report", "runs/small", "--out", "rep", "--no-svg")
    assert result.exit_code == 0, result.output
    assert "Wrote" in stdout_of(result) and "(2 grid points)" in stdout_of(result)
    index = json.loads((in_tmp / "rep/sweep.json").read_text())
    assert sorted(e["point"]["lr"] for e in index["points"]) == [0.25, 0.5]
    tasks = json.loads((in_tmp / "runs/small/index.json").read_text())["tasks"]
    for entry in index["points"]:
        folder = in_tmp / "rep" / entry["folder"]
        assert entry["folder"] == f"lr={entry['point']['lr']:g}"
        report = load_report((folder / "report.json").read_text())
        assert report.report_type == entry["report_type"] == "convergence"
        assert (folder / "README.md").is_file() and (folder / "report.html").is_file()
        # the point's report is the report of its own run file (provenance aside)
        (run,) = [t for t in tasks if t["point"]["lr"] == entry["point"]["lr"]]
        direct = build_report(load(in_tmp / "runs/small" / run["file"]), "x")
        drop = {"provenance", "figures"}  # the SVG references differ (--no-svg)
        assert report.model_dump(exclude=drop) == direct.model_dump(exclude=drop)
    assert "lr=0.5" in (in_tmp / "rep/README.md").read_text()
    # the typed reports as one JSON array on stdout
    items = json.loads(stdout_of(invoke("report", "runs/small", "--format", "json")))
    assert sorted(i["point"]["lr"] for i in items) == [0.25, 0.5]
    assert all(i["report"]["report_type"] == "convergence" for i in items)
    # an existing report folder is kept without --overwrite; other formats: one line
    before = (in_tmp / "rep/sweep.json").read_bytes()
    assert_one_error_line(invoke("report", "runs/small", "--out", "rep"), "--out")
    assert (in_tmp / "rep/sweep.json").read_bytes() == before
    assert_one_error_line(invoke("report", "runs/small", "--format", "html"), "--format")
    again = invoke("report", "runs/small", "--out", "rep", "--overwrite", "--no-svg", "--quiet")
    assert again.exit_code == 0, again.output


def test_info_of_a_sweep_folder(in_tmp: Path, scheduler: str) -> None:
    assert invoke("sweep", "s.toml", "--scheduler", scheduler).exit_code == 0
    result = invoke("info", "runs/small", "--no-variables")
    assert result.exit_code == 0, result.output
    out = stdout_of(result)
    head = out.splitlines()[0]
    assert head == (
        "small: sweep 'small' of train runs over lr = [0.5, 0.25]; within each run width = [8, 16]"
    )
    assert "tasks (2): 2 finished" in out
    dims = next(line for line in out.splitlines() if line.startswith("dimensions of the"))
    assert "lr = 2, width = 2, seed = 2, step = 21" in dims
    config = out.split("configuration (the same at every grid point")[1].split("\n\n")[0]
    assert "steps" in config and "widths" in config
    assert "\n  lr " not in config  # the axis that varies is not a common setting
    assert "findings of the sweep" in out and "RelErr" in out
    # a failed task is counted and its error shown; with none finished, nothing combines
    index_path = in_tmp / "runs/small/index.json"
    index = json.loads(index_path.read_text())
    index["tasks"][1].update(status="failed", error="RuntimeError: boom")
    index_path.write_text(json.dumps(index))
    out = stdout_of(invoke("info", "runs/small", "--no-findings", "--no-variables"))
    failed = index["tasks"][1]["point"]["lr"]
    assert "tasks (2): 1 finished, 1 failed" in out
    assert f"  failed lr={failed:g}: RuntimeError: boom" in out
    assert "findings" not in out
    for task in index["tasks"]:
        task["status"] = "pending"
    index_path.write_text(json.dumps(index))
    result = invoke("info", "runs/small")
    assert result.exit_code == 0, result.output
    assert "tasks (2): 2 pending" in stdout_of(result)
    assert "no run has finished yet" in stdout_of(result)
