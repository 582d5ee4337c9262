"""Hand-written gradients of the squared loss: layerwise = autograd bit for bit; the
depth-1 ReLU closed form = an independent numpy derivation within a rounding bound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from spectralntk import NetworkConfig  # noqa: E402
from spectralntk.kernels import circle_points, uniform_angles  # noqa: E402
from spectralntk.nn import init_mlp  # noqa: E402
from spectralntk.nn.backprop import (  # noqa: E402
    layerwise_gradients,
    loss_gradients,
    network_outputs,
    shallow_relu_gradients,
    uses_shallow_relu,
)

EPS = float(np.finfo(np.float64).eps)


@st.composite
def shallow_cases(draw: st.DrawFn) -> tuple[NetworkConfig, int, int, int]:
    """(config, width, points, seed) of depth-1 ReLU networks over every bias option."""
    parameterization = draw(st.sampled_from(["ntk", "standard"]))
    width = draw(st.integers(1, 40))
    config = NetworkConfig(
        depth=1,
        weight_std=draw(st.floats(0.2, 2.0)),
        bias_std=draw(st.sampled_from([0.0, 0.1, 1.3])),
        bias_init=draw(st.sampled_from(["normal", "zero"])),
        output_bias=draw(st.booleans()),
        parameterization=parameterization,
        width=width if parameterization == "standard" else None,
        input_dim=draw(st.integers(1, 4)),
    )
    return config, width, draw(st.integers(1, 30)), draw(st.integers(0, 2**16))


def numpy_gradients(net, x, y, c):  # type: ignore[no-untyped-def]
    """Independent float64 derivation, per seed: (f, grads) and their magnitudes.

    The magnitudes are the same computation on absolute values (the mask taken from
    the exact z): a computed sum of m roundings is within γ_m = m·ε/(1 − m·ε) of the
    exact value relative to that magnitude (Higham 2002, §3.1).
    """
    (a1, be1), (a2, be2) = net.scales(1), net.scales(2)
    w1, w2 = (w.numpy() for w in net.weights)  # (S, n, n0), (S, 1, n)
    b1, b2 = (
        np.zeros((w1.shape[0], k)) if b is None else b.numpy()
        for b, k in zip(net.biases, (w1.shape[1], 1), strict=True)
    )
    x, y = x.numpy(), y.numpy()
    z = a1 * np.einsum("ni,sji->snj", x, w1) + be1 * b1[:, None, :]
    zmag = a1 * np.einsum("ni,sji->snj", abs(x), abs(w1)) + be1 * abs(b1)[:, None, :]
    mask = (z > 0).astype(float)
    h, hmag = mask * z, mask * zmag
    f = a2 * np.einsum("snj,sj->sn", h, w2[:, 0]) + be2 * b2
    fmag = a2 * np.einsum("snj,sj->sn", hmag, abs(w2[:, 0])) + be2 * abs(b2)
    g, gmag = 2 * c * (f - y), 2 * c * (fmag + abs(y))
    gz = a2 * g[:, :, None] * w2 * mask  # ∂L/∂z (S, N, n)
    gzmag = a2 * gmag[:, :, None] * abs(w2) * mask
    values = [f, a1 * np.einsum("snj,ni->sji", gz, x), a2 * np.einsum("sn,snj->sj", g, h)[:, None]]
    mags = [
        fmag,
        a1 * np.einsum("snj,ni->sji", gzmag, abs(x)),
        a2 * np.einsum("sn,snj->sj", gmag, hmag)[:, None],
    ]
    if net.biases[0] is not None:
        values.append(be1 * gz.sum(1))
        mags.append(be1 * gzmag.sum(1))
    if net.biases[1] is not None:
        values.append(be2 * g.sum(1, keepdims=True))
        mags.append(be2 * gmag.sum(1, keepdims=True))
    return values, mags


def rounding_gamma(n0: int, width: int, points: int, eps: float) -> float:
    """γ_m for the longest chain of roundings of a depth-1 gradient.

    The input sum (n0 + 2), the output sum (n + 3), the loss (3) and the sum over the
    points (N + 4), doubled to cover either method's order of summation.
    """
    m = 2 * (n0 + width + points + 12)
    return m * eps / (1 - m * eps)


@given(shallow_cases())
def test_shallow_relu_closed_form_matches_an_independent_derivation(case) -> None:  # type: ignore[no-untyped-def]
    config, width, points, seed = case
    net = init_mlp(config, width, [seed, seed + 1])
    assert uses_shallow_relu(net)
    rng = np.random.default_rng(seed)
    x = torch.as_tensor(rng.normal(size=(points, config.input_dim)))
    y = torch.as_tensor(rng.normal(size=(2, points)))
    c = 0.5 / points
    f, residual, grads = shallow_relu_gradients(net, x, y, c)
    values, mags = numpy_gradients(net, x, y, c)
    gamma = rounding_gamma(config.input_dim, width, points, EPS)
    assert torch.equal(residual, f - y)
    for got, want, mag in zip([f, *grads], values, mags, strict=True):
        assert got.shape == want.shape
        assert np.all(np.abs(got.numpy() - want) <= 2 * gamma * mag)


@given(shallow_cases())
def test_layerwise_gradients_are_autograd_bit_for_bit(case) -> None:  # type: ignore[no-untyped-def]
    config, width, points, seed = case
    for cfg in (config, config.replace(depth=2, activation="tanh")):
        net = init_mlp(cfg, width, [seed])
        x = torch.as_tensor(np.random.default_rng(seed).normal(size=(points, cfg.input_dim)))
        y = torch.sin(x.sum(1))
        params = [p.clone().requires_grad_(True) for p in net.parameters()]
        loss = 0.5 * ((net.with_parameters(params)(x)[0] - y) ** 2).sum()
        want = torch.autograd.grad(loss, params)
        f, _, got = layerwise_gradients(net, x, y[None], 0.5)
        assert torch.equal(f, net(x))
        for a, b in zip(got, want, strict=True):
            assert torch.equal(a, b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_closed_form_agrees_with_autograd_and_seeds_are_independent(dtype: str) -> None:
    config = NetworkConfig(depth=1, bias_std=0.1)
    x = torch.as_tensor(circle_points(uniform_angles(64)), dtype=getattr(torch, dtype))
    y = torch.sin(3 * torch.atan2(x[:, 1], x[:, 0]))
    batch, alone = (
        init_mlp(config, 300, [2, 5, 8], dtype=dtype),
        init_mlp(config, 300, [5], dtype=dtype),
    )
    fb, _, gb = loss_gradients(batch, x, y.expand(3, -1), 1 / 64)
    fa, _, ga = loss_gradients(alone, x, y[None], 1 / 64)
    assert torch.equal(fb[1], fa[0])  # seed 5 alone and in a batch: bit for bit
    for b, a in zip(gb, ga, strict=True):
        assert torch.equal(b[1], a[0])
    _, _, want = layerwise_gradients(batch, x, y.expand(3, -1), 1 / 64)
    wide = batch.with_parameters([p.double() for p in batch.parameters()])
    _, mags = numpy_gradients(wide, x.double(), y.expand(3, -1).double(), 1 / 64)
    gamma = rounding_gamma(2, 300, 64, torch.finfo(x.dtype).eps)
    for got, ref, mag in zip(gb, want, mags[1:], strict=True):
        assert np.all((got - ref).abs().double().numpy() <= 2 * gamma * mag)
    assert torch.equal(network_outputs(batch, x), fb)  # the evaluation grid: the same f


def test_dispatch_and_refusal() -> None:
    assert not uses_shallow_relu(init_mlp(NetworkConfig(depth=2), 4, [0]))
    assert not uses_shallow_relu(init_mlp(NetworkConfig(depth=1, activation="erf"), 4, [0]))
    assert not uses_shallow_relu(init_mlp(NetworkConfig(depth=1, input_dim=9), 4, [0]))
    net = init_mlp(NetworkConfig(depth=3), 4, [0])
    x = torch.as_tensor(circle_points(uniform_angles(5)))
    with pytest.raises(ValueError, match="net: the closed form needs depth 1"):
        shallow_relu_gradients(net, x, x[:, 0][None], 1.0)
    assert torch.equal(network_outputs(net, x), net.evaluate(x))


def test_relu_derivative_at_zero_is_zero_as_in_torch() -> None:
    # zero-initialised biases and the origin as an input: z = 0 exactly there
    config = NetworkConfig(depth=1, bias_std=0.5, bias_init="zero")
    net = init_mlp(config, 6, [1])
    x = torch.tensor([[0.0, 0.0], [0.6, -0.8]], dtype=torch.float64)
    y = torch.tensor([[1.0, -0.5]], dtype=torch.float64)
    _, _, got = shallow_relu_gradients(net, x, y, 0.5)
    _, _, want = layerwise_gradients(net, x, y, 0.5)
    assert not torch.equal(want[2], torch.zeros_like(want[2]))
    for a, b in zip(got, want, strict=True):
        assert torch.allclose(a, b, rtol=1e-14, atol=1e-15)
