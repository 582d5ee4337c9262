"""``spectralntk decompose``: NNGP/NTK eigenvalues on the circle, as a table and a run file."""

from __future__ import annotations

import enum
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

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

__all__ = [
    "DType",
    "KernelKind",
    "decompose_cli",
    "empirical_tables",
    "report_tables",
    "spectrum_tables",
]


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


def report_tables(report: Any, *, all_rows: bool = False) -> list[Any]:
    """Rich renderables of a :class:`~spectralntk.reports.models.SpectrumReport` (pure).

    Every number is the report's (one source of truth with ``spectralntk report``):
    :func:`spectrum_tables` for an analytic run, :func:`empirical_tables` for an
    empirical one.
    """
    return (empirical_tables if report.empirical else spectrum_tables)(report, all_rows=all_rows)


def _kernel(report: Any, depth: int, kernel: str) -> Any:
    return next(k for k in report.kernels if k.depth == depth and k.kernel == kernel)


def _depths(report: Any) -> list[int]:
    return list(dict.fromkeys(k.depth for k in report.kernels))


def _e(value: float | None, spec: str) -> str:
    return "—" if value is None else f"{value:{spec}}"


def _ratio_label(spectrum: Any) -> str:
    return "λ_k/λ_0" if spectrum.ratio_reference == "lambda_0" else "λ_k/λ_max"


def spectrum_tables(report: Any, *, all_rows: bool = False) -> list[Any]:
    """Rich renderables of an analytic :class:`~spectralntk.reports.models.SpectrumReport`.

    One table per depth: k, multiplicity, then for the NTK and the NNGP λ_k,
    λ_k/λ_0 (λ_k/λ_max where λ_0 = 0) and the cumulative share of the trace k(0);
    eigenvalues below the report's zero tolerance show as 0. Below it the fitted
    power-law decay of each kernel with its range, or why there is none.
    """
    from rich.text import Text

    network = report.provenance.config.get("network", {})
    out: list[Any] = []
    for depth in _depths(report):
        pair = [_kernel(report, depth, name) for name in ("ntk", "nngp")]
        heads = []
        for spectrum, label in zip(pair, ("NTK", "NNGP"), strict=True):
            heads += [f"{label} λ_k", _ratio_label(spectrum), "cum. share"]
        table = plain_table(
            f"depth {depth} (L = {depth + 1} affine layer{'s' if depth else ''}), "
            f"{network.get('activation', '?')}, "
            f"{network.get('parameterization', '?')} parameterization",
            ["k", "mult", *heads],
        )
        frequencies = pair[0].frequencies
        for i in _shown_rows(frequencies, all_rows):
            k = frequencies[i]
            cells = [str(k), "1" if k == 0 else "2"]
            for spectrum in pair:
                lam = spectrum.eigenvalues[i]
                share = _e(spectrum.cumulative_share[i], ".6f")
                if lam == 0.0:  # below the zero tolerance: an exact zero, not noise
                    cells += ["0", "0", share]
                else:
                    cells += [_e(lam, ".6e"), _e(spectrum.ratios[i], ".4e"), share]
            table.add_row(*cells)
        out.append(table)
        for spectrum, label in zip(pair, ("NTK", "NNGP"), strict=True):
            how = spectrum.decay_fit or ""
            lo, hi = spectrum.fit_range
            if spectrum.decay_exponent is not None:
                law = f"λ_k ∝ k^-p, p = {spectrum.decay_exponent:.4f} ({how})"
            else:
                law = how + ("" if "≤ k ≤" in how else f" (fit range {lo} ≤ k ≤ {hi})")
            out.append(Text(f"{label}: k(0) = {_e(spectrum.trace, '.10g')}; {law}"))
        if any(lam == 0.0 for spectrum in pair for lam in spectrum.eigenvalues):
            out.append(
                Text(
                    f"0 = |λ_k| ≤ {report.zero_tolerance:g}·λ_max (float64 rounding of an exact "
                    "zero); ratios are to λ_max = max_k λ_k where λ_0 = 0."
                )
            )
        out.append(Text(""))
    return out


