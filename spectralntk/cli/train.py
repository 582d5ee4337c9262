"""``spectralntk train``: gradient descent of MLPs, tracked mode by mode against NTK theory."""

from __future__ import annotations

import shlex
import signal
import sys
import warnings
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
from spectralntk.cli._inert import refuse_inert
from spectralntk.cli._options import (
    Activation,
    BiasInit,
    BiasStd,
    OutputBias,
    Parameterization,
    WeightStd,
)
from spectralntk.errors import check_real

__all__ = ["report_summary", "summary_tables", "train_cli"]


def report_summary(report: Any) -> list[Any]:
    """Rich renderables summarising a :class:`~spectralntk.reports.models.ConvergenceReport`.

    Every number is the report's (one source of truth with ``spectralntk report``): per
    target frequency the analytic λ_k and, per width, the share of the mode left at the
    last step, predicted (the run's (1 − cηK)^t from each seed's own initial residual) and
    measured, as medians over the seeds that did not diverge (a share above 10 reads
    "> 10 (diverges)"); then per width RelErr against the NTK predictor, kernel drift and
    whether the kernel regime holds, or the step at which every seed diverged.
    """
    from rich.text import Text

    from spectralntk.reports.render import share_text

    dead = {w.width for w in report.widths if w.diverged_seeds >= w.seeds}
    widths = [w.width for w in report.widths]
    table = plain_table(
        f"residual left at step {report.steps} per target frequency (median over the "
        "seeds that did not diverge): predicted (1 − cημ)^t / measured",
        ["k", "analytic λ_k"] + [f"n = {w}" for w in widths],
    )
    for k in sorted({r.frequency for r in report.rows}):
        rows = {r.width: r for r in report.rows if r.frequency == k}
        lam = rows[widths[0]].analytic_eigenvalue
        cells = [str(k), "—" if lam is None else f"{lam:.3e}"]
        for w in widths:
            r = rows[w]
            cells.append(
                "diverged"
                if w in dead
                else f"{share_text(r.predicted_fraction_discrete, '.3f')} / "
                f"{share_text(r.measured_fraction.median, '.3f')}"
            )
        table.add_row(*cells)
    out: list[Any] = [table]
    for w in report.widths:
        if w.width in dead:
            line = next(
                (v for v in report.verdicts if v.startswith(f"n = {w.width}: all ")),
                f"n = {w.width}: every seed diverged",
            )
            out.append(Text(line))
            continue

        def f(value: float | None) -> str:
            return "—" if value is None else f"{value:.4f}"

        out.append(
            Text(
                f"width {w.width}: RelErr vs NTK predictor at step {report.steps} "
                f"{f(w.relative_error.median)} (vs t → ∞ kernel regression "
                f"{f(w.relative_error_limit.median)}); kernel drift ‖K_T − K_0‖/‖K_0‖ "
                f"{f(w.kernel_drift.median)}; kernel regime: {w.kernel_regime}"
                + (f"; {w.diverged_seeds} seed(s) diverged (left out)" if w.diverged_seeds else "")
            )
        )
    return out


def summary_tables(run: Any) -> list[Any]:
    """:func:`report_summary` of a :class:`~spectralntk.runs.training.TrainingRun`'s report."""
    from spectralntk.reports.convergence import convergence_report

    return report_summary(convergence_report(run.to_dataset()))


def _stability(cfg: Any, *, quiet: bool, label: str = "") -> None:
    """Print η against the kernel-regime limit η_max = 2/(c·μ_max) (stderr; a warning if over)."""
    from spectralntk.dynamics.predict import stability_limit
    from spectralntk.kernels.recursion import kernel_matrix
    from spectralntk.runs.training import network_at_width, training_inputs

    x, _, _ = training_inputs(cfg)
    widest = network_at_width(cfg, cfg.widths[-1])
    mu_max = float(np.linalg.eigvalsh(kernel_matrix(widest, x).ntk)[-1])
    limit = stability_limit(mu_max, cfg.loss, cfg.points)
    if not quiet:
        typer.echo(
            f"{label}stability: η = {cfg.lr:g}, η_max = 2/(c·μ_max) = {limit:.4g} "
            f"(loss {cfg.loss}, N = {cfg.points})",
            err=True,
        )
    if cfg.lr > limit:
        typer.echo(
            f"warning: {label}η = {cfg.lr:g} exceeds the kernel-regime stability limit "
            f"{limit:.4g}; the linearized dynamics diverge and wide networks may too",
            err=True,
        )


def depth_summaries(ds: Any) -> list[Any]:
    """:func:`report_summary` of each depth of a several-depth run Dataset (pure)."""
    from rich.text import Text

    from spectralntk.reports.convergence import convergence_report
    from spectralntk.sweeps.combine import sweep_points

    out: list[Any] = []
    for point, one in sweep_points(ds):
        out.append(Text(f"depth {point['depth']}", style="bold"))
        out += report_summary(convergence_report(one))
    return out


