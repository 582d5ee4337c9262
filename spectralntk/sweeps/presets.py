"""Experiments of docs/experiments.md that are grids of runs: sweep presets.

A training preset (:mod:`spectralntk.presets`) is one ``train`` run: one depth, its widths
and seeds. An experiment that varies another setting as well is a sweep: the tables of a
sweep file (:mod:`spectralntk.sweeps.grid`), here as data, with a quick variant that
shrinks the grid, the seeds and the steps and keeps the architecture, target, loss and
learning rate. ``spectralntk reproduce NAME`` runs it into a sweep folder and writes the
sweep's report (:mod:`spectralntk.reports.sweep`).

``beta-sweep`` is the seed write-up's open question 3 (EXP001 §7): Hanin & Nica (2019)
show that the NTK neither concentrates nor stays constant when depth and width co-scale
(β = Σ_l 1/n_l = depth/width of order 1); sweep "a few ratios, repeat the kernel-profile
plot from Experiment 2.1 at initialization and after training (with seed bands), and, in
parallel, look at the function-space overlays". docs/experiments.md fixes the grid: depths 1, 2,
4, 8 against widths 64 … 1024 (powers of 2), 5 seeds, x1·x2 on 512 Gaussian inputs, 200
steps at η = 1.0, in Experiment 2.1's setting (EXP001: ReLU, NTK parameterization,
σ_w = 1, σ_b = 0.1, hidden biases N(0, 1) and trained, no output bias, loss ``mean``,
evaluation grid of 720 angles).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spectralntk.errors import parameter_error

__all__ = [
    "SWEEP_PRESETS",
    "SweepPreset",
    "sweep_preset_spec",
    "sweep_preset_tables",
    "sweep_preset_view",
]


@dataclass(frozen=True)
class SweepPreset:
    """A named grid of runs: its ``[base]`` settings and ``[axes]``, and the quick variant's.

    ``quick_base`` overrides settings of ``base``; ``quick_axes`` replaces axes by name.
    """

    name: str
    description: str
    base: Mapping[str, Any]
    axes: Mapping[str, list[Any]]
    quick_base: Mapping[str, Any] = field(default_factory=dict)
    quick_axes: Mapping[str, list[Any]] = field(default_factory=dict)


#: Experiment 2.1's setting (EXP001 §2.1; docs/experiments.md, "Common to EXP001").
_EXP21: dict[str, Any] = {
    "activation": "relu",
    "weight_std": 1.0,
    "bias_std": 0.1,
    "bias_init": "normal",
    "output_bias": False,
    "parameterization": "ntk",
    "loss": "mean",
    "target": "product",
    "inputs": "gaussian",
    "points": 512,
    "eval_points": 720,
    "steps": 200,
    "lr": 1.0,
    "checkpoint_steps": [0, 200],
}

SWEEP_PRESETS: dict[str, SweepPreset] = {
    p.name: p
    for p in (
        SweepPreset(
            "beta-sweep",
            "open question 3 of EXP001: depth against width (β = depth/width), kernel "
            "profiles at t = 0 and T with seed bands, function-space overlays, drift and "
            "RelErr against β",
            {**_EXP21, "seeds": 5},
            {"width": [64, 128, 256, 512, 1024], "depth": [1, 2, 4, 8]},
            {"seeds": 3, "steps": 50, "points": 128, "checkpoint_steps": [0, 50]},
            {"width": [64, 128, 256], "depth": [1, 2, 4]},
        ),
    )
}
"""The sweep presets by name."""


def sweep_preset_tables(name: str, *, quick: bool = False) -> dict[str, Any]:
    """The tables of a sweep file (``sweep``, ``base``, ``axes``) of preset ``name``.

    Raises
    ------
    ParameterError
        (parameter ``preset``) for an unknown name.
    """
    if name not in SWEEP_PRESETS:
        raise parameter_error("preset", f"one of {{{', '.join(map(repr, SWEEP_PRESETS))}}}", name)
    preset = SWEEP_PRESETS[name]
    base = dict(preset.base)
    axes = {k: list(v) for k, v in preset.axes.items()}
    if quick:
        base.update(preset.quick_base)
        axes.update({k: list(v) for k, v in preset.quick_axes.items()})
    sweep_name = f"{name}-quick" if quick else name
    return {"sweep": {"kind": "train", "name": sweep_name}, "base": base, "axes": axes}


def sweep_preset_spec(name: str, *, quick: bool = False, overrides: Mapping[str, Any] = {}) -> Any:
    """The validated :class:`~spectralntk.sweeps.grid.SweepSpec` of preset ``name``.

    ``overrides`` replace settings of ``[base]`` (``--set key=value`` of ``reproduce``);
    an axis cannot be overridden.
    """
    from spectralntk.sweeps.grid import sweep_spec

    tables = sweep_preset_tables(name, quick=quick)
    for key, value in overrides.items():
        if key in tables["axes"]:
            raise parameter_error(
                "set", f"a setting other than the axes {sorted(tables['axes'])}", key
            )
        tables["base"][key] = value
    return sweep_spec(tables, file=f"preset {name}")


def sweep_preset_view(name: str) -> Any:
    """A sweep preset (:mod:`spectralntk.sweeps.presets`): its ``[base]`` and ``[axes]``
    (an axis shown as ``axis.NAME``) and what its quick variant changes, as the
    :class:`~spectralntk.presets.PresetView` that ``spectralntk presets NAME`` shows."""
    from spectralntk.presets import PresetView

    def flat(tables: Mapping[str, Any]) -> dict[str, Any]:
        return {**tables["base"], **{f"axis.{k}": v for k, v in tables["axes"].items()}}

    full = flat(sweep_preset_tables(name))
    quick = flat(sweep_preset_tables(name, quick=True))
    changed = {key: value for key, value in quick.items() if full.get(key) != value}
    return PresetView(name, "sweep", SWEEP_PRESETS[name].description, full, changed)
