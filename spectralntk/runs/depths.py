"""Training runs at several depths, kept as one run file with a ``depth`` dimension.

``spectralntk train --depth 1 --depth 2`` trains every depth in turn with the same
data, widths and seeds, and stores them with a leading ``depth`` dimension in the
layout of a one-axis sweep (:func:`spectralntk.sweeps.combine.stack_runs`), so
:func:`spectralntk.sweeps.combine.sweep_points` gives each depth's run back and the
reports handle it as they handle a sweep.

Durability. Each finished depth is saved at once, atomically, as a part file
``.<out>.depth-<d>.nc`` beside the output before its resumable state goes; ``--resume``
takes the finished parts and continues the interrupted depth from its state. The parts
are removed only after the combined file is in place.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["part_path", "remove_parts", "state_path", "train_depths"]


def part_path(out: str | os.PathLike[str], depth: int) -> Path:
    """The finished run of one depth, beside ``out`` until the combined file is written."""
    out = Path(out)
    return out.with_name(f".{out.name}.depth-{depth}.nc")


def state_path(out: str | os.PathLike[str], depth: int | None = None) -> Path:
    """The resumable state of ``out`` (of one of its depths when it has several)."""
    out = Path(out)
    return out.with_name(out.name + ("" if depth is None else f".depth-{depth}") + ".state.pt")


def remove_parts(out: str | os.PathLike[str], depths: Sequence[int]) -> None:
    """Remove the part files of ``depths`` (after the combined file is in place)."""
    for depth in depths:
        part_path(out, depth).unlink(missing_ok=True)


def train_depths(
    configs: Sequence[Any],
    out: str | os.PathLike[str],
    *,
    history: str,
    resume: bool = False,
    on_progress: Callable[[int, int, str], None] | None = None,
    **train_options: Any,
) -> Any:
    """Train one :class:`~spectralntk.runs.training.TrainingConfig` per depth; stack them.

    Parameters
    ----------
    configs : sequence of TrainingConfig
        The same run at distinct depths (from :func:`spectralntk.settings.training_configs`).
    out : path
        The combined run file the caller will write; part files and states go beside it.
    history : str
        The ``history`` attribute of every run.
    resume : bool
        Take finished depths from their part files and continue an interrupted depth.
    on_progress : callable, optional
        ``(done, total, description)`` over all depths (per mille of each depth's work).
    **train_options
        Passed to :func:`spectralntk.runs.training.train` (device, dtype, should_stop,
        memory_budget, …).

    Returns
    -------
    xarray.Dataset or None
        Dimensions (depth, width, seed, step, frequency, …); None when ``should_stop``
        stopped it (finished depths kept as parts, the current one in its state).
    """
    from spectralntk.errors import SpectralNTKError
    from spectralntk.runs.training import train
    from spectralntk.store.netcdf import load, save
    from spectralntk.sweeps.combine import stack_runs

    runs: dict[int, Any] = {}
    count = len(configs)
    for i, cfg in enumerate(configs):
        depth = cfg.network.depth
        part = part_path(out, depth)
        if resume and part.is_file():
            try:
                runs[depth] = load(part)
                continue
            except SpectralNTKError:
                part.unlink()  # damaged: this depth runs again from its state or afresh
        state = state_path(out, depth)

        def progress(done: int, total: int, what: str, i: int = i, depth: int = depth) -> None:
            if on_progress is not None:
                share = done / total if total else 0.0
                on_progress(round(1000 * (i + share)), 1000 * count, f"depth {depth}: {what}")

        run = train(
            cfg,
            state_path=state,
            resume=resume and state.exists(),
            on_progress=progress,
            **train_options,
        )
        if run is None:
            return None
        runs[depth] = run.to_dataset(history=history)
        save(runs[depth], part, overwrite=True, state=state)  # the state goes once it is in
    return stack_runs(
        "depth",
        runs,
        title=(
            f"Gradient descent of {configs[0].network.activation.value} MLPs at depths "
            + ", ".join(str(c.network.depth) for c in configs)
            + " with mode-wise residuals and NTK theory"
        ),
        history=history,
    )
