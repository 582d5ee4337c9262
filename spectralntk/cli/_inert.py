"""Options that have no effect in a mode: kept as data, refused with one line.

Each :class:`Inert` says that option ``option`` of command ``command`` does nothing
when ``when(values)`` holds, and why. :func:`refuse_inert` checks the options the
user typed (click's parameter source is the command line or the environment) against
the rules of the command and exits 2 naming the option, the mode and the reason. A
test runs every rule's ``example`` (tests/test_cli_vocabulary.py), so the table and
the commands cannot drift apart.

``values`` are the command's effective settings: its options as parsed and, for
``train``, the settings merged from the preset, ``--config`` and ``--set``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import typer
import typer.core
from typer._click.core import ParameterSource  # Typer ≥ 0.25 vendors click as typer._click

__all__ = ["INERT", "Inert", "given_options", "refuse_inert"]

Values = Mapping[str, Any]


@dataclass(frozen=True)
class Inert:
    """Option ``option`` of ``command`` has no effect when ``when(values)``.

    Attributes
    ----------
    command : str
        The command (``decompose``, ``train``, …).
    option : str
        The option's parameter name (``max_frequency``).
    when : callable
        ``values -> bool``: True in the mode where the option does nothing.
    mode : str
        That mode, as the user would type it (``with --kernel empirical``).
    reason : str
        Why it does nothing there.
    example : tuple of str
        Arguments that trigger the rule (run by the tests).
    """

    command: str
    option: str
    when: Callable[[Values], bool]
    mode: str
    reason: str
    example: tuple[str, ...]


def _analytic(v: Values) -> bool:
    return v.get("kernel", "analytic") == "analytic"


def _no_bias(v: Values) -> bool:
    return v.get("bias_std") == 0


_ANALYTIC_ONLY = "it sets the analytic kernel's frequencies or profiles"
_EMPIRICAL_ONLY = "it sets the finite networks of --kernel empirical"
_NO_BIAS = "the network has no biases"

INERT: tuple[Inert, ...] = (
    # ---- decompose ----------------------------------------------------------
    *(
        Inert(
            "decompose",
            name,
            _analytic,
            "with --kernel analytic",
            _EMPIRICAL_ONLY,
            ("--kernel", "analytic", flag, value),
        )
        for name, flag, value in (
            ("seeds", "--seeds", "3"),
            ("points", "--points", "64"),
            ("device", "--device", "cpu"),
            ("dtype", "--dtype", "float32"),
        )
    ),
    Inert(
        "decompose",
        "width",
        lambda v: _analytic(v) and v.get("parameterization") != "standard",
        "with --kernel analytic and the NTK parameterization",
        "the infinite-width NTK does not depend on the width (give --kernel empirical for "
        "finite networks, or --parameterization standard)",
        ("--width", "100"),
    ),
    *(
        Inert(
            "decompose",
            name,
            lambda v: not _analytic(v),
            "with --kernel empirical",
            "the empirical spectrum has the frequencies 0 … N/2 of its --points grid"
            if name != "angles"
            else "the empirical profiles lie on the --points grid",
            ("--kernel", "empirical", "--width", "8", flag, *value),
        )
        for name, flag, value in (
            ("max_frequency", "--max-frequency", ("8",)),
            ("angles", "--angles", ("90",)),
            ("fit_range", "--fit-range", ("2", "8")),
        )
    ),
    *(
        Inert(
            command,
            name,
            _no_bias,
            "when --bias-std is 0",
            _NO_BIAS,
            (*prefix, "--bias-std", "0", *flag),
        )
        for command, prefix in (("decompose", ()), ("train", ()), ("fluctuations", ()))
        for name, flag in (
            ("bias_init", ("--bias-init", "zero")),
            ("output_bias", ("--output-bias",)),
        )
    ),
    Inert(
        "decompose",
        "all_rows",
        lambda v: bool(v.get("quiet")),
        "with --quiet",
        "no table is printed",
        ("--all-rows", "--quiet"),
    ),
    # ---- train --------------------------------------------------------------
    Inert(
        "train",
        "frequency",
        lambda v: v.get("target") != "sine",
        "unless --target sine",
        "only the sine target has one frequency",
        ("--target", "product", "--frequency", "3"),
    ),
    *(
        Inert(
            "train",
            name,
            lambda v: v.get("target") != "fourier-mixture",
            "unless --target fourier-mixture",
            "only the mixture has several frequencies",
            ("--target", "sine", "--frequency", "2", flag, value),
        )
        for name, flag, value in (
            ("frequencies", "--frequencies", "3"),
            ("amplitudes", "--amplitudes", "1"),
            ("phases", "--phases", "0"),
        )
    ),
    Inert(
        "train",
        "data_seed",
        lambda v: v.get("inputs") == "grid" and not v.get("label_noise"),
        "with --inputs grid and no --label-noise",
        "it seeds random inputs and label noise only",
        ("--inputs", "grid", "--data-seed", "3"),
    ),
    # ---- fluctuations -------------------------------------------------------
    *(
        Inert(
            "fluctuations",
            name,
            lambda v: not v.get("steps"),
            "without --steps",
            "it sets the training part, which runs only with --steps T > 0",
            (flag, *value),
        )
        for name, flag, value in (
            ("target", "--target", ("product",)),
            ("frequency", "--frequency", ("3",)),
            ("inputs", "--inputs", ("grid",)),
            ("points", "--points", ("32",)),
            ("loss", "--loss", ("half_mean",)),
            ("lr_fraction", "--lr-fraction", ("0.25",)),
            ("data_seed", "--data-seed", ("3",)),
        )
    ),
    Inert(
        "fluctuations",
        "frequency",
        lambda v: bool(v.get("steps")) and v.get("target") != "sine",
        "unless --target sine",
        "only the sine target has one frequency",
        ("--steps", "2", "--target", "product", "--frequency", "3"),
    ),
    # ---- report -------------------------------------------------------------
    *(
        Inert(
            "report",
            name,
            lambda v: str(v.get("format_", "folder")) != "folder",
            "with --format json, markdown or html",
            reason,
            ("RUN", "--format", "json", *flag),
        )
        for name, flag, reason in (
            ("svg", ("--no-svg",), "the document goes to stdout and no figure file is written"),
            ("overwrite", ("--overwrite",), "the document goes to stdout; no folder is written"),
            ("quiet", ("--quiet",), "the document itself is the output"),
        )
    ),
)


def given_options(ctx: typer.Context) -> set[str]:
    """The parameters of ``ctx`` the user set on the command line or by environment."""
    typed = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    return {
        p.name for p in ctx.command.params if p.name and ctx.get_parameter_source(p.name) in typed
    }


def _flag(ctx: typer.Context, name: str) -> str:
    for p in ctx.command.params:
        if p.name == name:
            value = ctx.params.get(name)
            if isinstance(p, typer.core.TyperOption) and p.secondary_opts and value is False:
                return p.secondary_opts[0]
            return p.opts[0]
    return "--" + name.replace("_", "-")


def refuse_inert(ctx: typer.Context, command: str, values: Values) -> None:
    """Exit 2 with one line if an option typed in ``ctx`` has no effect with ``values``."""
    from spectralntk.cli._common import fail

    typed = given_options(ctx)
    for rule in INERT:
        if rule.command == command and rule.option in typed and rule.when(values):
            raise fail(f"{_flag(ctx, rule.option)} has no effect {rule.mode}: {rule.reason}.")
