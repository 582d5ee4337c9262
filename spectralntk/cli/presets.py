"""``spectralntk presets``: every preset with its description; ``presets NAME``: its settings."""

from __future__ import annotations

from typing import Annotated

import typer

from spectralntk.cli._common import fail, user_errors

__all__ = ["check_preset_kind", "preset_views", "presets_cli"]


def preset_views() -> list:  # type: ignore[type-arg]
    """:class:`~spectralntk.presets.PresetView` of every preset ``reproduce`` knows, in order."""
    from spectralntk.cli.report import FLUCTUATION_REPRODUCE
    from spectralntk.presets import (
        PRESETS,
        fluctuation_preset_view,
        training_preset_view,
    )
    from spectralntk.sweeps.presets import SWEEP_PRESETS, sweep_preset_view

    views = [training_preset_view(name) for name in PRESETS]
    views += [
        fluctuation_preset_view(name, full, quick)
        for name, (full, quick) in FLUCTUATION_REPRODUCE.items()
    ]
    views += [sweep_preset_view(name) for name in SWEEP_PRESETS]
    return views


def check_preset_kind(name: str | None, kind: str, names: tuple[str, ...]) -> None:
    """Refuse ``--preset name`` of another command's kind, saying which command runs it.

    ``train --preset beta-sweep`` is a sweep, ``train --preset hanin-nica`` a fluctuation
    study: both run with ``spectralntk reproduce NAME``. Unknown names are left to the
    command's own check (which lists its presets).
    """
    from spectralntk.errors import parameter_error

    if name is None or name in names:
        return
    other = next((view for view in preset_views() if view.name == name), None)
    if other is not None and other.kind != kind:
        runs = f"train --preset {name}" if other.kind == "train" else f"reproduce {name}"
        raise parameter_error(
            "preset",
            f"one of the {kind} presets {{{', '.join(map(repr, names))}}}; {name!r} is a "
            f"{other.kind} preset: run it with `spectralntk {runs}`",
            name,
        )


def presets_cli(
    name: Annotated[
        str | None,
        typer.Argument(help="A preset: show its settings and its quick variant. [default: list]"),
    ] = None,
) -> None:
    """List the presets (experiments of docs/experiments.md, the fluctuation study), or show one."""
    from spectralntk.presets import format_setting

    with user_errors():
        views = preset_views()
        if name is None:
            width = max(len(v.name) for v in views)
            for view in views:
                typer.echo(f"{view.name.ljust(width)}  {view.kind.ljust(12)}  {view.description}")
            typer.echo(
                "\nShow one: spectralntk presets NAME. Run one and report it: "
                "spectralntk reproduce NAME [--quick]."
            )
            return
        known = {v.name: v for v in views}
        if name not in known:
            raise fail(f"Invalid value for NAME: one of {', '.join(known)}. Got {name!r} instead.")
        view = known[name]
        typer.echo(f"{view.name} ({view.kind}): {view.description}")
        width = max(map(len, [*view.settings, *view.quick]))
        typer.echo("\nsettings:")
        for key, value in view.settings.items():
            typer.echo(f"  {key.ljust(width)} = {format_setting(value)}")
        typer.echo("\nquick variant (--quick) changes:")
        for key, value in view.quick.items():
            typer.echo(f"  {key.ljust(width)} = {format_setting(value)}")
        runs = f"spectralntk reproduce {name} [--quick]"
        if view.kind == "train":
            runs += f", or spectralntk train --preset {name} [--quick]"
        typer.echo(f"\nRun: {runs}; change a setting with --set key=value.")
