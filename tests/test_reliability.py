"""What a run file survives (issue 13): kills at the save, concurrent writers, damaged
chunks, closed pipes, full or read-only disks, leftovers, foreign state files, fresh
machines. Each test reproduces one failure of the attack on the toolkit."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")

from test_cli import assert_one_error_line, invoke
from test_cli_train import SMALL

from spectralntk import load, save
from spectralntk.errors import ParameterError, RunFileError
from spectralntk.store import netcdf as store_netcdf
from spectralntk.store import output as store_output
from spectralntk.store.output import hold_output, temporary_path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
TRAIN = [*SMALL, "--record-every", "10", "--quiet"]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def hidden(folder: Path) -> list[str]:
    """Temporaries and locks left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or ".lock" in p.name)


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


def spectrum_run(path: Path) -> Path:
    """A real (reportable) analytic spectrum run file."""
    from spectralntk import NetworkConfig, analytic_spectrum

    return save(analytic_spectrum(NetworkConfig(depth=3), max_frequency=32).to_dataset(), path)


def small_dataset() -> Any:
    from test_store import spectrum_dataset

    return spectrum_dataset([1, 2], n_frequency=400, n_angle=600)


# ---------------------------------------------------------------------------
# 1. durable at every moment: a kill at the save leaves the file or a state
# ---------------------------------------------------------------------------
KILL_AT_SAVE = """
import os, signal, sys
from pathlib import Path
import spectralntk.runs.training as training
import spectralntk.store.netcdf as netcdf

training.train.__kwdefaults__["flush_seconds"] = 0.0  # a state at every recorded step
when, target = sys.argv[1], sys.argv[2]
real = netcdf.publish

def publish(tmp, out, *, overwrite):
    if out.name == target and when == "before-rename":
        os.kill(os.getpid(), signal.SIGKILL)
    real(tmp, out, overwrite=overwrite)
    if out.name == target and when == "after-rename":
        os.kill(os.getpid(), signal.SIGKILL)

netcdf.publish = publish
"""


def _killed(script: str, *args: str) -> None:
    code = textwrap.dedent(KILL_AT_SAVE) + textwrap.dedent(script)
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], env=ENV, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr


@pytest.mark.parametrize("when", ["before-rename", "after-rename"])
def test_train_killed_at_the_save_leaves_the_file_or_a_state_that_resumes(
    in_tmp: Path, when: str
) -> None:
    _killed(
        f"""
        sys.argv = ["spectralntk", "train", *{TRAIN!r}, "--out", "run.nc"]
        from spectralntk.cli import main
        main()
        """,
        when,
        "run.nc",
    )
    out, state = in_tmp / "run.nc", in_tmp / "run.nc.state.pt"
    if when == "before-rename":
        assert not out.exists() and state.exists()  # the state was not removed first
    else:
        assert load(out) is not None and state.exists()  # the file is in place
    result = invoke("train", *TRAIN, "--out", "run.nc", "--resume")
    assert result.exit_code == 0, result.output
    assert not state.exists() and hidden(in_tmp) == []  # the kill's temporary is gone
    reference = invoke("train", *TRAIN, "--out", "ref.nc")
    assert reference.exit_code == 0, reference.output
    for name in ("loss", "residual_cos", "kernel_drift"):
        np.testing.assert_array_equal(load(out)[name].values, load(in_tmp / "ref.nc")[name].values)


def test_sweep_task_killed_at_the_save_leaves_a_state_that_resumes(tmp_path: Path) -> None:
    from test_training import small_config

    from spectralntk.sweeps.execute import execute_task

    payload = {"key": "k0", "kind": "train", "config": small_config().to_dict(), "dtype": "float64"}
    options = {"folder": str(tmp_path), "device": "cpu", "flush_seconds": 0.0}
    (tmp_path / "runs").mkdir()
    _killed(
        f"""
        from spectralntk.sweeps.execute import execute_task
        execute_task({payload!r}, resume=False, **{options!r})
        """,
        "before-rename",
        "k0.nc",
    )
    runs = tmp_path / "runs"
    assert not (runs / "k0.nc").exists() and (runs / "k0.nc.state.pt").exists()
    result = execute_task(payload, resume=True, **options)  # type: ignore[arg-type]
    assert result["status"] == "finished" and result["resumed"] is True, result
    assert sorted(p.name for p in runs.iterdir() if not p.name.startswith(".")) == ["k0.nc"]


