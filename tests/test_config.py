"""NetworkConfig: declared constraints, one error template, round trips."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from strategies import network_configs

from spectralntk import NetworkConfig, ParameterError
from spectralntk.config import NETWORK_CONSTRAINTS


@pytest.mark.parametrize(
    "changes,parameter,message",
    [
        ({"depth": -1}, "depth", "must be an int in the range [0, 4096]. Got -1 instead."),
        ({"depth": 2.0}, "depth", "must be an int in the range [0, 4096]. Got 2.0 instead."),
        ({"depth": True}, "depth", "Got True instead."),
        ({"weight_std": -1.0}, "weight_std", "finite real number in the range [0.0, inf)"),
        ({"weight_std": math.nan}, "weight_std", "Got nan instead."),
        ({"bias_std": math.inf}, "bias_std", "Got inf instead."),
        ({"bias_std": "x"}, "bias_std", "Got 'x' instead."),
        ({"activation": "sigmoid"}, "activation", "one of {'relu', 'erf', 'tanh', 'gelu'}"),
        ({"bias_init": "uniform"}, "bias_init", "one of {'normal', 'zero'}"),
        ({"parameterization": "mup"}, "parameterization", "one of {'ntk', 'standard'}"),
        ({"output_bias": 1}, "output_bias", "must be a bool. Got 1 instead."),
        ({"width": 0}, "width", "[1, 16777216]. Got 0 instead."),
        ({"input_dim": 0}, "input_dim", "[1, inf)"),
        ({"parameterization": "standard"}, "width", "when parameterization='standard'"),
    ],
)
def test_invalid_values_raise_one_line_errors(changes: dict, parameter: str, message: str) -> None:
    with pytest.raises(ParameterError) as err:
        NetworkConfig(**changes)
    text = str(err.value)
    assert err.value.parameter == parameter
    assert text.startswith(f"The {parameter!r} parameter must be ")
    assert message in text and "\n" not in text


def test_every_field_has_a_declared_constraint() -> None:
    import dataclasses

    assert {f.name for f in dataclasses.fields(NetworkConfig)} == set(NETWORK_CONSTRAINTS)


def test_enums_are_normalised_and_properties() -> None:
    cfg = NetworkConfig(depth=3, activation="erf", parameterization="standard", width=10)
    assert cfg.activation.value == "erf" and cfg.jacot_layers == 4 and cfg.has_bias
    assert not NetworkConfig(bias_std=0.0).has_bias


@given(cfg=network_configs())
def test_dict_round_trip(cfg: NetworkConfig) -> None:
    data = cfg.to_dict()
    assert all(isinstance(v, (int, float, str, bool, type(None))) for v in data.values())
    assert NetworkConfig.from_dict(data) == cfg


def test_from_dict_rejects_unknown_keys() -> None:
    with pytest.raises(ParameterError, match=r"'config' parameter.*Got 'depht'"):
        NetworkConfig.from_dict({"depht": 3})
