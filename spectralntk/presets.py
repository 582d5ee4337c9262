"""The experiments of docs/experiments.md as named presets, each with a quick variant.

A preset is a table of settings (:mod:`spectralntk.settings`). The full variant
reproduces the experiment's parameters; ``quick`` shrinks widths, seeds and steps
so that it finishes in seconds to a minute on a 2-core machine, keeping the
architecture, target, loss and learning rate.

Common to the seed write-up's EXP001 (exp2.x, kernel-drift): ReLU, NTK
parameterization, σ_w = 1, σ_b = 0.1, hidden biases trained, no output bias,
loss ``mean``, plain full-batch gradient descent, 10 seeds, an evaluation grid of
720 angles, 256 training points drawn from it (64 for the simple task), label
noise N(0, 0.02²) on the Fourier tasks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spectralntk.errors import parameter_error

__all__ = [
    "FLUCTUATION_DESCRIPTIONS",
    "PRESETS",
    "Preset",
    "PresetView",
    "fluctuation_preset_view",
    "format_setting",
    "preset_settings",
    "training_preset_view",
]

_EXP001: dict[str, Any] = {
    "depth": 1,
    "activation": "relu",
    "weight_std": 1.0,
    "bias_std": 0.1,
    "output_bias": False,
    "parameterization": "ntk",
    "loss": "mean",
    "seeds": 10,
    "inputs": "random",
    "points": 256,
    "eval_points": 720,
}
_MIXTURE = {"target": "fourier-mixture", "label_noise": 0.02}
_JACOT = {
    "depth": 3,
    "bias_std": 0.1,
    "output_bias": True,
    "loss": "half_mean",
    "lr": 1.0,
    "seeds": 10,
}


@dataclass(frozen=True)
class Preset:
    """A named experiment: its settings and the overrides of its quick variant."""

    name: str
    description: str
    settings: Mapping[str, Any]
    quick: Mapping[str, Any] = field(default_factory=dict)


def _powers(lo: int, hi: int) -> list[int]:
    return [2**k for k in range(lo.bit_length() - 1, hi.bit_length())]


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "exp2.1",
            "NTK profile at t = 0 and t = 200; 512 Gaussian inputs, x1·x2 (EXP001 §2.1)",
            {
                **_EXP001,
                "depth": 4,
                "width": [100, 500, 2000],
                "steps": 200,
                "lr": 1.0,
                "target": "product",
                "inputs": "gaussian",
                "points": 512,
                "checkpoint_steps": [0, 200],
            },
            {
                "width": [100, 500],
                "seeds": 3,
                "steps": 50,
                "points": 128,
                "checkpoint_steps": [0, 50],
            },
        ),
        Preset(
            "exp2.2",
            "function-space convergence, simple target x1·x2 on 64 points (EXP001 §2.2)",
            {
                **_EXP001,
                "width": _powers(512, 8192),
                "steps": 30000,
                "lr": 0.01,
                "target": "product",
                "points": 64,
            },
            {"width": [512, 2048], "seeds": 3, "steps": 2000},
        ),
        Preset(
            "exp2.3",
            "Fourier mixture, widths 512…16384, lr 0.01 (EXP001 §2.3)",
            {**_EXP001, **_MIXTURE, "width": _powers(512, 16384), "steps": 30000, "lr": 0.01},
            {"width": [256, 1024], "seeds": 3, "steps": 1000},
        ),
        Preset(
            "exp2.4",
            "Fourier mixture at low widths, lr 0.01 (EXP001 §2.4)",
            {
                **_EXP001,
                **_MIXTURE,
                "width": [2, 4, 6, 8, 10, 100, 1000],
                "steps": 30000,
                "lr": 0.01,
            },
            {"width": [2, 10, 100], "seeds": 3, "steps": 2000},
        ),
        Preset(
            "exp2.5",
            "higher learning rate, longer: lr 1.0, 100 000 steps (EXP001 §2.5)",
            {
                **_EXP001,
                **_MIXTURE,
                "width": [2, 4, 6, 8, 10, 100, 1000, 10000],
                "steps": 100000,
                "lr": 1.0,
            },
            {"width": [4, 100, 1000], "seeds": 3, "steps": 3000},
        ),
        Preset(
            "long-time",
            "the seed author's longest run: widths 45 and 100, lr 3, 10⁶ steps (as exp2.5)",
            {
                **_EXP001,
                **_MIXTURE,
                "width": [45, 100],
                "steps": 1_000_000,
                "lr": 3.0,
            },
            {"width": [45], "seeds": 3, "steps": 20000},
        ),
        Preset(
            "kernel-drift",
            "kernel and spectrum drift, snapshots every 500 steps (EXP001 open question)",
            {
                **_EXP001,
                **_MIXTURE,
                "width": [100, 512, 1024, 2048, 10000],
                "steps": 100000,
                "lr": 1.0,
                "seeds": 5,
                "checkpoint_steps": list(range(0, 100001, 500)),
            },
            {
                "width": [100, 1024],
                "seeds": 2,
                "steps": 2000,
                "checkpoint_steps": list(range(0, 2001, 500)),
            },
        ),
        Preset(
            "jacot-fig1",
            "Jacot et al. 2018 Fig. 1: Θ^(4) profile at t = 0 and 200, x1·x2 on Gaussian inputs",
            {
                **_EXP001,
                **_JACOT,
                "width": [500, 10000],
                "steps": 200,
                "target": "product",
                "inputs": "gaussian",
                "points": 512,
                "checkpoint_steps": [0, 200],
            },
            {
                "width": [500, 2000],
                "seeds": 3,
                "steps": 50,
                "points": 128,
                "checkpoint_steps": [0, 50],
                # the 720-point grid costs 5.6 training forwards at width 2000, depth 3
                "eval_every": 5,
            },
        ),
        Preset(
            "jacot-fig2",
            "Jacot et al. 2018 Fig. 2: 4 training points on the circle, widths 50 and 1000",
            {
                **_EXP001,
                **_JACOT,
                "width": [50, 1000],
                "steps": 1000,
                "target": "sine",
                "frequency": 1,
                "points": 4,
                # on 4 training points a pass over the 720-point grid costs as much as
                # 180 training forwards: the grid every 25 steps (and at checkpoints)
                "eval_every": 25,
            },
            {"seeds": 3, "steps": 300, "eval_every": 10},
        ),
        Preset(
            "rahaman",
            "spectral bias heatmap (Rahaman et al. 2019): k = 5…50 on 200 grid points, plain GD",
            {
                **_EXP001,
                "depth": 5,
                "width": [256],
                "steps": 60000,
                "lr": 1.0,
                "seeds": 3,
                "inputs": "grid",
                "points": 200,
                "target": "fourier-mixture",
                "frequencies": list(range(5, 51, 5)),
                "amplitudes": [1.0] * 10,
                "phases": np.random.default_rng(2019).uniform(0, 2 * np.pi, 10).round(6).tolist(),
                "max_frequency": 64,
            },
            {"seeds": 2, "steps": 2000},
        ),
    )
}
"""The presets by name."""


def preset_settings(name: str, *, quick: bool = False) -> dict[str, Any]:
    """The settings of preset ``name`` (its quick variant with ``quick``)."""
    if name not in PRESETS:
        raise parameter_error("preset", f"one of {{{', '.join(map(repr, PRESETS))}}}", name)
    preset = PRESETS[name]
    out = dict(preset.settings)
    if quick:
        out.update(preset.quick)
    return out


#: What the fluctuation studies that ``reproduce`` runs are about (settings in
#: :data:`spectralntk.runs.fluctuations.FLUCTUATION_PRESETS`).
FLUCTUATION_DESCRIPTIONS: dict[str, str] = {
    "hanin-nica": (
        "NTK fluctuations at finite depth and width against Hanin & Nica's exp(5β) "
        "(spectralntk fluctuations)"
    ),
}


@dataclass(frozen=True)
class PresetView:
    """What ``spectralntk presets NAME`` shows of a preset.

    Attributes
    ----------
    name, description : str
    kind : {"train", "fluctuations", "sweep"}
        The command that runs it (``reproduce`` runs every kind).
    settings : mapping
        The full variant's settings.
    quick : mapping
        The settings the quick variant changes, with their quick values.
    """

    name: str
    kind: str
    description: str
    settings: Mapping[str, Any]
    quick: Mapping[str, Any]


def training_preset_view(name: str) -> PresetView:
    """The full settings of training preset ``name`` and what its quick variant changes."""
    full = preset_settings(name)
    quick = preset_settings(name, quick=True)
    changed = {key: value for key, value in quick.items() if full.get(key) != value}
    return PresetView(name, "train", PRESETS[name].description, full, changed)


def fluctuation_preset_view(
    name: str, full: tuple[str, int], quick: tuple[str, int], description: str | None = None
) -> PresetView:
    """A fluctuation study: ``full`` and ``quick`` are (FLUCTUATION_PRESETS name, steps)."""
    from spectralntk.runs.fluctuations import FLUCTUATION_PRESETS

    settings = {**FLUCTUATION_PRESETS[full[0]], "steps": full[1]}
    fast = {**FLUCTUATION_PRESETS[quick[0]], "steps": quick[1]}
    changed = {key: value for key, value in fast.items() if settings.get(key) != value}
    text = description if description is not None else FLUCTUATION_DESCRIPTIONS.get(name, "")
    return PresetView(name, "fluctuations", text, settings, changed)


def format_setting(value: Any, *, limit: int = 8) -> str:
    """A setting as a TOML value (what ``--set key=value`` takes); long lists shortened.

    A list of more than ``limit`` items shows its first three and last two around
    ``…`` and its length: ``[0, 500, 1000, …, 99500, 100000] (201 values)``.
    """
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        items = [format_setting(v, limit=limit) for v in value]
        if len(items) > limit:
            return f"[{', '.join(items[:3])}, …, {', '.join(items[-2:])}] ({len(items)} values)"
        return f"[{', '.join(items)}]"
    if isinstance(value, float):
        return repr(value)
    return str(value)
