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
from spectralntk.threads import DEFAULT_THREADS, resolve_threads, set_threads

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
    from spectralntk.reports.figures import draw_available_figures

    with tempfile.TemporaryDirectory(prefix="spectralntk-report-") as tmp:
        report, _ = draw_available_figures(report, ds, tmp, svg=False)
        pngs = {f.name: (Path(tmp) / f.png).read_bytes() for f in report.figures}
    return render_html(report, pngs)


def _report_sweep(
    folder: Path, out: Path | None, fmt: Format, *, overwrite: bool, svg: bool, quiet: bool
) -> None:
    """``report`` of a sweep folder: a report per grid point (folder) or a JSON array."""
    import json

    from spectralntk.reports.render import render_json
    from spectralntk.reports.sweep import sweep_reports, write_sweep_report

    if fmt is Format.JSON:
        items = [
            {"point": point, "report": json.loads(render_json(report))}
            for point, report, _ in sweep_reports(folder)
        ]
        sys.stdout.write(json.dumps(items, indent=2, ensure_ascii=False) + "\n")
        return
    if fmt is not Format.FOLDER:
        raise fail(
            f"Invalid value for --format: a sweep folder is reported as 'folder' or 'json'. "
            f"Got {fmt.value!r} instead."
        )
    dest = out if out is not None else Path("reports") / folder.name
    written, entries = write_sweep_report(folder, dest, overwrite=overwrite, svg=svg)
    if not quiet:
        for entry in entries:
            typer.echo(f"{entry['folder']}: {entry['title']}")
    typer.echo(f"Wrote {written} ({len(entries)} grid points)")


def report_cli(
    run: Annotated[
        Path,
        typer.Argument(
            help="A run file written by spectralntk (.nc), or a sweep folder "
            "(spectralntk sweep): one report per grid point."
        ),
    ],
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
    threads: Annotated[
        int, typer.Option(help="Compute threads (BLAS) of the theory the report needs.")
    ] = DEFAULT_THREADS,
    quiet: Annotated[bool, typer.Option(help="Print only the written folder.")] = False,
) -> None:
    """Per-frequency report of a run: Markdown, HTML, JSON, figures (type chosen from the run)."""
    from spectralntk.reports.write import check_report_folder

    with user_errors():
        set_threads(threads)
        if format_ is not Format.FOLDER and out is not None:
            raise fail(f"Invalid value for --out: --format {format_.value} writes to stdout.")
        from spectralntk.reports.sweep import is_sweep_folder

        if is_sweep_folder(run):
            _report_sweep(run, out, format_, overwrite=overwrite, svg=svg, quiet=quiet)
            return
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
            for line in report.omitted:
                typer.echo(f"Left out: {line}", err=True)
            return
        from spectralntk.reports.write import write_report

        written = write_report(report, ds, dest, overwrite=overwrite, svg=svg)
        from spectralntk.reports.models import load_report

        report = load_report((written / "report.json").read_text())  # as written
    if not quiet:
        typer.echo(report.title)
        for line in report.verdicts:
            typer.echo(f"- {line}")
    for line in report.omitted:
        typer.echo(f"Left out: {line}", err=True)
    typer.echo(f"Wrote {written}")


#: Fluctuation presets reproduce can run: name -> (full, quick) of FLUCTUATION_PRESETS, steps.
FLUCTUATION_REPRODUCE = {"hanin-nica": (("hanin-nica", 200), ("quick", 50))}


def reproduce_names() -> list[str]:
    """Every preset ``reproduce`` knows: the training presets, then the fluctuation ones."""
    from spectralntk.presets import PRESETS

    return [*PRESETS, *FLUCTUATION_REPRODUCE]


