"""Finite-width networks: layerwise empirical NTK = autograd, seeds, limits."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch.func import functional_call, jacrev, vmap  # noqa: E402

from spectralntk import NetworkConfig, ParameterError, kernel_matrix  # noqa: E402
from spectralntk.kernels import circle_points, uniform_angles  # noqa: E402
from spectralntk.nn import empirical_kernel, init_mlp, resolve_device, resolve_dtype  # noqa: E402
from spectralntk.nn.empirical_ntk import seed_chunk  # noqa: E402
from spectralntk.nn.mlp import MLP  # noqa: E402


def _as_module(net: MLP, s: int) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    """One seed of ``net`` as a plain torch module with named parameters (the reference)."""

    class Plain(torch.nn.Module):
        def forward(self, x: torch.Tensor, **params: torch.Tensor) -> torch.Tensor:
            ws = [params[f"w{i}"][None] for i in range(net.layers)]
            bs = [
                params.get(f"b{i}")[None] if f"b{i}" in params else None  # type: ignore[index]
                for i in range(net.layers)
            ]
            return MLP(net.config, net.width, (0,), tuple(ws), tuple(bs))(x)[0]

    params = {f"w{i}": w[s] for i, w in enumerate(net.weights)}
    params.update({f"b{i}": b[s] for i, b in enumerate(net.biases) if b is not None})
    return Plain(), params


def jacobian_ntk(net: MLP, s: int, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """Θ = J(x1) J(x2)ᵀ with J from torch.func.jacrev (O(N·P) memory: small nets only)."""
    module, params = _as_module(net, s)

    def f(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(module, (), args=(x[None],), kwargs=p)[0]

    j1 = vmap(jacrev(f), in_dims=(None, 0))(params, x1)
    j2 = vmap(jacrev(f), in_dims=(None, 0))(params, x2)
    return sum(j1[k].flatten(1) @ j2[k].flatten(1).T for k in params)  # type: ignore[return-value]


OPTIONS = list(
    itertools.product(["ntk", "standard"], ["normal", "zero"], [True, False], [0.0, 0.3])
)


@pytest.mark.parametrize("depth", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("param,bias_init,output_bias,bias_std", OPTIONS)
def test_layerwise_ntk_equals_jacobian_contraction(
    depth: int, param: str, bias_init: str, output_bias: bool, bias_std: float
) -> None:
    cfg = NetworkConfig(
        depth=depth,
        weight_std=1.3,
        bias_std=bias_std,
        bias_init=bias_init,
        output_bias=output_bias,
        parameterization=param,
        width=9,
    )
    net = init_mlp(cfg, 9, [4, 11])
    rng = np.random.default_rng(depth)
    x1 = torch.as_tensor(rng.normal(size=(5, 2)))
    x2 = torch.as_tensor(rng.normal(size=(3, 2)))
    k = empirical_kernel(net, x1, x2)
    for s in range(2):
        ref = jacobian_ntk(net, s, x1, x2)
        assert torch.allclose(k.ntk[s], ref, rtol=0, atol=1e-10 * ref.abs().max())


@pytest.mark.parametrize("activation", ["erf", "tanh", "gelu"])
def test_layerwise_ntk_equals_jacobian_for_every_activation(activation: str) -> None:
    cfg = NetworkConfig(depth=3, activation=activation, bias_std=0.4)
    net = init_mlp(cfg, 8, [1])
    x = torch.as_tensor(circle_points(np.linspace(0, 6, 7)))
    ref = jacobian_ntk(net, 0, x, x)
    assert torch.allclose(
        empirical_kernel(net, x).ntk[0], ref, rtol=0, atol=1e-10 * ref.abs().max()
    )


def test_seeds_are_bit_identical_alone_in_a_batch_and_on_repeat() -> None:
    cfg = NetworkConfig(depth=2)
    batch = init_mlp(cfg, 16, [3, 7, 9])
    alone = init_mlp(cfg, 16, [7])
    again = init_mlp(cfg, 16, [3, 7, 9])
    for wb, wa, w2 in zip(batch.parameters(), alone.parameters(), again.parameters(), strict=True):
        assert torch.equal(wb[1], wa[0]) and torch.equal(wb, w2)
    x = torch.as_tensor(circle_points(uniform_angles(8)))
    assert torch.equal(empirical_kernel(batch, x).ntk, empirical_kernel(again, x).ntk)
    # the bias options do not shift the stream: the weights are the same
    other = init_mlp(cfg.replace(bias_init="zero", output_bias=False), 16, [7])
    assert torch.equal(other.weights[1], alone.weights[1])


def test_device_auto_gives_the_same_weights_as_cpu() -> None:
    cfg = NetworkConfig(depth=1)
    auto = init_mlp(cfg, 8, [5], device="auto")
    cpu = init_mlp(cfg, 8, [5])
    assert all(
        torch.equal(a.cpu(), c) for a, c in zip(auto.parameters(), cpu.parameters(), strict=True)
    )


def test_ntk_and_standard_parameterizations_give_the_same_function() -> None:
    x = torch.as_tensor(circle_points(uniform_angles(12)))
    cfg = NetworkConfig(depth=3, weight_std=1.4, bias_std=0.2)
    ntk = init_mlp(cfg, 32, [0, 1])
    std = init_mlp(cfg.replace(parameterization="standard", width=32), 32, [0, 1])
    assert torch.allclose(ntk(x), std(x), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cfg", [NetworkConfig(depth=3), NetworkConfig(depth=2, activation="tanh")])
def test_empirical_grams_are_symmetric_and_psd(cfg: NetworkConfig) -> None:
    x = torch.as_tensor(circle_points(uniform_angles(40)))
    k = empirical_kernel(init_mlp(cfg, 64, [0, 1, 2]), x)
    for gram in (k.ntk, k.nngp):
        assert torch.equal(gram, gram.transpose(1, 2))
        eig = torch.linalg.eigvalsh(gram)
        assert eig.min() >= -1e-12 * eig.max()


def test_depth_zero_empirical_kernels_are_exact() -> None:
    # The linear model's kernels do not depend on the weights.
    x = circle_points(uniform_angles(10))
    cfg = NetworkConfig(depth=0, weight_std=1.2, bias_std=0.5)
    k = empirical_kernel(init_mlp(cfg, 5, [0]), torch.as_tensor(x))
    exact = kernel_matrix(cfg, x)
    np.testing.assert_allclose(k.ntk[0].numpy(), exact.ntk, rtol=1e-14)
    np.testing.assert_allclose(k.nngp[0].numpy(), exact.nngp, rtol=1e-14)


def test_float32_agrees_with_float64() -> None:
    x64 = torch.as_tensor(circle_points(uniform_angles(16)))
    cfg = NetworkConfig(depth=3)
    k64 = empirical_kernel(init_mlp(cfg, 64, [0], dtype="float64"), x64).ntk
    k32 = empirical_kernel(init_mlp(cfg, 64, [0], dtype="float32"), x64.float()).ntk
    assert k32.dtype == torch.float32
    # Same seed, same network: the float32 one is the float64 draw rounded once, so its
    # kernel agrees with the float64 kernel to float32 rounding (a few ulps per layer).
    np.testing.assert_allclose(k32.double().numpy(), k64.numpy(), rtol=2e-5, atol=0)


@pytest.mark.parametrize(
    "cfg",
    [
        NetworkConfig(depth=2, bias_std=0.3),
        NetworkConfig(depth=1, parameterization="standard", width=8, bias_init="zero"),
    ],
)
def test_same_seed_same_network_in_float32_and_float64(cfg: NetworkConfig) -> None:
    for width in (8, 32):
        a = init_mlp(cfg, width, [3, 11], dtype="float64")
        b = init_mlp(cfg, width, [3, 11], dtype="float32")
        for p64, p32 in zip(a.parameters(), b.parameters(), strict=True):
            assert p32.dtype == torch.float32
            assert torch.equal(p64.float(), p32)


def test_empirical_kernel_converges_like_inverse_sqrt_width() -> None:
    # ‖K̂ − K‖_F/‖K‖_F has fluctuations of order n^(−1/2) (Jacot et al. 2018;
    # Hanin & Nica 2019). Fixed seeds 0..7, widths 64..4096, depth 2, 48 points.
    # The slope of log(mean distance) on log(width) has a seed-to-seed standard
    # error of about 0.03 here (bootstrap); ±0.1 allows 3 SE plus the O(1/√n)
    # curvature of the smallest width.
    from spectralntk.runs.empirical import empirical_spectrum

    widths = [64, 256, 1024, 4096]
    run = empirical_spectrum(NetworkConfig(depth=2), widths, seeds=8, points=48)
    mean = run.distance.ntk[0].mean(axis=1)
    slope = np.polyfit(np.log(widths), np.log(mean), 1)[0]
    assert abs(slope + 0.5) < 0.1, (slope, mean)
    assert np.all(np.diff(mean) < 0)


def test_mean_empirical_ntk_matches_the_analytic_kernel_at_width_4096() -> None:
    # Mean over 16 seeds vs the analytic Gram: within 4 standard errors of the mean
    # (from the seed spread) plus an allowance of 2/n relative for the O(1/n) bias of
    # the finite-width mean (Hanin & Nica 2019).
    n, seeds = 4096, 16
    cfg = NetworkConfig(depth=2)
    x = circle_points(uniform_angles(24))
    k = empirical_kernel(init_mlp(cfg, n, range(seeds)), torch.as_tensor(x)).ntk.numpy()
    mean, se = k.mean(0), k.std(0, ddof=1) / np.sqrt(seeds)
    exact = kernel_matrix(cfg, x).ntk
    assert np.all(np.abs(mean - exact) <= 4 * se + 2.0 / n * np.abs(exact))
    assert np.max(se) < 0.02 * np.max(exact)  # power: an error of 8 % of k(0) is caught


@pytest.mark.parametrize(
    "call,param",
    [
        (lambda: init_mlp(NetworkConfig(), 0, [0]), "width"),
        (lambda: init_mlp(NetworkConfig(), 4, []), "seeds"),
        (lambda: init_mlp(NetworkConfig(), 4, [-1]), "seed"),
        (lambda: resolve_dtype("float16"), "dtype"),
        (lambda: resolve_device("tpu"), "device"),
        (lambda: resolve_device("nonsense:xyz"), "device"),
    ],
)
def test_bad_input(call, param: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ParameterError) as err:
        call()
    assert err.value.parameter == param and "\n" not in str(err.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_unavailable_cuda_is_a_clear_error() -> None:
    with pytest.raises(ParameterError, match="CUDA is not available"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_seed_chunk_respects_the_budget() -> None:
    # Width 10000, depth 3, float32: ~0.8 GB of weights per seed.
    per_2gb = seed_chunk(2, 10_000, 3, 256, 4, 2 * 2**30)
    assert per_2gb == 2
    assert seed_chunk(2, 10_000, 3, 256, 4, 2**30) == 1  # one seed fits, two do not
    # A budget below one seed's needs batches seed by seed up to 256 MiB a seed
    # (spectralntk.limits.ONE_SEED_FLOOR); beyond it the size is refused, naming the budget.
    assert seed_chunk(2, 1_000, 3, 256, 4, 1) == 1
    with pytest.raises(ParameterError, match="memory-budget"):
        seed_chunk(2, 10_000, 3, 256, 4, 1)


def test_reused_buffers_give_the_same_weights() -> None:
    cfg = NetworkConfig(depth=2)
    old = init_mlp(cfg, 16, [0, 1])
    reused = init_mlp(cfg, 16, [5, 6], out=old)
    fresh = init_mlp(cfg, 16, [5, 6])
    assert reused.weights[1] is old.weights[1]  # the memory was reused...
    for a, b in zip(reused.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(a, b)  # ...and holds the same draws


@pytest.mark.parametrize(
    ("depth", "activation", "bias_std", "output_bias", "parameterization", "dtype"),
    [
        (0, "relu", 0.1, True, "ntk", "float64"),
        (1, "relu", 0.1, False, "ntk", "float64"),
        (2, "erf", 0.3, True, "standard", "float64"),
        (3, "tanh", 0.0, True, "ntk", "float32"),
        (2, "gelu", 0.2, True, "ntk", "float32"),
    ],
)
def test_in_place_evaluation_is_bit_identical_to_the_forward_pass(
    depth: int,
    activation: str,
    bias_std: float,
    output_bias: bool,
    parameterization: str,
    dtype: str,
) -> None:
    cfg = NetworkConfig(
        depth=depth,
        activation=activation,
        bias_std=bias_std,
        output_bias=output_bias,
        parameterization=parameterization,
        weight_std=1.4,
        width=33 if parameterization == "standard" else None,
    )
    net = init_mlp(cfg, 33, [0, 5, 9], dtype=dtype)
    x = torch.as_tensor(circle_points(uniform_angles(50)), dtype=net.weights[0].dtype)
    before = x.clone()
    expected = net(x)
    got = net.evaluate(x)
    assert got.shape == (3, 50)
    assert torch.equal(got, expected)
    assert torch.equal(x, before)  # the input is never modified in place
