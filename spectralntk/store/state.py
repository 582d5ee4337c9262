"""The resumable state of an interrupted training run (``<out>.state.pt``).

A training run (:mod:`spectralntk.runs.training`) trains its (width, seed batch) units
one after another. When it is stopped, or every ``flush_seconds`` at a recorded step,
it writes what it needs to go on: which unit and step it reached, that unit's
parameters, initial parameters and divergence status, and every array recorded so
far. :func:`load_state` refuses a state written for another configuration.

The file is written atomically (a temporary file of this process in the same folder,
fsynced, then renamed, then the folder fsynced), so a kill leaves the previous state or
the new one, never half of one. It holds tensors and JSON only (the configuration as a
JSON string, the recorded arrays as tensors) and is read with
``torch.load(weights_only=True)``: a state file from elsewhere cannot run code.

The state of a finished run is removed by :func:`remove_state` only after its run file
is in place and the folder fsynced (:func:`spectralntk.store.netcdf.save`), so a kill at
any moment leaves the run file, or a state that resumes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spectralntk.errors import RunFileError

__all__ = [
    "STATE_FORMAT",
    "StateFlushWarning",
    "TrainingState",
    "load_state",
    "remove_state",
    "save_state",
]

#: Version of the state's layout (2: tensors and JSON only).
STATE_FORMAT = 2


class StateFlushWarning(UserWarning):
    """A flush of the state failed (disk full, folder read-only); training went on."""


@dataclass(frozen=True)
class TrainingState:
    """Where an interrupted training run stands.

    Attributes
    ----------
    config : dict
        The run's configuration (``TrainingConfig.to_dict``, JSON round-tripped).
    unit : int
        Index of the (width, seed batch) unit being trained.
    step : int
        Steps that unit has taken.
    params, theta0 : list of Tensor
        Its parameters now and at step 0 (CPU tensors).
    status : Tensor of int64, shape (S,)
        Divergence step of each seed of the unit (−1: none).
    arrays : dict of str to ndarray
        Everything recorded so far, for all units.
    """

    config: dict[str, Any]
    unit: int
    step: int
    params: list[Any]
    theta0: list[Any]
    status: Any
    arrays: dict[str, Any]


def _plain(config: Mapping[str, Any]) -> dict[str, Any]:
    return dict(json.loads(json.dumps(config)))


def save_state(
    path: Path,
    config: Mapping[str, Any],
    unit: int,
    step: int,
    params: Sequence[Any],
    theta0: Sequence[Any],
    status: Any,
    arrays: Mapping[str, Any],
) -> None:
    """Write the state atomically to ``path`` (tensors are copied to the CPU).

    Raises
    ------
    RunFileError
        If it cannot be written (one line naming the cause and the folder); the
        previous state at ``path``, if any, is left as it was.
    """
    import numpy as np
    import torch

    from spectralntk.store.output import fsync_folder, temporary_path, write_error

    payload: dict[str, Any] = {
        "format": STATE_FORMAT,
        "config": json.dumps(_plain(config), sort_keys=True),
        "unit": int(unit),
        "step": int(step),
        "params": [p.detach().cpu().clone() for p in params],
        "theta0": [p.detach().cpu().clone() for p in theta0],
        "status": status.detach().cpu().clone(),
        "arrays": {str(k): torch.from_numpy(np.array(v, copy=True)) for k, v in arrays.items()},
    }
    tmp = temporary_path(path)
    try:
        torch.save(payload, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, Exception):
            needed = sum(t.nbytes for t in payload["arrays"].values())
            raise write_error(exc, path, "training state", needed=needed) from exc
        raise
    fsync_folder(path.parent)


def remove_state(path: Path | None) -> None:
    """Remove the state of a run whose file is saved (then fsync its folder)."""
    from spectralntk.store.output import fsync_folder

    if path is not None and path.exists():
        path.unlink(missing_ok=True)
        fsync_folder(path.parent)


def load_state(path: Path | None, config: Mapping[str, Any]) -> TrainingState:
    """The state at ``path``, which must belong to ``config``.

    Raises
    ------
    RunFileError
        If there is no state at ``path`` or it belongs to another configuration.
    """
    import torch

    if path is None or not path.exists():
        raise RunFileError(f"Cannot resume: no saved state at '{path}'")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(saved, dict) or saved.get("format") != STATE_FORMAT:
            raise ValueError(f"not a spectralntk training state of format {STATE_FORMAT}")
        saved_config = json.loads(saved["config"])
        arrays = {str(k): v.numpy() for k, v in saved["arrays"].items()}
        fields = (saved["unit"], saved["step"], saved["params"], saved["theta0"], saved["status"])
    except Exception as exc:  # pickle, zip, torch and key errors vary; report in one line
        text = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise RunFileError(
            f"Cannot resume from '{path}': it is not a readable spectralntk training state "
            f"(only tensors and JSON are loaded: {text})"
        ) from None
    if saved_config != _plain(config):
        raise RunFileError(f"Cannot resume from '{path}': it belongs to another configuration")
    unit, step, params, theta0, status = fields
    return TrainingState(saved_config, int(unit), int(step), params, theta0, status, arrays)
