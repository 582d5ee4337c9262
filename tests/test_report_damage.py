"""``report`` never tracebacks on a run file that ``load`` accepts.

Real run files of every type (analytic and empirical ``decompose``, ``train``,
``fluctuations``, and a ``sweep`` folder) are damaged in many ways — a variable deleted,
NaN or infinite values, text or integers in place of floats, wrong or renamed dimensions,
empty and one-long dimensions, missing or garbled variable attributes, global attributes
and keys of the JSON configuration — and written as NetCDF without going through
:func:`spectralntk.save`. For each damaged file, either :func:`spectralntk.load` refuses
it with one line, or ``spectralntk report`` succeeds (exit 0), listing on stderr and in
the report what it left out; never a traceback, never a late refusal.

The everyday suite runs a deterministic seventh of the damages (every 7th of each
category, so every kind of damage and most variables come up) through ``report --format
json`` and a tenth of those through the full report folder with figures; the slow suite
runs every damage with its figures.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from test_cli import invoke, stderr_of

from spectralntk.errors import RunFileError
from spectralntk.store.netcdf import load

pytest.importorskip("torch")

Damage = tuple[str, Callable[[xr.Dataset], xr.Dataset]]

#: Bad values put in place of each key of the JSON configuration.
CONFIG_VALUES: tuple[Any, ...] = ("delete", "garbled", None, -1, 0, 2**31, 1e300, 5e-324, [], {})


# ---------------------------------------------------------------------------
# real runs of every type, tiny
# ---------------------------------------------------------------------------
RUN_ARGS = {
    kind: args.split()
    for kind, args in {
        "spectrum": "decompose --depth 1 --depth 2 --max-frequency 16 --angles 32",
        "empirical": "decompose --kernel empirical --depth 2 --width 8 --width 16 --seeds 2 "
        "--points 16",
        "training": "train --width 8 --width 16 --seeds 2 --points 16 --eval-points 32 "
        "--steps 20 --target fourier-mixture --frequencies 1 --frequencies 3 --amplitudes 1 "
        "--amplitudes 0.5 --phases 0 --phases 1 --inputs random",
        "fluctuation": "fluctuations --depth 1 --depth 2 --width 8 --width 16 --seeds 3 "
        "--probes 4 --bootstrap 20 --steps 5 --points 8",
    }.items()
}

SWEEP_FILE = """\
[sweep]
name = "small"

[base]
target = "sine"
frequency = 2
inputs = "grid"
points = 16
eval_points = 32
steps = 20
seeds = 2

[axes]
width = [8, 16]
lr = [0.5, 0.25]
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for kind, args in RUN_ARGS.items():
        path = root / f"{kind}.nc"
        result = invoke(*args, "--threads", "1", "--out", str(path), "--quiet")
        assert result.exit_code == 0, (kind, result.output, result.exception)
        out[kind] = path
    return out


# ---------------------------------------------------------------------------
# damages
# ---------------------------------------------------------------------------
def _replaced(name: str, values: Any, dims: tuple[str, ...] | None = None) -> Callable:
    def damage(ds: xr.Dataset) -> xr.Dataset:
        var = ds[name]
        out = ds.copy()
        out[name] = xr.Variable(dims or var.dims, values(var), var.attrs)
        return out

    return damage


def _full(value: Any, dtype: Any = None) -> Callable:
    return lambda var: np.full(var.shape, value, dtype=dtype)


