"""Boundary values on every numeric option of every command: no traceback, no hang.

The options are enumerated from the Typer app itself (:func:`numeric_options`), so an
option added later is fuzzed without touching this file. Each call runs in-process
through Typer's CliRunner with tiny other settings and a wall-clock alarm; it must end
with exit status 0 (the value is valid) or exit status 2 and one ``Error:`` line naming
the option (the value is refused before any work starts), never with a traceback.
Values that are valid but huge (``--depth 2147483648``) must be refused by bounds, not
run.

The exhaustive product (every option × every value) is marked slow; the everyday
suite runs a deterministic subset: every option with the values that must always be
refused at once, and a hypothesis property over random (option, value) pairs of the
fast commands.
"""

from __future__ import annotations

import contextlib
import signal
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cli import stderr_of
from typer.testing import CliRunner

from spectralntk.cli import app

#: The boundary values of the issue, as typed on a command line.
VALUES = ("0", "-1", "2147483648", "1e20", "5e-324", "1e300", "nan", "inf")
#: Seconds one call may take (tiny settings run in about a second).
CALL_LIMIT = 20

SWEEP_FILE = """\
[sweep]
name = "fuzz"

[base]
target = "sine"
frequency = 1
inputs = "grid"
points = 8
eval_points = 16
steps = 2
seeds = 1
width = 4

[axes]
lr = [0.1]
"""


