"""``spectralntk sweep``: a grid of runs on Dask, written to one sweep folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from spectralntk.cli._common import fail, plain_table, user_errors, with_progress
from spectralntk.errors import ParameterError, check_int, check_real

__all__ = ["outcome_table", "sweep_cli"]


def outcome_table(index: dict[str, Any], *, limit: int = 20) -> list[Any]:
    """Rich renderables: outcomes per status, then the runs that failed or diverged (pure)."""
    from rich.text import Text

    tasks = index["tasks"]
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task["status"]] = counts.get(task["status"], 0) + 1
    table = plain_table(
        f"sweep {index['name']!r}: {len(index['points'])} grid points, {len(tasks)} runs",
        ["outcome", "runs"],
    )
    for status in ("finished", "diverged", "failed", "pending"):
        if counts.get(status):
            table.add_row(status, str(counts[status]))
    out: list[Any] = [table]
    bad = [t for t in tasks if t["status"] in ("failed", "diverged")]
    for task in bad[:limit]:
        where = " ".join(f"{k}={v}" for k, v in task["point"].items())
        widths = ",".join(map(str, task["widths"]))
        out.append(
            Text(f"{task['status']}: {task['key'][:12]} width {widths} {where}: {task['error']}")
        )
    if len(bad) > limit:
        out.append(Text(f"… and {len(bad) - limit} more (see index.json)"))
    return out


def sweep_cli(
    file: Annotated[Path, typer.Argument(help="Sweep file (TOML: [sweep], [base], [axes]).")],
    out: Annotated[
        Path | None, typer.Option(help="Sweep folder. [default: runs/<name of the sweep>]")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Address of a Dask scheduler (tcp://host:8786). [default: local]"),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes of the local cluster. [default: usable cores]"),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Run only the runs not yet finished (continue interrupted ones).")
    ] = False,
    device: Annotated[
        str | None,
        typer.Option(help="Torch device of every run: cpu, cuda, cuda:N, mps or auto."),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            help="Compute threads (torch and BLAS) of each run. [default: [base] threads, or 1]"
        ),
    ] = None,
    memory_budget: Annotated[
        float | None,
        typer.Option(help="GiB one batch of seeds may use. [default: the command's]"),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="Print only the sweep folder.")] = False,
) -> None:
    """Run a grid of train or fluctuations runs on Dask, each into its own NetCDF in one folder.

    Open the result with spectralntk.open_sweep(FOLDER).
    """
    from spectralntk.sweeps.grid import load_sweep_file

    with user_errors():
        try:
            spec = load_sweep_file(file)
        except ParameterError as err:
            raise fail(f"Invalid sweep file {str(file)!r}: {err}") from None
        folder = out if out is not None else Path("runs") / spec.name
        budget = (
            None
            if memory_budget is None
            else int(check_real("memory_budget", memory_budget, 1e-6, 2.0**20) * 2**30)
        )
        from spectralntk.sweeps.execute import (
            check_device_name,
            read_index,
            run_sweep,
            task_threads,
        )

        # Checked here too, so that a bad option fails before the progress bar starts.
        task_threads(spec, threads)
        if workers is not None:
            check_int("workers", workers, 1, 4096)
        if device is not None:
            check_device_name(device)

        try:
            result = with_progress(
                lambda on_progress: run_sweep(
                    spec,
                    folder,
                    scheduler=scheduler,
                    workers=workers,
                    resume=resume,
                    device=device,
                    threads=threads,
                    memory_budget=budget,
                    on_progress=on_progress,
                ),
                disable=quiet,
            )
        except KeyboardInterrupt:
            typer.echo(
                f"Interrupted: finished runs and the progress of running ones are kept in "
                f"{folder}; continue with --resume",
                err=True,
            )
            raise typer.Exit(130) from None
        if not quiet:
            from rich.console import Console

            console = Console(width=140, highlight=False, soft_wrap=True)
            if result.ran == 0:
                retry = result.counts.get("failed", 0) if not resume else 0
                hint = f" (pass --resume to retry the {retry} failed)" if retry else ""
                console.print(f"Nothing to do: every run of the sweep has an outcome{hint}.")
            for item in outcome_table(read_index(folder)):
                console.print(item)
    typer.echo(str(folder) if quiet else f"Wrote {folder} (open with spectralntk.open_sweep)")