# ---------------------------------------------------------------------------
# 2. one writer per output
# ---------------------------------------------------------------------------
@contextlib.contextmanager
def held_elsewhere(target: Path) -> Iterator[subprocess.Popen[str]]:
    """Another live process holding the lock of ``target``."""
    code = (
        "import sys\nfrom spectralntk.store.output import hold_output\n"
        f"with hold_output({str(target)!r}):\n    print('held', flush=True)\n    sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        env=ENV,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_second_writer_fails_at_start_and_a_dead_holder_is_taken_over(in_tmp: Path) -> None:
    out = in_tmp / "x.nc"
    with held_elsewhere(out) as holder:
        lock = json.loads((in_tmp / "x.nc.lock").read_text())
        assert lock["pid"] == holder.pid and lock["host"]
        for command in (["decompose", "--max-frequency", "16"], ["train", *TRAIN]):
            line = error_line(invoke(*command, "--out", str(out)), "--out")
            assert f"pid {holder.pid}" in line and "x.nc.lock" in line
        assert not out.exists()
        holder.kill()  # dies holding the lock: kill -9 leaves it behind
        holder.wait()
        assert (in_tmp / "x.nc.lock").exists()
        result = invoke("decompose", "--max-frequency", "16", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert load(out) is not None and hidden(in_tmp) == []


def test_report_folder_has_one_writer(tmp_path: Path) -> None:
    run = spectrum_run(tmp_path / "s.nc")
    with held_elsewhere(tmp_path / "rep"):
        line = assert_one_error_line(
            invoke("report", str(run), "--out", str(tmp_path / "rep")), "--out"
        )
    assert "no other process" in line and not (tmp_path / "rep").exists()


def test_a_file_that_appeared_after_the_start_is_not_replaced(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import spectralntk.runs.training as training

    real = training.train

    def train_while_someone_writes_out(*args: Any, **kwargs: Any) -> Any:
        (in_tmp / "t.nc").write_bytes(b"written meanwhile by someone else")
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "train", train_while_someone_writes_out)
    line = error_line(invoke("train", *TRAIN, "--out", "t.nc"), "t.nc")
    assert "not exist yet" in line or "not replaced" in line
    assert (in_tmp / "t.nc").read_bytes() == b"written meanwhile by someone else"


def test_temporary_names_are_unique_per_process_and_call(tmp_path: Path) -> None:
    here = {temporary_path(tmp_path / "run.nc") for _ in range(50)}
    code = "import sys\nfrom spectralntk.store.output import temporary_path as t\n"
    code += "print(t(sys.argv[1]))"
    there = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "run.nc")],
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert len(here) == 50 and f".run.nc.tmp-{os.getpid()}@" in next(iter(here)).name
    assert Path(there.stdout.strip()) not in here


def test_two_state_flushes_of_one_path_do_not_share_a_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from spectralntk.store.state import save_state

    seen: list[str] = []
    real = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, f: (seen.append(Path(f).name), real(obj, f)))
    t = torch.zeros(2)
    for _ in range(2):
        save_state(tmp_path / "r.nc.state.pt", {"a": 1}, 0, 1, [t], [t], t, {"x": np.zeros(3)})
    assert len(set(seen)) == 2 and all(str(os.getpid()) in name for name in seen)


