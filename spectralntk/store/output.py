"""Writing an output safely: one writer, unique temporaries, durable renames, clear errors.

Every command that writes a file or a folder (``decompose``, ``train``,
``fluctuations``, ``report``, ``reproduce``, ``sweep``) goes through this module:

- **One writer per output.** :func:`hold_output` creates ``<out>.lock`` next to the
  output exclusively (a hard link of a complete temporary file, so the lock is never
  seen half-written) holding the writer's pid, host and process start time. A second
  writer fails at start with one line naming the holder; a lock whose process is gone
  (same host, pid dead or reused) is taken over. Missing folders above the output are
  created for the lock and removed again if the command leaves nothing in them.
- **Unique temporaries.** :func:`temporary_path` names ``.<name>.<kind>-<pid>@<host>-<hex>``:
  unique per process and call, and :func:`remove_stale_temporaries` recognises the
  leftovers of dead processes (``kill -9`` during a write) and removes them; the next
  writer of the output calls it once it holds the lock.
- **Durable, never-clobbering renames.** :func:`publish` moves a complete, fsynced
  temporary to its final name and fsyncs the folder. Without ``overwrite`` it uses a
  hard link (or ``renameat2(RENAME_NOREPLACE)`` for folders), so a file that appeared
  after the start is never replaced. :func:`swap_folders` exchanges a new folder with
  an old one in one ``renameat2(RENAME_EXCHANGE)`` where the kernel has it, so the final
  name is never empty; elsewhere two renames, which :func:`recover_folder` undoes at the
  next start if a kill fell between them.
- **One-line I/O errors.** :func:`write_error` turns a failed write into a
  :class:`~spectralntk.errors.RunFileError` that names the cause and the folder:
  ``No space left on device writing run file 'run.nc' in folder '/data'``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spectralntk.errors import ParameterError, RunFileError
from spectralntk.store.paths import (
    TEMP_KINDS,
    _host,
    fsync_path,
    one_line,
    temporary_path,
)

__all__ = [
    "LOCK_SUFFIX",
    "fsync_folder",
    "hold_output",
    "lock_path",
    "process_alive",
    "publish",
    "recover_folder",
    "remove_stale_temporaries",
    "swap_folders",
    "temporary_path",
    "write_error",
]

#: ``<out>.lock`` marks an output being written.
LOCK_SUFFIX = ".lock"
_TEMP = re.compile(
    r"^\.(?P<base>.+)\.(?P<kind>"
    + "|".join(TEMP_KINDS)
    + r")-(?P<pid>\d+)@(?P<host>[A-Za-z0-9.-]*)"
    r"-[0-9a-f]{8}$"
)
#: Locks this process holds: lock path -> [nonce, depth of nesting].
_HELD: dict[Path, list[Any]] = {}


# ---------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------
def _start_time(pid: int) -> str | None:
    """Start time of process ``pid`` in clock ticks since boot (Linux), else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def process_alive(pid: int, host: str | None = None, started: str | None = None) -> bool:
    """Whether process ``pid`` (of ``host``, started at ``started``) still runs.

    A process of another host counts as alive (it cannot be asked). A zombie, or a
    live process with another start time (the pid was reused), does not.
    """
    if host is not None and host != _host():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return False
    except (OSError, IndexError):
        pass
    if started is not None:
        now = _start_time(pid)
        if now is not None and now != started:
            return False
    return True


# ---------------------------------------------------------------------------
# temporaries
# ---------------------------------------------------------------------------
def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_stale_temporaries(
    folder: str | os.PathLike[str], names: tuple[str, ...] | None = None
) -> list[Path]:
    """Remove the temporaries in ``folder`` that processes now dead left behind.

    Parameters
    ----------
    folder : path
    names : tuple of str, optional
        Only the temporaries of these output names (``run.nc``, ``run.nc.state.pt``);
        default: every temporary in the folder.

    Returns
    -------
    list of Path
        What was removed. Temporaries of live processes, or of other hosts, are kept.
    """
    root = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP.match(entry.name)
        if match is None or (names is not None and match["base"] not in names):
            continue
        if process_alive(int(match["pid"]), match["host"]):
            continue
        _remove(entry)
        removed.append(entry)
    return removed


def fsync_folder(folder: Path) -> None:
    """fsync a folder (after a rename in it); a file system that cannot is ignored."""
    try:
        fsync_path(folder, directory=True)
    except OSError:
        pass


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------
def _free_bytes(folder: Path) -> int | None:
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):
        return None
    return st.f_bavail * st.f_frsize


