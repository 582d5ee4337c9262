"""Atomic saving and validated loading of run files (NetCDF-4, netCDF4 engine).

A save writes to a temporary file in the destination folder, fsyncs it and
renames it over the final name with :func:`os.replace` (or hard-links it there
when no file may be replaced), so a killed process never leaves a half-written
file under the final name. Every data variable is stored with HDF5 Fletcher-32
checksums, so a damaged chunk fails :func:`load` instead of loading silently.
Every load goes through :func:`spectralntk.store.schema.validate`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import xarray as xr

from spectralntk.errors import RunFileError
from spectralntk.store.output import publish, temporary_path, write_error
from spectralntk.store.paths import check_writable, fsync_path, one_line
from spectralntk.store.schema import validate

__all__ = ["check_writable", "load", "save"]

_NETCDF_MAGIC = (b"\x89HDF\r\n\x1a\n", b"CDF\x01", b"CDF\x02", b"CDF\x05")


def _encoding(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    """NetCDF encoding: no fill value on coordinates (CF), NaN fill on float data,
    Fletcher-32 checksums on every data variable that has chunks (not scalars)."""
    encoding: dict[str, dict[str, Any]] = {}
    for name, var in ds.variables.items():
        data = name not in ds.coords
        nan_fill = data and var.dtype.kind == "f"
        encoding[str(name)] = {"_FillValue": math.nan if nan_fill else None}
        if data and var.ndim > 0 and var.size > 0:
            encoding[str(name)]["fletcher32"] = True
    return encoding


def _write_netcdf(ds: xr.Dataset, path: Path) -> None:
    """Write ``ds`` to ``path`` as NetCDF-4 (the step :func:`save` makes atomic)."""
    ds.to_netcdf(path, mode="w", format="NETCDF4", engine="netcdf4", encoding=_encoding(ds))


def save(
    ds: xr.Dataset,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    state: str | os.PathLike[str] | None = None,
) -> Path:
    """Validate ``ds`` and write it atomically as a NetCDF-4 run file.

    The data go to a temporary file ``.{name}.tmp-<pid>@<host>-XXXXXXXX`` in the
    destination folder (created if missing), which is fsynced and renamed over
    ``path`` with :func:`os.replace`; the folder is then fsynced. Without
    ``overwrite`` the file is hard-linked to ``path`` instead, so a file that
    appeared there meanwhile is never replaced. If anything fails, the temporary
    file is removed and a previous file at ``path`` is left untouched.

    Parameters
    ----------
    ds : xarray.Dataset
        A run dataset, e.g. from :func:`spectralntk.store.make_dataset`.
    path : str or os.PathLike
        Destination file.
    overwrite : bool, default False
        Whether an existing file at ``path`` may be replaced.
    state : path, optional
        The resumable state of the run being saved (``<out>.state.pt``): removed
        only once the file is in place and its folder fsynced, so that a kill at
        any moment leaves the file or the state.

    Returns
    -------
    pathlib.Path
        The absolute path written.

    Raises
    ------
    RunFileError
        If ``ds`` is not a valid run, or writing fails (one line naming the cause
        and the folder: ``No space left on device writing run file …``), or a file
        appeared at ``path`` while ``overwrite`` is False.
    ParameterError
        If ``path`` cannot be written (see :func:`check_writable`).
    """
    validate(ds)
    out = check_writable(path, overwrite=overwrite)
    # netCDF creates the file itself, so it gets the usual umask permissions.
    tmp = temporary_path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _write_netcdf(ds, tmp)
        fsync_path(tmp)
        publish(tmp, out, overwrite=overwrite)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, Exception) and not isinstance(exc, RunFileError):
            raise write_error(exc, out, needed=int(ds.nbytes)) from exc
        raise
    if state is not None:
        from spectralntk.store.state import remove_state

        remove_state(Path(state))
    return out


def load(path: str | os.PathLike[str]) -> xr.Dataset:
    """Read a run file fully into memory, close it, and validate it.

    Parameters
    ----------
    path : str or os.PathLike
        A run file written by :func:`save`.

    Returns
    -------
    xarray.Dataset
        The validated dataset, with no file left open.

    Raises
    ------
    RunFileError
        With a one-line message naming the path if the file is missing, is not
        NetCDF, is truncated or corrupt, or is not a valid spectralntk run.
    """
    src = Path(path).expanduser()
    if not src.exists():
        raise RunFileError(f"Cannot read run file '{src}': no such file")
    if src.is_dir():
        raise RunFileError(
            f"Cannot read run file '{src}': it is a folder, and not a sweep folder (those "
            "have index.json)"
        )
    try:
        with src.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise RunFileError(f"Cannot read run file '{src}': {one_line(exc)}") from None
    if not head.startswith(_NETCDF_MAGIC):
        raise RunFileError(f"Cannot read run file '{src}': not a NetCDF file")
    try:
        with xr.open_dataset(src, engine="netcdf4") as opened:
            ds = opened.load()
    except Exception as exc:  # netCDF4/HDF5/xarray errors vary in type; report in one line
        raise RunFileError(
            f"Cannot read run file '{src}': truncated or corrupt NetCDF ({one_line(exc)})"
        ) from None
    return validate(ds)
