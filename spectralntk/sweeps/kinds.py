"""The run kinds a sweep can run: how a kind's settings become runs, and how a run executes.

A :class:`RunKind` is everything the sweep needs to know about one command:
its flat settings (the same keys and checks as the command), how settings become
a validated configuration, how a configuration is restricted to some widths and
seeds (a task), its estimated work, and the function a worker calls. ``train`` is
the one kind so far; another command (``fluctuations``) plugs in by adding an
entry to :data:`KINDS` — nothing else in :mod:`spectralntk.sweeps` names a kind.
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
        memory_budget) -> xarray.Dataset``: run on a worker (imports torch there).
    """

    name: str
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


def _train_restrict(config: Any, widths: tuple[int, ...], seeds: tuple[int, ...]) -> Any:
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
) -> Any:
    from spectralntk.runs.training import DEFAULT_MEMORY_BUDGET, TrainingConfig, train

    run = train(
        TrainingConfig.from_dict(config),
        device=device,
        dtype=dtype,
        state_path=state_path,
        resume=resume,
        flush_seconds=flush_seconds,
        memory_budget=memory_budget or DEFAULT_MEMORY_BUDGET,
    )
    assert run is not None  # no should_stop: train returns a run
    return run.to_dataset(history=history)


TRAIN = RunKind(
    name="train",
    preset=_train_preset,
    merge=_train_merge,
    check_keys=_train_check_keys,
    configure=_train_configure,
    restrict=_train_restrict,
    flops=train_flops,
    execute=_train_execute,
)

#: The run kinds by name (``[sweep] kind``).
KINDS: dict[str, RunKind] = {TRAIN.name: TRAIN}
