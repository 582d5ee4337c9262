"""``spectralntk decompose``: NNGP/NTK eigenvalues on the circle, as a table and a run file."""

from __future__ import annotations

import enum
import shlex
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from spectralntk.cli._common import default_run_path, plain_table, user_errors, with_progress
from spectralntk.cli._inert import refuse_inert
from spectralntk.cli._options import (
    Activation,
    BiasInit,
    BiasStd,
    Depths,
    OutputBias,
    Parameterization,
    WeightStd,
    architecture_settings,
)
from spectralntk.config import NetworkConfig
from spectralntk.errors import check_choice, check_real, parameter_error
from spectralntk.threads import DEFAULT_THREADS, resolve_threads, set_threads

__all__ = ["DType", "KernelKind", "decompose_cli", "empirical_tables", "spectrum_tables"]


class KernelKind(enum.StrEnum):
    """Which kernel to decompose."""

    ANALYTIC = "analytic"
    EMPIRICAL = "empirical"


#: Frequencies always shown; above them the table shows powers of two and K.
FIRST_ROWS = 16


def _shown_frequencies(k_max: int, all_rows: bool) -> list[int]:
    if all_rows:
        return list(range(k_max + 1))
    shown = set(range(min(k_max, FIRST_ROWS) + 1))
    power = 32
    while power < k_max:
        shown.add(power)
        power *= 2
    shown.add(k_max)
    return sorted(shown)


def spectrum_tables(run, *, all_rows: bool = False) -> list:  # type: ignore[no-untyped-def]
    """Rich renderables for a :class:`~spectralntk.runs.spectrum.SpectrumRun` (pure).

    One table per depth: k, multiplicity, then for the NTK and the NNGP λ_k,
    λ_k/λ_0 (λ_k/λ_max where λ_0 = 0) and the cumulative share of the trace k(0);
    eigenvalues below the run's zero tolerance show as 0. Below it the fitted
    power-law decay of each kernel with its range, or why there is none.
    """
    from rich.text import Text

    from spectralntk.spectral.decomposition import ratio_reference

    out: list = []
    rows = _shown_frequencies(run.max_frequency, all_rows)
    for i, depth in enumerate(run.depths):
        columns, heads = [], []
        for name, label in (("ntk", "NTK"), ("nngp", "NNGP")):
            lam = getattr(run.eigenvalues, name)[i]
            ref, ref_label = ratio_reference(lam, run.zero_tolerance)
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = lam / ref if ref > 0 else np.full_like(lam, np.nan)
            columns.append((lam, ratio, run.share(name)[i]))
            heads += [f"{label} λ_k", f"λ_k/{ref_label}", "cum. share"]
        table = plain_table(
            f"depth {depth} (L = {depth + 1} affine layer{'s' if depth else ''}), "
            f"{run.config.activation.value}, {run.config.parameterization.value} parameterization",
            ["k", "mult", *heads],
        )
        mult = [1] + [2] * run.max_frequency
        for k in rows:
            cells = [str(k), str(mult[k])]
            for lam, ratio, share in columns:
                if lam[k] == 0.0:  # below the zero tolerance: an exact zero, not noise
                    cells += ["0", "0", f"{share[k]:.6f}"]
                else:
                    cells += [f"{lam[k]:.6e}", f"{ratio[k]:.4e}", f"{share[k]:.6f}"]
            table.add_row(*cells)
        out.append(table)
        for name, label in (("ntk", "NTK"), ("nngp", "NNGP")):
            fit = run.fits[name][i]
            trace = float(getattr(run.trace, name)[i])
            law = (
                f"λ_k ∝ k^-p, p = {fit.exponent:.4f} ({fit.describe()})"
                if fit.fitted
                else fit.describe()
                + ("" if "≤ k ≤" in fit.reason else f" (fit range {fit.k_min} ≤ k ≤ {fit.k_max})")
            )
            out.append(Text(f"{label}: k(0) = {trace:.10g}; {law}"))
        zeros = sum(int(np.sum(getattr(run.eigenvalues, n)[i] == 0.0)) for n in ("ntk", "nngp"))
        if zeros:
            out.append(
                Text(
                    f"0 = |λ_k| ≤ {run.zero_tolerance:g}·λ_max (float64 rounding of an exact "
                    "zero); ratios are to λ_max = max_k λ_k where λ_0 = 0."
                )
            )
        out.append(Text(""))
    return out