# ---------------------------------------------------------------------------
# 3. corruption caught
# ---------------------------------------------------------------------------
def damage_a_chunk(path: Path, values: np.ndarray) -> None:
    """Overwrite 64 bytes in the middle of the stored ``values`` with random bytes."""
    data = bytearray(path.read_bytes())
    raw = np.ascontiguousarray(values).tobytes()
    start = data.find(raw[len(raw) // 2 : len(raw) // 2 + 256])
    assert start > 0, "the variable's bytes were not found in the file"
    noise = np.random.default_rng(13).bytes(64)
    data[start : start + 64] = noise
    path.write_bytes(bytes(data))


def test_damaged_data_chunk_fails_load_with_one_line(tmp_path: Path) -> None:
    ds = small_dataset()
    path = save(ds, tmp_path / "run.nc")
    damage_a_chunk(path, ds["ntk_profile"].values)
    with pytest.raises(RunFileError) as err:
        load(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "corrupt" in message


def test_checksummed_files_still_read_in_netcdf4_and_ncdump(tmp_path: Path) -> None:
    import netCDF4

    ds = small_dataset()
    path = save(ds, tmp_path / "run.nc")
    with netCDF4.Dataset(path) as nc:
        assert nc["ntk_profile"].filters()["fletcher32"] is True
        np.testing.assert_array_equal(nc["ntk_profile"][:], ds["ntk_profile"].values)
    if shutil.which("ncdump") is None:
        assert not os.environ.get("SPECTRALNTK_REQUIRE_NCDUMP"), "ncdump required but missing"
        pytest.skip("ncdump not installed (Debian package netcdf-bin)")
    dump = subprocess.run(["ncdump", "-s", str(path)], capture_output=True, text=True, check=False)
    assert dump.returncode == 0, dump.stderr
    assert 'ntk_profile:_Fletcher32 = "true"' in dump.stdout


def test_h5py_reads_checksummed_files(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    ds = small_dataset()
    path = save(ds, tmp_path / "run.nc")
    with h5py.File(path, "r") as f:
        assert f["ntk_profile"].fletcher32
        np.testing.assert_array_equal(f["ntk_profile"][...], ds["ntk_profile"].values)


def test_sweep_resume_reruns_a_truncated_or_damaged_finished_file(tmp_path: Path) -> None:
    from spectralntk.sweeps.execute import _merge_known

    runs = tmp_path / "runs"
    runs.mkdir()
    ds = small_dataset()
    good, cut, bad = (save(ds, runs / f"{k}.nc") for k in ("good", "cut", "bad"))
    with open(cut, "r+b") as fh:
        fh.truncate(cut.stat().st_size // 2)
    damage_a_chunk(bad, ds["ntk_profile"].values)
    tasks = [
        {"key": k, "file": f"runs/{k}.nc", "status": "finished", "error": None, "note": None}
        for k in ("good", "cut", "bad")
    ]
    index = {"tasks": [dict(t) for t in tasks]}
    _merge_known(index, {"tasks": tasks}, tmp_path)
    status = {t["key"]: t for t in index["tasks"]}
    assert status["good"]["status"] == "finished"
    for key in ("cut", "bad"):
        assert status[key]["status"] == "pending" and "run again" in status[key]["note"]
        assert not (runs / f"{key}.nc").exists() and (runs / f"{key}.nc.broken").exists()
    assert good.exists()


# ---------------------------------------------------------------------------
# 7. pipes
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "command",
    [["decompose", "--max-frequency", "16"], ["train", *SMALL, "--record-every", "10"]],
    ids=["decompose", "train"],
)
def test_closed_stdout_still_writes_the_file_and_exits_141(
    tmp_path: Path, command: list[str]
) -> None:
    out = tmp_path / "run.nc"
    # like `… | head -1` whose head has gone: every write to stdout meets a closed pipe
    proc = subprocess.Popen(
        [sys.executable, "-m", "spectralntk", *command, "--out", str(out)],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 141, err
    assert "Traceback" not in err and "Exception ignored" not in err
    assert load(out) is not None and hidden(tmp_path) == []


# ---------------------------------------------------------------------------
# 8. disk full, read-only
# ---------------------------------------------------------------------------
def no_space(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def error_line(result: Any, text: str) -> str:
    """Exit 2 and exactly one ``Error:`` line on stderr, holding ``text``; no traceback
    (train's stability line may precede it)."""
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and text in errors[0], result.stderr
    return errors[0]


def assert_no_space_line(result: Any, folder: Path) -> None:
    line = error_line(result, "No space left on device writing")
    assert f"in folder '{folder}" in line, line


def test_disk_full_is_one_line_in_decompose_train_fluctuations(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_cli_fluctuations import SMALL as FLUCTUATIONS

    monkeypatch.setattr(store_netcdf, "_write_netcdf", no_space)
    for command in (
        ["decompose", "--max-frequency", "16"],
        ["train", *TRAIN],
        ["fluctuations", *FLUCTUATIONS],
    ):
        assert_no_space_line(invoke(*command, "--out", "sub/x.nc"), in_tmp / "sub")
        assert not (in_tmp / "sub").exists()  # nothing left, not even the folder


def test_hdf5_hiding_a_full_disk_is_still_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def hdf_error(ds: Any, path: Path) -> None:
        path.write_bytes(b"\x89HDF\r\n\x1a\n")
        raise RuntimeError("NetCDF: HDF error")

    monkeypatch.setattr(store_netcdf, "_write_netcdf", hdf_error)
    monkeypatch.setattr(store_output, "_free_bytes", lambda folder: 4096)
    with pytest.raises(RunFileError) as err:
        save(small_dataset(), tmp_path / "run.nc")
    message = str(err.value)
    assert message.startswith("No space left on device writing run file 'run.nc' in folder")
    assert message.endswith("(NetCDF: HDF error)")
    assert os.listdir(tmp_path) == []


def test_real_disk_full_on_a_tiny_tmpfs(tmp_path: Path) -> None:
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a tmpfs")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        result = invoke("decompose", "--max-frequency", "2000", "--out", str(mount / "x.nc"))
        assert_no_space_line(result, mount)
        assert os.listdir(mount) == []
    finally:
        import gc

        gc.collect()  # netCDF's handle of the failed write keeps the mount busy until then
        if subprocess.run(["umount", str(mount)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_is_one_line_in_report_and_reproduce(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import spectralntk.reports.write as write

    run = spectrum_run(tmp_path / "s.nc")
    monkeypatch.setattr(write, "write_bytes", no_space)
    assert_no_space_line(invoke("report", str(run), "--out", str(tmp_path / "rep")), tmp_path)
    assert not (tmp_path / "rep").exists() and hidden(tmp_path) == []
    monkeypatch.setattr(store_netcdf, "_write_netcdf", no_space)
    args = [
        "reproduce",
        "exp2.4",
        "--quick",
        "--out",
        str(tmp_path / "r"),
        "--run",
        str(tmp_path / "runs" / "r.nc"),
        "--quiet",
        "--set",
        "width=[4]",
        "--set",
        "seeds=1",
        "--set",
        "steps=5",
        "--set",
        "points=48",
        "--set",
        "eval_points=96",
    ]
    assert_no_space_line(invoke(*args), tmp_path / "runs")
    assert not (tmp_path / "r").exists() and not (tmp_path / "runs").exists()


def test_disk_full_is_one_line_in_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import spectralntk.sweeps.execute as execute

    class Client:
        def submit(self, *args: Any, **kwargs: Any) -> Any:
            return type("Done", (), {"result": lambda self: {"device": "cpu"}})()

        def close(self) -> None:
            pass

    (tmp_path / "s.toml").write_text(
        '[sweep]\nname = "s"\nkind = "train"\n[base]\nwidth = [8]\nseeds = 1\nsteps = 5\n'
        "points = 16\neval_points = 32\ntarget = 'sine'\nfrequency = 2\n[axes]\nlr = [0.5, 0.25]\n"
    )
    monkeypatch.setattr(execute, "_connect", lambda scheduler, workers: (Client(), None))
    real_dump = json.dump

    def dump(obj: Any, handle: Any, **kwargs: Any) -> None:
        if "index.json" in str(getattr(handle, "name", "")):  # the sweep's index only
            no_space()
        real_dump(obj, handle, **kwargs)

    monkeypatch.setattr(execute.json, "dump", dump)
    result = invoke("sweep", str(tmp_path / "s.toml"), "--out", str(tmp_path / "s"), "--quiet")
    assert_no_space_line(result, tmp_path / "s")


def test_read_only_folder_mid_run_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(store_netcdf, "_write_netcdf", read_only)
    result = invoke("decompose", "--max-frequency", "16", "--out", str(tmp_path / "x.nc"))
    line = assert_one_error_line(result, "Read-only file system writing run file 'x.nc'")
    assert str(tmp_path) in line


def test_failed_state_flush_warns_and_training_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from test_training import small_config

    from spectralntk.runs.training import train
    from spectralntk.store.state import StateFlushWarning

    calls = {"n": 0}
    real = torch.save

    def full_twice(obj: Any, f: Any) -> None:
        calls["n"] += 1
        if calls["n"] <= 2:
            no_space()
        real(obj, f)

    monkeypatch.setattr(torch, "save", full_twice)
    state = tmp_path / "run.nc.state.pt"
    with pytest.warns(StateFlushWarning, match="No space left on device writing training state"):
        run = train(small_config(), state_path=state, flush_seconds=0.0)
    assert run is not None and calls["n"] > 2 and state.exists()  # later flushes succeeded
    reference = train(small_config())
    assert reference is not None
    np.testing.assert_array_equal(run.arrays["loss"], reference.arrays["loss"])
    assert hidden(tmp_path) == []


def test_cli_prints_a_failed_flush_as_one_warning_line(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    import spectralntk.runs.training as training

    monkeypatch.setattr(torch, "save", no_space)
    monkeypatch.setitem(training.train.__kwdefaults__, "flush_seconds", 0.0)
    result = invoke("train", *TRAIN, "--out", "t.nc")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "No space left" in line]
    assert warnings and all(line.startswith("warning: ") for line in warnings)
    assert "Traceback" not in result.output and load(in_tmp / "t.nc") is not None


# ---------------------------------------------------------------------------
# 10. leftovers
# ---------------------------------------------------------------------------
def test_next_run_removes_stale_temporaries_of_dead_processes_only(in_tmp: Path) -> None:
    host = store_output._host()
    dead, alive = dead_pid(), os.getppid()
    stale = [f".x.nc.tmp-{dead}@{host}-0123abcd", f".x.nc.state.pt.tmp-{dead}@{host}-0123abce"]
    kept = [
        f".x.nc.tmp-{alive}@{host}-0123abcf",
        f".x.nc.tmp-{dead}@otherhost-0123abd0",
        f".y.nc.tmp-{dead}@{host}-0123abd1",
    ]
    for name in stale + kept:
        (in_tmp / name).write_bytes(b"leftover")
    (in_tmp / f".x.nc.tmp-{dead}@{host}-0123abd2").mkdir()  # a report's staging folder
    result = invoke("decompose", "--max-frequency", "16", "--out", "x.nc")
    assert result.exit_code == 0, result.output
    assert hidden(in_tmp) == sorted(kept)


def _report_folder(tmp_path: Path, name: str) -> Path:
    run = spectrum_run(tmp_path / f"{name}.nc")
    result = invoke("report", str(run), "--out", str(tmp_path / name), "--no-svg", "--quiet")
    assert result.exit_code == 0, result.output
    return tmp_path / name


def test_report_overwrite_never_leaves_the_final_name_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = _report_folder(tmp_path, "rep")
    if not store_output._renameat2(dest, dest, store_output._RENAME_EXCHANGE):
        pytest.skip("no renameat2(RENAME_EXCHANGE) on this system")
    checks: list[bool] = []
    real_replace, real_rename = os.replace, store_output._renameat2

    def replace(src: Any, dst: Any) -> None:
        real_replace(src, dst)
        checks.append((dest / "report.json").is_file())

    def renameat2(src: Path, dst: Path, flags: int) -> bool:
        done = real_rename(src, dst, flags)
        checks.append((dest / "report.json").is_file())
        return done

    monkeypatch.setattr(store_output.os, "replace", replace)
    monkeypatch.setattr(store_output, "_renameat2", renameat2)
    run = tmp_path / "rep.nc"
    result = invoke("report", str(run), "--out", str(dest), "--overwrite", "--no-svg", "--quiet")
    assert result.exit_code == 0, result.output
    assert checks and all(checks)  # after every rename the final name holds a report
    assert hidden(tmp_path) == []


def test_report_overwrite_killed_between_two_renames_is_recovered_at_start(
    tmp_path: Path,
) -> None:
    dest = _report_folder(tmp_path, "rep")
    old = json.loads((dest / "report.json").read_text())
    # the fallback's state after a kill between its renames: the old report aside
    aside = tmp_path / f".rep.old-{dead_pid()}@{store_output._host()}-0badc0de"
    os.replace(dest, aside)
    with hold_output(dest):
        assert json.loads((dest / "report.json").read_text()) == old  # recovered at start
    assert not aside.exists() and hidden(tmp_path) == []


# ---------------------------------------------------------------------------
# 11. safe resume
# ---------------------------------------------------------------------------
class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.marker}",))


def test_a_state_file_cannot_run_code_on_resume(tmp_path: Path) -> None:
    import torch
    from test_training import small_config

    from spectralntk.runs.training import train

    marker = tmp_path / "code-ran"
    state = tmp_path / "run.nc.state.pt"
    torch.save({"format": 2, "config": _Payload(str(marker))}, state)
    with pytest.raises(RunFileError, match="not a readable spectralntk training state") as err:
        train(small_config(), state_path=state, resume=True)
    assert "\n" not in str(err.value)
    assert not marker.exists()


def test_the_state_holds_tensors_and_json_only(tmp_path: Path) -> None:
    import torch
    from test_training import small_config

    from spectralntk.runs.training import train

    state = tmp_path / "s.pt"
    polls = iter(range(10**6))
    assert train(small_config(), state_path=state, should_stop=lambda: next(polls) == 9) is None
    saved = torch.load(state, weights_only=True)  # refuses anything but tensors and plain data
    assert isinstance(json.loads(saved["config"]), dict)
    assert all(isinstance(v, torch.Tensor) for v in saved["arrays"].values())


# ---------------------------------------------------------------------------
# 12. fresh machines
# ---------------------------------------------------------------------------
def test_a_failed_command_creates_no_folder(in_tmp: Path) -> None:
    result = invoke("train", *TRAIN, "--out", "new/sub/x.nc", "--device", "cuda:7")
    error_line(result, "--device")
    assert not (in_tmp / "new").exists()  # the folders made for its lock are gone again
    assert list(in_tmp.iterdir()) == []


def test_ncdump_tests_skip_on_a_machine_without_ncdump(tmp_path: Path) -> None:
    bare = tmp_path / "bin"  # a PATH with no ncdump on it
    bare.mkdir()
    env = {**ENV, "PATH": str(bare)}
    env.pop("SPECTRALNTK_REQUIRE_NCDUMP", None)
    tests = [
        "tests/test_store.py::test_ncdump_reads_the_header",
        "tests/test_reliability.py::test_checksummed_files_still_read_in_netcdf4_and_ncdump",
        "tests/test_fluctuation_run.py::test_ncdump_reads_a_fluctuation_run",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *tests],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 skipped" in proc.stdout and "ncdump not installed" in proc.stdout
    env["SPECTRALNTK_REQUIRE_NCDUMP"] = "1"  # what CI sets: there a missing ncdump fails
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests[0]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stdout


def test_parameter_error_of_a_held_lock_names_out(tmp_path: Path) -> None:
    with held_elsewhere(tmp_path / "a.nc"), pytest.raises(ParameterError) as err:
        with hold_output(tmp_path / "a.nc"):
            pass
    assert err.value.parameter == "out"
