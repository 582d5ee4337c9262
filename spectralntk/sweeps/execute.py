"""Running a sweep on Dask: one task per run, an atomically rewritten index.

:func:`run_sweep` plans the tasks (:mod:`spectralntk.sweeps.grid`), connects to a
Dask cluster (a :class:`distributed.LocalCluster` of worker processes by default,
or any scheduler address), submits every run that is not finished, and records
each outcome in ``<folder>/index.json`` as its future completes. Each task
(:func:`execute_task`, run on a worker) trains its runs and writes
``<folder>/runs/<hash>.nc`` atomically.

Outcomes. ``finished``: the run file exists. ``diverged``: it exists and some
seed diverged (the data are kept; the run is not retried: it is deterministic).
``failed``: the task raised (its error is recorded; the sweep goes on).
``pending``: not run yet, or interrupted.

Restarts. A finished run is never recomputed: its file is the cache. While a run
trains it flushes its progress to ``runs/<hash>.nc.state.pt`` every
``flush_seconds``; with ``resume=True`` an interrupted run continues from there
(bit-identical to an uninterrupted run), a state that cannot be read is
discarded and the run starts again from step 0, and failed runs are retried.
Without ``resume``, a folder that already holds the sweep is left alone: if every
run has an outcome nothing is done, otherwise :class:`SweepError` asks for
``resume``.

Threads. A task computes with ``threads`` threads, torch's and the BLAS's
(:func:`spectralntk.threads.set_threads`; default the base's ``threads`` setting,
else 1: a sweep's runs keep their own setting, not the default of ``train``). A
``LocalCluster`` gets one thread per worker process, and Dask's nanny starts
workers with ``OMP_NUM_THREADS=1`` (and MKL/OpenBLAS likewise), so
``workers × threads`` is the number of cores used; more would oversubscribe
the cores and slow every run down.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from spectralntk.errors import SpectralNTKError, check_int, parameter_error
from spectralntk.sweeps.grid import SweepSpec, SweepTask, plan_tasks, point_config
from spectralntk.threads import resolve_threads

__all__ = [
    "INDEX_NAME",
    "SweepError",
    "SweepResult",
    "check_device_name",
    "execute_task",
    "local_cluster",
    "probe_device",
    "read_index",
    "run_sweep",
    "run_sweep_here",
    "task_threads",
]

INDEX_NAME = "index.json"
#: Threads per task when neither ``threads`` nor the base's ``threads`` says.
SWEEP_THREADS = 1
INDEX_FORMAT = 1
RUNS_FOLDER = "runs"
DONE = ("finished", "diverged")
#: What the index records of each task's last execution.
TASK_FIELDS = ("status", "error", "wall_s", "cpu_s", "device", "worker", "resumed", "note")
#: Devices accepted on the command line (checked on a worker, where the device is).
DEVICE_NAMES = ("cpu", "cuda", "mps", "auto")


class SweepError(SpectralNTKError):
    """A sweep cannot start (its folder, its cluster or its device)."""


@dataclass
class SweepResult:
    """What a call of :func:`run_sweep` did.

    Attributes
    ----------
    folder : Path
    counts : dict
        Number of tasks per outcome after the call.
    ran : int
        Tasks executed by this call.
    wall_s : float
        Wall time of the call.
    """

    folder: Path
    counts: dict[str, int]
    ran: int
    wall_s: float


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, SpectralNTKError) else f"{type(exc).__name__}: {text}"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file in the same folder, fsync, ``os.replace``, fsync
    the folder.

    Raises
    ------
    RunFileError
        One line naming the cause and the folder (disk full, read-only folder); the
        previous file at ``path`` is left as it was.
    """
    from spectralntk.store.output import fsync_folder, temporary_path, write_error

    tmp = temporary_path(path)  # unique per process and call
    try:
        with open(tmp, "w") as handle:
            json.dump(data, handle, indent=1, sort_keys=False, allow_nan=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise write_error(exc, path, "sweep index") from None
    finally:
        tmp.unlink(missing_ok=True)
    fsync_folder(path.parent)


def read_index(folder: str | Path) -> dict[str, Any]:
    """The index of a sweep folder.

    Raises
    ------
    SweepError
        If the folder has no readable index.
    """
    path = Path(folder) / INDEX_NAME
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SweepError(f"'{folder}' is not a sweep folder (no {INDEX_NAME})") from None
    except (OSError, ValueError) as exc:
        raise SweepError(f"Cannot read '{path}': {_one_line(exc)}") from None
    if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
        raise SweepError(f"'{path}' is not a spectralntk sweep index of format {INDEX_FORMAT}")
    return data


def _new_index(spec: SweepSpec, tasks: list[SweepTask]) -> dict[str, Any]:
    return {
        "format": INDEX_FORMAT,
        "kind": spec.kind,
        "name": spec.name,
        "axes": [[k, list(v)] for k, v in spec.axes],
        "point_axes": [k for k, _ in spec.point_axes],
        "points": [{"point": p, "config": point_config(spec, p)} for p in spec.points()],
        "tasks": [
            {
                "key": t.key,
                "file": f"{RUNS_FOLDER}/{t.file_name}",
                "point": t.point,
                "widths": list(t.widths),
                "seeds": list(t.seeds),
                "gflop": round(t.flops / 1e9, 3),
                "status": "pending",
                "error": None,
                "wall_s": None,
                "cpu_s": None,
                "device": None,
                "worker": None,
                "resumed": None,
                "note": None,
                "updated": None,
            }
            for t in tasks
        ],
    }


# ---------------------------------------------------------------------------
# On a worker
# ---------------------------------------------------------------------------
def probe_device(device: str, dtype: str) -> dict[str, str]:
    """Resolve ``device`` and ``dtype`` where the runs execute (on a worker).

    Returns ``{"device": resolved}`` or ``{"error": message, "parameter": name}``
    (exceptions with extra fields do not survive Dask's pickling).
    """
    from spectralntk.errors import ParameterError

    try:
        from spectralntk.nn.device import resolve_device, resolve_dtype

        resolve_dtype(dtype)
        return {"device": str(resolve_device(device))}
    except ParameterError as err:
        return {"error": str(err), "parameter": err.parameter}


def execute_task(
    payload: Mapping[str, Any],
    *,
    folder: str,
    device: str,
    resume: bool,
    threads: int = 1,
    memory_budget: int | None = None,
    flush_seconds: float = 30.0,
    stop_event: str | None = None,
) -> dict[str, Any]:
    """Train one task's runs and write ``<folder>/runs/<key>.nc`` atomically.

    Parameters
    ----------
    payload : Mapping
        ``{"key", "kind", "config", "dtype"}`` of a :class:`SweepTask`.
    folder : str
        The sweep folder (shared with the client).
    device : str
        Torch device of the run (resolved here, on the worker).
    resume : bool
        Continue from the task's saved state, if there is a usable one.
    threads : int
        Compute threads of this task (torch's intra-op threads and the BLAS).
    memory_budget : int, optional
        Bytes one batch of seeds may take (``train``'s default if None).
    flush_seconds : float
        Minimum time between flushes of the state.
    stop_event : str, optional
        Name of a Dask Event: once set, the run stops at the next step, keeps its
        progress in the state file and reports ``pending`` (Ctrl-C of the sweep).

    Returns
    -------
    dict
        ``status`` (finished, diverged or failed), ``error``, ``wall_s``, ``cpu_s``
        (CPU time of the worker process: well below ``wall_s`` when the cores are
        shared with other work), ``device``, ``worker``, ``resumed``, ``note``.
        Never raises for a failed run.
    """
    start, cpu_start = time.perf_counter(), time.process_time()
    out = Path(folder) / RUNS_FOLDER / f"{payload['key']}.nc"
    state = out.with_name(out.name + ".state.pt")
    result: dict[str, Any] = {
        "key": payload["key"],
        "status": "failed",
        "error": None,
        "device": None,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "resumed": False,
        "note": None,
    }
    notes: list[str] = []
    try:
        from spectralntk.store.netcdf import save
        from spectralntk.store.state import remove_state

        if out.is_file():  # finished by an earlier call (or another client)
            remove_state(state)  # left if a kill came between the save and its removal
            result.update(_finished_status(out))
            result["wall_s"] = time.perf_counter() - start
            return result
        from spectralntk.nn.device import resolve_device
        from spectralntk.sweeps.kinds import KINDS
        from spectralntk.threads import set_threads

        set_threads(threads, import_torch=True)
        if os.environ.get(SLOW_MALLOC_ENV):
            notes.append(
                f"{SLOW_MALLOC_ENV} is set on this worker (Dask's nanny default): torch runs "
                "several times slower; see the README on starting workers"
            )
        dev = resolve_device(device)
        result["device"] = str(dev)
        kind = KINDS[payload["kind"]]
        options = {
            "device": str(dev),
            "dtype": payload["dtype"],
            "state_path": state,
            "flush_seconds": flush_seconds,
            "memory_budget": memory_budget,
            "history": f"spectralntk sweep: run {payload['key']}",
        }
        stop = _stop_poller(stop_event)
        if stop is not None and stop():  # the sweep was interrupted before this task began
            result["status"] = "pending"
            notes.append("not started: the sweep was interrupted")
            raise _Skip
        options["should_stop"] = stop
        resumed, ds = False, None
        if resume and state.exists():
            try:
                ds = kind.execute(payload["config"], resume=True, **options)
                resumed = True
            except Exception as exc:  # unreadable or foreign state: start again cleanly
                notes.append(f"saved state discarded ({_one_line(exc)})")
        if not resumed:
            state.unlink(missing_ok=True)
            ds = kind.execute(payload["config"], resume=False, **options)
        result["resumed"] = resumed
        if ds is None:  # asked to stop: the progress is in the state file
            result["status"] = "pending"
            notes.append("interrupted; its progress is kept for --resume")
        else:
            # the state goes only once the file is in place and its folder fsynced
            save(ds, out, overwrite=True, state=state)
            result.update(_finished_status(out))
    except _Skip:
        pass
    except Exception as exc:
        result["status"], result["error"] = "failed", _one_line(exc)
    result["wall_s"] = time.perf_counter() - start
    result["cpu_s"] = time.process_time() - cpu_start
    result["note"] = "; ".join(notes) or None
    return result


class _Skip(Exception):
    """A task that has nothing to do (the sweep was interrupted before it began)."""


def _stop_poller(name: str | None) -> Callable[[], bool] | None:
    """``should_stop`` for a run: whether the Dask Event ``name`` is set (asked at most
    once a second, a scheduler round trip). None outside a Dask worker or without a name."""
    if name is None:
        return None
    try:
        from distributed import Event, get_worker

        get_worker()
    except (ImportError, ValueError):
        return None
    event = Event(name)
    last = {"time": -1e9, "set": False}

    def poll() -> bool:
        now = time.monotonic()
        if not last["set"] and now - last["time"] > 1.0:
            last["time"], last["set"] = now, bool(event.is_set())
        return bool(last["set"])

    return poll


def _finished_status(path: Path) -> dict[str, Any]:
    """finished or diverged, from the run file's divergence flags."""
    import xarray as xr

    from spectralntk.store.schema import validate

    with xr.open_dataset(path, engine="netcdf4") as ds:
        if "diverged_step" not in validate(ds):  # a run kind without divergence flags
            return {"status": "finished", "error": None}
        steps = ds["diverged_step"].values
    bad = int((steps >= 0).sum())
    if not bad:
        return {"status": "finished", "error": None}
    return {
        "status": "diverged",
        "error": f"{bad} of {steps.size} networks diverged "
        f"(first at step {int(steps[steps >= 0].min())})",
    }


# ---------------------------------------------------------------------------
# On the client
# ---------------------------------------------------------------------------
def check_device_name(device: str) -> str:
    """``device`` if it names a torch device (cpu, cuda, cuda:N, mps, auto).

    Whether it exists is checked on a worker, where the runs execute.
    """
    base = device.split(":", 1)[0]
    index = device.split(":", 1)[1] if ":" in device else "0"
    if base not in DEVICE_NAMES or not index.isdigit():
        raise parameter_error(
            "device", "an available torch device ('cpu', 'cuda', 'cuda:N', 'mps' or 'auto')", device
        )
    return device


#: Suffix of a run file that failed to load, moved aside so that its run is done again.
BROKEN_SUFFIX = ".broken"


def _verify_run_file(path: Path) -> str | None:
    """None if the run file at ``path`` loads (every chunk's checksum, the schema); else
    why not, after moving it aside to ``<name>.broken`` so that the run is done again."""
    from spectralntk.store.netcdf import load

    try:
        load(path)
    except SpectralNTKError as exc:
        aside = path.with_name(path.name + BROKEN_SUFFIX)
        try:
            os.replace(path, aside)
        except OSError as move:
            raise SweepError(f"Cannot move the broken run file '{path}' aside: {move}") from None
        return f"{_one_line(exc)}; moved to {aside.name}, run again"
    return None


def _merge_known(index: dict[str, Any], old: dict[str, Any] | None, folder: Path) -> None:
    """Carry outcomes over from an earlier index; a run file present means finished.

    Every run file present is loaded in full first: one that is truncated or has a
    damaged chunk (its Fletcher-32 checksum fails) is moved aside and its task is
    pending again, with a note saying why.
    """
    known = {t["key"]: t for t in (old or {}).get("tasks", [])}
    for task in index["tasks"]:
        prior = known.get(task["key"])
        if prior is not None:
            for field in (*TASK_FIELDS, "updated"):
                task[field] = prior.get(field)
        present = (folder / task["file"]).is_file()
        if present and (problem := _verify_run_file(folder / task["file"])) is not None:
            present = False
            task["status"], task["error"], task["note"] = "pending", None, problem
        if present and task["status"] not in DONE:
            task.update(_finished_status(folder / task["file"]))
        elif not present and task["status"] in DONE:
            task["status"], task["error"] = "pending", None  # the file was removed


def _counts(index: Mapping[str, Any]) -> dict[str, int]:
    counts = {"finished": 0, "diverged": 0, "failed": 0, "pending": 0}
    for task in index["tasks"]:
        counts[task["status"]] = counts.get(task["status"], 0) + 1
    return counts


#: Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which fixes glibc's
#: mmap threshold at 128 KiB: every tensor above it is mmap'ed, page-faulted and
#: unmapped again, and torch training runs about 5× slower (measured: 150 steps of
#: width 512, 4 seeds, one thread: 2.3 s CPU without it, 11.4 s with it). Workers of
#: a sweep start without it; OMP/MKL/OpenBLAS stay at one thread.
SLOW_MALLOC_ENV = "MALLOC_TRIM_THRESHOLD_"


def local_cluster(workers: int, **options: Any) -> Any:
    """A :class:`distributed.LocalCluster` of ``workers`` processes, one thread each.

    Started without Dask's ``MALLOC_TRIM_THRESHOLD_`` worker environment (see
    :data:`SLOW_MALLOC_ENV`), with the dashboard on a free port and quiet logs.
    """
    import dask
    from distributed import LocalCluster

    settings = {
        "n_workers": workers,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": ":0",  # any free port: several sweeps may run at once
        "silence_logs": logging.ERROR,  # not the nanny's shutdown chatter
        **options,
    }
    with dask.config.set({f"distributed.nanny.pre-spawn-environ.{SLOW_MALLOC_ENV}": None}):
        return LocalCluster(**settings)


def _connect(scheduler: str | None, workers: int | None) -> tuple[Any, Any]:
    """(client, cluster or None): a LocalCluster of processes, or a scheduler address."""
    from distributed import Client

    if scheduler is not None:
        try:
            return Client(scheduler, timeout="10s"), None
        except (OSError, TimeoutError) as exc:
            raise SweepError(
                f"Cannot reach the Dask scheduler at {scheduler!r}: {_one_line(exc)}"
            ) from None
    n = workers or max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    cluster = local_cluster(n)
    return Client(cluster), cluster


def task_threads(spec: SweepSpec, threads: int | None = None) -> int:
    """Compute threads of every task of ``spec``.

    Parameters
    ----------
    spec : SweepSpec
    threads : int, optional
        ``--threads`` of the sweep; None: the base's ``threads`` setting, else
        :data:`SWEEP_THREADS` (a sweep's own default, not ``train``'s).

    Returns
    -------
    int

    Raises
    ------
    ParameterError
        If the count is not an int in [1, MAX_THREADS] (:func:`resolve_threads`).
    """
    if threads is None:
        threads = spec.base.get("threads")
    return resolve_threads(SWEEP_THREADS if threads is None else threads)


def run_sweep(
    spec: SweepSpec,
    folder: str | Path,
    *,
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
    resume: bool = False,
    device: str | None = None,
    threads: int | None = None,
    memory_budget: int | None = None,
    flush_seconds: float = 30.0,
    stop_timeout: float = 30.0,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> SweepResult:
    """Run every unfinished task of ``spec`` on Dask; record outcomes in the index.

    Parameters
    ----------
    spec : SweepSpec
    folder : path
        The sweep folder (``index.json``, ``runs/``); created if missing. Workers
        of a remote cluster must see it at the same path (a shared file system).
    client : distributed.Client, optional
        Use this client (and leave it open).
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``). Default: a
        LocalCluster of ``workers`` processes with one thread each, closed at the end.
    workers : int, optional
        Worker processes of the LocalCluster (default: the usable cores).
    resume : bool
        Continue a sweep already in ``folder`` (interrupted runs from their
        saved state, failed runs again); without it such a folder is left alone
        unless every run already has an outcome.
    device : str, optional
        Torch device of every run (default: the base's ``device`` setting).
    threads : int, optional
        Compute threads (torch and BLAS) per task (default: the base's ``threads``
        setting, else 1; not the default of ``train``).
    memory_budget : int, optional
        Bytes one batch of seeds may take.
    flush_seconds : float
        Minimum time between flushes of a run's state.
    stop_timeout : float
        On KeyboardInterrupt (Ctrl-C), how long running runs get to stop at their
        next step and save their progress before the interrupt goes on.
    on_progress : callable, optional
        ``on_progress(done, total, description)`` as futures complete.

    Returns
    -------
    SweepResult

    Raises
    ------
    SweepError
        The folder holds this sweep and ``resume`` is False while runs are
        unfinished; the scheduler cannot be reached; the device does not exist on
        the workers.
    ParameterError
        An invalid device name, worker or thread count.
    """
    start = time.perf_counter()
    root = Path(folder)
    run_device = check_device_name(str(device or spec.base.get("device", "cpu")))
    threads = task_threads(spec, threads)
    if workers is not None:
        workers = check_int("workers", workers, 1)
    tasks = plan_tasks(spec)
    if root.exists() and not root.is_dir():
        raise parameter_error("out", "a folder for the sweep", str(root))
    from spectralntk.store.output import hold_output

    # One sweep per folder: <folder>.lock next to it, taken over from a dead process.
    with hold_output(root):
        return _run_sweep_locked(
            spec,
            root,
            tasks,
            start=start,
            client=client,
            scheduler=scheduler,
            workers=workers,
            resume=resume,
            run_device=run_device,
            threads=threads,
            memory_budget=memory_budget,
            flush_seconds=flush_seconds,
            stop_timeout=stop_timeout,
            on_progress=on_progress,
        )


def _make_runs_folder(root: Path) -> None:
    from spectralntk.store.output import remove_stale_temporaries, write_error

    try:
        (root / RUNS_FOLDER).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(exc, root / RUNS_FOLDER, "sweep folder") from None
    remove_stale_temporaries(root / RUNS_FOLDER)  # of runs killed in earlier calls
    remove_stale_temporaries(root)


def _run_sweep_locked(
    spec: SweepSpec,
    root: Path,
    tasks: list[SweepTask],
    *,
    start: float,
    client: Any,
    scheduler: str | None,
    workers: int | None,
    resume: bool,
    run_device: str,
    threads: int,
    memory_budget: int | None,
    flush_seconds: float,
    stop_timeout: float,
    on_progress: Callable[[int, int, str], None] | None,
) -> SweepResult:
    """:func:`run_sweep` once the folder's lock is held."""
    index = _new_index(spec, tasks)
    old = read_index(root) if (root / INDEX_NAME).exists() else None
    _merge_known(index, old, root)
    todo_status = ("pending", "failed") if resume else ("pending",)
    todo = [t for t, rec in zip(tasks, index["tasks"], strict=True) if rec["status"] in todo_status]
    if old is not None and not resume and todo:
        done = sum(t["status"] in DONE for t in index["tasks"])
        raise SweepError(
            f"'{root}' already holds this sweep ({done} of {len(tasks)} runs finished); "
            "pass --resume to run only the runs not yet finished"
        )
    if not todo:
        _make_runs_folder(root)
        write_json_atomic(root / INDEX_NAME, index)
        return SweepResult(root, _counts(index), 0, time.perf_counter() - start)

    own_client, cluster = (client, None) if client is not None else _connect(scheduler, workers)
    records = {rec["key"]: rec for rec in index["tasks"]}
    try:
        # The device exists where the runs execute, not necessarily here: ask a worker
        # before anything is written.
        probe = own_client.submit(probe_device, run_device, tasks[0].dtype, pure=False).result()
        if "error" in probe:
            raise SweepError(f"Invalid value for --{probe['parameter']}: {probe['error']}")
        _make_runs_folder(root)
        write_json_atomic(root / INDEX_NAME, index)
        from distributed import as_completed

        call = secrets.token_hex(4)
        stop_name = f"spectralntk-sweep-stop-{call}"
        # Longest first: the big runs start early and the small ones fill the gaps.
        ordered = sorted(todo, key=lambda t: -t.flops)
        futures = {
            own_client.submit(
                execute_task,
                {"key": t.key, "kind": spec.kind, "config": t.config, "dtype": t.dtype},
                folder=str(root.absolute()),
                device=run_device,
                resume=resume,
                threads=threads,
                memory_budget=memory_budget,
                flush_seconds=flush_seconds,
                stop_event=stop_name,
                # unique per call: a key still held by an earlier call's futures on a
                # long-lived client would return that call's result without running
                key=f"spectralntk-sweep-{t.key[:16]}-{call}",
                pure=False,
            ): t
            for t in ordered
        }
        last_write = time.monotonic()
        if on_progress is not None:
            on_progress(0, len(futures), f"{len(futures)} runs")

        def record(future: Any) -> str:
            task = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:  # the worker died (killed, out of memory, …)
                outcome = {"status": "failed", "error": _one_line(exc), "wall_s": None}
            rec = records[task.key]
            for field in TASK_FIELDS:
                rec[field] = outcome.get(field)
            rec["updated"] = _now()
            width = ",".join(map(str, task.widths))
            where = " ".join(f"{k}={v}" for k, v in task.point.items())
            return f"{rec['status']}: width {width} {where}"

        seen: set[Any] = set()
        try:
            for future in as_completed(futures):
                seen.add(future)
                description = record(future)
                if time.monotonic() - last_write > 1.0:
                    write_json_atomic(root / INDEX_NAME, index)
                    last_write = time.monotonic()
                if on_progress is not None:
                    on_progress(len(seen), len(futures), description)
        except KeyboardInterrupt:
            # Ask the running runs to stop at their next step and keep their progress;
            # give them a moment to write it, record what they report, then stop.
            from distributed import Event, wait

            Event(stop_name, client=own_client).set()
            try:
                wait([f for f in futures if f not in seen], timeout=stop_timeout)
            except Exception:  # timed out (its type varies with the Dask version): go on
                pass
            for future in futures:
                if future not in seen and future.done():
                    record(future)
            raise
    finally:
        if (root / INDEX_NAME).exists():
            write_json_atomic(root / INDEX_NAME, index)
        if client is None:
            own_client.close()
            if cluster is not None:
                cluster.close()
    return SweepResult(root, _counts(index), len(todo), time.perf_counter() - start)


def run_sweep_here(
    spec: SweepSpec,
    folder: str | Path,
    *,
    device: str | None = None,
    threads: int | None = None,
    memory_budget: int | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> SweepResult:
    """Run every unfinished task of ``spec`` in this process, one after another.

    The same folder as :func:`run_sweep` (``index.json``, ``runs/<hash>.nc``; finished
    runs are kept and not recomputed, failed and interrupted ones run again), without a
    Dask cluster: for a small sweep (``spectralntk reproduce`` of a sweep preset), where
    starting worker processes would cost more than the runs. A run that raises is
    recorded as failed and the others go on; Ctrl-C stops the sweep (the finished runs
    are kept, the interrupted one starts again next time).

    Parameters
    ----------
    spec : SweepSpec
    folder : path
        The sweep folder; created if missing.
    device, threads, memory_budget
        As in :func:`run_sweep` (threads default: the base's ``threads``, else 1).
    on_progress : callable, optional
        ``on_progress(done, total, description)`` after every run.
    """
    start = time.perf_counter()
    root = Path(folder)
    run_device = check_device_name(str(device or spec.base.get("device", "cpu")))
    threads = task_threads(spec, threads)
    tasks = plan_tasks(spec)
    index = _new_index(spec, tasks)
    if root.exists() and not root.is_dir():
        raise parameter_error("out", "a folder for the sweep", str(root))
    old = read_index(root) if (root / INDEX_NAME).exists() else None
    _merge_known(index, old, root)
    records = {rec["key"]: rec for rec in index["tasks"]}
    todo = [t for t in tasks if records[t.key]["status"] not in DONE]
    (root / RUNS_FOLDER).mkdir(parents=True, exist_ok=True)
    write_json_atomic(root / INDEX_NAME, index)
    if on_progress is not None:
        on_progress(0, max(len(todo), 1), f"{len(todo)} runs")
    try:
        for done, task in enumerate(sorted(todo, key=lambda t: t.flops), start=1):
            outcome = execute_task(
                {"key": task.key, "kind": spec.kind, "config": task.config, "dtype": task.dtype},
                folder=str(root.absolute()),
                device=run_device,
                resume=False,
                threads=threads,
                memory_budget=memory_budget,
            )
            rec = records[task.key]
            for name in TASK_FIELDS:
                rec[name] = outcome.get(name)
            rec["updated"] = _now()
            write_json_atomic(root / INDEX_NAME, index)
            if on_progress is not None:
                where = " ".join(f"{k}={v}" for k, v in task.point.items())
                widths = ",".join(map(str, task.widths))
                on_progress(done, len(todo), f"{rec['status']}: width {widths} {where}")
    finally:
        write_json_atomic(root / INDEX_NAME, index)
    return SweepResult(root, _counts(index), len(todo), time.perf_counter() - start)