def empirical_tables(run, *, all_rows: bool = False) -> list:  # type: ignore[no-untyped-def]
    """Rich renderables for an :class:`~spectralntk.runs.empirical.EmpiricalRun` (pure).

    Per depth: the analytic NTK λ_k and the analytic Gram eigenvalue μ_k/N on the
    same grid (what the empirical estimate converges to, aliasing included) next to
    the empirical Rayleigh quotients (mean ± sd over seeds) for every width, then
    per width the relative
    Frobenius distance of the empirical Gram matrices to the analytic ones.
    """
    from rich.text import Text

    out: list = []
    rows = _shown_frequencies(run.points // 2, all_rows)
    for i, depth in enumerate(run.depths):
        table = plain_table(
            f"depth {depth}: NTK λ_k, analytic and empirical (mean ± sd over "
            f"{len(run.seeds)} seeds, Rayleigh quotients on {run.points} points)",
            ["k", "analytic λ_k", "grid μ_k/N"] + [f"n = {w}" for w in run.widths],
        )
        lam = run.analytic_eigenvalues.ntk[i]
        grid = run.analytic_grid_eigenvalues.ntk[i]
        emp = run.rayleigh.ntk[i]  # (W, S, F)
        mean = emp.mean(axis=1)
        sd = emp.std(axis=1, ddof=1) if emp.shape[1] > 1 else np.zeros_like(mean)
        for k in rows:
            cells = [str(k), f"{lam[k]:.4e}", f"{grid[k]:.4e}"]
            cells += [f"{mean[j, k]:.4e} ± {sd[j, k]:.1e}" for j in range(len(run.widths))]
            table.add_row(*cells)
        out.append(table)
        top = min(16, run.points // 2)
        for j, width in enumerate(run.widths):
            parts = []
            for name, label in (("ntk", "NTK"), ("nngp", "NNGP")):
                parts.append(f"{label} {_mean_sd(getattr(run.distance, name)[i, j], '.4f')}")
            out.append(
                Text(f"width {width}: ‖K − K_analytic‖_F/‖K_analytic‖_F = " + ", ".join(parts))
            )
            leak = run.leakage.ntk[i, j, :, 1 : top + 1].mean(axis=-1)
            largest = run.eigenvalues.ntk[i, j, :, 0]
            out.append(
                Text(
                    f"  NTK largest eigenvalue of K/N {_mean_sd(largest, '.4e')}; "
                    f"energy leaking out of modes 1 ≤ k ≤ {top} {_mean_sd(leak, '.2%')}"
                )
            )
        out.append(Text(""))
    return out


def _choices(kind: type[enum.Enum]) -> tuple[str, ...]:
    return tuple(member.value for member in kind)


def _mean_sd(values, spec: str) -> str:  # type: ignore[no-untyped-def]
    """ "mean ± sd" over seeds (sd with ddof 1; 0 for one seed)."""
    sd = values.std(ddof=1) if values.size > 1 else 0.0
    return f"{values.mean():{spec}} ± {sd:{spec}}"


class DType(enum.StrEnum):
    """Floating precision of the finite networks."""

    FLOAT32 = "float32"
    FLOAT64 = "float64"


def decompose_cli(
    ctx: typer.Context,
    kernel: Annotated[
        str,
        typer.Option(help="analytic (the infinite-width limit) or empirical (finite networks)."),
    ] = "analytic",
    depth: Depths = None,
    activation: Activation = None,
    weight_std: WeightStd = None,
    bias_std: BiasStd = None,
    bias_init: BiasInit = None,
    output_bias: OutputBias = None,
    parameterization: Parameterization = None,
    width: Annotated[
        list[int] | None,
        typer.Option(
            help="Hidden width: repeat for several (empirical); one value for the analytic "
            "NTK of --parameterization standard."
        ),
    ] = None,
    seeds: Annotated[int, typer.Option(help="Empirical: networks per width (seeds 0..S-1).")] = 10,
    points: Annotated[int, typer.Option(help="Empirical: points of the circle grid.")] = 256,
    device: Annotated[str, typer.Option(help="Empirical: cpu, cuda, cuda:N, mps or auto.")] = "cpu",
    dtype: Annotated[str, typer.Option(help="Empirical: float32 or float64.")] = "float64",
    memory_budget: Annotated[
        float, typer.Option(help="GiB the run (empirical: one batch of seeds) may use.")
    ] = 1.0,
    threads: Annotated[
        int, typer.Option(help="Compute threads (torch and BLAS).")
    ] = DEFAULT_THREADS,
    max_frequency: Annotated[int, typer.Option(help="Analytic: largest frequency K.")] = 256,
    angles: Annotated[
        int, typer.Option(help="Analytic: points of the angle grid of the stored profiles.")
    ] = 360,
    fit_range: Annotated[
        tuple[int, int] | None,
        typer.Option(
            help="Analytic: frequency range K_MIN K_MAX of the power-law fit. [default: K/4 K]"
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output NetCDF file. [default: runs/<kind>-<time>.nc]")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace --out if it exists.")] = False,
    all_rows: Annotated[
        bool, typer.Option(help="Print every frequency, not a log-spaced selection.")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="Print only the path of the written file.")] = False,
) -> None:
    """Eigenvalues λ_k of the NNGP and NTK on the circle, per frequency k, and a run file."""
    from spectralntk.store.output import hold_output
    from spectralntk.store.paths import check_writable

    depths = depth or [4]
    widths = width or []
    with user_errors() as cleanup:
        analytic = check_choice("kernel", kernel, _choices(KernelKind)) == "analytic"
        precision = check_choice("dtype", dtype, _choices(DType))
        if analytic and len(widths) > 1:
            raise parameter_error("width", "a single width for --kernel analytic", widths)
        if not analytic and not widths:
            raise parameter_error(
                "width", "given at least once for --kernel empirical (e.g. --width 500)", None
            )
        budget = check_real("memory_budget", memory_budget, 1e-6, 2.0**20)
        threads = resolve_threads(threads)
        arch = architecture_settings(
            {
                "activation": activation,
                "weight_std": weight_std,
                "bias_std": bias_std,
                "bias_init": bias_init,
                "output_bias": output_bias,
                "parameterization": parameterization,
            }
        )
        refuse_inert(ctx, "decompose", {**ctx.params, **arch})
        arch.update(depth=depths[0], width=widths[0] if widths else None)
        config = NetworkConfig.from_dict(arch)
        stem = "spectrum" if analytic else "empirical-spectrum"
        path = check_writable(
            out if out is not None else default_run_path(stem), overwrite=overwrite
        )
        cleanup.enter_context(hold_output(path))  # one writer; stale leftovers removed
        from rich.console import Console

        console = Console(width=120, highlight=False, soft_wrap=True)
        set_threads(threads, import_torch=not analytic)  # the analytic kernels need no torch
        if analytic:
            from spectralntk.runs.spectrum import analytic_spectrum

            run = analytic_spectrum(
                config,
                depths,
                max_frequency=max_frequency,
                angles=angles,
                fit_range=fit_range,
                memory_budget=int(budget * 2**30),
            )
            tables = spectrum_tables(run, all_rows=all_rows)
        else:
            from spectralntk.runs.empirical import empirical_spectrum

            run = with_progress(
                lambda on_progress: empirical_spectrum(
                    config,
                    widths,
                    seeds,
                    depths=depths,
                    points=points,
                    dtype=precision,
                    device=device,
                    memory_budget=int(budget * 2**30),
                    on_progress=on_progress,
                ),
                disable=quiet,
            )
            tables = empirical_tables(run, all_rows=all_rows)
        from spectralntk.store.netcdf import save

        history = "spectralntk " + shlex.join(sys.argv[1:])
        save(run.to_dataset(history=history), path, overwrite=overwrite)  # before printing
        if not quiet:
            for item in tables:
                console.print(item)
    typer.echo(str(path) if quiet else f"Wrote {path}")