def empirical_tables(report: Any, *, all_rows: bool = False) -> list[Any]:
    """Rich renderables of an empirical :class:`~spectralntk.reports.models.SpectrumReport`.

    Per depth: the analytic NTK λ_k and the analytic Gram eigenvalue μ_k/N on the
    same grid (what the empirical estimate converges to, aliasing included) next to
    the empirical Rayleigh quotients (mean ± sd over seeds) for every width, then per
    width and kernel the relative Frobenius distance of the empirical Gram matrices to
    the analytic ones, the largest eigenvalue of K/N and the energy leaked out of the
    low frequencies (median and interquartile range over seeds, as in the report).
    """
    from rich.text import Text

    from spectralntk.reports.spectrum import LOW_FREQUENCIES

    out: list[Any] = []
    for depth in _depths(report):
        ntk = _kernel(report, depth, "ntk")
        rows = {(w.width, w.kernel): w for w in report.widths if w.depth == depth}
        widths = list(dict.fromkeys(w for w, _ in rows))
        seeds = max((w.seeds for w in rows.values()), default=0)
        grid = ntk.grid_eigenvalues or [None] * len(ntk.frequencies)
        table = plain_table(
            f"depth {depth}: NTK λ_k, analytic and empirical (mean ± sd over {seeds} "
            f"seeds, Rayleigh quotients on {2 * ntk.frequencies[-1]} points)",
            ["k", "analytic λ_k", "grid μ_k/N"] + [f"n = {w}" for w in widths],
        )
        for i in _shown_rows(ntk.frequencies, all_rows):
            cells = [str(ntk.frequencies[i]), _e(ntk.eigenvalues[i], ".4e"), _e(grid[i], ".4e")]
            for w in widths:
                row = rows[w, "ntk"]
                cells.append(f"{_e(row.rayleigh_mean[i], '.4e')} ± {_e(row.rayleigh_sd[i], '.1e')}")
            table.add_row(*cells)
        out.append(table)
        out.append(Text("median [interquartile range] over seeds:"))
        for w in widths:
            parts = [
                f"{label} {_stat(rows[w, name].relative_distance, '.4f')}"
                for name, label in (("ntk", "NTK"), ("nngp", "NNGP"))
            ]
            out.append(Text(f"width {w}: ‖K − K_analytic‖_F/‖K_analytic‖_F = " + ", ".join(parts)))
            row = rows[w, "ntk"]
            largest = (
                "—" if row.largest_eigenvalue is None else _stat(row.largest_eigenvalue, ".4e")
            )
            out.append(
                Text(
                    f"  NTK largest eigenvalue of K/N {largest}; energy leaking out of its "
                    f"frequency (median over k ≤ {LOW_FREQUENCIES}) {_stat(row.leakage, '.2%')}"
                )
            )
        out.append(Text(""))
    return out


def _shown_rows(frequencies: list[int], all_rows: bool) -> list[int]:
    """Indices into ``frequencies`` of the rows :func:`_shown_frequencies` picks."""
    shown = set(_shown_frequencies(frequencies[-1], all_rows)) if frequencies else set()
    return [i for i, k in enumerate(frequencies) if k in shown]


def _choices(kind: type[enum.Enum]) -> tuple[str, ...]:
    return tuple(member.value for member in kind)


def _stat(stat: Any, spec: str) -> str:
    """ "median [q25, q75]" of a :class:`~spectralntk.reports.models.Stat`."""
    return f"{_e(stat.median, spec)} [{_e(stat.q25, spec)}, {_e(stat.q75, spec)}]"


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
        from spectralntk.reports.spectrum import spectrum_report
        from spectralntk.store.netcdf import save

        history = "spectralntk " + shlex.join(sys.argv[1:])
        dataset = run.to_dataset(history=history)
        save(dataset, path, overwrite=overwrite)  # before printing
        if not quiet:
            for item in report_tables(spectrum_report(dataset, path), all_rows=all_rows):
                console.print(item)
    typer.echo(str(path) if quiet else f"Wrote {path}")
