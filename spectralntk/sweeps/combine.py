"""A sweep folder as one lazily combined, labelled :class:`xarray.Dataset`.

:func:`open_sweep` opens every run file of a sweep with Dask chunks (nothing is
read until used), joins the tasks of one grid point along ``width`` (and
``seed``) into exactly the dataset ``train`` writes for that point, and stacks
the points along one new dimension per varied axis (``lr``, ``loss``, ``depth``,
…), before the run's own dimensions. So a variable ``residual_cos`` of a run,
``(width, seed, step, frequency)``, is ``(lr, depth, width, seed, step,
frequency)`` in a sweep over ``lr`` and ``depth``.

Alignment. Where an axis changes a dimension's labels (``steps``,
``record_every``, ``checkpoint_steps``, ``max_frequency``, ``points``,
``eval_points``), the combined view has the union of the labels and NaN where a
point has no value (an outer join: steps, checkpoints, frequencies and angles
are labels that mean the same in every run; ``sample``/``eigenmode``/``rank``
are indices, so a sweep over ``points`` is best read point by point with
:func:`sweep_points`). Points (or widths) without a finished run (failed, not
run yet) are NaN as well; integer variables (``diverged_step``, ``diverged``)
become float64 when any NaN is needed.

Added variables over the sweep dimensions (and ``width``): ``run_status``
(int8 flags finished / diverged / pending / failed) and ``run_attrs`` (the
point's global attributes as JSON: its ``spectralntk_config``, ``depth``,
``loss_convention``, …). Global attributes: those of the runs that are the same
at every point, ``spectralntk_sweep_dims`` (the sweep dimensions, space
separated; :func:`spectralntk.store.schema.validate` accepts these leading
dimensions), ``spectralntk_sweep_padded_dims`` (run dimensions whose labels
differ between points), ``spectralntk_sweep_name`` and ``spectralntk_config`` of the first
point.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spectralntk.store import schema
from spectralntk.sweeps.execute import DONE, SweepError, read_index

__all__ = ["ATTR_SWEEP_DIMS", "STATUS_FLAGS", "open_sweep", "stack_runs", "sweep_points"]

ATTR_SWEEP_DIMS = schema.ATTR_SWEEP_DIMS
ATTR_SWEEP_NAME = "spectralntk_sweep_name"
#: Run dimensions whose labels differ between points (outer-joined, NaN-padded).
ATTR_SWEEP_PADDED = "spectralntk_sweep_padded_dims"
#: Outcomes in increasing severity (a point's width shows the worst of its tasks).
STATUS_FLAGS = ("finished", "diverged", "pending", "failed")

#: Dimension names of axes whose setting name is a variable or dimension of a run already.
DIM_NAMES = {"loss": "loss_convention", "frequency": "target_frequency"}

#: long_name and units of sweep axes that are not registered variables.
AXIS_ATTRS: dict[str, tuple[str, str]] = {
    "lr": ("learning rate eta", "1"),
    "loss_convention": ("loss convention of the run", "1"),
    "target_frequency": ("frequency of the sine target", "1"),
    "target": ("target function", "1"),
    "steps": ("number of gradient steps T", "1"),
    "weight_std": ("weight standard deviation sigma_w", "1"),
    "bias_std": ("bias standard deviation sigma_b", "1"),
    "points": ("number of training points N", "1"),
    "dtype": ("floating-point precision", "1"),
}

_GLOBAL_KEEP = (
    schema.ATTR_CONVENTIONS,
    schema.ATTR_SOURCE,
    schema.ATTR_REFERENCES,
    schema.ATTR_VERSION,
    schema.ATTR_SCHEMA_VERSION,
    schema.ATTR_RUN_TYPE,
)


def _open_run(path: Path, chunks: Any) -> Any:
    import xarray as xr

    from spectralntk.errors import RunFileError

    try:
        ds = xr.open_dataset(path, engine="netcdf4", chunks=chunks)
    except Exception as exc:
        raise RunFileError(f"Cannot read run file '{path}' of the sweep: {exc}") from None
    return schema.validate(ds)


def _join_point(parts: list[tuple[dict[str, Any], Any]]) -> Any:
    """The tasks of one grid point joined along seed, then width (as ``train`` writes)."""
    by_widths: dict[tuple[int, ...], list[tuple[tuple[int, ...], Any]]] = {}
    for task, ds in parts:
        by_widths.setdefault(tuple(task["widths"]), []).append((tuple(task["seeds"]), ds))
    joined = [
        _concat([ds for _, ds in sorted(by_widths[w], key=lambda item: item[0])], schema.SEED)
        for w in sorted(by_widths)
    ]
    return _concat(joined, schema.WIDTH)


def _concat(parts: list[Any], dim: str) -> Any:
    """``parts`` joined along ``dim``; variables without ``dim`` are taken from the first
    (they are the same in every part: theory per width, training inputs)."""
    import xarray as xr

    if len(parts) == 1:
        return parts[0]
    return xr.concat(
        parts,
        dim=dim,
        data_vars="minimal",
        coords="minimal",
        compat="override",
        join="outer",
        combine_attrs="override",
    )


def sweep_dim_name(setting: str) -> str:
    """The dimension of a varied setting: its name, unless a run variable or dimension
    has that name already (``loss`` → ``loss_convention``, ``frequency`` →
    ``target_frequency``; any other such name gets the suffix ``_setting``)."""
    if setting in DIM_NAMES:
        return DIM_NAMES[setting]
    if setting in schema.VARIABLES and setting != schema.DEPTH:
        return f"{setting}_setting"
    return setting


def _renamed(point: Mapping[str, Any]) -> dict[str, Any]:
    return {sweep_dim_name(k): v for k, v in point.items()}


def _point_key(point: Mapping[str, Any], names: list[str]) -> tuple[str, ...]:
    return tuple(json.dumps(point[n]) for n in names)


def _attrs_json(attrs: Mapping[str, Any]) -> str:
    plain = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in attrs.items()}
    return json.dumps({k: v for k, v in plain.items() if k != schema.ATTR_HISTORY}, sort_keys=True)


def _status(
    index: Mapping[str, Any],
    root: Path,
    names: list[str],
    axes: Mapping[str, list[Any]],
    widths: list[int],
) -> np.ndarray:
    """Flags (sweep dims…, width): the worst outcome of a point's tasks at each width."""
    status = np.zeros([len(axes[n]) for n in names] + [len(widths)], np.int8)
    for task in index["tasks"]:
        outcome = task["status"] if task["status"] in STATUS_FLAGS else "pending"
        if outcome in DONE and not (root / task["file"]).is_file():
            outcome = "pending"
        point = _renamed(task["point"])
        position = tuple(axes[n].index(point[n]) for n in names)
        for w in task["widths"]:
            where = (*position, widths.index(w))
            status[where] = max(status[where], STATUS_FLAGS.index(outcome))
    return status


