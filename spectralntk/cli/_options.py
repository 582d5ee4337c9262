"""Options several commands share, declared once: the same flag means the same thing everywhere.

The architecture options (``--depth``, ``--activation``, ``--weight-std``, ``--bias-std``,
``--bias-init``, ``--output-bias/--no-output-bias``, ``--parameterization``) default to
``None``, "not given": the command then takes the value of its preset, if it has one,
else :data:`spectralntk.config.ARCHITECTURE_DEFAULTS`, the one default table the Python
API shares (merged by :func:`architecture_settings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from spectralntk.config import ARCHITECTURE_DEFAULTS

__all__ = [
    "Activation",
    "BiasInit",
    "BiasStd",
    "Depths",
    "OutputBias",
    "Parameterization",
    "WeightStd",
    "architecture_settings",
]

_D = ARCHITECTURE_DEFAULTS


def _default(name: str, where: str = "") -> str:
    value = _D[name]
    shown = {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value
    return f"[default: {shown}{where}]"


Depths = Annotated[
    list[int] | None, typer.Option(help="Hidden layers; repeat for several. [default: 4]")
]
Activation = Annotated[
    str | None,
    typer.Option(
        help="relu, erf (closed form), tanh or gelu (Hermite series). " + _default("activation")
    ),
]
WeightStd = Annotated[float | None, typer.Option(help=f"σ_w. {_default('weight_std')}")]
BiasStd = Annotated[float | None, typer.Option(help=f"σ_b (0: no biases). {_default('bias_std')}")]
BiasInit = Annotated[
    str | None,
    typer.Option(help=f"normal (Jacot) or zero (trained from 0). {_default('bias_init')}"),
]
OutputBias = Annotated[
    bool | None,
    typer.Option(
        "--output-bias/--no-output-bias",
        help=f"Bias on the output layer. {_default('output_bias')}",
        show_default=False,
    ),
]
Parameterization = Annotated[
    str | None,
    typer.Option(
        help="ntk (Jacot) or standard (W ~ N(0, σ_w²/n); its NTK needs --width). "
        + _default("parameterization")
    ),
]


def architecture_settings(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """:data:`~spectralntk.config.ARCHITECTURE_DEFAULTS` overlaid with ``layers`` in order.

    Later layers win; ``None`` values (options not given) are skipped, and keys that are
    not architecture options are ignored.
    """
    out = dict(_D)
    for layer in layers:
        out.update({k: v for k, v in layer.items() if k in _D and v is not None})
    return out