def variable_damages(ds: xr.Dataset) -> Iterator[Damage]:
    """Per variable: deleted, values replaced, dtype changed, dimensions wrong."""
    for name in map(str, ds.variables):
        var = ds[name]
        yield f"{name} deleted", lambda d, n=name: d.drop_vars(n)
        if name in ds.dims:
            continue
        if var.dtype.kind == "f":
            for label, value in (
                ("NaN", np.nan),
                ("+inf", np.inf),
                ("-inf", -np.inf),
                ("0", 0.0),
                ("-1", -1.0),
                ("1e308", 1e308),
                ("5e-324", 5e-324),
            ):
                yield f"{name} all {label}", _replaced(name, _full(value))
            yield f"{name} as float32", _replaced(name, lambda v: v.values.astype(np.float32))
            yield f"{name} as int", _replaced(name, _full(1, np.int32))
            if var.size > 1:

                def one_nan(v: xr.Variable) -> np.ndarray:
                    out = v.values.astype(np.float64).copy()
                    out.flat[out.size // 2] = np.nan
                    return out

                yield f"{name} one NaN", _replaced(name, one_nan)
        else:
            yield f"{name} as float 0.5", _replaced(name, _full(0.5))
            yield f"{name} as NaN", _replaced(name, _full(np.nan))
            yield f"{name} as 2**31 - 1", _replaced(name, _full(2**31 - 1, np.int64))
        yield f"{name} as text", _replaced(name, _full("x", "S1"))
        if var.ndim >= 2:
            yield f"{name} transposed", lambda d, n=name: d.assign({n: d[n].transpose()})
        bogus = tuple(f"bogus{i}" for i in range(var.ndim))
        yield f"{name} on other dimensions", _replaced(name, lambda v: v.values, bogus)


def coordinate_damages(ds: xr.Dataset) -> Iterator[Damage]:
    """Per dimension: empty, one long, one shorter; coordinates reversed, negative, NaN."""
    for dim in map(str, ds.dims):
        yield f"dimension {dim} empty", lambda d, n=dim: d.isel({n: slice(0, 0)})
        yield f"dimension {dim} one long", lambda d, n=dim: d.isel({n: slice(0, 1)})
        if ds.sizes[dim] > 2:
            yield f"dimension {dim} one shorter", lambda d, n=dim: d.isel({n: slice(0, -1)})
        if dim not in ds.variables or ds[dim].dtype.kind not in "iuf" or not ds.sizes[dim]:
            continue

        def coord(values: Callable, n: str = dim) -> Callable:
            def damage(d: xr.Dataset) -> xr.Dataset:
                var = d[n]
                return d.assign_coords({n: xr.Variable((n,), values(var.values), var.attrs)})

            return damage

        yield f"coordinate {dim} reversed", coord(lambda v: v[::-1].copy())
        yield f"coordinate {dim} negative", coord(lambda v: -v.astype(np.float64) - 1)
        yield f"coordinate {dim} huge", coord(lambda v: (np.arange(v.size) + 2**30) * 2)
        yield f"coordinate {dim} zero", coord(lambda v: np.zeros(v.size))

        def first_nan(v: np.ndarray) -> np.ndarray:
            out = v.astype(np.float64).copy()
            out[0] = np.nan
            return out

        yield f"coordinate {dim} NaN", coord(first_nan)


def attribute_damages(ds: xr.Dataset) -> Iterator[Damage]:
    """Variable and global attributes deleted or garbled (the configuration aside)."""
    for name in map(str, ds.variables):
        for key in list(ds[name].attrs):

            def deleted(d: xr.Dataset, n: str = name, k: str = key) -> xr.Dataset:
                out = d.copy()
                out[n].attrs = {a: v for a, v in d[n].attrs.items() if a != k}
                return out

            def garbled(d: xr.Dataset, n: str = name, k: str = key) -> xr.Dataset:
                out = d.copy()
                out[n].attrs = {**d[n].attrs, k: "garbled"}
                return out

            yield f"{name} attribute {key} deleted", deleted
            yield f"{name} attribute {key} garbled", garbled
    for key in list(ds.attrs):
        if key == "spectralntk_config":
            continue
        yield f"global {key} deleted", lambda d, k=key: _drop_attr(d, k)
        for bad in ("garbled", np.int32(-1), np.float64(1e300)):
            yield f"global {key} = {bad!r}", lambda d, k=key, b=bad: d.assign_attrs({k: b})


def _drop_attr(ds: xr.Dataset, key: str) -> xr.Dataset:
    out = ds.copy()
    out.attrs = {k: v for k, v in ds.attrs.items() if k != key}
    return out


def _leaves(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _leaves(value, (*prefix, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _leaves(value, (*prefix, i))


def _set(config: Any, path: tuple[Any, ...], bad: Any) -> None:
    *head, last = path
    for key in head:
        config = config[key]
    if isinstance(bad, str) and bad == "delete":
        del config[last]
    else:
        config[last] = copy.deepcopy(bad)


def config_damages(ds: xr.Dataset) -> Iterator[Damage]:
    """Each key (at any depth) of the JSON configuration deleted or replaced by garbage;
    the attribute itself not JSON, or an empty object."""
    config = json.loads(ds.attrs["spectralntk_config"])
    for path in _leaves(config):
        for bad in CONFIG_VALUES:
            new = copy.deepcopy(config)
            _set(new, path, bad)
            text = json.dumps(new)
            label = f"config {'.'.join(map(str, path))} = {bad!r}"
            yield label, lambda d, t=text: d.assign_attrs(spectralntk_config=t)
    yield "config not JSON", lambda d: d.assign_attrs(spectralntk_config="{not json")
    yield "config empty", lambda d: d.assign_attrs(spectralntk_config="{}")
    yield "config deleted", lambda d: _drop_attr(d, "spectralntk_config")


CATEGORIES = {
    "variables": variable_damages,
    "coordinates": coordinate_damages,
    "attributes": attribute_damages,
    "config": config_damages,
}


# ---------------------------------------------------------------------------
# the property
# ---------------------------------------------------------------------------
def _write_raw(ds: xr.Dataset, path: Path) -> bool:
    """Write ``ds`` as NetCDF-4 without validation; False if NetCDF cannot hold it."""
    try:
        ds.to_netcdf(path, engine="netcdf4", format="NETCDF4")
    except Exception:  # a damage NetCDF itself cannot store is not a file load could see
        path.unlink(missing_ok=True)
        return False
    return True


def check_damaged(path: Path, *, figures: bool) -> str | None:
    """Why ``path`` breaks the property, or None: load refuses in one line, or report
    exits 0 (with a ``Left out:`` line on stderr for each part it left out)."""
    try:
        load(path)
    except RunFileError as err:
        message = str(err)
        return None if "\n" not in message and message else f"load refused in lines: {message!r}"
    except Exception as err:  # the property: load fails only in one line
        return f"load raised {type(err).__name__}: {err}"
    if figures:
        out = path.with_suffix(".report")
        result = invoke("report", str(path), "--out", str(out), "--no-svg", "--quiet")
    else:
        result = invoke("report", str(path), "--format", "json")
    err = stderr_of(result)
    if result.exit_code != 0 or "Traceback" in result.output + err:
        tail = err.strip().splitlines()[-1:] or [repr(result.exception)]
        return f"report exit {result.exit_code}: {tail[0][:300]}"
    if figures:
        report = json.loads((out / "report.json").read_text())
        left_out = [line for line in err.splitlines() if line.startswith("Left out: ")]
        if len(left_out) != len(report["omitted"]):
            return f"stderr says {left_out}, the report {report['omitted']}"
        missing = [f["png"] for f in report["figures"] if not (out / f["png"]).is_file()]
        if missing:
            return f"figures listed but not written: {missing}"
    return None


def run_damages(
    source: Path, category: str, *, figures: Callable[[int], bool], stride: int = 1
) -> list[str]:
    """Every ``stride``-th damage of ``category`` applied to the run at ``source``; the
    failures."""
    ds = load(source)
    failures = []
    with tempfile.TemporaryDirectory(prefix="spectralntk-damage-") as tmp:
        for i, (label, damage) in enumerate(CATEGORIES[category](ds)):
            if i % stride:
                continue
            path = Path(tmp) / f"case{i}.nc"
            if not _write_raw(damage(ds), path):
                continue
            why = check_damaged(path, figures=figures(i))
            if why is not None:
                failures.append(f"{label}: {why}")
            path.unlink()
            shutil.rmtree(path.with_suffix(".report"), ignore_errors=True)
    return failures


@pytest.mark.parametrize("category", list(CATEGORIES))
@pytest.mark.parametrize("kind", list(RUN_ARGS))
def test_report_of_a_damaged_run_never_tracebacks(
    runs: dict[str, Path], kind: str, category: str
) -> None:
    """Every 7th damage through ``report --format json``; every 70th with its figures.

    The configuration of a training run has many keys and each report recomputes its
    theory: every 23rd of those.
    """
    stride = 23 if (kind, category) == ("training", "config") else 7
    failures = run_damages(runs[kind], category, figures=lambda i: i % 70 == 0, stride=stride)
    assert not failures, f"{len(failures)} damaged {kind} runs break report:\n" + "\n".join(
        failures
    )


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("SPECTRALNTK_DAMAGE_FULL"),
    reason="every damage with figures takes over 10 min on 2 cores: SPECTRALNTK_DAMAGE_FULL=1",
)
@pytest.mark.parametrize("category", list(CATEGORIES))
@pytest.mark.parametrize("kind", list(RUN_ARGS))
def test_report_figures_of_every_damaged_run(
    runs: dict[str, Path], kind: str, category: str
) -> None:
    failures = run_damages(runs[kind], category, figures=lambda i: True)
    assert not failures, f"{len(failures)} damaged {kind} runs break report:\n" + "\n".join(
        failures
    )
