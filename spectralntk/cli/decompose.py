"""``spectralntk decompose``: NNGP/NTK eigenvalues on the circle, as a table and a run file."""

from __future__ import annotations

import enum
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from spectralntk.cli._common import default_run_path, fail, user_errors
from spectralntk.config import Activation, BiasInit, NetworkConfig, Parameterization

__all__ = ["KernelKind", "decompose_cli", "spectrum_tables"]


class KernelKind(str, enum.Enum):
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
    λ_k/λ_0 and the cumulative share of the trace k(0); below it the fitted
    power-law decay of each kernel with its range.
    """
    from rich.table import Table
    from rich.text import Text

    out: list = []
    rows = _shown_frequencies(run.max_frequency, all_rows)
    for i, depth in enumerate(run.depths):
        table = Table(
            title=f"depth {depth} (L = {depth + 1} affine layers), "
            f"{run.config.activation.value}, {run.config.parameterization.value} parameterization",
            title_justify="left",
            box=None,
            pad_edge=False,
        )
        table.add_column("k", justify="right")
        table.add_column("mult", justify="right")
        for name in ("NTK", "NNGP"):
            table.add_column(f"{name} λ_k", justify="right")
            table.add_column("λ_k/λ_0", justify="right")
            table.add_column("cum. share", justify="right")
        mult = [1] + [2] * run.max_frequency
        columns = []
        for name in ("ntk", "nngp"):
            lam = getattr(run.eigenvalues, name)[i]
            columns.append((lam, lam / lam[0], run.share(name)[i]))
        for k in rows:
            cells = [str(k), str(mult[k])]
            for lam, ratio, share in columns:
                cells += [f"{lam[k]:.6e}", f"{ratio[k]:.4e}", f"{share[k]:.6f}"]
            table.add_row(*cells)
        out.append(table)
        for name, label in (("ntk", "NTK"), ("nngp", "NNGP")):
            fit = run.fits[name][i]
            trace = float(getattr(run.trace, name)[i])
            out.append(
                Text(
                    f"{label}: k(0) = {trace:.10g}; λ_k ∝ k^-p, p = {fit.exponent:.4f} "
                    f"(log-log least squares over {fit.k_min} ≤ k ≤ {fit.k_max}, "
                    f"{fit.points} eigenvalues)"
                )
            )
        out.append(Text(""))
    return out


def decompose_cli(
    kernel: Annotated[
        KernelKind, typer.Option(help="Kernel to decompose: the analytic infinite-width limit.")
    ] = KernelKind.ANALYTIC,
    depth: Annotated[
        list[int] | None,
        typer.Option(help="Number of hidden layers; repeat for several depths. [default: 4]"),
    ] = None,
    activation: Annotated[
        Activation,
        typer.Option(help="Hidden nonlinearity (relu, erf closed form; tanh, gelu by quadrature)."),
    ] = Activation.RELU,
    weight_std: Annotated[float, typer.Option(help="σ_w.")] = 1.0,
    bias_std: Annotated[float, typer.Option(help="σ_b (0: no biases).")] = 0.1,
    bias_init: Annotated[
        BiasInit, typer.Option(help="normal (Jacot) or zero (trained from 0).")
    ] = BiasInit.NORMAL,
    output_bias: Annotated[bool, typer.Option(help="Bias on the output layer.")] = True,
    parameterization: Annotated[
        Parameterization, typer.Option(help="ntk (Jacot) or standard (needs --width).")
    ] = Parameterization.NTK,
    width: Annotated[
        int | None, typer.Option(help="Hidden width (needed by --parameterization standard).")
    ] = None,
    max_frequency: Annotated[int, typer.Option(help="Largest frequency K.")] = 256,
    angles: Annotated[
        int, typer.Option(help="Points of the uniform angle grid of the stored profiles.")
    ] = 360,
    fit_range: Annotated[
        tuple[int, int] | None,
        typer.Option(help="Frequency range K_MIN K_MAX of the power-law fit. [default: K/4 K]"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output NetCDF file. [default: runs/spectrum-<time>.nc]")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace --out if it exists.")] = False,
    all_rows: Annotated[
        bool, typer.Option(help="Print every frequency, not a log-spaced selection.")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="Print only the path of the written file.")] = False,
) -> None:
    """Eigenvalues λ_k of the NNGP and NTK on the circle, per frequency k, and a run file."""
    if kernel is KernelKind.EMPIRICAL:
        raise fail(
            "Invalid value for --kernel: 'empirical' is not available yet (the empirical "
            "NTK of finite-width networks is planned in the next issue); use --kernel analytic."
        )
    from spectralntk.runs.spectrum import analytic_spectrum
    from spectralntk.store.paths import check_writable

    depths = depth or [4]
    with user_errors():
        config = NetworkConfig(
            depth=depths[0],
            activation=activation,
            weight_std=weight_std,
            bias_std=bias_std,
            bias_init=bias_init,
            output_bias=output_bias,
            parameterization=parameterization,
            width=width,
        )
        path = check_writable(
            out if out is not None else default_run_path("spectrum"), overwrite=overwrite
        )
        run = analytic_spectrum(
            config, depths, max_frequency=max_frequency, angles=angles, fit_range=fit_range
        )
        if not quiet:
            from rich.console import Console

            console = Console(width=120, highlight=False, soft_wrap=True)
            for item in spectrum_tables(run, all_rows=all_rows):
                console.print(item)
        from spectralntk.store.netcdf import save

        history = "spectralntk " + shlex.join(sys.argv[1:])
        save(run.to_dataset(history=history), path, overwrite=overwrite)
    typer.echo(str(path) if quiet else f"Wrote {path}")
