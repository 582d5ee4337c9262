r"""Benchmark: the NTK diagonal and one row vs the full layerwise Gram (issue 6, req. 3).

What it measures (ReLU MLP, standard parameterization, He σ_w² = 2, no biases; P = 64
probe points on the circle; float64; best of 5 after a warm-up):

  (a) ours: ``ntk_diagonal`` — K(x_p, x_p) and K(x_0, x_p) from per-point norms and inner
      products with the anchor (one forward and backward pass, no P×P Gram);
  (b) the peer inside the toolkit, what one would otherwise call: ``empirical_kernel`` —
      the full P×P Gram per seed (layerwise, already Jacobian-free) and its diagonal;
  (c) the peer a PyTorch user would write: per-example gradients with
      ``torch.func.vmap(grad)`` and their squared norms (diagonal only), P×#params memory.

for depth 16, width 1024, 5 seeds (one batch of the issue's sweep). The ratios (b)/(a) and
(c)/(a) are printed, and the diagonals of the three are compared (relative difference).

Run from the repository root::

    python benchmarks/bench_ntk_diagonal.py

The timings are wall-clock on a shared 2-core machine: other jobs add noise, so best-of
figures are shown, and the load average at the start is printed.
"""

from __future__ import annotations

import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np
import torch

from benchmarks._machine import cpu_model
from spectralntk.config import NetworkConfig
from spectralntk.nn.empirical_ntk import empirical_kernel
from spectralntk.nn.mlp import init_mlp
from spectralntk.nn.ntk_diagonal import ntk_diagonal

DEPTH, WIDTH, SEEDS, PROBES, REPEATS = 16, 1024, 5, 64, 5


def best(fn, repeats: int = REPEATS) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    fn()
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.2f}; {cpu_model()}; torch {torch.__version__}")
    cfg = NetworkConfig(
        depth=DEPTH,
        parameterization="standard",
        weight_std=math.sqrt(2.0),
        bias_std=0.0,
        output_bias=False,
        width=WIDTH,
    )
    net = init_mlp(cfg, WIDTH, range(SEEDS))
    angles = 2 * np.pi * np.arange(PROBES) / PROBES
    x = torch.as_tensor(np.stack([np.cos(angles), np.sin(angles)], 1))

    with torch.no_grad():
        t_ours, ours = best(lambda: ntk_diagonal(net, x).diagonal)
        t_gram, gram = best(lambda: torch.diagonal(empirical_kernel(net, x).ntk, dim1=1, dim2=2))

    one = init_mlp(cfg, WIDTH, [0])
    params = [p[0] for p in one.parameters()]

    def f(ps, xi):  # type: ignore[no-untyped-def]
        h = xi
        for w in ps[:-1]:
            h = torch.relu(w @ h)
        return (ps[-1] @ h).sum()

    grad_fn = torch.func.vmap(torch.func.grad(f), in_dims=(None, 0))

    def per_example() -> torch.Tensor:
        gs = grad_fn(params, x)
        return sum((g.reshape(PROBES, -1) ** 2).sum(1) for g in gs)

    t_func, func = best(per_example, repeats=2)
    t_func *= SEEDS  # torch.func per seed; ours and the Gram are batched over the 5 seeds
    ours_d = ours.numpy()  # type: ignore[union-attr]
    print(f"depth {DEPTH}, width {WIDTH}, {SEEDS} seeds, {PROBES} probes, float64")
    print(f"  ours ntk_diagonal (diagonal + row): {t_ours:8.3f} s")
    print(f"  empirical_kernel (full P×P Gram):   {t_gram:8.3f} s   ratio {t_gram / t_ours:6.2f}x")
    print(f"  torch.func vmap(grad), diag only:   {t_func:8.3f} s   ratio {t_func / t_ours:6.2f}x")
    rel_gram = np.max(np.abs(gram.numpy() - ours_d) / ours_d)  # type: ignore[union-attr]
    rel_func = np.max(np.abs(func.detach().numpy() - ours_d[0]) / ours_d[0])
    print(f"  max relative difference: Gram {rel_gram:.1e}, torch.func {rel_func:.1e}")


if __name__ == "__main__":
    main()
