"""Sweep files, their grid of runs, the task grain and the hash that keys each run.

A sweep file is TOML with three tables::

    [sweep]
    kind = "train"          # the command of every grid point: train or fluctuations
    name = "lr-depth"       # default: the file's stem; the default folder is runs/<name>
    task_gflop = 1000       # grain: estimated work of one task (see below)

    [base]                  # anything the command accepts (flat settings; preset, quick)
    preset = "exp2.3"
    quick = true
    steps = 500

    [axes]                  # the settings to vary: key = [values]
    width = [256, 1024]
    seed = [0, 1, 2]
    lr = [0.01, 0.1]
    depth = [1, 2]

The grid is the product of the axes. ``width`` and ``seed`` (or ``seeds``) — and
``depth`` for ``fluctuations`` — are the run's own dimensions: they become the
``width``, ``seeds`` (``depth``) settings of the runs instead of separate runs, so
one grid *point* is one run over every width and seed, for one value of each other
axis (:mod:`spectralntk.sweeps.kinds`).

Task grain
----------
A point is split into tasks along ``width`` only: a task trains one or more
consecutive widths, each with *all* its seeds as one batch, exactly as ``train``
does (the seed batching is the speed of the training run, and a seed's derived
quantities are bit-identical only within the same batch). Widths are packed, from
the smallest, into a task while its estimated work (:func:`estimated_flops`) stays
under ``task_gflop`` (default 1000 GFLOP: about a minute of one CPU core at the
~20 GFLOP/s measured for matrix-bound runs, seconds on a GPU); a width whose own
work exceeds it is a task alone. So small widths do not make tiny tasks, and the
longest task is one width with its seeds.
``seeds_per_task`` (default: all; ``train`` only, fluctuation statistics are over
seeds) splits the seeds into groups for very long widths; each group is then
bit-identical to ``train`` with that group of seeds.

Every task is keyed by the SHA-256 of the canonical JSON of its full resolved
configuration (:func:`run_hash`): the run kind, the run configuration (its widths
and seeds included), the dtype and the run-file schema version. The device is not
part of it: it changes where a run executes, not what it computes (up to the
device's rounding), and a sweep may be finished on other hardware.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spectralntk.errors import (
    ParameterError,
    check_choice,
    check_int,
    check_real,
    parameter_error,
)

__all__ = [
    "SweepSpec",
    "SweepTask",
    "estimated_flops",
    "load_sweep_file",
    "plan_tasks",
    "run_hash",
    "sweep_spec",
]

#: Keys of the [sweep] table.
SWEEP_KEYS = ("kind", "name", "task_gflop", "seeds_per_task")
#: Settings that describe where or how a run executes, not what it computes.
EXECUTION_KEYS = ("device", "threads")
#: Settings whose value is a list: not usable as an axis (a coordinate is a scalar).
LIST_SETTINGS = ("frequencies", "amplitudes", "phases", "checkpoint_steps")
DEFAULT_TASK_GFLOP = 1000.0
#: Precisions a run may use (as spectralntk.nn.device.DTYPES, without importing torch).
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep file: the base settings and the axes to vary.

    Parameters
    ----------
    kind : str
        Run kind of every point (``"train"``).
    name : str
        Name of the sweep (default folder ``runs/<name>``).
    base : dict
        Merged settings of the base (defaults < preset < ``[base]``).
    axes : tuple of (str, tuple)
        The axes in file order; ``seed`` replaces ``seeds``.
    task_gflop : float
        Target work of one task (the grain).
    seeds_per_task : int or None
        Seeds per task (None: all seeds of a width in one task).
    """

    kind: str
    name: str
    base: dict[str, Any]
    axes: tuple[tuple[str, tuple[Any, ...]], ...]
    task_gflop: float = DEFAULT_TASK_GFLOP
    seeds_per_task: int | None = None

    @property
    def batch_axes(self) -> Mapping[str, str]:
        """Axes that are dimensions of one run, by the setting they fill (see kinds)."""
        from spectralntk.sweeps.kinds import KINDS

        return KINDS[self.kind].batch_axes

    @property
    def point_axes(self) -> tuple[tuple[str, tuple[Any, ...]], ...]:
        """The axes that make separate runs (all but the run's own dims), in file order."""
        return tuple((k, v) for k, v in self.axes if k not in self.batch_axes)

    def points(self) -> list[dict[str, Any]]:
        """Every grid point as {axis: value} over :attr:`point_axes` (C order)."""
        names = [k for k, _ in self.point_axes]
        return [
            dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(v for _, v in self.point_axes))
        ]

    def point_settings(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """The full flat settings of one grid point (every width and seed)."""
        settings = dict(self.base)
        settings.update(point)
        for axis, values in self.axes:
            if axis in self.batch_axes:
                settings[self.batch_axes[axis]] = list(values)
        return settings


@dataclass(frozen=True)
class SweepTask:
    """One unit of work: some widths (all or a group of seeds) of one grid point.

    ``config`` is the run configuration as JSON-ready dict (what the run file
    stores); ``key`` its :func:`run_hash`.
    """

    key: str
    point: dict[str, Any]
    widths: tuple[int, ...]
    seeds: tuple[int, ...]
    config: dict[str, Any] = field(repr=False)
    dtype: str
    flops: float

    @property
    def file_name(self) -> str:
        """Name of the task's run file inside ``<sweep>/runs/``."""
        return f"{self.key}.nc"


def _where(file: str, table: str) -> str:
    return f"[{table}] of {file}"


def _check_table(data: Mapping[str, Any], name: str, file: str) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise parameter_error(name, f"a TOML table [{name}] in {file}", table)
    return {str(k).replace("-", "_"): v for k, v in table.items()}


def _axis_values(
    key: str, axis: str, setting: str, values: Any, base: Mapping[str, Any], where: str
) -> tuple[Any, ...]:
    """The validated values of one axis (``key`` as spelled in the file; ``setting``
    the setting it fills)."""
    if axis in EXECUTION_KEYS:
        raise parameter_error(
            key, f"a setting of the runs, not how they execute (use --{axis})", values
        )
    if axis in LIST_SETTINGS:
        raise parameter_error(
            key, "a scalar setting to use as an axis (list-valued settings are not)", values
        )
    if not isinstance(values, list):
        raise parameter_error(key, f"a list of values in {where}", values)
    if not values:
        raise parameter_error(key, f"a non-empty list of values in {where}", [])
    if any(isinstance(value, (list, dict)) for value in values):
        raise parameter_error(key, "a list of scalar values (numbers, strings)", values)
    if len({repr(v) for v in values}) != len(values):
        raise parameter_error(key, "a list of distinct values", values)
    for name in dict.fromkeys((setting, axis)):
        if name in base:
            raise parameter_error(
                key,
                f"set in [base] or varied in [axes], not both (it is {name} = "
                f"{base[name]!r} in [base])",
                values,
            )
    if setting != axis or axis == "width":  # a run's own dimension: sorted ints
        return tuple(sorted(check_int(axis, v, 0 if axis == "seed" else 1) for v in values))
    return tuple(values)


def sweep_spec(data: Mapping[str, Any], *, file: str = "the sweep file") -> SweepSpec:
    """Validate the tables of a sweep file (see the module docstring).

    Parameters
    ----------
    data : Mapping
        The parsed TOML (tables ``sweep``, ``base``, ``axes``).
    file : str
        Name of the file, for messages.

    Raises
    ------
    ParameterError
        Naming the key: an unknown table or key, an empty or repeated axis value,
        a list-valued or execution setting used as an axis, an axis also set in
        ``[base]``, or (from the run's own validation) any invalid setting.
    """
    from spectralntk.sweeps.kinds import KINDS

    for key in data:
        if key not in ("sweep", "base", "axes"):
            raise parameter_error(key, f"one of the tables [sweep], [base], [axes] in {file}", key)
    head = _check_table(data, "sweep", file)
    for key in head:
        if key not in SWEEP_KEYS:
            raise parameter_error(key, f"one of {list(SWEEP_KEYS)} in {_where(file, 'sweep')}", key)
    kind = head.get("kind", "train")
    if kind not in KINDS:
        raise parameter_error("kind", f"one of {list(KINDS)} in {_where(file, 'sweep')}", kind)
    run_kind = KINDS[kind]
    name = head.get("name", Path(file).stem if file.endswith(".toml") else "sweep")
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise parameter_error("name", "a folder name (no '/', not starting with '.')", name)
    task_gflop = check_real("task_gflop", head.get("task_gflop", DEFAULT_TASK_GFLOP), 0.0)
    if task_gflop <= 0:
        raise parameter_error("task_gflop", "a finite real number in the range (0, inf)", 0.0)
    per_task = head.get("seeds_per_task")
    seeds_per_task = None if per_task is None else check_int("seeds_per_task", per_task, 1)
    if seeds_per_task is not None and not run_kind.split_seeds:
        raise parameter_error(
            "seeds_per_task", f"absent for kind {kind!r} (its statistics are over seeds)", per_task
        )

    base = _check_table(data, "base", file)
    preset = base.pop("preset", None)
    quick = base.pop("quick", False)
    if not isinstance(quick, bool):
        raise parameter_error("quick", "true or false", quick)
    run_kind.check_keys(base, _where(file, "base"))
    layers: list[dict[str, Any]] = []
    if preset is not None:
        layers.append(run_kind.preset(preset, quick))
    elif quick:
        raise parameter_error("quick", "used with preset = NAME in [base]", quick)
    layers.append(base)
    merged = run_kind.merge(*layers)

    axes: list[tuple[str, tuple[Any, ...]]] = []
    for key, values in _check_table(data, "axes", file).items():
        axis = "seed" if key == "seeds" else key
        if any(axis == a for a, _ in axes):
            raise parameter_error(key, "given once in [axes] (seed and seeds are one axis)", key)
        if axis != "seed":
            run_kind.check_keys({axis: None}, _where(file, "axes"))
        setting = run_kind.batch_axes.get(axis, axis)
        where = _where(file, "axes")
        axes.append((axis, _axis_values(key, axis, setting, values, base, where)))
    spec = SweepSpec(kind, name, merged, tuple(axes), task_gflop, seeds_per_task)
    for point in spec.points():  # every point must be a valid run before anything starts
        resolved_config(spec, point)
    return spec


def load_sweep_file(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file (see :func:`sweep_spec`)."""
    from spectralntk.settings import read_toml

    file = Path(path)
    return sweep_spec(read_toml(file, "sweep file"), file=file.name)


def resolved_config(spec: SweepSpec, point: Mapping[str, Any]) -> tuple[Any, str]:
    """(configuration, dtype) of one grid point; errors name the grid point."""
    from spectralntk.sweeps.kinds import KINDS

    try:
        config, _device, dtype = KINDS[spec.kind].configure(spec.point_settings(point))
        return config, check_choice("dtype", dtype, DTYPES)
    except ParameterError as err:
        if not point:
            raise
        where = ", ".join(f"{k} = {v!r}" for k, v in point.items())
        raise ParameterError(err.parameter, f"{err} (grid point {where})") from None


def run_hash(kind: str, config: Mapping[str, Any], dtype: str) -> str:
    """SHA-256 (hex) of the canonical JSON of a run's full configuration.

    The canonical form is :func:`spectralntk.store.schema.dump_config` (sorted keys,
    enums as values, tuples as lists) of ``{kind, config, dtype, schema}``, where
    ``schema`` is the run-file schema version: a run is recomputed when its
    configuration or the file layout changes, not when spectralntk is upgraded.
    """
    from spectralntk.store.schema import SCHEMA_VERSION, dump_config

    text = dump_config({"kind": kind, "config": config, "dtype": dtype, "schema": SCHEMA_VERSION})
    return hashlib.sha256(text.encode()).hexdigest()


def estimated_flops(config: Any, width: int, seeds: int | None = None) -> float:
    """Estimated floating-point work of one width of a ``train`` run.

    See :func:`spectralntk.sweeps.kinds.train_flops`; ``seeds`` defaults to all of
    ``config``.
    """
    from spectralntk.sweeps.kinds import train_flops

    return train_flops(config, width, len(config.seeds) if seeds is None else seeds)


def _groups(items: Sequence[int], size: int | None) -> list[tuple[int, ...]]:
    if size is None or size >= len(items):
        return [tuple(items)]
    return [tuple(items[a : a + size]) for a in range(0, len(items), size)]


def plan_tasks(spec: SweepSpec) -> list[SweepTask]:
    """Every task of the sweep, grid point by grid point (the grain rule above).

    Returns
    -------
    list of SweepTask
        Each with its hash; distinct points give distinct hashes.
    """
    from spectralntk.sweeps.kinds import KINDS

    kind = KINDS[spec.kind]
    limit = spec.task_gflop * 1e9
    tasks: list[SweepTask] = []
    for point in spec.points():
        config, dtype = resolved_config(spec, point)
        for seeds in _groups(config.seeds, spec.seeds_per_task):
            packed: list[list[int]] = []
            work = 0.0
            for width in config.widths:
                cost = kind.flops(config, width, len(seeds))
                if packed and work + cost <= limit:
                    packed[-1].append(width)
                    work += cost
                else:
                    packed.append([width])
                    work = cost
            for widths in packed:
                as_dict = kind.restrict(config, tuple(widths), tuple(seeds)).to_dict()
                tasks.append(
                    SweepTask(
                        key=run_hash(spec.kind, as_dict, dtype),
                        point=dict(point),
                        widths=tuple(widths),
                        seeds=tuple(seeds),
                        config=as_dict,
                        dtype=dtype,
                        flops=sum(kind.flops(config, w, len(seeds)) for w in widths),
                    )
                )
    return tasks


def point_config(spec: SweepSpec, point: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration ``train`` stores for one whole grid point (JSON-ready)."""
    config, _ = resolved_config(spec, point)
    return dict(config.to_dict())
