"""``spectralntk fluctuations``: NTK fluctuations and drift versus depth and width (Hanin–Nica)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from spectralntk.cli._common import (
    default_run_path,
    fail,
    plain_table,
    user_errors,
    with_progress,
)
from spectralntk.errors import check_choice, check_real, parameter_error
from spectralntk.threads import DEFAULT_THREADS, resolve_threads, set_threads

__all__ = ["fluctuations_cli", "summary_table"]

PRESET_NAMES = ("default", "hanin-nica", "quick")


def summary_table(run: Any) -> Any:
    """A rich table of a :class:`~spectralntk.runs.fluctuations.FluctuationRun` (pure).

    One row per (depth, width): β; the mean of K(x, x) over seeds and probes ± its
    standard error next to the exact finite-width mean; E[K²]/E[K]² with its bootstrap
    interval next to exp(5β) and the first-order (small-β) prediction; the mean relative
    spread of the profile K(x0, x(γ)) over seeds; the first-step relative change of
    K(x0, x0) with its interval next to (dβ/n0)exp(5β); with training, the median drift.
    """
    cfg, a = run.config, run.arrays
    columns = [
        "depth",
        "width",
        "β",
        "mean K(x,x) ± se",
        "exact E[K]",
        "E[K²]/E[K]² [CI]",
        "exp(5β)",
        "small-β",
        "profile spread",
        "ΔK/K one step [CI]",
        "(dβ/n0)e^{5β}",
    ]
    training = cfg.steps > 0
    if training:
        columns.append(f"drift at T={cfg.steps}")
    table = plain_table(
        f"NTK fluctuations: {len(cfg.seeds)} seeds × {cfg.probes} probe points, "
        f"{cfg.parameterization} parameterization, σ_w = {cfg.weight_std:.4g}, "
        f"{int(100 * cfg.confidence)}% bootstrap intervals over seeds",
        columns,
    )
    for i, depth in enumerate(cfg.depths):
        for j, width in enumerate(cfg.widths):
            exact = a["exact_ntk_diagonal_mean"][i, j]
            small = a["small_beta_log_second_moment"][i, j]
            row = [
                str(depth),
                str(width),
                f"{a['beta'][i, j]:.4f}",
                f"{a['ntk_diagonal_mean'][i, j]:.5g} ± {a['ntk_diagonal_mean_stderr'][i, j]:.2g}",
                "—" if np.isnan(exact) else f"{exact:.5g}",
                f"{a['normalized_second_moment'][i, j]:.4f} "
                f"[{a['normalized_second_moment_low'][i, j]:.4f}, "
                f"{a['normalized_second_moment_high'][i, j]:.4f}]",
                f"{a['hanin_nica_second_moment'][i, j]:.4f}",
                "—" if np.isnan(small) else f"{np.exp(small):.4f}",
                f"{np.nanmean(a['ntk_profile_relative_spread'][i, j]):.4f}",
                f"{a['first_step_relative_change'][i, j]:+.4f} "
                f"[{a['first_step_relative_change_low'][i, j]:+.4f}, "
                f"{a['first_step_relative_change_high'][i, j]:+.4f}]",
                f"{a['first_step_prediction'][i, j]:.4f}",
            ]
            if training:
                row.append(f"{np.nanmedian(a['training_kernel_drift'][i, j]):.4f}")
            table.add_row(*row)
    return table


def fluctuations_cli(
    depth: Annotated[
        list[int] | None,
        typer.Option(help="Hidden layers; repeat for several. [default: 4 8 16]"),
    ] = None,
    width: Annotated[
        list[int] | None,
        typer.Option(help="Hidden width; repeat for several. [default: 256 512 1024]"),
    ] = None,
    seeds: Annotated[
        int | None, typer.Option(help="Networks per (depth, width), seeds 0..S-1. [default: 20]")
    ] = None,
    probes: Annotated[
        int | None, typer.Option(help="Probe points 2πp/P on the circle. [default: 64]")
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            help="default (depths 4 8 16, widths 256…1024), hanin-nica (depths 4…64) or quick."
        ),
    ] = None,
    quick: Annotated[
        bool, typer.Option(help="Small sweep in seconds (depths 2 4 8, widths 32 64, 8 seeds).")
    ] = False,
    activation: Annotated[str, typer.Option(help="relu, erf, tanh or gelu.")] = "relu",
    parameterization: Annotated[
        str, typer.Option(help="standard (Hanin–Nica, the default) or ntk.")
    ] = "standard",
    weight_std: Annotated[float, typer.Option(help="σ_w (√2: He).")] = 2.0**0.5,
    bias_std: Annotated[float, typer.Option(help="σ_b (0: no biases).")] = 0.0,
    bias_init: Annotated[str, typer.Option(help="zero (trained from 0) or normal.")] = "zero",
    output_bias: Annotated[bool, typer.Option(help="Bias on the output layer.")] = False,
    first_step_size: Annotated[
        float, typer.Option(help="η·Θ(x0,x0) of the one-example step.")
    ] = 1.0,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples over seeds.")] = 1000,
    confidence: Annotated[float, typer.Option(help="Level of the bootstrap intervals.")] = 0.95,
    bootstrap_seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    steps: Annotated[
        int, typer.Option(help="Also train T steps on --target and record the drift.")
    ] = 0,
    target: Annotated[
        str, typer.Option(help="With --steps: product, fourier-mixture or sine.")
    ] = "fourier-mixture",
    frequency: Annotated[int | None, typer.Option(help="Frequency of --target sine.")] = None,
    inputs: Annotated[str, typer.Option(help="With --steps: grid, random or gaussian.")] = "random",
    points: Annotated[int, typer.Option(help="With --steps: training points N.")] = 64,
    loss: Annotated[str, typer.Option(help="With --steps: half_mean, mean or half_sum.")] = "mean",
    lr_fraction: Annotated[
        float, typer.Option(help="With --steps: η as a fraction of 2/(c·μ_max).")
    ] = 0.5,
    data_seed: Annotated[int, typer.Option(help="Seed of the training inputs.")] = 0,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N, mps or auto.")] = "cpu",
    dtype: Annotated[str, typer.Option(help="float32 or float64.")] = "float64",
    memory_budget: Annotated[float, typer.Option(help="GiB one batch of seeds may use.")] = 2.0,
    threads: Annotated[
        int, typer.Option(help="Compute threads (torch and BLAS).")
    ] = DEFAULT_THREADS,
    out: Annotated[
        Path | None,
        typer.Option(help="Output NetCDF file. [default: runs/fluctuations-<time>.nc]"),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace --out if it exists.")] = False,
    quiet: Annotated[bool, typer.Option(help="Print only the path of the written file.")] = False,
) -> None:
    """Measure NTK fluctuations at initialisation and after one step versus depth and width."""
    from spectralntk.store.paths import check_writable

    with user_errors():
        name = "quick" if quick else (preset or "default")
        if quick and preset not in (None, "quick"):
            raise fail(f"Invalid value for --quick: it excludes --preset {preset}.")
        from spectralntk.runs.fluctuations import (
            FLUCTUATION_PRESETS,
            FluctuationConfig,
            fluctuations,
        )
        from spectralntk.targets import make_target

        base = FLUCTUATION_PRESETS[check_choice("preset", name, PRESET_NAMES)]
        count = base["seeds"] if seeds is None else seeds
        if not isinstance(count, int) or count < 2:
            raise parameter_error(
                "seeds", "an int in the range [2, inf) (second moments need two networks)", count
            )
        cfg = FluctuationConfig(
            depths=tuple(depth) if depth else base["depths"],
            widths=tuple(width) if width else base["widths"],
            seeds=tuple(range(count)),
            probes=base["probes"] if probes is None else probes,
            activation=activation,
            parameterization=parameterization,
            weight_std=weight_std,
            bias_std=bias_std,
            bias_init=bias_init,
            output_bias=output_bias,
            first_step_size=first_step_size,
            bootstrap=bootstrap,
            confidence=confidence,
            bootstrap_seed=bootstrap_seed,
            steps=steps,
            target=make_target(target, frequency=frequency),
            inputs=inputs,
            points=points,
            loss=loss,
            lr_fraction=lr_fraction,
            data_seed=data_seed,
        )
        budget = int(check_real("memory_budget", memory_budget, 1e-6, 2.0**20) * 2**30)
        threads = resolve_threads(threads)
        path = check_writable(
            out if out is not None else default_run_path("fluctuations"), overwrite=overwrite
        )
        from spectralntk.nn.device import resolve_device, resolve_dtype

        resolve_device(device), resolve_dtype(dtype)  # fail before any work
        set_threads(threads, import_torch=True)
        run = with_progress(
            lambda on_progress: fluctuations(
                cfg, device=device, dtype=dtype, memory_budget=budget, on_progress=on_progress
            ),
            disable=quiet,
        )
        if not quiet:
            from rich.console import Console

            Console(width=200, highlight=False, soft_wrap=True).print(summary_table(run))
        from spectralntk.store.netcdf import save

        history = "spectralntk " + shlex.join(sys.argv[1:])
        save(run.to_dataset(history=history), path, overwrite=True)
    typer.echo(str(path) if quiet else f"Wrote {path}")
