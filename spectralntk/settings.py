"""Flat run settings for ``spectralntk train``: defaults, presets, TOML files, ``--set``.

A training run is described by a flat table of settings whose names are the CLI's
options with underscores (``lr``, ``width``, ``bias_std``, …). They are merged in
this order, later winning: defaults < ``--preset NAME`` (and its ``--quick``
variant) < ``--config FILE.toml`` < options given on the command line < ``--set
key=value``. :func:`training_config` turns the merged table into a validated
:class:`~spectralntk.runs.training.TrainingConfig`. ``device``, ``dtype`` and
``threads`` say how a run executes and are not part of that configuration.

A settings file is TOML, either flat or under a ``[train]`` table::

    preset = "exp2.3"      # optional: start from a preset
    width = [512, 2048]
    lr = 0.01
    target = "fourier-mixture"
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spectralntk.config import ARCHITECTURE_DEFAULTS, NetworkConfig
from spectralntk.errors import check_int, parameter_error
from spectralntk.limits import MAX_SEEDS

__all__ = [
    "DEFAULTS",
    "depths_of",
    "load_settings_file",
    "merge_settings",
    "parse_override",
    "training_config",
    "training_configs",
]

#: Every setting with its default. ``None``: derived (see TrainingConfig).
DEFAULTS: dict[str, Any] = {
    # architecture: one hidden layer (the seed experiments; a list: several depths) and
    # the defaults every command shares (spectralntk.config.ARCHITECTURE_DEFAULTS)
    "depth": 1,
    **ARCHITECTURE_DEFAULTS,
    # networks
    "width": [64, 1024],
    "seeds": 10,
    # data
    "target": "fourier-mixture",
    "frequency": None,
    "frequencies": None,
    "amplitudes": None,
    "phases": None,
    "inputs": "random",
    "points": 256,
    "eval_points": 720,
    "label_noise": 0.0,
    "data_seed": 0,
    # optimisation
    "loss": "mean",
    "lr": 0.01,
    "steps": 1000,
    "model": "network",
    # recording
    "record_every": 0,
    "log_records": 0,
    "eval_every": 0,
    "checkpoint_steps": [],
    "max_frequency": None,
    "ridge": 1e-6,
    # where and how it runs: beside the TrainingConfig, not in it (see training_config)
    "device": "cpu",
    "dtype": "float64",
    "threads": None,  # None: spectralntk.threads.DEFAULT_THREADS; read by the commands
}


def _check_keys(settings: Mapping[str, Any], where: str, parameter: str | None = None) -> None:
    """Raise naming ``parameter`` (default: the key) unless every key is a setting.

    The error lists the valid keys (and the closest one, if any).
    """
    import difflib

    for key in settings:
        if key not in DEFAULTS:
            close = difflib.get_close_matches(key, list(DEFAULTS), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise parameter_error(
                parameter or key,
                f"a known setting in {where} ({hint}the settings: {', '.join(DEFAULTS)})",
                key,
            )


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` with a TOML value (``lr=0.1``, ``width=[64,128]``, ``loss="mean"``).

    A value that is not valid TOML is taken as a plain string (``loss=mean``).
    """
    if "=" not in text:
        raise parameter_error("set", "of the form key=value", text)
    key, value = (part.strip() for part in text.split("=", 1))
    key = key.replace("-", "_")
    _check_keys({key: None}, "--set", "set")
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value
    return key, parsed


def read_toml(path: str | Path, parameter: str) -> dict[str, Any]:
    """The tables of a TOML file; a missing or unreadable file is an error naming ``parameter``."""
    file = Path(path)
    try:
        return tomllib.loads(file.read_text())
    except FileNotFoundError:
        raise parameter_error(parameter, "an existing TOML file", str(file)) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        reason = " ".join(str(err).split())
        raise parameter_error(parameter, f"a readable TOML file ({reason})", str(file)) from None


def load_settings_file(path: str | Path) -> dict[str, Any]:
    """Settings from a TOML file (flat, or under ``[train]``); unknown keys are errors."""
    file = Path(path)
    data = read_toml(file, "config")
    table = data.get("train", data)
    if not isinstance(table, dict):
        raise parameter_error("config", "a TOML table of settings", str(file))
    settings = {k.replace("-", "_"): v for k, v in table.items()}
    preset = settings.pop("preset", None)
    _check_keys(settings, str(file), "config")
    if preset is not None:
        settings["__preset__"] = preset
    return settings


