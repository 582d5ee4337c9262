"""Benchmark: does the training progress bar's ETA tell the truth? (issue 15, item 3)

The progress of ``spectralntk.runs.training.train`` is reported in per mille of the
run's estimated work (``spectralntk.runs.cost``), so that an ETA drawn from it, as
rich's progress bar draws one (elapsed × remaining / done), holds across widths whose
steps cost very different amounts. This runs multi-width trainings, takes the ETA
when 10 % (and 25 %, 50 %) is reported and compares it with the time the run then
really took, against the naive ETA of counting steps (every width's step the same).
Target: the cost-weighted ETA within 2× of the truth after 10 %.

Run from the repository root (about a minute)::

    python benchmarks/bench_progress.py
"""

from __future__ import annotations

import os
import time
from typing import Any

import torch

from spectralntk.presets import preset_settings
from spectralntk.settings import merge_settings, training_config

#: (preset, overrides): multi-width runs whose widths differ in cost.
CASES = (
    ("exp2.3", {"width": [256, 1024, 4096, 16384], "seeds": 3, "steps": 3000}),
    ("exp2.5", {"width": [2, 10, 100, 1000, 10000], "seeds": 3, "steps": 4000}),
    ("jacot-fig2", {"width": [50, 400], "seeds": 3, "steps": 300}),
)


def main() -> None:
    from spectralntk.runs.training import train

    torch.set_num_threads(1)
    print("training progress: ETA at a share of the run vs the time it really took")
    print(f"  load average at start: {os.getloadavg()[0]:.2f}")
    for name, overrides in CASES:
        settings = merge_settings(preset_settings(name), overrides)
        cfg, _, _ = training_config(settings)
        seen: list[tuple[float, int, str]] = []

        def note(done: int, total: int, text: str, seen: list[Any] = seen) -> None:
            seen.append((time.perf_counter(), done, text))

        start = time.perf_counter()
        train(cfg, on_progress=note)
        end = time.perf_counter()
        steps_total = len(cfg.widths) * (cfg.steps + 1)
        print(
            f"  {name} widths {cfg.widths}, {len(cfg.seeds)} seeds, {cfg.steps} steps: "
            f"{end - start:.1f} s"
        )
        for share in (0.10, 0.25, 0.50):
            at = next((t, d, text) for t, d, text in seen if d >= 1000 * share)
            elapsed, done = at[0] - start, at[1]
            eta = elapsed * (1000 - done) / done
            truth = end - at[0]
            # the naive bar: steps counted alike at every width
            width_index = cfg.widths.index(int(at[2].split()[1].rstrip(":")))
            step = (
                int(at[2].split("step ")[-1].split(" of")[0].replace(",", ""))
                if " of " in at[2]
                else 0
            )
            naive_done = width_index * (cfg.steps + 1) + step + 1
            naive = elapsed * (steps_total - naive_done) / naive_done
            ok = 0.5 <= eta / truth <= 2.0 if truth > 0 else True
            verdict = (
                (", target within 2x: " + ("met" if ok else "MISSED")) if share == 0.10 else ""
            )
            print(
                f"    at {share:4.0%} ({at[2]}): ETA {eta:6.1f} s, real {truth:6.1f} s "
                f"(ratio {eta / truth:4.2f}{verdict});"
                f" step-counting ETA {naive:6.1f} s (ratio {naive / truth:5.2f})"
            )
    print(f"  load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
