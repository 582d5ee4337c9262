"""``--threads N`` and :func:`spectralntk.threads.set_threads`: torch's and the BLAS's threads.

Each test starts from thread counts that differ from the one it asks for (set
directly through torch and threadpoolctl), so that a command that ignores
``--threads`` fails; the counts and the environment are restored afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
threadpoolctl = pytest.importorskip("threadpoolctl")

from test_cli import assert_one_error_line, invoke, no_run_files, override  # noqa: E402

from spectralntk import ParameterError, load  # noqa: E402
from spectralntk.store.schema import read_config  # noqa: E402
from spectralntk.threads import DEFAULT_THREADS, THREAD_ENV, set_threads  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
#: OpenBLAS never runs more threads than the cores it found at start-up.
needs_two_cores = pytest.mark.skipif(CORES < 2, reason="BLAS thread counts are capped at 1 core")


def blas_threads() -> set[int]:
    """Thread counts of the BLAS libraries loaded in this process (numpy's at least)."""
    info = threadpoolctl.threadpool_info()
    counts = {lib["num_threads"] for lib in info if lib["user_api"] == "blas"}
    assert counts, info  # numpy's BLAS is loaded: the checks below would be empty
    return counts


def start_from(n: int) -> None:
    """Put torch and every loaded BLAS at ``n`` threads without spectralntk."""
    torch.set_num_threads(n)
    threadpoolctl.threadpool_limits(limits=n, user_api="blas")
    assert torch.get_num_threads() == n


@pytest.fixture(autouse=True)
def restore_threads() -> Iterator[None]:
    """Undo every thread setting a test makes (torch, BLAS, environment)."""
    torch_threads = torch.get_num_threads()
    blas = threadpoolctl.threadpool_info()
    env = {name: os.environ.get(name) for name in THREAD_ENV}
    yield
    torch.set_num_threads(torch_threads)
    for lib in blas:
        if lib["user_api"] == "blas":
            threadpoolctl.threadpool_limits(limits={lib["prefix"]: lib["num_threads"]})
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---------------------------------------------------------------------------
# the library function
# ---------------------------------------------------------------------------
def test_default_is_one_thread() -> None:
    assert DEFAULT_THREADS == 1


@pytest.mark.parametrize("n", [1, 3])
def test_set_threads_sets_torch_blas_and_the_environment(n: int) -> None:
    start_from(2 if n == 1 else 1)
    assert set_threads(n) == n
    assert torch.get_num_threads() == n
    assert all(os.environ[name] == str(n) for name in THREAD_ENV)
    if CORES >= n:
        assert blas_threads() == {n}


def test_none_means_the_default() -> None:
    start_from(DEFAULT_THREADS + 1)
    assert set_threads(None) == DEFAULT_THREADS
    assert torch.get_num_threads() == DEFAULT_THREADS


@pytest.mark.parametrize("bad", [0, -1, 1.5, 2.0, True, "2"])
def test_invalid_counts_name_threads_and_change_nothing(bad: Any) -> None:
    start_from(2)
    before = dict(os.environ)
    with pytest.raises(ParameterError, match="'threads' parameter must be an int") as err:
        set_threads(bad)
    assert err.value.parameter == "threads"
    assert torch.get_num_threads() == 2 and dict(os.environ) == before


_FRESH = r"""
import sys
from spectralntk.threads import set_threads
{call}
print("TORCH_IMPORTED", "torch" in sys.modules)
import scipy.linalg, torch, threadpoolctl
info = threadpoolctl.threadpool_info()
blas = sorted({{i["num_threads"] for i in info if i["user_api"] == "blas"}})
print("COUNTS", torch.get_num_threads(), blas)
"""


@needs_two_cores
def test_libraries_loaded_later_start_with_the_count(tmp_path: Path) -> None:
    """torch and scipy's BLAS, imported after set_threads, start with its count."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_ENV}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))

    def fresh(call: str) -> list[str]:
        proc = subprocess.run(
            [sys.executable, "-c", _FRESH.format(call=call)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.splitlines()

    assert fresh("set_threads(1)") == ["TORCH_IMPORTED False", "COUNTS 1 [1]"]
    # without it the same process starts more threads (one per core here)
    assert fresh("")[1] != "COUNTS 1 [1]"


# ---------------------------------------------------------------------------
# every command that computes takes --threads and applies it
# ---------------------------------------------------------------------------
DECOMPOSE = ["decompose", "--depth", "1", "--max-frequency", "8", "--angles", "16", "--quiet"]
EMPIRICAL = ["decompose", "--kernel", "empirical", "--depth", "1", "--width", "8"]
EMPIRICAL += ["--seeds", "2", "--points", "16", "--quiet"]
TRAIN = ["train", "--width", "8", "--seeds", "1", "--points", "16", "--inputs", "grid"]
TRAIN += ["--eval-points", "32", "--steps", "5", "--target", "sine", "--frequency", "2"]
TRAIN += ["--lr", "0.5", "--quiet"]
FLUCTUATIONS = ["fluctuations", "--depth", "1", "--width", "8", "--seeds", "2", "--probes", "4"]
FLUCTUATIONS += ["--bootstrap", "20", "--quiet"]
REPRODUCE = ["reproduce", "exp2.4", "--quick", "--set", "width=[8]", "--set", "seeds=1"]
REPRODUCE += ["--set", "steps=5", "--set", "points=16", "--set", "eval_points=32"]
REPRODUCE += ["--set", "target=sine", "--set", "frequency=2"]
REPRODUCE += ["--no-svg", "--quiet", "--out", "reports"]

COMMANDS = {
    "decompose analytic": [*DECOMPOSE, "--out", "a.nc"],
    "decompose empirical": [*EMPIRICAL, "--out", "e.nc"],
    "train": [*TRAIN, "--out", "t.nc"],
    "fluctuations": [*FLUCTUATIONS, "--out", "f.nc"],
    "reproduce": [*REPRODUCE, "--run", "r.nc"],
    "report": ["report", "a.nc", "--format", "json"],
}


def run_command(name: str, *extra: str) -> Any:
    if name == "report":  # of an analytic run, made beforehand
        assert invoke(*COMMANDS["decompose analytic"]).exit_code == 0
    return invoke(*COMMANDS[name], *extra)


@needs_two_cores
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_computing_command_applies_threads(name: str, in_tmp: Path) -> None:
    start_from(1)
    result = run_command(name, "--threads", "2")
    assert result.exit_code == 0, (result.output, result.exception)
    assert torch.get_num_threads() == 2
    assert blas_threads() == {2}
    assert os.environ["OMP_NUM_THREADS"] == "2"


@needs_two_cores
@pytest.mark.parametrize("name", list(COMMANDS))
def test_without_threads_a_command_uses_the_default(name: str, in_tmp: Path) -> None:
    start_from(DEFAULT_THREADS + 1)
    result = run_command(name)
    assert result.exit_code == 0, (result.output, result.exception)
    assert torch.get_num_threads() == DEFAULT_THREADS
    assert blas_threads() == {DEFAULT_THREADS}


@pytest.mark.parametrize("name", list(COMMANDS))
@pytest.mark.parametrize("value", ["0", "-3"])
def test_bad_threads_is_one_error_line(name: str, value: str, in_tmp: Path) -> None:
    if name == "report":
        assert invoke(*COMMANDS["decompose analytic"]).exit_code == 0
    result = invoke(*COMMANDS[name], "--threads", value)
    line = assert_one_error_line(result, "--threads")
    assert f"Got {value} instead" in line
    for made in ("e.nc", "t.nc", "f.nc", "r.nc", "reports"):
        assert not (in_tmp / made).exists(), made
    assert no_run_files(in_tmp)


@pytest.mark.parametrize(
    "args",
    [["--set", "threads=0"], ["--config", "c.toml"]],
    ids=["--set", "--config"],
)
def test_train_threads_from_set_and_config_are_checked(args: list[str], in_tmp: Path) -> None:
    (in_tmp / "c.toml").write_text("[train]\nthreads = 0\n")
    result = invoke(*TRAIN, *args, "--out", "t.nc")
    assert_one_error_line(result, "--threads")
    assert not (in_tmp / "t.nc").exists()


def test_train_threads_layers_merge_like_every_setting(in_tmp: Path) -> None:
    """defaults < config < options < --set, for threads as for the rest."""
    (in_tmp / "c.toml").write_text("threads = 3\n")
    start_from(1)
    assert invoke(*TRAIN, "--config", "c.toml", "--out", "a.nc").exit_code == 0
    assert torch.get_num_threads() == 3
    assert invoke(*TRAIN, "--config", "c.toml", "--threads", "2", "--out", "b.nc").exit_code == 0
    assert torch.get_num_threads() == 2
    args = [*TRAIN, "--threads", "2", "--set", "threads=4", "--out", "c.nc"]
    assert invoke(*args).exit_code == 0
    assert torch.get_num_threads() == 4


def test_reproduce_set_threads_wins_over_the_option(in_tmp: Path) -> None:
    start_from(1)
    result = invoke(*REPRODUCE, "--run", "r.nc", "--threads", "2", "--set", "threads=3")
    assert result.exit_code == 0, (result.output, result.exception)
    assert torch.get_num_threads() == 3


# ---------------------------------------------------------------------------
# threads are not part of what a run computes
# ---------------------------------------------------------------------------
def test_threads_are_not_in_the_run_configuration(in_tmp: Path) -> None:
    for n in ("1", "2"):
        assert invoke(*TRAIN, "--threads", n, "--out", f"t{n}.nc").exit_code == 0
    one, two = load(in_tmp / "t1.nc"), load(in_tmp / "t2.nc")
    assert read_config(one) == read_config(two)
    assert "threads" not in read_config(one)


def test_resume_with_other_threads(in_tmp: Path) -> None:
    """A run interrupted with one thread count continues with another."""
    from spectralntk.runs.training import train
    from spectralntk.settings import merge_settings, training_config

    settings = merge_settings(
        {
            "width": [8],
            "seeds": 1,
            "points": 16,
            "inputs": "grid",
            "eval_points": 32,
            "steps": 40,
            "target": "sine",
            "frequency": 2,
            "lr": 0.5,
            "threads": 1,
        }
    )
    cfg, device, dtype = training_config(settings)
    polls = iter(range(10**6))
    state = in_tmp / "t.nc.state.pt"
    stopped = train(
        cfg, device=device, dtype=dtype, state_path=state, should_stop=lambda: next(polls) >= 20
    )
    assert stopped is None and state.exists()
    steps = ["--steps", "40", "--out", "t.nc", "--resume", "--threads", "2"]
    result = invoke(*override(TRAIN, *steps))
    assert result.exit_code == 0, (result.output, result.exception)
    assert not state.exists()
    assert (
        invoke(*override(TRAIN, "--steps", "40", "--out", "u.nc", "--threads", "1")).exit_code == 0
    )
    resumed, whole = load(in_tmp / "t.nc"), load(in_tmp / "u.nc")
    assert read_config(resumed) == read_config(whole)
    # the same run to rounding (sums in another order on two threads)
    assert abs(resumed["loss"].values - whole["loss"].values).max() <= 1e-12


# ---------------------------------------------------------------------------
# sweeps keep their own setting
# ---------------------------------------------------------------------------
def test_sweep_threads_option_base_setting_and_default() -> None:
    from spectralntk.sweeps.execute import SWEEP_THREADS, task_threads
    from spectralntk.sweeps.grid import sweep_spec

    plain = sweep_spec({"base": {"steps": 5}, "axes": {"lr": [0.1]}})
    based = sweep_spec({"base": {"steps": 5, "threads": 2}, "axes": {"lr": [0.1]}})
    assert SWEEP_THREADS == 1 and task_threads(plain) == 1
    assert task_threads(based) == 2 and task_threads(based, 3) == 3
    with pytest.raises(ParameterError, match="'threads'"):
        task_threads(plain, 0)
    with pytest.raises(ParameterError, match="'threads'"):
        sweep_spec({"base": {"steps": 5}, "axes": {"threads": [1, 2]}})
    train = {"base": {"steps": 5}, "axes": {"lr": [0.1]}}
    fluctuations = {
        "sweep": {"kind": "fluctuations"},
        "base": {"depth": [2], "width": [8], "seeds": 2},
        "axes": {"weight_std": [1.0]},
    }
    for data in (train, fluctuations):  # [base] threads: checked, and the sweep's default
        spec = sweep_spec({**data, "base": {**data["base"], "threads": 3}})
        assert task_threads(spec) == 3
        with pytest.raises(ParameterError, match="'threads'"):
            sweep_spec({**data, "base": {**data["base"], "threads": 0}})


@needs_two_cores
def test_sweep_task_applies_its_threads(tmp_path: Path) -> None:
    from spectralntk.sweeps.execute import execute_task
    from spectralntk.sweeps.grid import plan_tasks, sweep_spec

    base = {"width": [8], "seeds": 1, "points": 16, "inputs": "grid", "eval_points": 32}
    base |= {"target": "sine", "frequency": 2}
    spec = sweep_spec({"base": {**base, "steps": 5}, "axes": {"lr": [0.1]}})
    [task] = plan_tasks(spec)
    payload = {"key": task.key, "kind": spec.kind, "config": task.config, "dtype": task.dtype}
    start_from(1)
    result = execute_task(payload, folder=str(tmp_path), device="cpu", resume=False, threads=2)
    assert result["status"] == "finished", result
    assert torch.get_num_threads() == 2 and blas_threads() == {2}


def test_sweep_bad_threads_is_one_error_line(in_tmp: Path) -> None:
    (in_tmp / "s.toml").write_text("[base]\nsteps = 5\n[axes]\nlr = [0.1]\n")
    line = assert_one_error_line(invoke("sweep", "s.toml", "--threads", "0"), "--threads")
    assert "Got 0 instead" in line
    assert not (in_tmp / "runs").exists()


def test_help_of_every_computing_command_lists_threads() -> None:
    for command in ("decompose", "train", "fluctuations", "report", "reproduce", "sweep"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "--threads" in result.output, command
