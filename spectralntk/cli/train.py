"""``spectralntk train``: gradient descent of MLPs, tracked mode by mode against NTK theory."""

from __future__ import annotations

import shlex
import signal
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
from spectralntk.errors import check_real

__all__ = ["summary_tables", "train_cli"]


def summary_tables(run: Any) -> list[Any]:
    """Rich renderables summarising a :class:`~spectralntk.runs.training.TrainingRun` (pure).

    For each target frequency: μ_k/N of the analytic Gram on the training points
    (the eigenvalue that carries the mode; grid inputs) or the analytic λ_k, and per
    width the residual fraction of that mode left at the last step, predicted
    (discrete (1 − cημ)^t from each seed's own initial residual) and measured,
    as medians over seeds; then RelErr against the NTK predictor and kernel drift.
    """
    from rich.text import Text

    from spectralntk.spectral.decomposition import circle_spectrum

    cfg = run.config
    arrays = run.arrays
    freqs = [k for k in cfg.target.frequencies if k <= cfg.k_max]
    lam = circle_spectrum(cfg.network.replace(width=cfg.widths[0]), max(freqs, default=0))
    table = plain_table(
        f"residual left at step {cfg.steps} per target frequency (median over "
        f"{len(cfg.seeds)} seeds): predicted (1 − cημ)^t / measured",
        ["k", "analytic λ_k"] + [f"n = {w}" for w in cfg.widths],
    )

    def amplitude(prefix: str) -> Any:
        return np.hypot(arrays[f"{prefix}_cos"], arrays[f"{prefix}_sin"])  # (W, S, T, F)

    measured, predicted = amplitude("residual"), amplitude("predicted_residual")
    with np.errstate(invalid="ignore", divide="ignore"):
        m_frac = measured[..., -1, :] / measured[..., 0, :]
        p_frac = predicted[..., -1, :] / predicted[..., 0, :]
    for k in freqs:
        cells = [str(k), f"{lam.eigenvalues.ntk[k]:.3e}"]
        for j in range(len(cfg.widths)):
            cells.append(
                f"{np.nanmedian(p_frac[j, :, k]):.3f} / {np.nanmedian(m_frac[j, :, k]):.3f}"
            )
        table.add_row(*cells)
    out: list[Any] = [table]
    for j, width in enumerate(cfg.widths):
        rel = arrays["relative_error"][j, :, -1]
        lim = arrays["relative_error_limit"][j, :, -1]
        drift = arrays["kernel_drift"][j, :, -1]
        diverged = int((arrays["diverged_step"][j] >= 0).sum())
        out.append(
            Text(
                f"width {width}: RelErr vs NTK predictor at step {cfg.steps} "
                f"{np.nanmedian(rel):.4f} (vs t → ∞ kernel regression {np.nanmedian(lim):.4f}); "
                f"kernel drift ‖K_T − K_0‖/‖K_0‖ {np.nanmedian(drift):.4f}"
                + (f"; {diverged} seed(s) diverged" if diverged else "")
            )
        )
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
    preset: Annotated[
        str | None, typer.Option(help="Experiment of EXPERIMENTS.md (exp2.1 … rahaman).")
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
    depth: Annotated[int | None, typer.Option(help="Hidden layers. [default: 1]")] = None,
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
    activation: Annotated[str | None, typer.Option(help="relu, erf, tanh, gelu.")] = None,
    weight_std: Annotated[float | None, typer.Option(help="σ_w.")] = None,
    bias_std: Annotated[float | None, typer.Option(help="σ_b (0: no biases).")] = None,
    bias_init: Annotated[str | None, typer.Option(help="normal or zero.")] = None,
    output_bias: Annotated[
        bool | None,
        typer.Option(
            "--output-bias/--no-output-bias", help="Bias on the output layer. [default: no]"
        ),
    ] = None,
    parameterization: Annotated[str | None, typer.Option(help="ntk or standard.")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N, mps or auto.")] = None,
    dtype: Annotated[str | None, typer.Option(help="float32 or float64.")] = None,
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
    from spectralntk.settings import (
        load_settings_file,
        merge_settings,
        parse_override,
        training_config,
    )
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
    with user_errors():
        layers: list[dict[str, Any]] = []
        from_file = load_settings_file(config) if config is not None else {}
        name = preset or from_file.get("__preset__")
        if name is not None:
            layers.append(preset_settings(name, quick=quick))
        elif quick:
            raise fail(
                "Invalid value for --quick: it needs --preset NAME (or preset = … in --config)."
            )
        layers += [from_file, {k: v for k, v in given.items() if v is not None}]
        layers.append(dict(parse_override(text) for text in set_ or []))
        settings = merge_settings(*layers)
        cfg, run_device, run_dtype = training_config(settings)
        budget = int(check_real("memory_budget", memory_budget, 1e-6, 2.0**20) * 2**30)
        path = out if out is not None else default_run_path("train")
        if resume and out is None:
            raise fail("Invalid value for --resume: give the --out of the interrupted run.")
        path = check_writable(path, overwrite=overwrite or resume)
        state = path.with_name(path.name + ".state.pt")
        from spectralntk.nn.device import resolve_device, resolve_dtype

        resolve_device(run_device), resolve_dtype(run_dtype)  # fail before anything else
        from spectralntk.threads import set_threads

        set_threads(settings["threads"], import_torch=True)
        from spectralntk.dynamics.predict import stability_limit
        from spectralntk.kernels.recursion import kernel_matrix
        from spectralntk.runs.training import network_at_width, train, training_inputs

        # Stability before training: η_max = 2/(c·μ_max) of the analytic NTK.
        x, _, _ = training_inputs(cfg)
        widest = network_at_width(cfg, cfg.widths[-1])
        mu_max = float(np.linalg.eigvalsh(kernel_matrix(widest, x).ntk)[-1])
        limit = stability_limit(mu_max, cfg.loss, cfg.points)
        typer.echo(
            f"stability: η = {cfg.lr:g}, η_max = 2/(c·μ_max) = {limit:.4g} "
            f"(loss {cfg.loss}, N = {cfg.points})",
            err=True,
        )
        if cfg.lr > limit:
            typer.echo(
                f"warning: η = {cfg.lr:g} exceeds the kernel-regime stability limit {limit:.4g}; "
                "the linearized dynamics diverge and wide networks may too",
                err=True,
            )
        stop = _StopFlag()
        previous = signal.signal(signal.SIGINT, stop.handler)
        try:
            run = with_progress(
                lambda on_progress: train(
                    cfg,
                    device=run_device,
                    dtype=run_dtype,
                    state_path=state,
                    resume=resume,
                    should_stop=stop,
                    on_progress=on_progress,
                    memory_budget=budget,
                ),
                disable=quiet,
            )
        finally:
            signal.signal(signal.SIGINT, previous)
        if run is None:
            typer.echo(
                f"Interrupted: progress kept in {state}; continue with the same options and "
                f"--out {path} --resume",
                err=True,
            )
            raise typer.Exit(130)
        if not quiet:
            from rich.console import Console

            console = Console(width=140, highlight=False, soft_wrap=True)
            for item in summary_tables(run):
                console.print(item)
        from spectralntk.store.netcdf import save

        history = "spectralntk " + shlex.join(sys.argv[1:])
        if not quiet:
            typer.echo(f"writing {path} …", err=True)
        save(run.to_dataset(history=history), path, overwrite=True)
    typer.echo(str(path) if quiet else f"Wrote {path}")