def merge_settings(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with ``layers`` in order (later wins; None values are skipped)."""
    out = dict(DEFAULTS)
    for layer in layers:
        _check_keys({k: v for k, v in layer.items() if k != "__preset__"}, "settings")
        out.update({k: v for k, v in layer.items() if v is not None and k != "__preset__"})
    return out


def _as_list(name: str, value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]
    raise parameter_error(name, "a number or a list of numbers", value)


def depths_of(settings: Mapping[str, Any]) -> list[int]:
    """The depths of merged settings: ``depth`` is one int or a list of distinct ints."""
    value = settings["depth"]
    depths = list(value) if isinstance(value, (list, tuple)) else [value]
    if not depths or len(set(map(repr, depths))) != len(depths):
        raise parameter_error("depth", "one depth or distinct depths", value)
    return [check_int("depth", d, 0) for d in depths]


def training_configs(settings: Mapping[str, Any]) -> tuple[list[Any], str, str]:
    """One validated TrainingConfig per depth of ``settings`` (see :func:`depths_of`)."""
    configs = []
    device = dtype = ""
    for depth in depths_of(settings):
        config, device, dtype = training_config({**settings, "depth": depth})
        configs.append(config)
    return configs, device, dtype


def training_config(settings: Mapping[str, Any]) -> tuple[Any, str, str]:
    """(TrainingConfig, device, dtype) from merged settings; every value validated.

    ``threads`` is validated too but not returned: the command reads it (it
    changes how fast a run goes, not what it computes).

    Raises
    ------
    ParameterError
        Naming the setting, for any invalid value.
    """
    from spectralntk.runs.training import TrainingConfig
    from spectralntk.targets import make_target

    s = dict(settings)
    _check_keys(s, "settings")
    depth = s["depth"]
    if isinstance(depth, (list, tuple)):  # one depth per TrainingConfig
        if len(depth) != 1:
            raise parameter_error("depth", "one depth here (training_configs takes several)", depth)
        s["depth"] = depth[0]
    widths = _as_list("width", s["width"])
    seeds = s["seeds"]
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        check_int("seeds", seeds, 1, MAX_SEEDS)  # before range(seeds) is built
    elif isinstance(seeds, list) and len(seeds) > MAX_SEEDS:
        raise parameter_error("seeds", f"at most {MAX_SEEDS} seeds", len(seeds))
    seed_list = (
        list(range(seeds))
        if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1
        else seeds
    )
    if isinstance(seed_list, int) or not isinstance(seed_list, list):
        raise parameter_error("seeds", "a count ≥ 1 or a list of seeds", seeds)
    network = NetworkConfig(
        depth=s["depth"],
        activation=s["activation"],
        weight_std=s["weight_std"],
        bias_std=s["bias_std"],
        bias_init=s["bias_init"],
        output_bias=s["output_bias"],
        parameterization=s["parameterization"],
        width=widths[0] if s["parameterization"] == "standard" and widths else None,
    )
    target = make_target(
        s["target"],
        frequencies=s["frequencies"],
        amplitudes=s["amplitudes"],
        phases=s["phases"],
        frequency=s["frequency"],
    )
    if s.get("threads") is not None:  # not part of the configuration; read by the command
        check_int("threads", s["threads"], 1)
    lr = s["lr"]
    if isinstance(lr, (int, float)) and not isinstance(lr, bool) and math.isfinite(lr) and lr <= 0:
        raise parameter_error("lr", "a finite real number in the range (0, inf)", lr)
    config = TrainingConfig(
        network=network,
        widths=tuple(widths),
        seeds=tuple(seed_list),
        target=target,
        inputs=s["inputs"],
        points=s["points"],
        eval_points=s["eval_points"],
        label_noise=s["label_noise"],
        loss=s["loss"],
        lr=lr,
        steps=s["steps"],
        record_every=s["record_every"],
        log_records=s["log_records"],
        eval_every=s["eval_every"],
        checkpoints=tuple(_as_list("checkpoint_steps", s["checkpoint_steps"] or [])),
        max_frequency=s["max_frequency"],
        model=s["model"],
        data_seed=s["data_seed"],
        ridge=s["ridge"],
    )
    return config, str(s["device"]), str(s["dtype"])
