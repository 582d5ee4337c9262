"""The run kinds a sweep can run: how a kind's settings become runs, and how a run executes.

A :class:`RunKind` is everything the sweep needs to know about one command:
its flat settings (the same keys and checks as the command), how settings become
a validated configuration, how a configuration is restricted to some widths and
seeds (a task), its estimated work, and the function a worker calls. ``train`` is
and ``fluctuations`` are the kinds; another command plugs in by adding an entry to
:data:`KINDS` — nothing else in :mod:`spectralntk.sweeps` names a kind.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["KINDS", "RunKind"]


@dataclass(frozen=True)
class RunKind:
    """One command whose runs a sweep can execute.

    Attributes
    ----------
    name : str
        The ``kind`` of ``[sweep]``.
    batch_axes : dict
        Axes that are dimensions of one run, by the setting they fill (``seed`` →
        ``seeds``): their values become that setting of every run instead of
        separate runs. ``width`` is always one; tasks split along it.
    split_seeds : bool
        Whether a run's seeds may be split over tasks (``seeds_per_task``): not for
        statistics over seeds.
    preset : callable
        ``(name, quick) -> dict``: a preset's settings.
    merge : callable
        ``(*layers) -> dict``: defaults overlaid with layers (unknown keys are errors).
    check_keys : callable
        ``(settings, where) -> None``: raise a ParameterError naming an unknown key.
    configure : callable
        ``(settings) -> (config, device, dtype)``: the validated configuration.
    restrict : callable
        ``(config, widths, seeds) -> config``: the same run for some widths and seeds.
    flops : callable
        ``(config, width, seeds) -> float``: estimated work of one width.
    execute : callable
        ``(config_dict, *, device, dtype, state_path, resume, flush_seconds,
        memory_budget, history, should_stop) -> xarray.Dataset | None``: run on a
        worker (imports torch there); None when ``should_stop`` stopped it with its
        progress saved in ``state_path``.
    """

    name: str
    batch_axes: Mapping[str, str]
    split_seeds: bool
    preset: Callable[[str, bool], dict[str, Any]]
    merge: Callable[..., dict[str, Any]]
    check_keys: Callable[[Mapping[str, Any], str], None]
    configure: Callable[[Mapping[str, Any]], tuple[Any, str, str]]
    restrict: Callable[[Any, tuple[int, ...], tuple[int, ...]], Any]
    flops: Callable[[Any, int, int], float]
    execute: Callable[..., Any]


# ---------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------
def _train_preset(name: str, quick: bool) -> dict[str, Any]:
    from spectralntk.presets import preset_settings

    return preset_settings(name, quick=quick)


def _train_merge(*layers: Mapping[str, Any]) -> dict[str, Any]:
    from spectralntk.settings import merge_settings

    return merge_settings(*layers)


def _train_check_keys(settings: Mapping[str, Any], where: str) -> None:
    from spectralntk.settings import _check_keys

    _check_keys(settings, where)


def _train_configure(settings: Mapping[str, Any]) -> tuple[Any, str, str]:
    from spectralntk.settings import training_config

    return training_config(settings)


def _restrict(config: Any, widths: tuple[int, ...], seeds: tuple[int, ...]) -> Any:
    import dataclasses

    return dataclasses.replace(config, widths=tuple(widths), seeds=tuple(seeds))


def _parameters(width: int, depth: int, input_dim: int = 2) -> int:
    """Number of parameters of an MLP: (n0 + 2)·n + (depth − 1)·(n² + n) + 1."""
    return (input_dim + 2) * width + max(depth - 1, 0) * (width * width + width) + 1


def train_flops(config: Any, width: int, seeds: int) -> float:
    """Estimated floating-point work of training one width with ``seeds`` seeds.

    Per seed and step a forward and backward pass on the N training points costs
    about 6·N·P flops (P parameters); evaluation-grid forward passes 2·M·P each;
    each checkpoint's empirical NTK about 2·N²·P. A rough model (within a small
    factor), used only to size tasks.
    """
    p = _parameters(width, config.network.depth, config.network.input_dim)
    n, m, t = config.points, config.eval_points, config.steps
    evals = t // (config.eval_every or max(1, t // 200)) + 1
    per_seed = 6.0 * n * p * t + 2.0 * m * p * evals + 2.0 * n * n * p * len(config.checkpoints)
    return per_seed * seeds


def _train_execute(
    config: Mapping[str, Any],
    *,
    device: str,
    dtype: str,
    state_path: os.PathLike[str],
    resume: bool,
    flush_seconds: float,
    memory_budget: int | None,
    history: str,
    should_stop: Callable[[], bool] | None = None,
) -> Any:
    """The training run as a Dataset; None if ``should_stop`` stopped it (state kept)."""
    from spectralntk.runs.training import DEFAULT_MEMORY_BUDGET, TrainingConfig, train

    run = train(
        TrainingConfig.from_dict(config),
        device=device,
        dtype=dtype,
        state_path=state_path,
        resume=resume,
        flush_seconds=flush_seconds,
        memory_budget=memory_budget or DEFAULT_MEMORY_BUDGET,
        should_stop=should_stop,
    )
    return None if run is None else run.to_dataset(history=history)


TRAIN = RunKind(
    name="train",
    batch_axes={"width": "width", "seed": "seeds"},
    split_seeds=True,
    preset=_train_preset,
    merge=_train_merge,
    check_keys=_train_check_keys,
    configure=_train_configure,
    restrict=_restrict,
    flops=train_flops,
    execute=_train_execute,
)

# ---------------------------------------------------------------------------
# fluctuations
# ---------------------------------------------------------------------------
#: Settings of a ``fluctuations`` run that are not fields of FluctuationConfig.
_FLUCTUATION_EXTRA = {"frequency": None, "device": "cpu", "dtype": "float64", "threads": None}
#: Settings spelled as the command's options where the field is plural.
_FLUCTUATION_NAMES = {"depths": "depth", "widths": "width"}


def fluctuation_defaults() -> dict[str, Any]:
    """Every setting of a ``fluctuations`` run: the command's options and defaults.

    The fields of :class:`~spectralntk.runs.fluctuations.FluctuationConfig` (``depth``,
    ``width`` lists; ``seeds`` a count or a list; ``target`` a name), the ``default``
    preset's depths, widths, seeds and probes, and ``frequency``, ``device``, ``dtype``,
    ``threads``.
    """
    import dataclasses

    from spectralntk.runs.fluctuations import FLUCTUATION_PRESETS, FluctuationConfig

    out: dict[str, Any] = {}
    for f in dataclasses.fields(FluctuationConfig):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
    out["target"] = "fourier-mixture"
    out.update(_fluctuation_preset("default", False, FLUCTUATION_PRESETS))
    out.update(_FLUCTUATION_EXTRA)
    return out


def _fluctuation_preset(name: str, quick: bool, presets: Any = None) -> dict[str, Any]:
    from spectralntk.errors import check_choice
    from spectralntk.runs.fluctuations import FLUCTUATION_PRESETS

    table = presets or FLUCTUATION_PRESETS
    chosen = "quick" if quick else check_choice("preset", name, tuple(table))
    return {_FLUCTUATION_NAMES.get(k, k): v for k, v in table[chosen].items()}


def _fluctuation_check_keys(settings: Mapping[str, Any], where: str) -> None:
    from spectralntk.errors import parameter_error

    known = fluctuation_defaults()
    for key in settings:
        if key not in known:
            raise parameter_error(key, f"a setting of fluctuations in {where}", key)


def _fluctuation_merge(*layers: Mapping[str, Any]) -> dict[str, Any]:
    out = fluctuation_defaults()
    for layer in layers:
        _fluctuation_check_keys(layer, "settings")
        out.update({k: v for k, v in layer.items() if v is not None})
    return out


def _fluctuation_configure(settings: Mapping[str, Any]) -> tuple[Any, str, str]:
    from spectralntk.errors import check_int, parameter_error
    from spectralntk.runs.fluctuations import FluctuationConfig
    from spectralntk.targets import make_target

    s = dict(settings)
    _fluctuation_check_keys(s, "settings")
    seeds = s.pop("seeds")
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 2:
            raise parameter_error(
                "seeds", "an int in the range [2, inf) (second moments need two networks)", seeds
            )
        seeds = range(seeds)
    if not isinstance(seeds, (range, list, tuple)):
        raise parameter_error("seeds", "a count ≥ 2 or a list of seeds", seeds)
    device, dtype, frequency = s.pop("device"), s.pop("dtype"), s.pop("frequency")
    if (threads := s.pop("threads", None)) is not None:  # how the run executes (see execute)
        check_int("threads", threads, 1)
    depths, widths = s.pop("depth"), s.pop("width")
    target = make_target(s.pop("target"), frequency=frequency)
    config = FluctuationConfig(
        depths=tuple(depths if isinstance(depths, list) else [depths]),
        widths=tuple(widths if isinstance(widths, list) else [widths]),
        seeds=tuple(seeds),
        target=target,
        **s,
    )
    return config, str(device), str(dtype)


def fluctuation_flops(config: Any, width: int, seeds: int) -> float:
    """Estimated work of one width of a fluctuation run, over all its depths.

    Per network: the NTK diagonal on P probes before and after the one-example step
    and the kernel row, about 20·P·P_params flops; with training T steps on N points
    6·N·P_params·T plus the two Gram matrices 4·N²·P_params (P_params parameters).
    """
    total = 0.0
    for depth in config.depths:
        p = _parameters(width, depth)
        per = 20.0 * config.probes * p
        if config.steps > 0:
            per += 6.0 * config.points * p * config.steps + 4.0 * config.points**2 * p
        total += per
    return total * seeds


def _fluctuation_execute(
    config: Mapping[str, Any],
    *,
    device: str,
    dtype: str,
    memory_budget: int | None,
    history: str,
    **_unused: Any,
) -> Any:
    """A fluctuation run. Minutes at most per width: it keeps no state (``state_path``,
    ``resume``, ``flush_seconds``, ``should_stop`` are ignored) and restarts from zero."""
    from spectralntk.runs.fluctuations import (
        DEFAULT_MEMORY_BUDGET,
        FluctuationConfig,
        fluctuations,
    )

    run = fluctuations(
        FluctuationConfig.from_dict(config),
        device=device,
        dtype=dtype,
        memory_budget=memory_budget or DEFAULT_MEMORY_BUDGET,
    )
    return run.to_dataset(history=history)


FLUCTUATIONS = RunKind(
    name="fluctuations",
    batch_axes={"width": "width", "seed": "seeds", "depth": "depth"},
    split_seeds=False,
    preset=_fluctuation_preset,
    merge=_fluctuation_merge,
    check_keys=_fluctuation_check_keys,
    configure=_fluctuation_configure,
    restrict=_restrict,
    flops=fluctuation_flops,
    execute=_fluctuation_execute,
)

#: The run kinds by name (``[sweep] kind``).
KINDS: dict[str, RunKind] = {kind.name: kind for kind in (TRAIN, FLUCTUATIONS)}