def _axis_coords(names: list[str], axes: Mapping[str, list[Any]]) -> dict[str, Any]:
    """Coordinates of the sweep dimensions with long_name and units (depth: registered)."""
    import xarray as xr

    coords: dict[str, Any] = {}
    for n in names:
        values = np.asarray(axes[n])
        spec = schema.VARIABLES.get(n)
        default = AXIS_ATTRS.get(n, (f"sweep axis {n}", "1"))
        long_name, units = (spec.long_name, spec.units) if spec else default
        coords[n] = xr.Variable((n,), values, {"long_name": long_name, "units": units})
        if n == schema.DEPTH:  # and Jacot's L = depth + 1 beside it
            jl = schema.VARIABLES[schema.JACOT_LAYERS]
            coords[schema.JACOT_LAYERS] = xr.Variable(
                (n,), values.astype(np.int32) + 1, jl.all_attrs()
            )
    return coords


def _as_floats(ds: Any) -> Any:
    """``ds`` with its integer data variables as float64 (to hold NaN)."""
    ints = [n for n, v in ds.data_vars.items() if v.dtype.kind in "iu"]
    return ds.assign({n: ds[n].astype(np.float64) for n in ints})


def open_sweep(folder: str | Path, *, chunks: Any = None) -> Any:
    """Open a sweep folder as one lazily combined :class:`xarray.Dataset`.

    Parameters
    ----------
    folder : path
        A folder written by ``spectralntk sweep`` (``index.json``, ``runs/``).
    chunks : optional
        Dask chunks for :func:`xarray.open_dataset` (default ``{}``: one chunk per
        variable and file).

    Returns
    -------
    xarray.Dataset
        Dimensions: the varied axes other than width and seed (file order), then
        the run's own. Coordinates of the sweep dimensions hold the axis values.
        See the module docstring for alignment, ``run_status`` and ``run_attrs``.

    Raises
    ------
    SweepError
        Not a sweep folder, or no run of it has finished.
    RunFileError
        A run file that cannot be read.
    """
    import xarray as xr

    root = Path(folder)
    index = read_index(root)
    settings: list[str] = list(index["point_axes"])
    names = [sweep_dim_name(k) for k in settings]
    axes = {sweep_dim_name(k): v for k, v in index["axes"]}
    points = [_renamed(p["point"]) for p in index["points"]]
    configs = {_point_key(_renamed(p["point"]), names): p["config"] for p in index["points"]}
    chunks = {} if chunks is None else chunks

    parts: dict[tuple[str, ...], list[tuple[dict[str, Any], Any]]] = {}
    for task in index["tasks"]:
        path = root / task["file"]
        if task["status"] in DONE and path.is_file():
            key = _point_key(_renamed(task["point"]), names)
            parts.setdefault(key, []).append((task, _open_run(path, chunks)))
    if not parts:
        raise SweepError(f"No run of the sweep in '{root}' has finished yet")

    joined: dict[tuple[str, ...], Any] = {}
    for key, items in parts.items():
        ds = _join_point(items)
        attrs = dict(ds.attrs)
        attrs[schema.ATTR_CONFIG] = schema.dump_config(configs[key])
        ds.attrs = attrs
        joined[key] = ds
    all_widths = sorted({w for t in index["tasks"] for w in t["widths"]})
    status = _status(index, root, names, axes, all_widths)

    labels: dict[str, set[tuple[Any, ...]]] = {}
    for ds in joined.values():
        for dim, index_ in ds.indexes.items():
            labels.setdefault(str(dim), set()).add(tuple(index_.tolist()))
    padded = sorted(d for d, seen in labels.items() if len(seen) > 1 and d != schema.WIDTH)
    aligned = xr.align(*joined.values(), join="outer", exclude=())
    joined = dict(zip(joined, aligned, strict=True))
    complete = len(joined) == len(points) and all(
        ds.sizes[schema.WIDTH] == len(all_widths) for ds in joined.values()
    )
    if not complete:  # NaN for the missing: integers become floats
        joined = {k: _as_floats(ds.reindex({schema.WIDTH: all_widths})) for k, ds in joined.items()}
    first = next(iter(joined.values()))
    attrs_text = np.full([len(axes[n]) for n in names], "", dtype=object)

    if names:
        blank = xr.full_like(first, np.nan) if not complete else None

        def nested(level: int, prefix: tuple[Any, ...]) -> Any:
            if level == len(names):
                point = dict(zip(names, prefix, strict=True))
                key = _point_key(point, names)
                ds = joined.get(key)
                if ds is not None:
                    attrs_text[tuple(axes[n].index(point[n]) for n in names)] = _attrs_json(
                        ds.attrs
                    )
                    return ds
                return blank
            return [nested(level + 1, (*prefix, v)) for v in axes[names[level]]]

        combined = xr.combine_nested(
            nested(0, ()),
            concat_dim=names,
            data_vars="all",
            coords="minimal",
            compat="override",
            join="outer",
            combine_attrs="drop_conflicts",
        )
        combined = combined.assign_coords(_axis_coords(names, axes))
        combined = combined.transpose(*names, ...)
    else:
        combined = first
        attrs_text = np.asarray(_attrs_json(first.attrs), dtype=object)

    combined["run_status"] = xr.Variable(
        (*names, schema.WIDTH),
        status,
        {
            "long_name": "outcome of the sweep task of this grid point and width",
            "units": "1",
            "flag_values": np.arange(len(STATUS_FLAGS), dtype=np.int8),
            "flag_meanings": " ".join(STATUS_FLAGS),
        },
    )
    combined["run_attrs"] = xr.Variable(
        tuple(names),
        attrs_text,
        {"long_name": "global attributes of the grid point's run (JSON)", "units": "1"},
    )
    attrs = {k: first.attrs[k] for k in _GLOBAL_KEEP if k in first.attrs}
    attrs.update({k: v for k, v in combined.attrs.items() if k not in attrs})
    over = ", ".join(names) or "width and seed"
    attrs[schema.ATTR_TITLE] = f"spectralntk sweep {index['name']!r} over {over}"
    attrs[schema.ATTR_HISTORY] = f"spectralntk.open_sweep of '{root}'"
    attrs[schema.ATTR_CONFIG] = first.attrs.get(schema.ATTR_CONFIG, schema.dump_config({}))
    attrs[ATTR_SWEEP_DIMS] = " ".join(names)
    attrs[ATTR_SWEEP_NAME] = str(index["name"])
    attrs[ATTR_SWEEP_PADDED] = " ".join(padded)
    combined.attrs = attrs
    return schema.validate(combined)


