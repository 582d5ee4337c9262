"""Paths of run files: checks made before expensive work, and fsync.

Kept free of xarray so that the CLI can check ``--out`` and print its results
before paying for the xarray import.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from pathlib import Path

from spectralntk.errors import ParameterError

__all__ = ["check_writable", "fsync_path", "one_line"]


def one_line(exc: BaseException) -> str:
    """The reason in ``exc`` on one line (without the file name an OSError repeats)."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    text = " ".join(str(text).split())
    return text or type(exc).__name__


def _out_error(rule: str, path: Path) -> ParameterError:
    return ParameterError("out", f"The 'out' parameter must be {rule}. Got {str(path)!r} instead.")


def check_writable(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Check that a run file can be written at ``path``; call before expensive work.

    Nothing is created: missing parent folders are made when the output is locked
    (:func:`spectralntk.store.output.hold_output`) or saved, so a command that fails
    leaves no folder behind. Writability is tested by creating and deleting a
    temporary file in the nearest existing folder (``os.access`` is wrong for root
    and for some network file systems).

    Parameters
    ----------
    path : str or os.PathLike
        Destination of the run file.
    overwrite : bool, default False
        Whether an existing file at ``path`` may be replaced.

    Returns
    -------
    pathlib.Path
        The absolute destination path.

    Raises
    ------
    ParameterError
        (parameter ``out``) if ``path`` is an existing directory, exists while
        ``overwrite`` is False, has a parent that is not a folder, or lies in a
        folder where no file (or folder) can be created.
    """
    out = Path(path).expanduser().absolute()
    if out.is_dir():
        raise _out_error("a file path, not an existing directory", out)
    parent = out.parent
    blocker = next((p for p in (parent, *parent.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise _out_error(f"a path in a folder ({str(blocker)!r} is not a folder)", out)
    if blocker is None:
        raise _out_error("a path below an existing folder", out)
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise _out_error(
            "a path that does not exist yet (pass overwrite=True, or --overwrite on the "
            "command line, to replace the file)",
            out,
        )
    what = "file" if blocker == parent else "folder"
    probe = temporary_path(blocker / out.name, "probe")
    try:
        if what == "file":
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            os.unlink(probe)
        else:
            os.mkdir(probe, 0o700)
            os.rmdir(probe)
    except OSError as exc:
        raise _out_error(
            f"a path in a writable folder (cannot create a {what} in {str(blocker)!r}: "
            f"{one_line(exc)})",
            out,
        ) from None
    return out


def fsync_path(path: Path, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: Kinds of temporaries: data being written, a folder renamed aside, a write probe,
#: a lock being created or taken over.
TEMP_KINDS = ("tmp", "old", "probe", "lock", "stale")


def _host() -> str:
    """This host's name, as it appears in lock files and temporary names."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:40]


def temporary_path(target: str | os.PathLike[str], kind: str = "tmp") -> Path:
    """A new hidden name next to ``target``: ``.<name>.<kind>-<pid>@<host>-<hex>``."""
    if kind not in TEMP_KINDS:
        raise ValueError(f"kind must be one of {TEMP_KINDS}, got {kind!r}")
    out = Path(target)
    return out.with_name(f".{out.name}.{kind}-{os.getpid()}@{_host()}-{secrets.token_hex(4)}")