class CallTimeout(Exception):
    """A CLI call ran past :data:`CALL_LIMIT` seconds."""


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Raise :class:`CallTimeout` in the main thread after ``seconds``."""

    def handler(signum: int, frame: object) -> None:
        raise CallTimeout(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _numeric(annotation: object) -> bool:
    """Whether a parameter annotation holds ints or floats (also inside list/tuple/Optional)."""
    if annotation in (int, float):
        return True
    return any(_numeric(arg) for arg in typing.get_args(annotation))


def numeric_options() -> list[tuple[str, str, int, str]]:
    """(command, option, nargs, help) of every numeric option of every command."""
    group = typer.main.get_command(app)
    out = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        for param in command.params:
            if param.param_type_name != "option" or not _numeric(param.type_descriptor.annotation):
                continue
            out.append((name, param.opts[0], param.nargs, param.help or ""))
    return out


OPTIONS = numeric_options()


def _base(command: str, option: str, help_text: str, root: Path) -> list[str]:
    """Tiny settings for ``command`` under which ``option`` matters."""
    out = str(root / "out.nc")
    if command == "decompose":
        if help_text.startswith("Empirical:") or option == "--width":
            kind = ["--kernel", "empirical", "--width", "4", "--seeds", "1", "--points", "8"]
        else:
            kind = ["--max-frequency", "4", "--angles", "8"]
        return [*kind, "--depth", "1", "--threads", "1", "--quiet", "--overwrite", "--out", out]
    if command == "train":
        return [
            *("--depth", "1", "--width", "4", "--seeds", "1", "--points", "8"),
            *("--eval-points", "16", "--steps", "2", "--target", "sine", "--frequency", "1"),
            *("--inputs", "grid", "--threads", "1", "--quiet", "--overwrite", "--out", out),
        ]
    if command == "fluctuations":
        steps = ["--steps", "1", "--points", "4"] if help_text.startswith("With --steps") else []
        return [
            *("--depth", "1", "--width", "4", "--seeds", "2", "--probes", "2"),
            *("--bootstrap", "10", "--threads", "1", *steps),
            *("--quiet", "--overwrite", "--out", out),
        ]
    if command == "sweep":
        sweep = root / "fuzz.toml"
        sweep.write_text(SWEEP_FILE)
        return [str(sweep), "--workers", "1", "--out", str(root / "sweep"), "--quiet"]
    if command == "report":
        from spectralntk import NetworkConfig, analytic_spectrum, save

        run = root / "run.nc"
        if not run.exists():
            ds = analytic_spectrum(NetworkConfig(depth=1), max_frequency=4).to_dataset()
            save(ds, run)
        return [str(run), "--format", "json"]
    if command == "reproduce":
        return ["exp2.1", "--quick", "--set", "steps=2", "--set", "widths=[4]", "--quiet"]
    raise AssertionError(f"no tiny settings for the new command {command!r}: add them here")


def _without(args: list[str], option: str, nargs: int) -> list[str]:
    """``args`` without the occurrences of ``option`` (and its values)."""
    out, i = [], 0
    while i < len(args):
        if args[i] == option:
            i += 1 + nargs
            continue
        out.append(args[i])
        i += 1
    return out


def check_boundary(command: str, option: str, nargs: int, help_text: str, value: str) -> None:
    """``spectralntk command … option value`` exits 0, or 2 naming ``option``."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="spectralntk-fuzz-") as tmp:
        root = Path(tmp)
        args = [
            command,
            *_without(_base(command, option, help_text, root), option, nargs),
            option,
            *([value] * nargs),
        ]
        with time_limit(CALL_LIMIT), contextlib.chdir(root):
            result = CliRunner().invoke(app, args)
    shown = " ".join(args)
    assert not isinstance(result.exception, CallTimeout), f"{shown}: hangs"
    err = stderr_of(result)
    assert "Traceback" not in result.output + err, (shown, err)
    assert result.exit_code in (0, 2), (shown, result.exit_code, result.exception, err)
    if result.exit_code == 2:
        errors = [line for line in err.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, (shown, err)
        named = option in errors[0] or f"'{option}'" in errors[0]
        assert named, f"{shown}: the error does not name {option}: {errors[0]}"


def _id(case: tuple[str, str, int, str]) -> str:
    return f"{case[0]} {case[1]}"


def test_every_command_has_numeric_options_enumerated() -> None:
    commands = {c for c, *_ in OPTIONS}
    assert {"decompose", "train", "fluctuations", "sweep"} <= commands
    assert ("decompose", "--depth") in {(c, o) for c, o, *_ in OPTIONS}
    assert ("train", "--lr") in {(c, o) for c, o, *_ in OPTIONS}


#: Boundary values that hang, crash the process or overflow today, in the size bounds,
#: memory budget and overflow refusal that other work on issue 13 (items 5, 6, 9) adds:
#: not run (a crash would take the test process with it) until those bounds are in.
#: Cases refused elsewhere (size bounds, overflow refusal) and so once skipped here; every
#: one of them is refused now (spectralntk.limits, the kernel recursion's checks).
OWNED_ELSEWHERE: set[tuple[str, str, str]] = set()


def _params(cases: list, values: tuple[str, ...]) -> list:  # type: ignore[type-arg]
    out = []
    for case in cases:
        for value in values:
            marks = []
            if (case[0], case[1], value) in OWNED_ELSEWHERE:
                marks = [pytest.mark.xfail(reason="size bounds / overflow refusal", run=False)]
            out.append(pytest.param(case, value, marks=marks, id=f"{_id(case)} {value}"))
    return out


@pytest.mark.parametrize(("case", "value"), _params(OPTIONS, ("nan",)))
def test_nan_is_refused_by_every_numeric_option(
    case: tuple[str, str, int, str], value: str
) -> None:
    """NaN is refused at once by every numeric option (an int option cannot parse it)."""
    check_boundary(*case, value)


@pytest.mark.slow
@pytest.mark.parametrize(("case", "value"), _params(OPTIONS, VALUES))
def test_boundary_values_exhaustive(case: tuple[str, str, int, str], value: str) -> None:
    check_boundary(*case, value)


FAST = [
    (c, v)
    for c in OPTIONS
    if c[0] in ("decompose", "report")
    for v in VALUES
    if (c[0], c[1], v) not in OWNED_ELSEWHERE
]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=st.sampled_from(FAST))
def test_boundary_values_property(pair: tuple[tuple[str, str, int, str], str]) -> None:
    check_boundary(*pair[0], pair[1])


HUGE = [
    ("decompose", "--memory-budget", "1e300"),
    ("decompose", "--threads", "2147483648"),
    ("train", "--memory-budget", "1e300"),
    ("fluctuations", "--memory-budget", "1e300"),
    ("sweep", "--memory-budget", "1e300"),
    ("sweep", "--workers", "2147483648"),
    ("report", "--threads", "2147483648"),
]


@pytest.mark.parametrize(("command", "option", "value"), HUGE, ids=[" ".join(h) for h in HUGE])
def test_huge_budgets_and_thread_counts_are_refused(command: str, option: str, value: str) -> None:
    """Found by the fuzz: an OverflowError (budget × 2**30) and 2**31 threads or workers."""
    (case,) = [c for c in OPTIONS if c[:2] == (command, option)]
    check_boundary(*case, value)