def stack_runs(axis: str, runs: Mapping[Any, Any], *, title: str, history: str) -> Any:
    """Finished runs of one run type that differ in one setting, as one Dataset.

    The layout is that of :func:`open_sweep` over the single axis ``axis`` (a leading
    dimension of that name, ``run_status`` all finished, ``run_attrs`` the runs' own
    global attributes), so :func:`sweep_points` gives the runs back and every reader
    of sweeps reads it. ``spectralntk train --depth 1 --depth 2`` writes its depths so.

    Parameters
    ----------
    axis : str
        The varied setting (``depth``); its dimension name is :func:`sweep_dim_name`.
    runs : mapping
        Setting value -> validated run Dataset; the runs share every other dimension.
    title, history : str
        The global ``title`` and ``history`` of the result.
    """
    import xarray as xr

    name = sweep_dim_name(axis)
    values = list(runs)
    datasets = list(runs.values())
    first = datasets[0]
    combined = xr.concat(
        datasets,
        dim=name,
        data_vars="all",
        coords="minimal",
        compat="override",
        join="outer",
        combine_attrs="drop_conflicts",
    )
    combined = combined.assign_coords(_axis_coords([name], {name: values}))
    combined = combined.transpose(name, ...)
    combined["run_status"] = xr.Variable(
        (name, schema.WIDTH),
        np.zeros((len(values), first.sizes[schema.WIDTH]), np.int8),
        {
            "long_name": "outcome of the run of this setting and width",
            "units": "1",
            "flag_values": np.arange(len(STATUS_FLAGS), dtype=np.int8),
            "flag_meanings": " ".join(STATUS_FLAGS),
        },
    )
    combined["run_attrs"] = xr.Variable(
        (name,),
        np.asarray([_attrs_json(ds.attrs) for ds in datasets], dtype=object),
        {"long_name": f"global attributes of the run at this {axis} (JSON)", "units": "1"},
    )
    attrs = {k: first.attrs[k] for k in _GLOBAL_KEEP if k in first.attrs}
    attrs.update({k: v for k, v in combined.attrs.items() if k not in attrs})
    attrs[schema.ATTR_TITLE] = title
    attrs[schema.ATTR_HISTORY] = history
    attrs[schema.ATTR_CONFIG] = first.attrs.get(schema.ATTR_CONFIG, schema.dump_config({}))
    attrs[ATTR_SWEEP_DIMS] = name
    attrs[ATTR_SWEEP_NAME] = f"{axis} " + " ".join(map(str, values))
    attrs[ATTR_SWEEP_PADDED] = ""
    combined.attrs = attrs
    return schema.validate(combined)