def _fluctuation_run(preset: str, quick: bool, overrides: list[str], on_progress: Any) -> Any:
    """Run a fluctuation preset (Hanin & Nica 2019) with ``key=value`` overrides."""
    import dataclasses
    import tomllib

    from spectralntk.errors import parameter_error
    from spectralntk.runs.fluctuations import (
        FLUCTUATION_PRESETS,
        FluctuationConfig,
        fluctuations,
    )

    name, steps = FLUCTUATION_REPRODUCE[preset][1 if quick else 0]
    values: dict[str, Any] = {**FLUCTUATION_PRESETS[name], "steps": steps}
    fields = {f.name for f in dataclasses.fields(FluctuationConfig)} - {"target"}
    for text in overrides:
        key, _, value = text.partition("=")
        key = key.strip().replace("-", "_")
        if key not in fields or not _:
            raise parameter_error("set", f"key=value with a key in {sorted(fields)}", text)
        try:
            values[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            values[key] = value.strip()
    if isinstance(values["seeds"], int):
        values["seeds"] = tuple(range(values["seeds"]))
    for key in ("depths", "widths", "seeds"):
        values[key] = tuple(values[key])
    return fluctuations(FluctuationConfig(**values), on_progress=on_progress)


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
    threads: int | None = None,
) -> tuple[Path, Path]:
    """Run ``preset`` (its quick variant with ``quick``), save the run, write its report.

    Returns (run file, report folder). The report folder is checked before the run
    starts, so a bad ``out`` costs nothing. The run uses ``threads`` compute threads
    (:func:`spectralntk.threads.set_threads`; None: the default), or the
    ``threads=N`` of ``overrides`` for a training preset.
    """
    from spectralntk.presets import preset_settings
    from spectralntk.reports.write import check_report_folder
    from spectralntk.settings import merge_settings, parse_override, training_config
    from spectralntk.store.paths import check_writable

    if preset in FLUCTUATION_REPRODUCE:

        def job(on_progress: Any) -> Any:
            return _fluctuation_run(preset, quick, overrides or [], on_progress)

    else:
        settings = merge_settings(
            preset_settings(preset, quick=quick), dict(map(parse_override, overrides or []))
        )
        cfg, device, dtype = training_config(settings)
        if settings["threads"] is not None:  # --set threads=N, as in train
            threads = settings["threads"]

        def job(on_progress: Any) -> Any:
            from spectralntk.runs.training import train

            return train(cfg, device=device, dtype=dtype, on_progress=on_progress)

    dest = check_report_folder(out / preset, overwrite=overwrite)
    stem = f"{preset}{'-quick' if quick else ''}"
    path = check_writable(run_path or default_run_path(stem), overwrite=overwrite)
    from spectralntk.reports.build import build_report
    from spectralntk.reports.write import write_report
    from spectralntk.store.netcdf import save

    set_threads(threads, import_torch=True)
    run = with_progress(job, disable=quiet)
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
    if not quiet:
        typer.echo(f"writing {path} and the report …", err=True)
    save(ds, path, overwrite=True)
    report = build_report(ds, path.name)
    return path, write_report(report, ds, dest, overwrite=overwrite, svg=svg)


def reproduce_cli(
    preset: Annotated[
        str | None,
        typer.Argument(
            help="Preset of EXPERIMENTS.md (exp2.1 … rahaman) or hanin-nica (fluctuations); "
            "omit with --all."
        ),
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
    threads: Annotated[
        int, typer.Option(help="Compute threads (torch and BLAS) of the runs.")
    ] = DEFAULT_THREADS,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Run a preset and write its report: from nothing to a finished report in one command."""
    with user_errors():
        threads = resolve_threads(threads)
        if all_ == (preset is not None):
            raise fail("Invalid value for PRESET: give one preset or --all (not both).")
        names = reproduce_names() if all_ else [str(preset)]
        if names[0] not in reproduce_names():
            raise fail(
                f"Invalid value for PRESET: one of {', '.join(reproduce_names())}. "
                f"Got {names[0]!r} instead."
            )
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
                threads=threads,
            )
            typer.echo(f"Wrote {folder} (run {path})")
        if all_:
            from spectralntk.reports.gallery import write_gallery_index

            typer.echo(f"Wrote {write_gallery_index(out, names)}")
