"""Wall time of every quick preset (measured) and of every full preset (estimated).

Run ``python benchmarks/preset_times.py [NAME ...]`` (a few minutes). For each preset of
:mod:`spectralntk.presets`:

- quick: the whole ``spectralntk train --preset NAME --quick`` pipeline is timed
  in-process (``train`` + dataset; the NetCDF write is left out);
- full: for each width, the seconds per gradient step of its seed batch are
  measured over a short stretch of plain training (no recording) and multiplied by
  the preset's step count; the measured cost of one checkpoint (empirical NTK on
  the training points) is added per checkpoint, and the measured cost of a pass over
  the evaluation grid per evaluation step. This leaves out the theory (seconds) and
  the per-step recording (a few percent).

Timings come from a shared 2-core machine; expect ±20 %.
"""

from __future__ import annotations

import time

import torch

from spectralntk.nn.empirical_ntk import empirical_kernel
from spectralntk.nn.mlp import init_mlp
from spectralntk.nn.training import evaluation_outputs, gradient_descent
from spectralntk.presets import PRESETS, preset_settings
from spectralntk.runs.training import (
    DEFAULT_MEMORY_BUDGET,
    _seeds_per_batch,
    network_at_width,
    train,
    training_inputs,
)
from spectralntk.settings import merge_settings, training_config


def seconds_per_step(cfg, width: int, budget: float = 2.0) -> float:  # type: ignore[no-untyped-def]
    """Seconds per step of the seed batch: 3 warm-up steps, then steps for ~``budget`` s."""
    x, _, y = training_inputs(cfg)
    net_cfg = network_at_width(cfg, width)
    batch = _seeds_per_batch(cfg, width, 8, DEFAULT_MEMORY_BUDGET)
    batches = -(-len(cfg.seeds) // batch)
    net = init_mlp(net_cfg, width, cfg.seeds[:batch])
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    start = time.perf_counter()
    gradient_descent(net, xt, yt, lr=cfg.lr * 1e-6, steps=3, loss=cfg.loss)  # warm-up
    guess = (time.perf_counter() - start) / 3
    probe = max(3, min(500, int(budget / max(guess, 1e-6))))
    start = time.perf_counter()
    gradient_descent(net, xt, yt, lr=cfg.lr * 1e-6, steps=probe, loss=cfg.loss)
    return batches * (time.perf_counter() - start) / probe


def checkpoint_seconds(cfg, width: int) -> float:  # type: ignore[no-untyped-def]
    x, _, _ = training_inputs(cfg)
    net_cfg = network_at_width(cfg, width)
    batch = _seeds_per_batch(cfg, width, 8, DEFAULT_MEMORY_BUDGET)
    net = init_mlp(net_cfg, width, cfg.seeds[:batch])
    start = time.perf_counter()
    with torch.no_grad():
        empirical_kernel(net, torch.as_tensor(x))
    return -(-len(cfg.seeds) // batch) * (time.perf_counter() - start)


def eval_seconds(cfg, width: int) -> float:  # type: ignore[no-untyped-def]
    """Seconds of one pass over the evaluation grid for all seeds, as ``train`` makes it."""
    import numpy as np

    net_cfg = network_at_width(cfg, width)
    batch = _seeds_per_batch(cfg, width, 8, DEFAULT_MEMORY_BUDGET)
    net = init_mlp(net_cfg, width, cfg.seeds[:batch])
    gamma = 2.0 * np.pi * np.arange(cfg.eval_points) / cfg.eval_points
    xe = torch.as_tensor(np.stack([np.cos(gamma), np.sin(gamma)], axis=1))
    evaluation_outputs(net, net.parameters(), xe)  # warm-up
    start = time.perf_counter()
    evaluation_outputs(net, net.parameters(), xe)
    return -(-len(cfg.seeds) // batch) * (time.perf_counter() - start)


def eval_count(cfg) -> int:  # type: ignore[no-untyped-def]
    """How many recorded steps pass over the evaluation grid (as ``train`` chooses them)."""
    every = cfg.eval_every or max(1, cfg.steps // 200)
    return len({t for t in cfg.record_steps() if t % every == 0} | set(cfg.checkpoints))


def main(names: list[str]) -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| preset | quick: measured | full: estimated | full run |")
    print("|---|---|---|---|")
    for name in names or list(PRESETS):
        quick_cfg, _, _ = training_config(merge_settings(preset_settings(name, quick=True)))
        start = time.perf_counter()
        train(quick_cfg).to_dataset()
        quick = time.perf_counter() - start
        full_cfg, _, _ = training_config(merge_settings(preset_settings(name)))
        total = 0.0
        for width in full_cfg.widths:
            total += seconds_per_step(full_cfg, width) * full_cfg.steps
            total += checkpoint_seconds(full_cfg, width) * len(full_cfg.checkpoints)
            total += eval_seconds(full_cfg, width) * eval_count(full_cfg)
        what = (
            f"{len(full_cfg.widths)} widths × {len(full_cfg.seeds)} seeds × {full_cfg.steps} steps"
        )
        print(f"| {name} | {quick:.0f} s | {_human(total)} | {what} |", flush=True)


def _human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
