"""Hypothesis strategies shared by the tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from spectralntk.config import Activation, BiasInit, NetworkConfig, Parameterization

#: Every activation, for invariant tests that must hold for all of them.
ACTIVATIONS = tuple(a.value for a in Activation)

stds = st.floats(0.0, 2.0, allow_nan=False)


@st.composite
def network_configs(
    draw: st.DrawFn, *, max_depth: int = 5, activations: tuple[str, ...] = ACTIVATIONS
) -> NetworkConfig:
    """Random valid architectures over every option of DESIGN.md."""
    parameterization = draw(st.sampled_from([p.value for p in Parameterization]))
    return NetworkConfig(
        depth=draw(st.integers(0, max_depth)),
        activation=draw(st.sampled_from(activations)),
        weight_std=draw(st.floats(0.1, 2.0)),
        bias_std=draw(stds),
        bias_init=draw(st.sampled_from([b.value for b in BiasInit])),
        output_bias=draw(st.booleans()),
        parameterization=parameterization,
        width=draw(st.integers(1, 4096)) if parameterization == "standard" else None,
    )


def point_sets(n0: int = 2, max_points: int = 12) -> st.SearchStrategy[np.ndarray]:
    """Random point sets in R^n0 (rows), with moderate norms."""
    return hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, max_points), st.just(n0)),
        elements=st.floats(-3.0, 3.0, allow_nan=False, allow_subnormal=False),
    )
