"""The resumable state of an interrupted training run (``<out>.state.pt``).

A training run (:mod:`spectralntk.runs.training`) trains its (width, seed batch) units
one after another. When it is stopped, or every ``flush_seconds`` at a recorded step,
it writes what it needs to go on: which unit and step it reached, that unit's
parameters, initial parameters and divergence status, and every array recorded so
far. :func:`load_state` refuses a state written for another configuration.

The file is written atomically (a temporary file in the same folder, fsynced, then
renamed), so a kill leaves the previous state or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spectralntk.errors import RunFileError

__all__ = ["TrainingState", "load_state", "save_state"]


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
    """Write the state atomically to ``path`` (tensors are copied to the CPU)."""
    import torch

    payload = {
        "config": _plain(config),
        "unit": unit,
        "step": step,
        "params": [p.detach().cpu().clone() for p in params],
        "theta0": [p.detach().cpu().clone() for p in theta0],
        "status": status.detach().cpu().clone(),
        "arrays": dict(arrays),
    }
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(payload, tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


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
    saved = torch.load(path, weights_only=False)
    if saved["config"] != _plain(config):
        raise RunFileError(f"Cannot resume from '{path}': it belongs to another configuration")
    return TrainingState(
        saved["config"],
        saved["unit"],
        saved["step"],
        saved["params"],
        saved["theta0"],
        saved["status"],
        saved["arrays"],
    )
