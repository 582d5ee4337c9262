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
from spectralntk.cli._inert import refuse_inert
from spectralntk.threads import DEFAULT_THREADS, resolve_threads, set_threads

__all__ = ["publish_run", "report_cli", "reproduce_cli"]


#: Where reports go by default: beside the runs (``runs/`` is not tracked), never into the
#: committed gallery ``reports/``, which is regenerated only with an explicit ``--out reports/``.
REPORTS = Path("runs") / "reports"


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
    if fmt is Format.MARKDOWN:  # no figures are drawn here, so none is linked
        return render_markdown(report.model_copy(update={"figures": []}))
    from spectralntk.reports.figures import draw_available_figures

    with tempfile.TemporaryDirectory(prefix="spectralntk-report-") as tmp:
        report, _ = draw_available_figures(report, ds, tmp, svg=False)
        pngs = {f.name: (Path(tmp) / f.png).read_bytes() for f in report.figures}
    return render_html(report, pngs)


def _report_sweep(
    folder: Any,
    out: Path | None,
    fmt: Format,
    *,
    overwrite: bool,
    svg: bool,
    quiet: bool,
    name: str | None = None,
) -> None:
    """``report`` of a sweep folder (or a run file with several runs, ``folder`` its
    combined Dataset and ``name`` its stem): a report per grid point, or a JSON array."""
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
    dest = out if out is not None else REPORTS / (name or folder.name)
    written, entries = write_sweep_report(folder, dest, overwrite=overwrite, svg=svg)
    if not quiet:
        for entry in entries:
            typer.echo(f"{entry['folder']}: {entry['title']}")
    typer.echo(str(written) if quiet else f"Wrote {written} ({len(entries)} grid points)")


