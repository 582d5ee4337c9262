"""Analytic NNGP/NTK: independent references, invariants, limits and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import mp_circle, mp_kernel_pair
from scipy.special import erf
from strategies import ACTIVATIONS, network_configs, point_sets

from spectralntk import NetworkConfig, ParameterError, circle_kernel, kernel_matrix
from spectralntk.kernels import circle_points
from spectralntk.kernels.activations import Erf, GaussHermite, dual_activation, t_minus_sin

# Angles that stress the diagonal (0, 1e-14 ...), the antipode and wrap-around.
ANGLES = np.array([0.0, 1e-14, 1e-10, 1e-6, 1e-3, 0.5, 2.0, np.pi - 1e-9, np.pi, 4.0, -0.3])

REFERENCE_CONFIGS = [
    NetworkConfig(depth=0),
    NetworkConfig(depth=1),
    NetworkConfig(depth=4),
    NetworkConfig(depth=16, weight_std=2**0.5, bias_std=0.0),  # He, no bias (Hanin–Nica)
    NetworkConfig(depth=64, weight_std=2**0.5, bias_std=0.0),
    NetworkConfig(depth=64, weight_std=2**0.5, bias_init="zero", output_bias=False),
    NetworkConfig(depth=3, parameterization="standard", width=512),
    NetworkConfig(depth=2, parameterization="standard", width=7, bias_init="zero"),
    NetworkConfig(depth=4, activation="erf", weight_std=1.5),
    # Chaotic phase (σ_w² E[φ'²] > 1): rounding errors grow by that factor per layer.
    NetworkConfig(depth=64, activation="erf", weight_std=1.2, bias_std=0.0),
]
# 1e-13 held where numpy's arcsin and cos take their AVX-512 paths; on an AVX2-only CPU
# (libm's, also within an ulp) the same 64 chaotic layers amplify them to 4e-13.
CHAOTIC_TOLERANCE = 1e-12


@pytest.mark.parametrize("cfg", REFERENCE_CONFIGS, ids=repr)
def test_circle_kernel_matches_50_digit_reference(cfg: NetworkConfig) -> None:
    # The reference is the naive arccos recursion in 50-digit arithmetic. Float64
    # rounding accumulates ~1 ulp per layer; the absolute error is measured against
    # the kernel's scale k(0), since near a zero of the profile relative error is
    # meaningless.
    nngp, ntk = mp_circle(cfg, ANGLES)
    k = circle_kernel(cfg, ANGLES)
    tol = 4e-16 * (cfg.depth + 2)
    if cfg.activation.value == "erf" and cfg.weight_std > 1:
        tol = CHAOTIC_TOLERANCE
    assert np.max(np.abs(k.ntk - ntk)) <= tol * abs(ntk[0])
    assert np.max(np.abs(k.nngp - nngp)) <= tol * abs(nngp[0])


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_kernel_matrix_matches_reference_on_general_inputs(activation: str) -> None:
    # Unequal norms (q1 != q2), near-duplicates and an antipodal pair, in R^3.
    rng = np.random.default_rng(7)
    x = rng.normal(size=(5, 3)) * rng.uniform(0.2, 3.0, size=(5, 1))
    x = np.vstack([x, x[0] * (1 + 1e-9), x[1] + 1e-12, -x[2], np.zeros(3)])
    cfg = NetworkConfig(depth=3, activation=activation, input_dim=3, bias_std=0.4)
    k = kernel_matrix(cfg, x)
    ref = np.array([[mp_kernel_pair(cfg, a, b) for b in x] for a in x])
    scale = np.sqrt(np.outer(np.diag(ref[..., 1]), np.diag(ref[..., 1])))
    assert np.max(np.abs(k.ntk - ref[..., 1]) / scale) < 4e-15
    scale = np.sqrt(np.outer(np.diag(ref[..., 0]), np.diag(ref[..., 0])))
    assert np.max(np.abs(k.nngp - ref[..., 0]) / scale) < 4e-15


@pytest.mark.parametrize("depth", [1, 4, 64])
def test_diagonal_is_exact(depth: int) -> None:
    # On the diagonal every correlation is 1: the ReLU recursion collapses to the
    # scalar recursion q' = s q/2 + b, Θ' = Θ s/2 + s q/2 + b (Jacot et al. 2018).
    cfg = NetworkConfig(depth=depth, weight_std=1.3, bias_std=0.2)
    s, b = 1.3**2, 0.2**2
    q, theta = s / 2 + b, s / 2 + b
    for _ in range(depth):
        q, theta = s * q / 2 + b, theta * s / 2 + s * q / 2 + b
    k = circle_kernel(cfg, np.array([0.0, 2 * np.pi, -2 * np.pi]))
    np.testing.assert_allclose(k.ntk, theta, rtol=4e-16 * (depth + 1), atol=0)
    np.testing.assert_allclose(k.nngp, q, rtol=4e-16 * (depth + 1), atol=0)
    gram = kernel_matrix(cfg, circle_points(np.linspace(0, 6, 9)))
    np.testing.assert_allclose(np.diag(gram.ntk), theta, rtol=4e-16 * (depth + 1), atol=0)


@pytest.mark.parametrize(
    "cfg", [NetworkConfig(depth=4), NetworkConfig(depth=16, weight_std=2**0.5, bias_std=0)]
)
def test_profile_is_smooth_next_to_the_diagonal(cfg: NetworkConfig) -> None:
    # k(γ) = k(0) − c|γ| + O(γ²): the one-sided slope is the same at 1e-4, 1e-8 and
    # 1e-12. An arccos of a rounded correlation would give angle errors of 1e-8 and
    # slopes that are wrong by orders of magnitude at γ = 1e-12.
    g = np.array([0.0, 1e-4, 1e-8, 1e-12])
    k = circle_kernel(cfg, g).ntk
    slopes = (k[0] - k[1:]) / g[1:]
    assert slopes[0] > 0
    np.testing.assert_allclose(slopes[1:], slopes[0], rtol=1e-3)
    assert abs(slopes[2] - slopes[1]) <= 2e-16 * k[0] / 1e-12 + 1e-8 * slopes[0]


def test_deep_kernel_stays_finite_and_flattens() -> None:
    # With σ_w = 1 the ReLU correlation map contracts: at depth 64 all pairs are
    # almost perfectly correlated and Θ is close to its diagonal fixed point
    # 2σ_b²/(1 − 1/2) = 4σ_b², decreasing away from the diagonal.
    k = circle_kernel(NetworkConfig(depth=64), np.linspace(0, np.pi, 50))
    assert np.all(np.isfinite(k.ntk)) and np.all(np.isfinite(k.nngp))
    np.testing.assert_allclose(k.ntk, 4 * 0.1**2, rtol=1e-8)
    assert np.all(np.diff(k.ntk) <= 0) and np.all(np.diff(k.nngp) <= 0)


def test_one_hidden_layer_relu_closed_form() -> None:
    # Bias-free, σ_w = 1, n0 = 2 (Cho & Saul 2009; Basri et al. 2019):
    # Σ = (sin γ + (π − γ) cos γ)/(4π), Θ = (2(π − γ) cos γ + sin γ)/(4π).
    g = np.linspace(0.0, np.pi, 101)
    k = circle_kernel(NetworkConfig(depth=1, bias_std=0.0), g)
    np.testing.assert_allclose(
        k.nngp, (np.sin(g) + (np.pi - g) * np.cos(g)) / (4 * np.pi), atol=1e-16
    )
    np.testing.assert_allclose(
        k.ntk, (2 * (np.pi - g) * np.cos(g) + np.sin(g)) / (4 * np.pi), atol=1e-16
    )


def test_depth_zero_is_the_linear_model() -> None:
    x = np.random.default_rng(0).normal(size=(6, 2))
    cfg = NetworkConfig(depth=0, weight_std=1.7, bias_std=0.3)
    expected = 1.7**2 * (x @ x.T) / 2 + 0.3**2
    k = kernel_matrix(cfg, x)
    np.testing.assert_allclose(k.nngp, expected, rtol=1e-15)
    np.testing.assert_allclose(k.ntk, expected, rtol=1e-15)


def test_zero_bias_init_changes_the_ntk_but_not_the_nngp() -> None:
    # Zero-initialised biases leave the function at init (hence the NNGP) equal to
    # that of a bias-free net; training them adds σ_b² times the backward product
    # per layer to the NTK.
    g = np.linspace(0, np.pi, 17)
    zero = circle_kernel(NetworkConfig(depth=3, bias_std=0.5, bias_init="zero"), g)
    none = circle_kernel(NetworkConfig(depth=3, bias_std=0.0), g)
    np.testing.assert_array_equal(zero.nngp, none.nngp)
    assert np.all(zero.ntk > none.ntk)
    # Output bias only: the difference is exactly σ_b² (no backward factor).
    cfg = NetworkConfig(depth=1, bias_std=0.5, bias_init="zero")
    only_out = circle_kernel(cfg, g).ntk - circle_kernel(cfg.replace(output_bias=False), g).ntk
    np.testing.assert_allclose(only_out, 0.25, rtol=1e-14)


def test_standard_parameterization_one_hidden_layer_closed_form() -> None:
    # f = w2·φ(W1 x + b1) + b2, W1 ~ N(0, s/n0), w2 ~ N(0, s/n), b ~ N(0, σ_b²).
    # Summing ∂f∂f' over parameters: n E[φφ] + 1 + s E[φ'φ'](x·x' + 1) with (u, v)
    # ~ N(0, Σ¹), Σ¹ = s x·x'/n0 + σ_b² (Lee et al. 2019). ReLU: Cho & Saul forms.
    n, s, b2 = 300, 2.0, 0.3**2
    g = np.linspace(0, np.pi, 13)
    q = s / 2 + b2
    c = s * np.cos(g) / 2 + b2
    t = np.arccos(np.clip(c / q, -1, 1))
    e = q * (np.sin(t) + (np.pi - t) * np.cos(t)) / (2 * np.pi)
    ed = (np.pi - t) / (2 * np.pi)
    expected = n * e + 1 + s * ed * (np.cos(g) + 1)
    cfg = NetworkConfig(
        depth=1, weight_std=s**0.5, bias_std=0.3, parameterization="standard", width=n
    )
    np.testing.assert_allclose(circle_kernel(cfg, g).ntk, expected, rtol=1e-13)
    # Same function distribution as the NTK parameterization: same NNGP.
    np.testing.assert_array_equal(
        circle_kernel(cfg, g).nngp, circle_kernel(cfg.replace(parameterization="ntk"), g).nngp
    )


@given(cfg=network_configs(max_depth=4), x=point_sets(max_points=10))
def test_gram_matrices_are_symmetric_psd_for_every_activation(cfg, x) -> None:  # type: ignore[no-untyped-def]
    k = kernel_matrix(cfg, x)
    for gram in (k.nngp, k.ntk):
        assert np.all(np.isfinite(gram))
        scale = max(np.max(np.abs(gram)), 1e-300)
        np.testing.assert_allclose(gram, gram.T, rtol=0, atol=1e-14 * scale)
        eig = np.linalg.eigvalsh(0.5 * (gram + gram.T))
        assert eig.min() >= -1e-12 * scale


@given(cfg=network_configs(max_depth=3), shift=st.floats(-10, 10), data=st.data())
def test_circle_kernel_is_rotation_invariant(cfg, shift, data) -> None:  # type: ignore[no-untyped-def]
    # K(x(a), x(b)) depends only on a − b: the circle profile must agree with the
    # general Gram matrix on rotated point pairs.
    a = np.array(data.draw(st.lists(st.floats(0, 2 * np.pi), min_size=1, max_size=6)))
    gram = kernel_matrix(cfg, circle_points(a + shift), circle_points(a))
    prof = circle_kernel(cfg, shift + a[:, None] - a[None, :])
    np.testing.assert_allclose(gram.ntk, prof.ntk, rtol=1e-9, atol=1e-12 * abs(prof.ntk).max())
    np.testing.assert_allclose(gram.nngp, prof.nngp, rtol=1e-9, atol=1e-12 * abs(prof.nngp).max())


def test_gauss_hermite_reproduces_the_erf_closed_form() -> None:
    # The quadrature path checked against Williams (1997) on the same activation.
    gh = GaussHermite("erf", erf, lambda x: 2 / np.sqrt(np.pi) * np.exp(-x * x), nodes=128)
    t = np.linspace(0, np.pi, 40)
    q1, q2 = np.full(40, 0.7), np.full(40, 1.9)
    a, b = gh.pair(q1, q2, t), Erf().pair(q1, q2, t)
    np.testing.assert_allclose(a.cross, b.cross, atol=1e-14)
    np.testing.assert_allclose(a.deficit, b.deficit, atol=1e-13)
    np.testing.assert_allclose(a.derivative_cross, b.derivative_cross, atol=1e-14)
    np.testing.assert_allclose(gh.second_moment(q1), Erf().second_moment(q1), rtol=1e-14)


@pytest.mark.parametrize("activation", ["tanh", "gelu"])
def test_quadrature_activations_converge(activation: str) -> None:
    # With the default 96 nodes the profile agrees with a 256-node rule to 1e-12
    # relative for the default σ_w = 1 (pre-activation variances ≤ 1).
    cfg = NetworkConfig(depth=3, activation=activation)
    g = np.linspace(0, np.pi, 25)
    fine = circle_kernel(cfg, g, hermite_nodes=256)
    k = circle_kernel(cfg, g)
    assert np.max(np.abs(k.ntk - fine.ntk)) < 1e-12 * np.max(np.abs(fine.ntk))
    assert np.max(np.abs(k.nngp - fine.nngp)) < 1e-12 * np.max(np.abs(fine.nngp))
    np.testing.assert_array_equal(k.ntk[0] >= k.ntk, True)  # maximal on the diagonal


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_pair_at_zero_angle_is_the_diagonal(activation: str) -> None:
    dual = dual_activation(activation)
    q = np.array([0.3, 1.0, 2.5])
    pair = dual.pair(q, q, np.zeros(3))
    np.testing.assert_allclose(pair.cross, dual.second_moment(q), rtol=1e-13)
    np.testing.assert_allclose(pair.derivative_cross, dual.derivative_second_moment(q), rtol=1e-13)
    np.testing.assert_array_equal(pair.deficit, 0.0)


def test_t_minus_sin_has_no_cancellation() -> None:
    t = np.array([1e-8, 1e-3, 0.5, 0.999, 1.0, 2.0, np.pi])
    import mpmath as mp

    ref = np.array([float(mp.mpf(float(v)) - mp.sin(mp.mpf(float(v)))) for v in t])
    np.testing.assert_allclose(t_minus_sin(t), ref, rtol=4e-16)


def _mc_nngp(cfg: NetworkConfig, x: np.ndarray, width: int, nets: int, seed: int):
    """Per-network estimates E_last[f(x) f(x')] = σ_w² a·a'/n + σ_b² (NTK param.)."""
    rng = np.random.default_rng(seed)
    s, sb = cfg.weight_std, cfg.bias_std
    out = []
    for _ in range(nets):
        a, fan = x.T, x.shape[1]
        for _ in range(cfg.depth):
            w = rng.standard_normal((width, fan))
            b = rng.standard_normal((width, 1))
            a = np.maximum(s / np.sqrt(fan) * (w @ a) + sb * b, 0.0)
            fan = width
        out.append(s**2 * (a.T @ a) / fan + sb**2)
    return np.array(out)


@pytest.mark.parametrize("depth,width,nets", [(1, 512, 160), (3, 1024, 96)])
def test_nngp_matches_monte_carlo_of_random_networks(depth: int, width: int, nets: int) -> None:
    # Random ReLU networks (numpy, fixed seed); the expectation over the last layer is
    # taken exactly, the rest sampled. For depth 1 the estimator is unbiased at any
    # width; for depth 3 finite width adds an O(1/width) bias (Hanin & Nica 2019),
    # bounded here by 4/width relative. The sampling error is 4 standard errors of
    # the mean over independent networks.
    cfg = NetworkConfig(depth=depth, bias_std=0.2)
    x = circle_points(np.linspace(0, np.pi, 7))
    est = _mc_nngp(cfg, x, width, nets, seed=20261123)
    mean, se = est.mean(0), est.std(0, ddof=1) / np.sqrt(nets)
    exact = kernel_matrix(cfg, x).nngp
    bias = 0.0 if depth == 1 else 4.0 / width * np.abs(exact)
    assert np.all(np.abs(mean - exact) <= 4 * se + bias)
    assert np.max(se / np.abs(exact)) < 0.01  # power: a 4 % error would be caught


def test_bad_inputs_name_the_parameter() -> None:
    cfg = NetworkConfig()
    with pytest.raises(ParameterError, match="'x1' parameter"):
        kernel_matrix(cfg, np.zeros((3, 3)))
    with pytest.raises(ParameterError, match=r"'x2' parameter.*non-finite"):
        kernel_matrix(cfg, np.zeros((3, 2)), np.full((2, 2), np.nan))
    with pytest.raises(ParameterError, match="'gamma' parameter"):
        circle_kernel(cfg, [0.0, np.inf])
    with pytest.raises(ParameterError, match="'input_dim' parameter"):
        circle_kernel(NetworkConfig(input_dim=3), [0.0])


def test_zero_input_with_zero_initialised_biases_matches_the_network() -> None:
    # x = 0 and biases starting at 0: the first pre-activation is exactly 0, where
    # ReLU'(0) = 0 (torch), so nothing flows back through that unit; the Gram stays PSD.
    torch = pytest.importorskip("torch")
    from spectralntk.nn import empirical_kernel, init_mlp

    x = np.array([[0.0, 0.0], [1.0, 0.5], [-0.3, 2.0]])
    cfg = NetworkConfig(depth=2, bias_std=0.5, bias_init="zero")
    analytic = kernel_matrix(cfg, x).ntk
    emp = empirical_kernel(init_mlp(cfg, 4096, range(8)), torch.as_tensor(x)).ntk.mean(0).numpy()
    np.testing.assert_allclose(analytic[0], emp[0], rtol=0.05, atol=1e-3)
    assert np.linalg.eigvalsh(analytic).min() >= -1e-12
