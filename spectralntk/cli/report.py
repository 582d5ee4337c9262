"""``spectralntk report`` and ``spectralntk reproduce``: runs turned into reports."""

from __future__ import annotations

import enum
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from spectralntk.cli._common import default_run_path, fail, user_errors, with_progress

__all__ = ["report_cli", "reproduce_cli"]


class Format(enum.StrEnum):
    """What ``spectralntk report`` writes."""

    FOLDER = "folder"
    JSON = "json"
    MARKDOWN = "markdown"
    HTML = "html"


def _stdout(report: Any, ds: Any, fmt: Format) -> str:
    from spectralntk.reports.render import render_html, render_json, render_markdown

    if fmt is Format.JSON:
        return render_json(report)
    if fmt is Format.MARKDOWN:
        return render_markdown(report)
    from spectralntk.reports.figures import draw_figures

    with tempfile.TemporaryDirectory(prefix="spectralntk-report-") as tmp:
        draw_figures(report, ds, tmp, svg=False)
        pngs = {f.name: (Path(tmp) / f.png).read_bytes() for f in report.figures}
    return render_html(report, pngs)


def report_cli(
    run: Annotated[Path, typer.Argument(help="A run file written by spectralntk (.nc).")],
    out: Annotated[
        Path | None,
        typer.Option(help="Report folder. [default: reports/<run file stem>/]"),
    ] = None,
    format_: Annotated[
        Format,
        typer.Option(
            "--format",
            help="folder: README.md + report.html + report.json + figures/ in --out; "
            "json, markdown or html: that document on stdout.",
        ),
    ] = Format.FOLDER,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing report folder.")] = False,
    svg: Annotated[bool, typer.Option(help="Also write SVG figures.")] = True,
) -> None:
    """Per-frequency report of a run: Markdown, HTML, JSON, figures (type chosen from the run)."""
    from spectralntk.reports.write import check_report_folder

    with user_errors():
        if format_ is not Format.FOLDER and out is not None:
            raise fail(f"Invalid value for --out: --format {format_.value} writes to stdout.")
        from spectralntk.reports.build import build_report
        from spectralntk.store.netcdf import load

        ds = load(run)
        report = build_report(ds, run.name)
        dest = None
        if format_ is Format.FOLDER:
            dest = check_report_folder(
                out if out is not None else Path("reports") / run.stem, overwrite=overwrite
            )
        if dest is None:
            sys.stdout.write(_stdout(report, ds, format_))
            return
        from spectralntk.reports.write import write_report

        written = write_report(report, ds, dest, overwrite=overwrite, svg=svg)
    typer.echo(f"Wrote {written}")


def reproduce_report(
    preset: str,
    out: Path,
    *,
    quick: bool,
    overrides: list[str] | None = None,
    run_path: Path | None,
    overwrite: bool,
    svg: bool,
    quiet: bool,
) -> tuple[Path, Path]:
    """Run ``preset`` (its quick variant with ``quick``), save the run, write its report.

    Returns (run file, report folder). The report folder is checked before the run
    starts, so a bad ``out`` costs nothing.
    """
    from spectralntk.presets import preset_settings
    from spectralntk.reports.write import check_report_folder
    from spectralntk.settings import merge_settings, parse_override, training_config
    from spectralntk.store.paths import check_writable

    settings = merge_settings(
        preset_settings(preset, quick=quick), dict(map(parse_override, overrides or []))
    )
    cfg, device, dtype = training_config(settings)
    dest = check_report_folder(out / preset, overwrite=overwrite)
    stem = f"{preset}{'-quick' if quick else ''}"
    path = check_writable(run_path or default_run_path(stem), overwrite=overwrite)
    from spectralntk.reports.build import build_report
    from spectralntk.reports.write import write_report
    from spectralntk.runs.training import train
    from spectralntk.store.netcdf import save

    run = with_progress(
        lambda on_progress: train(cfg, device=device, dtype=dtype, on_progress=on_progress),
        disable=quiet,
    )
    history = "spectralntk " + shlex.join(
        [
            "reproduce",
            preset,
            *(["--quick"] if quick else []),
            *[f"--set={text}" for text in overrides or []],
            "--out",
            str(out),
        ]
    )
    ds = run.to_dataset(history=history)
    save(ds, path, overwrite=True)
    report = build_report(ds, path.name)
    return path, write_report(report, ds, dest, overwrite=overwrite, svg=svg)


def reproduce_cli(
    preset: Annotated[
        str | None,
        typer.Argument(help="Preset of EXPERIMENTS.md (exp2.1 … rahaman); omit with --all."),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every preset, one after another.")] = False,
    quick: Annotated[bool, typer.Option(help="The quick variant (seconds to minutes).")] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a preset setting: key=value (as in train)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Parent folder: reports go to OUT/<preset>/.")] = Path(
        "reports"
    ),
    run: Annotated[
        Path | None,
        typer.Option(
            help="Where the run file goes (one preset). [default: runs/<preset>-<time>.nc]"
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace existing report folders (and --run).")
    ] = False,
    svg: Annotated[bool, typer.Option(help="Also write SVG figures.")] = True,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Run a preset and write its report: from nothing to a finished report in one command."""
    from spectralntk.presets import PRESETS

    with user_errors():
        if all_ == (preset is not None):
            raise fail("Invalid value for PRESET: give one preset or --all (not both).")
        names = list(PRESETS) if all_ else [str(preset)]
        if run is not None and len(names) > 1:
            raise fail("Invalid value for --run: it names the run of one preset, not --all.")
        from spectralntk.reports.write import check_report_folder

        for name in names:  # every destination checked before the first run starts
            check_report_folder(out / name, overwrite=overwrite)
        for name in names:
            path, folder = reproduce_report(
                name,
                out,
                quick=quick,
                overrides=set_,
                run_path=run,
                overwrite=overwrite,
                svg=svg,
                quiet=quiet,
            )
            typer.echo(f"Wrote {folder} (run {path})")
