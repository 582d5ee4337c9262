"""Frozen, validated configurations shared by every part of spectralntk.

Conventions (``docs/conventions.md``): ``depth`` is the number of hidden layers
(Jacot et al. 2018 count affine layers, ``L = depth + 1``); the default is the
NTK parameterization of Jacot et al. 2018 with ``weight_std`` σ_w and
``bias_std`` σ_b.

Constraints are declared as data in :data:`NETWORK_CONSTRAINTS` and checked in
one place, :meth:`NetworkConfig.__post_init__`.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from spectralntk.errors import check_choice, check_int, check_real, parameter_error
from spectralntk.limits import MAX_DEPTH, MAX_WIDTH

__all__ = [
    "ARCHITECTURE_DEFAULTS",
    "NETWORK_CONSTRAINTS",
    "Activation",
    "BiasInit",
    "NetworkConfig",
    "Parameterization",
    "check_fields",
]


class Activation(enum.StrEnum):
    """Hidden-layer nonlinearity φ.

    ``relu`` max(0, x) and ``erf`` have closed-form dual activations; ``tanh``
    and ``gelu`` (exact, x·Φ(x)) by a Hermite series with its error bounded.
    """

    RELU = "relu"
    ERF = "erf"
    TANH = "tanh"
    GELU = "gelu"


class BiasInit(enum.StrEnum):
    """Bias initialisation: ``normal`` b ~ N(0, 1) (Jacot), or ``zero`` (trained from 0)."""

    NORMAL = "normal"
    ZERO = "zero"


class Parameterization(enum.StrEnum):
    """``ntk``: z = (σ_w/√n)·W a + σ_b·b, W, b ~ N(0, 1) (Jacot et al. 2018).

    ``standard``: z = W a + b, W ~ N(0, σ_w²/n), b ~ N(0, σ_b²) (PyTorch style).
    """

    NTK = "ntk"
    STANDARD = "standard"


def _choices(enum_type: type[enum.Enum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum_type)


#: Parameter constraints of :class:`NetworkConfig`: name -> checker(name, value).
NETWORK_CONSTRAINTS: Mapping[str, Callable[[str, Any], Any]] = {
    "depth": lambda n, v: check_int(n, v, 0, MAX_DEPTH),
    "activation": lambda n, v: Activation(check_choice(n, v, _choices(Activation))),
    "weight_std": lambda n, v: check_real(n, v, 0.0),
    "bias_std": lambda n, v: check_real(n, v, 0.0),
    "bias_init": lambda n, v: BiasInit(check_choice(n, v, _choices(BiasInit))),
    "output_bias": lambda n, v: _check_bool(n, v),
    "parameterization": lambda n, v: Parameterization(
        check_choice(n, v, _choices(Parameterization))
    ),
    "width": lambda n, v: None if v is None else check_int(n, v, 1, MAX_WIDTH),
    "input_dim": lambda n, v: check_int(n, v, 1),
}


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise parameter_error(name, "a bool", value)
    return value


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture and initialisation of a scalar-output MLP on inputs in R^n0.

    Parameters
    ----------
    depth : int, default 4
        Number of hidden layers (0 is the linear model). Jacot's L = depth + 1.
    activation : Activation or str, default "relu"
        Hidden-layer nonlinearity; the output layer is linear.
    weight_std : float, default 1.0
        σ_w ≥ 0.
    bias_std : float, default 0.1
        σ_b ≥ 0 (Jacot's β). ``bias_std == 0`` means the network has no biases.
    bias_init : BiasInit or str, default "normal"
        ``normal``: biases start random and enter both the NNGP and the NTK.
        ``zero``: biases start at 0 but are trained; they add the bias term
        to the NTK of each layer and nothing to the NNGP.
    output_bias : bool, default True
        Whether the output layer has a bias.
    parameterization : Parameterization or str, default "ntk"
        ``ntk`` (Jacot et al. 2018) or ``standard`` (W ~ N(0, σ_w²/n)).
    width : int or None, default None
        Hidden width n. The analytic NTK of the ``standard`` parameterization
        grows with n and needs it; the NTK parameterization's limit does not.
    input_dim : int, default 2
        n0; 2 on the circle S¹.
    """

    depth: int = 4
    activation: Activation = Activation.RELU
    weight_std: float = 1.0
    bias_std: float = 0.1
    bias_init: BiasInit = BiasInit.NORMAL
    output_bias: bool = True
    parameterization: Parameterization = Parameterization.NTK
    width: int | None = None
    input_dim: int = 2

    def __post_init__(self) -> None:
        for name, check in NETWORK_CONSTRAINTS.items():
            object.__setattr__(self, name, check(name, getattr(self, name)))
        if self.parameterization is Parameterization.STANDARD and self.width is None:
            raise parameter_error(
                "width",
                "an int in the range [1, inf) when parameterization='standard' "
                "(its NTK scales with the hidden width)",
                None,
            )

    @property
    def jacot_layers(self) -> int:
        """Number of affine layers L = depth + 1 (Jacot et al. 2018)."""
        return self.depth + 1

    @property
    def has_bias(self) -> bool:
        """Whether hidden layers have biases (σ_b > 0)."""
        return self.bias_std > 0.0

    def replace(self, **changes: Any) -> NetworkConfig:
        """Return a copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary (enums as their string values)."""
        return {
            f.name: getattr(getattr(self, f.name), "value", getattr(self, f.name))
            for f in dataclasses.fields(self)
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetworkConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming the key."""
        return cls(**check_fields(cls, data))


#: The architecture options every command and the Python API share, with their one
#: default: the fields of :class:`NetworkConfig` that ``decompose``, ``train``,
#: ``fluctuations`` and ``sweep`` take as options of the same names. A preset may set
#: them (the seed write-up's EXP001 turns the output bias off; Hanin & Nica's study is
#: the standard parameterization with He initialisation and no biases); nothing else
#: has its own default. (``depth`` is each command's study, not shared: ``decompose``
#: takes Jacot et al.'s depth 4, ``train`` the seed experiments' one hidden layer,
#: ``fluctuations`` its preset's grid of depths.) The output bias is on, as in Jacot et
#: al.'s recursion, where every affine layer, the output layer included, adds σ_b²
#: (docs/conventions.md).
ARCHITECTURE_DEFAULTS: Mapping[str, Any] = {
    f.name: getattr(f.default, "value", f.default)
    for f in dataclasses.fields(NetworkConfig)
    if f.name
    in ("activation", "weight_std", "bias_std", "bias_init", "output_bias", "parameterization")
}


def check_fields(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` as a dict if every key is a field of the dataclass ``cls``, else the error."""
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            raise parameter_error("config", f"a mapping with keys in {sorted(names)}", key)
    return dict(data)
