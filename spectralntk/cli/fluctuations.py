"""``spectralntk fluctuations``: NTK fluctuations and drift versus depth and width (Hanin–Nica)."""

from __future__ import annotations

import math
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from spectralntk.cli._common import (
    default_run_path,
    fail,
    plain_table,
    user_errors,
    with_progress,
)
from spectralntk.cli._inert import refuse_inert
from spectralntk.cli._options import Activation, architecture_settings
from spectralntk.errors import check_choice, check_real, parameter_error
from spectralntk.limits import MAX_SEEDS
from spectralntk.threads import DEFAULT_THREADS, resolve_threads, set_threads

__all__ = ["fluctuations_cli", "report_table", "summary_table"]

PRESET_NAMES = ("default", "hanin-nica", "quick")


def summary_table(run: Any) -> Any:
    """A rich table of a :class:`~spectralntk.runs.fluctuations.FluctuationRun` (pure).

    The numbers are the run's fluctuation report's
    (:func:`spectralntk.reports.fluctuation.fluctuation_report`, one source of truth with
    ``spectralntk report``); see :func:`report_table`.
    """
    from spectralntk.reports.fluctuation import fluctuation_report

    return report_table(fluctuation_report(run.to_dataset()), run.config)


def report_table(report: Any, cfg: Any) -> Any:
    """A rich table of a :class:`~spectralntk.reports.models.FluctuationReport`.

    One row per (depth, width): β; the mean of K(x, x) over seeds and probes ± its
    standard error next to the exact finite-width mean; E[K²]/E[K]² with its bootstrap
    interval next to exp(5β) and the first-order (small-β) prediction; the relative
    spread of the profile K(x0, x(γ)) over seeds (median over angles); the first-step
    relative change of K(x0, x0) with its interval next to (dβ/n0)exp(5β); with
    training, the median drift. ``cfg`` (the run's configuration) gives the title only.
    """

    def g(value: float | None, spec: str) -> str:
        return "—" if value is None else format(value, spec)

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
    training = report.steps > 0
    if training:
        columns.append(f"drift at T={report.steps}")
    table = plain_table(
        f"NTK fluctuations: {len(cfg.seeds)} seeds × {cfg.probes} probe points, "
        f"{cfg.parameterization} parameterization, σ_w = {cfg.weight_std:.4g}, "
        f"{int(100 * cfg.confidence)}% bootstrap intervals over seeds",
        columns,
    )
    for c in report.cells:
        small = c.small_beta_log_ratio
        row = [
            str(c.depth),
            str(c.width),
            f"{c.beta:.4f}",
            f"{g(c.ntk_diagonal_mean, '.5g')} ± {g(c.ntk_diagonal_mean_stderr, '.2g')}",
            g(c.exact_ntk_diagonal_mean, ".5g"),
            f"{g(c.ratio, '.4f')} [{g(c.ratio_low, '.4f')}, {g(c.ratio_high, '.4f')}]",
            g(c.exp_5beta, ".4f"),
            "—" if small is None else f"{math.exp(small):.4f}",
            g(c.profile_spread, ".4f"),
            f"{g(c.first_step_change, '+.4f')} [{g(c.first_step_change_low, '+.4f')}, "
            f"{g(c.first_step_change_high, '+.4f')}]",
            g(c.first_step_prediction, ".4f"),
        ]
        if training:
            row.append("—" if c.drift is None else g(c.drift.median, ".4f"))
        table.add_row(*row)
    return table


def fluctuations_cli(
    ctx: typer.Context,
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
            help="default (depths 4 8 16, widths 256…1024), hanin-nica (depths 4…64) or quick; "
            "each measures Hanin & Nica's network (standard, He, no biases)."
        ),
    ] = None,
    quick: Annotated[
        bool, typer.Option(help="Small sweep in seconds (depths 2 4 8, widths 32 64, 8 seeds).")
    ] = False,
    activation: Activation = None,
    parameterization: Annotated[
        str | None,
        typer.Option(
            help="ntk (Jacot) or standard (W ~ N(0, σ_w²/n)). [default: the preset's: standard]"
        ),
    ] = None,
    weight_std: Annotated[
        float | None, typer.Option(help="σ_w. [default: the preset's: √2, He]")
    ] = None,
    bias_std: Annotated[
        float | None, typer.Option(help="σ_b (0: no biases). [default: the preset's: 0]")
    ] = None,
    bias_init: Annotated[
        str | None,
        typer.Option(
            help="normal (Jacot) or zero (trained from 0); with --bias-std > 0. "
            "[default: the preset's: zero]"
        ),
    ] = None,
    output_bias: Annotated[
        bool | None,
        typer.Option(
            "--output-bias/--no-output-bias",
            help="Bias on the output layer; with --bias-std > 0. [default: the preset's: no]",
            show_default=False,
        ),
    ] = None,
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
    from spectralntk.store.output import hold_output
    from spectralntk.store.paths import check_writable

    with user_errors() as cleanup:
        name = "quick" if quick else (preset or "default")
        if quick and preset not in (None, "quick"):
            raise fail(f"Invalid value for --quick: it excludes --preset {preset}.")
        from spectralntk.cli.presets import check_preset_kind
        from spectralntk.runs.fluctuations import (
            FLUCTUATION_PRESETS,
            FluctuationConfig,
            fluctuations,
        )
        from spectralntk.targets import make_target

        check_preset_kind(preset, "fluctuations", PRESET_NAMES)
        base = FLUCTUATION_PRESETS[check_choice("preset", name, PRESET_NAMES)]
        arch = architecture_settings(
            base,
            {
                "activation": activation,
                "parameterization": parameterization,
                "weight_std": weight_std,
                "bias_std": bias_std,
                "bias_init": bias_init,
                "output_bias": output_bias,
            },
        )
        refuse_inert(ctx, "fluctuations", {**ctx.params, **arch})
        count = base["seeds"] if seeds is None else seeds
        if isinstance(count, int) and count > MAX_SEEDS:  # before range(count) is built
            raise parameter_error("seeds", f"an int in the range [2, {MAX_SEEDS}]", count)
        if not isinstance(count, int) or count < 2:
            raise parameter_error(
                "seeds", "an int in the range [2, inf) (second moments need two networks)", count
            )
        cfg = FluctuationConfig(
            depths=tuple(depth) if depth else base["depths"],
            widths=tuple(width) if width else base["widths"],
            seeds=tuple(range(count)),
            probes=base["probes"] if probes is None else probes,
            **arch,
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
        cleanup.enter_context(hold_output(path))  # one writer; stale leftovers removed
        from spectralntk.nn.device import resolve_device, resolve_dtype

        resolve_device(device), resolve_dtype(dtype)  # fail before any work
        set_threads(threads, import_torch=True)
        run = with_progress(
            lambda on_progress: fluctuations(
                cfg, device=device, dtype=dtype, memory_budget=budget, on_progress=on_progress
            ),
            disable=quiet,
        )
        from spectralntk.store.netcdf import save

        history = "spectralntk " + shlex.join(sys.argv[1:])
        save(run.to_dataset(history=history), path, overwrite=overwrite)  # before printing
        if not quiet:
            from rich.console import Console

            Console(width=200, highlight=False, soft_wrap=True).print(summary_table(run))
    typer.echo(str(path) if quiet else f"Wrote {path}")