def report_cli(
    ctx: typer.Context,
    run: Annotated[
        Path,
        typer.Argument(
            help="A run file written by spectralntk (.nc), or a sweep folder "
            "(spectralntk sweep): one report per grid point."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Report folder. [default: runs/reports/<run file stem>/]"),
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
    from spectralntk.store.output import hold_output

    with user_errors() as cleanup:
        refuse_inert(ctx, "report", ctx.params)
        set_threads(threads)
        if format_ is not Format.FOLDER and out is not None:
            raise fail(f"Invalid value for --out: --format {format_.value} writes to stdout.")
        from spectralntk.reports.sweep import is_sweep_folder

        if is_sweep_folder(run):
            _report_sweep(run, out, format_, overwrite=overwrite, svg=svg, quiet=quiet)
            return
        from spectralntk.reports.build import build_report
        from spectralntk.store.netcdf import load
        from spectralntk.store.schema import ATTR_SWEEP_DIMS

        ds = load(run)
        if ds.attrs.get(ATTR_SWEEP_DIMS):  # several runs in one file (train --depth 1 --depth 2)
            _report_sweep(
                ds, out, format_, overwrite=overwrite, svg=svg, quiet=quiet, name=run.stem
            )
            return
        report = build_report(ds, run.name)
        dest = None
        if format_ is Format.FOLDER:
            dest = check_report_folder(
                out if out is not None else REPORTS / run.stem, overwrite=overwrite
            )
            cleanup.enter_context(hold_output(dest))  # one writer; an interrupted swap undone
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
    typer.echo(str(written) if quiet else f"Wrote {written}")


#: Fluctuation presets reproduce can run: name -> (full, quick) of FLUCTUATION_PRESETS, steps.
FLUCTUATION_REPRODUCE = {"hanin-nica": (("hanin-nica", 200), ("quick", 50))}


def reproduce_names() -> list[str]:
    """Every preset ``reproduce`` knows: the training presets, the fluctuation ones, then
    the sweep presets (:mod:`spectralntk.sweeps.presets`)."""
    from spectralntk.presets import PRESETS
    from spectralntk.sweeps.presets import SWEEP_PRESETS

    return [*PRESETS, *FLUCTUATION_REPRODUCE, *SWEEP_PRESETS]


def written_findings(folder: Path) -> tuple[str, list[str]]:
    """(title, findings) of a report folder ``report`` or ``reproduce`` wrote: a run's
    ``report.json`` or a sweep's ``sweep.json``."""
    import json

    from spectralntk.reports.sweep import SWEEP_INDEX

    if (folder / SWEEP_INDEX).is_file() and not (folder / "report.json").is_file():
        document = json.loads((folder / SWEEP_INDEX).read_text(encoding="utf-8"))
        return str(document["title"]), [str(v) for v in document["verdicts"]]
    from spectralntk.reports.models import load_report

    report = load_report((folder / "report.json").read_text(encoding="utf-8"))
    return report.title, list(report.verdicts)


def reproduce_sweep_report(
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
    """Run sweep preset ``preset`` in this process into a sweep folder, write its report.

    Returns (sweep folder, report folder). Finished runs already in ``run_path`` are kept
    (a sweep folder is its own cache).
    """
    from spectralntk.reports.sweep import write_sweep_report
    from spectralntk.reports.write import check_report_folder
    from spectralntk.settings import parse_override
    from spectralntk.sweeps.execute import run_sweep_here
    from spectralntk.sweeps.presets import sweep_preset_spec

    spec = sweep_preset_spec(
        preset, quick=quick, overrides=dict(map(parse_override, overrides or []))
    )
    check_report_folder(out / preset, overwrite=overwrite)
    folder = run_path or default_run_path(spec.name).with_suffix("")
    with_progress(
        lambda on_progress: run_sweep_here(spec, folder, threads=threads, on_progress=on_progress),
        disable=quiet,
    )
    if not quiet:
        typer.echo(f"writing the report of {folder} …", err=True)
    dest, _ = write_sweep_report(folder, out / preset, overwrite=overwrite, svg=svg)
    return folder, dest


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

    from contextlib import ExitStack

    from spectralntk.store.output import hold_output

    with ExitStack() as locks:
        dest = check_report_folder(out / preset, overwrite=overwrite)
        locks.enter_context(hold_output(dest))
        stem = f"{preset}{'-quick' if quick else ''}"
        path = check_writable(run_path or default_run_path(stem), overwrite=overwrite)
        locks.enter_context(hold_output(path, parameter="run"))
        return _reproduce_locked(
            job,
            preset,
            dest,
            path,
            out,
            quick=quick,
            overrides=overrides,
            overwrite=overwrite,
            svg=svg,
            quiet=quiet,
            threads=threads,
        )


def _reproduce_locked(
    job: Any,
    preset: str,
    dest: Path,
    path: Path,
    out: Path,
    *,
    quick: bool,
    overrides: list[str] | None,
    overwrite: bool,
    svg: bool,
    quiet: bool,
    threads: int | None,
) -> tuple[Path, Path]:
    """The rest of :func:`reproduce_report`, with the report folder and run file locked."""
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
    return path, with_progress(
        lambda on_progress: publish_run(
            run, path, dest, history, overwrite=overwrite, svg=svg, on_progress=on_progress
        ),
        disable=quiet,
    )


def publish_run(
    run: Any,
    path: Path,
    dest: Path,
    history: str,
    *,
    overwrite: bool,
    svg: bool,
    on_progress: Any = None,
) -> Path:
    """Save ``run`` at ``path`` and write its report folder ``dest``, reporting each phase.

    ``on_progress(done, total, description)`` is called before each of the four phases
    (the run's dataset, the run file, the report, its figures and documents) and at the
    end. Returns the report folder.
    """
    from spectralntk.reports.build import build_report
    from spectralntk.reports.write import write_report
    from spectralntk.store.netcdf import save

    def phase(done: int, text: str) -> None:
        if on_progress is not None:
            on_progress(done, 4, text)

    phase(0, "building the run's dataset")
    ds = run.to_dataset(history=history)
    phase(1, f"writing {path.name}")
    save(ds, path, overwrite=overwrite)
    phase(2, "building the report")
    report = build_report(ds, path.name)
    phase(3, f"drawing {len(report.figures)} figures and writing {dest.name}/")
    written = write_report(report, ds, dest, overwrite=overwrite, svg=svg)
    phase(4, "done")
    return written


def reproduce_cli(
    preset: Annotated[
        str | None,
        typer.Argument(
            help="Preset of docs/experiments.md (exp2.1 … rahaman), hanin-nica (fluctuations) or "
            "beta-sweep (a sweep of depth against width); omit with --all."
        ),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every preset, one after another.")] = False,
    quick: Annotated[bool, typer.Option(help="The quick variant (seconds to minutes).")] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a preset setting: key=value (as in train)."),
    ] = None,
    out: Annotated[
        Path,
        typer.Option(
            help="Parent folder: reports go to OUT/<preset>/ (the gallery: --out reports/)."
        ),
    ] = Path("runs") / "reports",
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
    quiet: Annotated[
        bool, typer.Option(help="Print only the written report folders (no progress bar).")
    ] = False,
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
        from spectralntk.sweeps.presets import SWEEP_PRESETS

        for name in names:
            run_preset = reproduce_sweep_report if name in SWEEP_PRESETS else reproduce_report
            path, folder = run_preset(
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
            if not quiet:  # the findings, as `report` prints them
                title, verdicts = written_findings(folder)
                typer.echo(title)
                for line in verdicts:
                    typer.echo(f"- {line}")
            typer.echo(str(folder) if quiet else f"Wrote {folder} (run {path})")
        if all_:
            from spectralntk.reports.gallery import write_gallery_index

            index = write_gallery_index(out, names)
            typer.echo(str(index) if quiet else f"Wrote {index}")