def write_error(
    exc: BaseException, path: str | os.PathLike[str], what: str = "run file", *, needed: int = 0
) -> RunFileError:
    """A one-line error for a failed write of ``what`` at ``path``, with its cause.

    The cause is the OS error's text where there is one (``No space left on device``,
    ``Read-only file system``, ``Permission denied``). Libraries that hide it (HDF5 says
    ``NetCDF: HDF error``) get ``No space left on device`` when the folder has less
    free space than ``needed`` bytes plus 1 MiB (the library's words follow in
    parentheses).
    """
    out = Path(path)
    folder = out.parent
    if isinstance(exc, RunFileError):
        return exc
    detail = ""
    if isinstance(exc, OSError) and exc.errno is not None and exc.strerror:
        cause = exc.strerror
    else:
        cause = one_line(exc)
        free = _free_bytes(folder)
        if free is not None and free < needed + 2**20:
            cause, detail = os.strerror(errno.ENOSPC), f" ({cause})"
        elif not os.access(folder, os.W_OK):
            cause, detail = os.strerror(errno.EACCES), f" ({cause})"
    return RunFileError(f"{cause} writing {what} '{out.name}' in folder '{folder}'{detail}")


# ---------------------------------------------------------------------------
# renames
# ---------------------------------------------------------------------------
_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2
_AT_FDCWD = -100


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; False where the system has no such call.

    Raises the OSError of the call (FileExistsError for RENAME_NOREPLACE).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.renameat2
    except (OSError, AttributeError):
        return False
    call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if call(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # not this kernel or this file system
    raise OSError(code, os.strerror(code), str(dst))


def _appeared(out: Path) -> RunFileError:
    return RunFileError(
        f"'{out}' appeared while this command was running; it was not replaced "
        "(pass --overwrite to replace it)"
    )


def publish(tmp: Path, out: Path, *, overwrite: bool) -> None:
    """Move the complete, fsynced ``tmp`` to ``out`` and fsync the folder.

    Without ``overwrite`` an ``out`` that exists now (it may have appeared after the
    command started) is never replaced: a file is hard-linked (atomic and exclusive),
    a folder renamed with ``RENAME_NOREPLACE``. ``tmp`` is gone afterwards.

    Raises
    ------
    RunFileError
        If ``out`` exists and ``overwrite`` is False.
    OSError
        If the rename fails.
    """
    if overwrite:
        os.replace(tmp, out)
    elif tmp.is_dir():
        try:
            done = _renameat2(tmp, out, _RENAME_NOREPLACE)
        except FileExistsError:
            raise _appeared(out) from None
        if not done:
            if out.exists():
                raise _appeared(out)
            os.rename(tmp, out)  # replaces only an empty folder
    else:
        try:
            os.link(tmp, out)
        except FileExistsError:
            raise _appeared(out) from None
        except OSError as exc:  # no hard links on this file system
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            if out.exists():
                raise _appeared(out) from None
            os.replace(tmp, out)
        else:
            tmp.unlink()
    fsync_folder(out.parent)


def swap_folders(new: Path, dest: Path) -> None:
    """Put the complete folder ``new`` at ``dest``, whose old content ends up at ``new``.

    One atomic ``renameat2(RENAME_EXCHANGE)`` where the system has it, so ``dest``
    always holds the old or the new folder. Elsewhere ``dest`` is renamed aside to an
    ``old`` temporary and ``new`` renamed in; a kill between the two renames is undone
    by :func:`recover_folder` at the next start. The caller removes ``new`` afterwards.
    """
    if not _renameat2(new, dest, _RENAME_EXCHANGE):
        old = temporary_path(dest, "old")
        os.replace(dest, old)
        try:
            os.replace(new, dest)
        except BaseException:
            os.replace(old, dest)
            raise
        os.replace(old, new)
    fsync_folder(dest.parent)


def recover_folder(dest: Path) -> Path | None:
    """Undo a replacement of folder ``dest`` that a kill interrupted (see :func:`swap_folders`).

    If ``dest`` is missing and a dead process left the old folder renamed aside, it
    goes back to ``dest``. Returns the folder restored, if any.
    """
    if dest.exists():
        return None
    aside = []
    for entry in dest.parent.iterdir() if dest.parent.is_dir() else ():
        match = _TEMP.match(entry.name)
        if match and match["base"] == dest.name and match["kind"] == "old":
            if not process_alive(int(match["pid"]), match["host"]):
                aside.append(entry)
    if not aside:
        return None
    newest = max(aside, key=lambda p: p.stat().st_mtime)
    os.replace(newest, dest)
    fsync_folder(dest.parent)
    return newest


# ---------------------------------------------------------------------------
# locks
# ---------------------------------------------------------------------------
def lock_path(target: str | os.PathLike[str]) -> Path:
    """The lock file of an output: ``<out>.lock`` next to it."""
    out = Path(target)
    return out.with_name(out.name + LOCK_SUFFIX)


def _read_lock(path: Path) -> dict[str, Any] | None:
    """The lock's record; None if it is gone; {} if it cannot be read as one."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        record = json.loads(text)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _lock_is_stale(path: Path, record: dict[str, Any]) -> bool:
    if not record:  # unreadable: stale once it is older than a writer needs to fill it
        try:
            return time.time() - path.stat().st_mtime > 10.0
        except OSError:
            return False
    try:
        pid = int(record["pid"])
    except (KeyError, TypeError, ValueError):
        return True
    host, started = record.get("host"), record.get("started")
    if host == _host() and pid == os.getpid() and path not in _HELD:
        return True  # a lock of this pid that this process does not hold: a reused pid
    return not process_alive(pid, host, started)


def _held_error(target: Path, lock: Path, record: dict[str, Any], parameter: str) -> ParameterError:
    who = (
        f"pid {record.get('pid')} on host {record.get('host')} since {record.get('time')}"
        if record
        else "another process"
    )
    return ParameterError(
        parameter,
        f"The '{parameter}' parameter must be an output that no other process is writing "
        f"(it is being written by {who}; remove {str(lock)!r} if that process is gone). "
        f"Got {str(target)!r} instead.",
    )


def _create_lock(lock: Path, record: dict[str, Any]) -> bool:
    """Create ``lock`` holding ``record`` exclusively; False if it exists."""
    tmp = temporary_path(lock.with_name(lock.name.removesuffix(LOCK_SUFFIX)), "lock")
    try:
        with open(tmp, "x") as handle:
            json.dump(record, handle)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, lock)
        except FileExistsError:
            return False
        except OSError as exc:  # no hard links here: exclusive create (briefly empty)
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            try:
                fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w") as handle:
                json.dump(record, handle)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _take_over(lock: Path, seen: dict[str, Any]) -> None:
    """Remove the stale ``lock`` whose record was ``seen`` (and nothing newer)."""
    aside = temporary_path(lock.with_name(lock.name.removesuffix(LOCK_SUFFIX)), "stale")
    try:
        os.rename(lock, aside)
    except FileNotFoundError:
        return  # someone else took it over
    if _read_lock(aside) != seen:  # a fresh lock replaced the stale one meanwhile
        with contextlib.suppress(OSError):
            os.link(aside, lock)
    aside.unlink(missing_ok=True)


def _missing_folders(folder: Path) -> list[Path]:
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing[::-1]


def _make_folders(target: Path, parameter: str) -> list[Path]:
    made: list[Path] = []
    for folder in _missing_folders(target.parent):
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            _remove_empty(made)
            raise ParameterError(
                parameter,
                f"The '{parameter}' parameter must be a path in a folder that can be created "
                f"({one_line(exc)} creating {str(folder)!r}). Got {str(target)!r} instead.",
            ) from None
        made.append(folder)
    return made


def _remove_empty(folders: list[Path]) -> None:
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            break


@contextlib.contextmanager
def hold_output(target: str | os.PathLike[str], *, parameter: str = "out") -> Iterator[Path]:
    """Hold ``<target>.lock`` while the output ``target`` is written.

    On entry: create the folders above ``target`` that are missing, take the lock
    (or take over the lock of a dead process), remove the stale temporaries of
    ``target`` and of its resumable state ``<target>.state.pt``, and undo an interrupted
    folder replacement (:func:`recover_folder`). On exit: release the lock and remove
    the folders created on entry if they are still empty (a failed command leaves no
    folder behind). Re-entrant within one process.

    Yields
    ------
    Path
        The absolute ``target``.

    Raises
    ------
    ParameterError
        (parameter ``parameter``) if another live process holds the lock, or a
        folder cannot be created.
    """
    out = Path(target).expanduser().absolute()
    lock = lock_path(out)
    if lock in _HELD:
        _HELD[lock][1] += 1
        try:
            yield out
        finally:
            _HELD[lock][1] -= 1
        return
    made = _make_folders(out, parameter)
    nonce = secrets.token_hex(8)
    record = {
        "pid": os.getpid(),
        "host": _host(),
        "started": _start_time(os.getpid()),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "nonce": nonce,
        "command": " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv)),
    }
    try:
        for _ in range(20):
            try:
                if _create_lock(lock, record):
                    break
            except OSError as exc:
                raise ParameterError(
                    parameter,
                    f"The '{parameter}' parameter must be a path in a writable folder "
                    f"({one_line(exc)} creating the lock {str(lock)!r}). Got {str(out)!r} instead.",
                ) from None
            seen = _read_lock(lock)
            if seen is None:
                continue
            if not _lock_is_stale(lock, seen):
                raise _held_error(out, lock, seen, parameter)
            _take_over(lock, seen)
        else:
            raise _held_error(out, lock, _read_lock(lock) or {}, parameter)
    except BaseException:
        _remove_empty(made)
        raise
    _HELD[lock] = [nonce, 1]
    try:
        with contextlib.suppress(OSError):
            recover_folder(out)  # before the leftovers go: it may need an old folder
        remove_stale_temporaries(out.parent, (out.name, out.name + ".state.pt"))
        yield out
    finally:
        del _HELD[lock]
        if (_read_lock(lock) or {}).get("nonce") == nonce:
            lock.unlink(missing_ok=True)
        _remove_empty(made)