def sweep_points(ds: Any) -> Iterator[tuple[dict[str, Any], Any]]:
    """Each grid point of a combined sweep as ``(point, single-run Dataset)``.

    The single-run dataset has the run's own dimensions only (labels that other
    points added by the outer join are dropped again), its own global
    attributes (configuration, depth, loss convention, …) and passes
    :func:`spectralntk.store.schema.validate` as a run of the sweep's run type.
    Points without a finished run are skipped.
    """
    names = ds.attrs.get(ATTR_SWEEP_DIMS, "").split()
    sizes = [ds.sizes[n] for n in names]
    for where in np.ndindex(*sizes):
        sel = {n: i for n, i in zip(names, where, strict=True)}
        text = ds["run_attrs"].isel(sel).item()
        if not text:
            continue
        extra = [*names, "run_status", "run_attrs"]
        if schema.DEPTH in names:
            extra.append(schema.JACOT_LAYERS)
        one = ds.isel(sel).drop_vars(extra, errors="ignore")
        for dim in ds.attrs.get(ATTR_SWEEP_PADDED, "").split():
            one = one.dropna(dim, how="all")  # back to the point's own labels
        one.attrs = dict(json.loads(text))
        one.attrs[schema.ATTR_HISTORY] = ds.attrs.get(schema.ATTR_HISTORY, "")
        point = {n: ds[n].values[i].item() for n, i in zip(names, where, strict=True)}
        yield point, schema.validate(one)