class _StopFlag:
    """First Ctrl-C asks the run to stop at the next step boundary; a second one aborts."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def handler(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


def train_cli(
    ctx: typer.Context,
    preset: Annotated[
        str | None, typer.Option(help="Experiment of docs/experiments.md (exp2.1 … rahaman).")
    ] = None,
    quick: Annotated[
        bool, typer.Option(help="The preset's quick variant (seconds to a minute).")
    ] = False,
    config: Annotated[
        Path | None, typer.Option(help="Settings file (TOML, flat or under [train]).")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a setting: key=value (TOML value).")
    ] = None,
    depth: Annotated[
        list[int] | None,
        typer.Option(
            help="Hidden layers; repeat for several (the run gets a depth dimension). [default: 1]"
        ),
    ] = None,
    width: Annotated[
        list[int] | None, typer.Option(help="Hidden width; repeat for several. [default: 64 1024]")
    ] = None,
    seeds: Annotated[
        int | None, typer.Option(help="Networks per width (seeds 0..S-1). [default: 10]")
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(help="product, fourier-mixture or sine. [default: fourier-mixture]"),
    ] = None,
    frequency: Annotated[int | None, typer.Option(help="Frequency of --target sine.")] = None,
    frequencies: Annotated[
        list[int] | None, typer.Option(help="Mixture frequencies (repeat).")
    ] = None,
    amplitudes: Annotated[
        list[float] | None, typer.Option(help="Mixture amplitudes (repeat).")
    ] = None,
    phases: Annotated[
        list[float] | None, typer.Option(help="Mixture phases in radians (repeat).")
    ] = None,
    inputs: Annotated[
        str | None,
        typer.Option(help="grid, random (from the eval grid) or gaussian. [default: random]"),
    ] = None,
    points: Annotated[int | None, typer.Option(help="Training points N. [default: 256]")] = None,
    eval_points: Annotated[
        int | None, typer.Option(help="Evaluation grid M. [default: 720]")
    ] = None,
    label_noise: Annotated[
        float | None, typer.Option(help="Std of the label noise. [default: 0]")
    ] = None,
    loss: Annotated[
        str | None, typer.Option(help="half_mean, mean or half_sum. [default: mean]")
    ] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate η. [default: 0.01]")] = None,
    steps: Annotated[int | None, typer.Option(help="Gradient steps. [default: 1000]")] = None,
    model: Annotated[
        str | None, typer.Option(help="network, or linearized (Taylor model at θ₀).")
    ] = None,
    record_every: Annotated[
        int | None, typer.Option(help="Record every this many steps. [default: T/200]")
    ] = None,
    log_records: Annotated[
        int | None, typer.Option(help="Also record this many log-spaced steps.")
    ] = None,
    eval_every: Annotated[
        int | None, typer.Option(help="Evaluation-grid cadence in steps. [default: T/200]")
    ] = None,
    checkpoint_steps: Annotated[
        list[int] | None, typer.Option(help="Kernel snapshot steps (repeat); 0 and T always.")
    ] = None,
    max_frequency: Annotated[int | None, typer.Option(help="Residual modes k = 0..K.")] = None,
    data_seed: Annotated[int | None, typer.Option(help="Seed of inputs and label noise.")] = None,
    activation: Activation = None,
    weight_std: WeightStd = None,
    bias_std: BiasStd = None,
    bias_init: BiasInit = None,
    output_bias: OutputBias = None,
    parameterization: Parameterization = None,
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda, cuda:N, mps or auto. [default: cpu]")
    ] = None,
    dtype: Annotated[
        str | None, typer.Option(help="float32 or float64. [default: float64]")
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(help="Compute threads (torch and BLAS). [default: 1]"),
    ] = None,
    memory_budget: Annotated[float, typer.Option(help="GiB one batch of seeds may use.")] = 4.0,
    out: Annotated[
        Path | None, typer.Option(help="Output NetCDF file. [default: runs/train-<time>.nc]")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace --out if it exists.")] = False,
    resume: Annotated[bool, typer.Option(help="Continue the interrupted run of --out.")] = False,
    quiet: Annotated[bool, typer.Option(help="Print only the path of the written file.")] = False,
) -> None:
    """Train MLPs by full-batch gradient descent; track the residual per frequency vs NTK theory."""
    from spectralntk.presets import preset_settings
    from spectralntk.runs.depths import state_path
    from spectralntk.settings import (
        load_settings_file,
        merge_settings,
        parse_override,
        training_configs,
    )
    from spectralntk.store.output import hold_output
    from spectralntk.store.paths import check_writable

    given = {
        "depth": depth,
        "width": width,
        "seeds": seeds,
        "target": target,
        "frequency": frequency,
        "frequencies": frequencies,
        "amplitudes": amplitudes,
        "phases": phases,
        "inputs": inputs,
        "points": points,
        "eval_points": eval_points,
        "label_noise": label_noise,
        "loss": loss,
        "lr": lr,
        "steps": steps,
        "model": model,
        "record_every": record_every,
        "log_records": log_records,
        "eval_every": eval_every,
        "checkpoint_steps": checkpoint_steps,
        "max_frequency": max_frequency,
        "data_seed": data_seed,
        "activation": activation,
        "weight_std": weight_std,
        "bias_std": bias_std,
        "bias_init": bias_init,
        "output_bias": output_bias,
        "parameterization": parameterization,
        "device": device,
        "dtype": dtype,
        "threads": threads,
    }
    with user_errors() as cleanup:
        layers: list[dict[str, Any]] = []
        from_file = load_settings_file(config) if config is not None else {}
        name = preset or from_file.get("__preset__")
        if name is not None:
            from spectralntk.cli.presets import check_preset_kind
            from spectralntk.presets import PRESETS

            check_preset_kind(name, "train", tuple(PRESETS))
            layers.append(preset_settings(name, quick=quick))
        elif quick:
            raise fail(
                "Invalid value for --quick: it needs --preset NAME (or preset = … in --config)."
            )
        layers += [from_file, {k: v for k, v in given.items() if v is not None}]
        layers.append(dict(parse_override(text) for text in set_ or []))
        settings = merge_settings(*layers)
        refuse_inert(ctx, "train", {**settings, "quiet": quiet})
        configs, run_device, run_dtype = training_configs(settings)
        budget = int(check_real("memory_budget", memory_budget, 1e-6, 2.0**20) * 2**30)
        path = out if out is not None else default_run_path("train")
        if resume and out is None:
            raise fail("Invalid value for --resume: give the --out of the interrupted run.")
        path = check_writable(path, overwrite=overwrite or resume)
        cleanup.enter_context(hold_output(path))  # one writer; stale leftovers removed
        several = len(configs) > 1
        state = state_path(path)
        from spectralntk.nn.device import resolve_device, resolve_dtype

        resolve_device(run_device), resolve_dtype(run_dtype)  # fail before anything else
        from spectralntk.threads import set_threads

        set_threads(settings["threads"], import_torch=True)
        for cfg in configs:
            _stability(cfg, quiet=quiet, label=f"depth {cfg.network.depth}: " if several else "")
        history = "spectralntk " + shlex.join(sys.argv[1:])
        stop = _StopFlag()
        previous = signal.signal(signal.SIGINT, stop.handler)
        options: dict[str, Any] = {
            "device": run_device,
            "dtype": run_dtype,
            "should_stop": stop,
            "memory_budget": budget,
        }
        try:
            with warnings.catch_warnings():
                # a diverging seed overflows on its way to being flagged; reported below
                warnings.simplefilter("ignore", RuntimeWarning)
                if several:
                    from spectralntk.runs.depths import train_depths

                    result = with_progress(
                        lambda on_progress: train_depths(
                            configs,
                            path,
                            history=history,
                            resume=resume,
                            on_progress=on_progress,
                            **options,
                        ),
                        disable=quiet,
                    )
                else:
                    from spectralntk.runs.training import train

                    result = with_progress(
                        lambda on_progress: train(
                            configs[0],
                            state_path=state,
                            resume=resume,
                            on_progress=on_progress,
                            **options,
                        ),
                        disable=quiet,
                    )
        finally:
            signal.signal(signal.SIGINT, previous)
        if result is None:
            where = f"{path.parent}/.{path.name}.depth-*" if several else str(state)
            typer.echo(
                f"Interrupted: progress kept in {where}; continue with the same options and "
                f"--out {path} --resume",
                err=True,
            )
            raise typer.Exit(130)
        from spectralntk.store.netcdf import save

        # Saved before anything is printed: a closed stdout (| head) cannot lose the run.
        # The state (of a single depth) goes only once the file is in place; the finished
        # depths' part files after it.
        ds = result if several else result.to_dataset(history=history)
        if not quiet:
            typer.echo(f"writing {path} …", err=True)
        save(ds, path, overwrite=overwrite or resume, state=None if several else state)
        if several:
            from spectralntk.runs.depths import remove_parts

            remove_parts(path, [c.network.depth for c in configs])
        if not quiet:
            from rich.console import Console

            from spectralntk.reports.convergence import convergence_report

            console = Console(width=140, highlight=False, soft_wrap=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                summary = (
                    depth_summaries(ds)
                    if several
                    else report_summary(convergence_report(ds, path.name))
                )
            for item in summary:
                console.print(item)
    typer.echo(str(path) if quiet else f"Wrote {path}")
