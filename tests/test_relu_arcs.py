"""Depth-1 ReLU networks on the circle, arc by arc = the forward pass, to rounding."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from spectralntk import NetworkConfig  # noqa: E402
from spectralntk.kernels import circle_points, uniform_angles  # noqa: E402
from spectralntk.nn import init_mlp  # noqa: E402
from spectralntk.nn.relu_arcs import (  # noqa: E402
    CirclePoints,
    arc_outputs,
    on_unit_circle,
    sorted_positions,
    uses_arcs,
)

EPS = float(np.finfo(np.float64).eps)


def exact_and_magnitude(net, x):  # type: ignore[no-untyped-def]
    """f in float64 by the forward pass, and α₂Σ_j |w_j|(|A_j|·|x̃|) per point (S, M)."""
    (a1, be1), (a2, be2) = net.scales(1), net.scales(2)
    w1, w2 = net.weights[0].numpy(), net.weights[1].numpy()[:, 0]
    b1 = np.zeros(w1.shape[:2]) if net.biases[0] is None else net.biases[0].numpy()
    b2 = np.zeros((w1.shape[0], 1)) if net.biases[1] is None else net.biases[1].numpy()
    x = x.numpy()
    z = a1 * np.einsum("mi,sji->smj", x, w1) + be1 * b1[:, None, :]
    mag_z = a1 * np.einsum("mi,sji->smj", abs(x), abs(w1)) + be1 * abs(b1)[:, None, :]
    f = a2 * np.einsum("smj,sj->sm", np.maximum(z, 0), w2) + be2 * b2
    mag = a2 * np.einsum("smj,sj->sm", mag_z, abs(w2)) + be2 * abs(b2)
    return f, mag


def assert_within_rounding(net, x) -> None:  # type: ignore[no-untyped-def]
    got = arc_outputs(net, x).numpy()
    want, mag = exact_and_magnitude(net, x)
    # a running sum of ≤ 2n + 2 terms plus the product with x̃ (module docstring),
    # and the same for the reference forward pass: 2·(2n + 8)·ε·magnitude
    m = 2 * (2 * net.width + 8)
    assert np.all(np.abs(got - want) <= m * EPS * mag)


@st.composite
def arc_cases(draw: st.DrawFn) -> tuple[NetworkConfig, int, np.ndarray, int]:
    parameterization = draw(st.sampled_from(["ntk", "standard"]))
    width = draw(st.integers(1, 60))
    config = NetworkConfig(
        depth=1,
        weight_std=draw(st.floats(0.2, 2.0)),
        bias_std=draw(st.sampled_from([0.0, 0.1, 1.0, 4.0])),  # 4: many always/never
        bias_init=draw(st.sampled_from(["normal", "zero"])),
        output_bias=draw(st.booleans()),
        parameterization=parameterization,
        width=width if parameterization == "standard" else None,
    )
    angles = draw(
        st.one_of(
            st.integers(1, 100).map(uniform_angles),
            st.lists(st.floats(-10.0, 10.0), min_size=1, max_size=40).map(np.array),
        )
    )
    return config, width, angles, draw(st.integers(0, 2**16))


@given(arc_cases())
def test_arcs_equal_the_forward_pass_to_rounding(case) -> None:  # type: ignore[no-untyped-def]
    config, width, angles, seed = case
    net = init_mlp(config, width, [seed, seed + 7])
    x = torch.as_tensor(circle_points(angles))
    assert uses_arcs(net, x)
    assert_within_rounding(net, x)


def test_edge_cases_of_arcs() -> None:
    grid = torch.as_tensor(circle_points(uniform_angles(8)))  # 0, π/4, …, 7π/4
    net = init_mlp(NetworkConfig(depth=1, bias_std=1.0, output_bias=True), 6, [3])
    w1 = torch.tensor(
        [
            [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0], [-1.0, 0.0], [0.3, -0.2]],
        ],
        dtype=torch.float64,
    )
    # neuron 0: z = cos γ, zero at the grid points π/2 and 3π/2 and an arc across 0;
    # 1: z = sin γ + 0 … ; 2: ρ = 0 with c > 0 (always on); 3: ρ = 0, c < 0 (never);
    # 4: −cos γ + 5 (always on); 5: a narrow arc from a bias just above −ρ
    b1 = torch.tensor([[0.0, 0.0, 2.0, -1.0, 5.0, -0.36]], dtype=torch.float64)
    edge = net.with_parameters([w1, net.weights[1], b1, net.biases[1]])
    assert_within_rounding(edge, grid)
    assert_within_rounding(edge, torch.as_tensor(circle_points(uniform_angles(720))))
    # points in any order, repeated, and at angles that reduce to 2π − tiny
    angles = np.array([-1e-300, 2 * np.pi, 3.0, -3.0, 3.0, 0.0, 100.0])
    assert_within_rounding(edge, torch.as_tensor(circle_points(angles)))


def test_an_always_active_neuron_covers_the_whole_circle_whatever_the_rounding() -> None:
    # θ = π, lo = (φ − π) mod 2π, and (lo + 2π) − 2π rounds below lo: a point at an
    # angle in between is past the wrapped part [0, hi − 2π) and before (lo, 2π)
    a0, a1, t = 0.1257302210933933, -0.1321048632913019, 2.331475806814467
    config = NetworkConfig(
        depth=1, parameterization="standard", width=1, bias_std=1.0, output_bias=False
    )
    net = init_mlp(config, 1, [0])
    w1 = torch.tensor([[[a0, a1]]], dtype=torch.float64)
    b1 = torch.tensor([[5.0]], dtype=torch.float64)
    net = net.with_parameters([w1, torch.ones(1, 1, 1, dtype=torch.float64), b1])
    x = torch.tensor([[math.cos(t), math.sin(t)], [1.0, 0.0]], dtype=torch.float64)
    lo = (torch.atan2(w1[0, 0, 1], w1[0, 0, 0]) - math.pi).remainder(2 * math.pi)
    gamma = torch.atan2(x[0, 1], x[0, 0])
    assert (lo + 2 * math.pi) - 2 * math.pi <= gamma < lo
    assert_within_rounding(net, x)


def test_seeds_alone_and_in_a_batch_are_bit_identical() -> None:
    config = NetworkConfig(depth=1, bias_std=0.5)
    x = torch.as_tensor(circle_points(uniform_angles(90)))
    batch, alone = init_mlp(config, 77, [1, 4, 6]), init_mlp(config, 77, [4])
    assert torch.equal(arc_outputs(batch, x)[1], arc_outputs(alone, x)[0])


def test_where_arcs_apply() -> None:
    net = init_mlp(NetworkConfig(depth=1), 5, [0])
    circle = torch.as_tensor(circle_points(uniform_angles(12)))
    assert on_unit_circle(circle) and uses_arcs(net, circle)
    assert not on_unit_circle(1.001 * circle)
    assert not on_unit_circle(circle[:0])
    assert not uses_arcs(init_mlp(NetworkConfig(depth=2), 5, [0]), circle)
    assert not uses_arcs(init_mlp(NetworkConfig(depth=1, activation="erf"), 5, [0]), circle)
    with pytest.raises(ValueError, match=r"x: points \(M, 2\) on the unit circle"):
        arc_outputs(net, 2 * circle)
    with pytest.raises(ValueError, match="net, x: arc evaluation needs a depth-1 ReLU"):
        arc_outputs(init_mlp(NetworkConfig(depth=2), 5, [0]), circle)
    # prepared once, evaluated many times: the same values
    prepared = CirclePoints.of(circle)
    assert torch.equal(arc_outputs(net, prepared), arc_outputs(net, circle))


@given(
    st.one_of(
        st.integers(1, 200).map(uniform_angles),
        st.lists(st.floats(0.0, 2 * np.pi, exclude_max=True), min_size=1, max_size=60),
        st.lists(st.floats(1.0, 1.001), min_size=6, max_size=20),  # crowded: the fallback
    ),
    st.lists(st.floats(-7.0, 14.0), min_size=1, max_size=30),
    st.booleans(),
)
def test_bucket_positions_equal_searchsorted(angles, queries, right: bool) -> None:  # type: ignore[no-untyped-def]
    gamma = torch.sort(torch.as_tensor(np.asarray(angles, dtype=np.float64)))[0]
    # the angles themselves and their neighbours are the hard queries
    q = torch.cat([torch.as_tensor(queries), gamma, torch.nextafter(gamma, gamma + 1)])
    assert torch.equal(
        sorted_positions(gamma, q, right=right), torch.searchsorted(gamma, q, right=right)
    )
