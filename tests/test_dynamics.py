"""Residual modes, kernel-regime predictions and targets: exact identities with fixed seeds."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.linalg

from spectralntk import NetworkConfig, ParameterError, kernel_matrix
from spectralntk.dynamics import (
    KernelPredictor,
    discrete_decay,
    discrete_gain,
    eigvec_frequency_content,
    flow_decay,
    flow_gain,
    fourier_modes,
    grid_offset,
    least_squares_modes,
    loss_factor,
    loss_value,
    mode_amplitude,
    mode_energy,
    mode_energy_share,
    mode_phase,
    mode_projector,
    stability_limit,
    steps_to_fraction,
    synthesize,
)
from spectralntk.kernels import circle_points, uniform_angles
from spectralntk.spectral import circulant_eigenvalues
from spectralntk.targets import (
    MIXTURE_AMPLITUDES,
    MIXTURE_FREQUENCIES,
    MIXTURE_PHASES,
    Target,
    make_target,
    product_xy,
)

LOSS_NAMES = ("half_mean", "mean", "half_sum")


def _random_series(rng: np.random.Generator, shape: tuple[int, ...], kmax: int):
    a = rng.standard_normal((*shape, kmax + 1))
    b = rng.standard_normal((*shape, kmax + 1))
    b[..., 0] = 0.0
    return a, b


def _ntk_gram(gamma: np.ndarray, other: np.ndarray | None = None) -> np.ndarray:
    config = NetworkConfig(depth=1)
    x = circle_points(gamma)
    y = None if other is None else circle_points(other)
    return kernel_matrix(config, x, y).ntk


# ---------------------------------------------------------------- modes


@pytest.mark.parametrize("n", [1, 2, 7, 16, 33, 64])
@pytest.mark.parametrize("start", [0.0, -np.pi, 0.3])
def test_fourier_modes_exact_on_trig_polynomials(n: int, start: float) -> None:
    rng = np.random.default_rng(n)
    kmax = n // 2
    a, b = _random_series(rng, (3, 2), kmax)
    if n % 2 == 0 and kmax > 0:
        # Nyquist: only c·(−1)^j is visible; its minimum-norm pair is c·(cos, sin)(Ns/2)
        c = rng.standard_normal((3, 2))
        a[..., kmax] = c * math.cos(n * start / 2)
        b[..., kmax] = c * math.sin(n * start / 2)
    gamma = start + uniform_angles(n)
    values = synthesize(a, b, gamma)
    got_a, got_b = fourier_modes(values, kmax, start=start)
    assert got_a.shape == got_b.shape == (3, 2, kmax + 1)
    np.testing.assert_allclose(got_a, a, atol=1e-13)
    np.testing.assert_allclose(got_b, b, atol=1e-13)
    assert np.all(got_b[..., 0] == 0.0)
    # every truncation K ≤ N/2 gives the leading coefficients
    for k in range(kmax + 1):
        ka, kb = fourier_modes(values, k, start=start)
        np.testing.assert_allclose(ka, a[..., : k + 1], atol=1e-13)
        np.testing.assert_allclose(kb, b[..., : k + 1], atol=1e-13)


@pytest.mark.parametrize("n", [5, 8, 720])
def test_fourier_modes_round_trip_of_arbitrary_values(n: int) -> None:
    rng = np.random.default_rng(1)
    values = rng.standard_normal((4, n))
    a, b = fourier_modes(values, n // 2)
    np.testing.assert_allclose(synthesize(a, b, uniform_angles(n)), values, atol=1e-12)


def test_fourier_modes_of_constant_cos_sin_and_nyquist() -> None:
    n = 8
    gamma = uniform_angles(n)
    a, b = fourier_modes(np.full(n, 3.0), 4)
    np.testing.assert_allclose(a, [3, 0, 0, 0, 0], atol=1e-15)
    np.testing.assert_allclose(b, 0, atol=1e-15)
    a, b = fourier_modes(2 * np.cos(3 * gamma) - np.sin(gamma), 4)
    np.testing.assert_allclose(a, [0, 0, 0, 2, 0], atol=1e-15)
    np.testing.assert_allclose(b, [0, -1, 0, 0, 0], atol=1e-15)
    a, b = fourier_modes((-1.0) ** np.arange(n), 4)
    np.testing.assert_allclose(a, [0, 0, 0, 0, 1], atol=1e-15)
    np.testing.assert_allclose(b, 0, atol=1e-15)


def test_non_finite_residuals_give_nan_modes() -> None:
    values = np.ones((3, 8))
    values[1, 3] = np.nan
    values[2, 0] = np.inf
    for a, b in (
        fourier_modes(values, 3),
        least_squares_modes(uniform_angles(8), values, 3),
        mode_projector(uniform_angles(8), 4)(values),
        mode_projector(uniform_angles(8), 3, method="least_squares")(values),
    ):
        assert np.all(np.isfinite(a[0])) and np.all(np.isfinite(b[0]))
        assert np.all(np.isnan(a[1:])) and np.all(np.isnan(b[1:]))


@pytest.mark.parametrize("n", [9, 10, 32, 33])
def test_least_squares_equals_fft_on_uniform_grid(n: int) -> None:
    rng = np.random.default_rng(n)
    values = rng.standard_normal((3, n))
    gamma = uniform_angles(n)
    for kmax in range(0, (n - 1) // 2 + 1):
        la, lb = least_squares_modes(gamma, values, kmax)
        fa, fb = fourier_modes(values, kmax)
        np.testing.assert_allclose(la, fa, atol=1e-13)
        np.testing.assert_allclose(lb, fb, atol=1e-13)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("extra", [0, 1, 40])
def test_least_squares_recovers_trig_polynomial_at_random_angles(seed: int, extra: int) -> None:
    rng = np.random.default_rng(seed)
    kmax = 6
    n = 2 * kmax + 1 + extra
    gamma = np.sort(rng.uniform(-np.pi, np.pi, n))
    a, b = _random_series(rng, (2, 3), kmax)
    values = synthesize(a, b, gamma)
    got_a, got_b = least_squares_modes(gamma, values, kmax)
    assert got_a.shape == (2, 3, kmax + 1)
    np.testing.assert_allclose(got_a, a, atol=1e-9)
    np.testing.assert_allclose(got_b, b, atol=1e-9)
    projector = mode_projector(gamma, kmax)
    assert projector.method == "least_squares"
    pa, pb = projector(values)
    np.testing.assert_allclose(pa, got_a, atol=1e-10)
    np.testing.assert_allclose(pb, got_b, atol=1e-10)


def test_least_squares_is_the_least_squares_fit() -> None:
    rng = np.random.default_rng(5)
    gamma = rng.uniform(0, 2 * np.pi, 50)
    values = rng.standard_normal(50)
    a, b = least_squares_modes(gamma, values, 4)
    residual = values - synthesize(a, b, gamma)
    # normal equations: the residual is orthogonal to every basis function
    for k in range(5):
        assert abs(residual @ np.cos(k * gamma)) < 1e-12
        assert abs(residual @ np.sin(k * gamma)) < 1e-12


@pytest.mark.parametrize("n", [7, 8, 720])
@pytest.mark.parametrize("start", [0.0, -np.pi])
def test_projector_on_grid_is_the_fft(n: int, start: float) -> None:
    rng = np.random.default_rng(n)
    gamma = start + uniform_angles(n)
    assert grid_offset(gamma) == pytest.approx(start)
    values = rng.standard_normal((3, n))
    projector = mode_projector(gamma, n // 2)
    assert projector.method == "fft"
    assert projector.cos_matrix.shape == (n // 2 + 1, n)
    pa, pb = projector(values)
    fa, fb = fourier_modes(values, n // 2, start=start)
    np.testing.assert_allclose(pa, fa, atol=1e-12)
    np.testing.assert_allclose(pb, fb, atol=1e-12)
    np.testing.assert_array_equal(projector.frequencies, np.arange(n // 2 + 1))


def test_grid_offset_rejects_non_grids() -> None:
    assert grid_offset(uniform_angles(12)[::-1]) is None
    assert grid_offset(np.array([0.0, 1.0, 2.0])) is None
    assert grid_offset(uniform_angles(12) + 2 * np.pi) == pytest.approx(2 * np.pi)


def test_mode_errors_name_the_parameter() -> None:
    with pytest.raises(ParameterError, match="'max_frequency'") as info:
        fourier_modes(np.zeros(10), 6)
    assert info.value.parameter == "max_frequency" and "\n" not in str(info.value)
    with pytest.raises(ParameterError, match=r"2K \+ 1 ≤ 10 distinct") as info:
        least_squares_modes(uniform_angles(10), np.zeros(10), 5)
    assert info.value.parameter == "max_frequency"
    # repeated angles do not count twice (modulo 2π)
    gamma = np.array([0.0, 1.0, 2.0, 3.0, 2 * np.pi, 1.0, 2.0 + 2 * np.pi])
    least_squares_modes(gamma, np.zeros(7), 1)
    with pytest.raises(ParameterError, match="'max_frequency'"):
        least_squares_modes(gamma, np.zeros(7), 2)
    with pytest.raises(ParameterError, match="'values'"):
        least_squares_modes(uniform_angles(10), np.zeros(9), 2)
    with pytest.raises(ParameterError, match="'max_frequency'"):
        mode_projector(uniform_angles(10), 6, method="fft")
    with pytest.raises(ParameterError, match="'gamma'"):
        mode_projector(np.array([0.0, 0.1, 0.5]), 1, method="fft")
    with pytest.raises(ParameterError, match="'method'"):
        mode_projector(uniform_angles(10), 2, method="dft")
    with pytest.raises(ParameterError, match="'values'"):
        fourier_modes(np.float64(1.0), 0)


def test_energy_amplitude_phase() -> None:
    rng = np.random.default_rng(3)
    a, b = _random_series(rng, (5,), 7)
    fine = uniform_angles(64)
    values = synthesize(a, b, fine)
    # Parseval on the uniform measure
    np.testing.assert_allclose(mode_energy(a, b).sum(-1), np.mean(values**2, axis=-1))
    share = mode_energy_share(a, b)
    np.testing.assert_allclose(share.sum(-1), 1.0)
    amp, phase = mode_amplitude(a, b), mode_phase(a, b)
    k = 3
    np.testing.assert_allclose(
        amp[:, k, None] * np.cos(k * fine - phase[:, k, None]),
        a[:, k, None] * np.cos(k * fine) + b[:, k, None] * np.sin(k * fine),
        atol=1e-13,
    )
    assert np.all(mode_energy_share(np.zeros(3), np.zeros(3)) == 0.0)


# ---------------------------------------------------------------- losses


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_loss_factor_is_the_gradient_of_the_loss(loss: str) -> None:
    rng = np.random.default_rng(0)
    n = 7
    r = rng.standard_normal(n)
    c = loss_factor(loss, n)
    h = 1e-6
    grad = np.array(
        [(loss_value(r + h * e, loss) - loss_value(r - h * e, loss)) / (2 * h) for e in np.eye(n)]
    )
    np.testing.assert_allclose(grad, c * r, rtol=1e-8)
    assert loss_factor(loss, n) == {"half_mean": 1 / n, "mean": 2 / n, "half_sum": 1.0}[loss]
    assert loss_value(np.stack([r, 2 * r]), loss).shape == (2,)


def test_loss_values() -> None:
    r = np.array([1.0, -2.0, 2.0, 0.0])
    assert loss_value(r, "half_mean") == pytest.approx(9 / 8)
    assert loss_value(r, "mean") == pytest.approx(9 / 4)
    assert loss_value(r, "half_sum") == pytest.approx(9 / 2)


def test_stability_limit_separates_decay_from_growth() -> None:
    for loss in LOSS_NAMES:
        eta = stability_limit(3.0, loss, 10)
        c = loss_factor(loss, 10)
        assert eta == pytest.approx(2 / (c * 3.0))
        below = discrete_decay(3.0, 0.99 * eta, [1000], c)
        above = discrete_decay(3.0, 1.01 * eta, [1000], c)
        assert abs(below[0]) < 1e-6 and abs(above[0]) > 1e6
    with pytest.raises(ParameterError, match="'mu_max'"):
        stability_limit(0.0, "mean", 10)
    with pytest.raises(ParameterError, match="'loss'"):
        stability_limit(1.0, "mse", 10)
    with pytest.raises(ParameterError, match="'n_train'"):
        loss_factor("mean", 0)


# ---------------------------------------------------------------- decays


def test_discrete_decay_equals_repeated_multiplication() -> None:
    x = np.array([[0.0, 1e-9, 0.3, 0.5, 0.999], [1.0, 1.2, 1.7, 2.0, 2.3]])  # rates cημ
    lr, c = 0.5, 0.25
    mu = x / (lr * c)
    steps = np.arange(60)
    decay = discrete_decay(mu, lr, steps, c)
    assert decay.shape == (60, 2, 5)
    expected = np.empty_like(decay)
    power = np.ones_like(x)
    for t in steps:
        expected[t] = power
        power = power * (1.0 - x)
    np.testing.assert_allclose(decay, expected, rtol=1e-13, atol=1e-300)
    # integral floats are steps too; fractional steps are not
    np.testing.assert_array_equal(discrete_decay(mu, lr, steps.astype(float), c), decay)
    with pytest.raises(ParameterError, match="'steps'"):
        discrete_decay(mu, lr, [0.5], c)
    with pytest.raises(ParameterError, match="'steps'"):
        discrete_decay(mu, lr, [-1], c)
    with pytest.raises(ParameterError, match="'lr'"):
        discrete_decay(mu, 0.0, steps, c)
    with pytest.raises(ParameterError, match="'mu'"):
        discrete_decay([np.nan], lr, steps, c)


def test_divergent_modes_overflow_quietly() -> None:
    out = discrete_decay([10.0], 1.0, [100_000, 100_001], 1.0)
    assert out[0, 0] == np.inf and out[1, 0] == -np.inf


def test_flow_decay_and_gains() -> None:
    mu = np.array([0.0, 1e-300, 1e-20, 1e-12, 1e-3, 1.0])
    lr, c = 0.1, 0.5
    times = np.array([0.0, 1.0, 1e3, 1e6])
    np.testing.assert_allclose(
        flow_decay(mu, lr, times, c), np.exp(-c * lr * np.multiply.outer(times, mu))
    )
    for gain in (
        discrete_gain(mu, lr, times.astype(int), c),
        flow_gain(mu, lr, times, c),
    ):
        assert gain.shape == (4, 6) and np.all(np.isfinite(gain))
        # μ → 0: g_t → cηt, with first-order correction −(cη)²μt²/2
        x = c * lr * mu[:4]
        expected = c * lr * times[:, None] * (1 - x * times[:, None] / 2)
        np.testing.assert_allclose(gain[:, :4], expected, rtol=1e-9)
        assert np.all(gain[0] == 0.0)
    # exact identity g_t(μ)·μ = 1 − decay for μ away from 0
    steps = np.arange(0, 40, 3)
    big = np.array([0.5, 3.0, 12.0, 25.0, 38.0])
    np.testing.assert_allclose(
        discrete_gain(big, lr, steps, c) * big, 1 - discrete_decay(big, lr, steps, c), atol=1e-14
    )
    np.testing.assert_allclose(
        flow_gain(big, lr, times, c) * big, 1 - flow_decay(big, lr, times, c), atol=1e-14
    )


def test_steps_to_fraction_matches_the_scalar_recursion() -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(0.001, 1.999, 300), [1.0, 0.5, 1.5, 0.9]])
    for fraction in (0.1, 0.5, 1e-3):
        predicted = steps_to_fraction(x, 1.0, 1.0, fraction)
        for xi, ti in zip(x, predicted, strict=True):
            m, t = 1.0, 0
            while abs(m) > fraction:
                m *= 1.0 - xi
                t += 1
            assert ti == t, (xi, fraction)
    assert np.all(steps_to_fraction([0.0, -1.0, 2.0, 2.5], 1.0, 1.0) == np.inf)
    flow = steps_to_fraction([0.0, 0.01, 3.0], 0.5, 2.0, 0.1, dynamics="flow")
    assert flow[0] == np.inf
    np.testing.assert_allclose(np.exp(-flow[1:] * np.array([0.01, 3.0])), 0.1)
    with pytest.raises(ParameterError, match="'fraction'"):
        steps_to_fraction([1.0], 1.0, 1.0, 1.0)
    with pytest.raises(ParameterError, match="'dynamics'"):
        steps_to_fraction([1.0], 1.0, 1.0, dynamics="euler")


# ---------------------------------------------------------------- predictor


@pytest.fixture(scope="module")
def circle_setup() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    train = np.sort(rng.choice(uniform_angles(720) - np.pi, 12, replace=False))
    evals = uniform_angles(40) - np.pi
    return {
        "train": train,
        "eval": evals,
        "gram": _ntk_gram(train),
        "cross": _ntk_gram(evals, train),
        "y": make_target("fourier-mixture", frequencies=[1, 2, 3])(train),
        "f0": 0.1 * rng.standard_normal(12),
        "f0_eval": 0.1 * rng.standard_normal(40),
    }


@pytest.mark.parametrize("loss", LOSS_NAMES)
@pytest.mark.parametrize("rate", [0.3, 1.0, 1.9])  # c·η·μ_max
def test_predictor_matches_explicit_gradient_descent(
    circle_setup: dict[str, np.ndarray], loss: str, rate: float
) -> None:
    s = circle_setup
    gram, cross, y, f0, fe = s["gram"], s["cross"], s["y"], s["f0"], s["f0_eval"]
    n = gram.shape[0]
    c = loss_factor(loss, n)
    lr = rate / (c * np.linalg.eigvalsh(gram)[-1])
    pred = KernelPredictor(gram, cross, targets=y, lr=lr, loss=loss, f0_train=f0, f0_eval=fe)
    assert pred.c == c and pred.n_train == n
    assert pred.stability_limit == pytest.approx(2 * lr / rate)
    steps = np.arange(51)
    residuals = pred.train_residual(steps)
    outputs = pred.eval_prediction(steps)
    assert residuals.shape == (51, n) and outputs.shape == (51, 40)
    np.testing.assert_allclose(residuals[0], f0 - y, atol=1e-15)
    np.testing.assert_allclose(outputs[0], fe, atol=1e-15)
    step = np.eye(n) - c * lr * gram
    r, f = f0 - y, fe.copy()
    scale = np.linalg.norm(f0 - y)
    for t in steps:
        assert np.max(np.abs(residuals[t] - r)) <= 1e-12 * scale, t
        assert np.max(np.abs(outputs[t] - f)) <= 1e-12 * scale, t
        f = f - c * lr * cross @ r
        r = step @ r
    # scalar steps give single rows
    np.testing.assert_allclose(pred.train_residual(7), residuals[7], atol=1e-15)


def test_predictor_on_training_points_is_target_plus_residual(
    circle_setup: dict[str, np.ndarray],
) -> None:
    s = circle_setup
    pred = KernelPredictor(s["gram"], targets=s["y"], lr=0.3, loss="mean", f0_train=s["f0"])
    steps = np.array([0, 1, 10, 1000, 10**6])
    np.testing.assert_allclose(
        pred.eval_prediction(steps), s["y"] + pred.train_residual(steps), atol=1e-12
    )
    times = np.array([0.0, 0.5, 10.0, 1e4])
    np.testing.assert_allclose(
        pred.flow_eval_prediction(times), s["y"] + pred.flow_train_residual(times), atol=1e-12
    )


def test_predictor_reaches_kernel_regression(circle_setup: dict[str, np.ndarray]) -> None:
    s = circle_setup
    gram, cross, y = s["gram"], s["cross"], s["y"]
    mu = np.linalg.eigvalsh(gram)
    assert mu[0] > 1e-4 * mu[-1]  # well conditioned
    lr = 1.0 / (loss_factor("half_mean", 12) * mu[-1])
    pred = KernelPredictor(gram, cross, targets=y, lr=lr, loss="half_mean")
    t_big = int(50 * mu[-1] / mu[0])  # c·η·μ_min·t = 50
    regression = cross @ np.linalg.solve(gram, y)
    np.testing.assert_allclose(pred.limit(reg=0.0), regression, atol=1e-10)
    np.testing.assert_allclose(pred.eval_prediction(t_big), regression, atol=1e-10)
    np.testing.assert_allclose(pred.flow_eval_prediction(float(t_big)), regression, atol=1e-10)
    np.testing.assert_allclose(pred.train_residual(t_big), 0.0, atol=1e-12)
    ridge = cross @ np.linalg.solve(gram + 1e-6 * np.eye(12), y)
    np.testing.assert_allclose(pred.limit(), ridge, atol=1e-12)
    with pytest.raises(ParameterError, match="'reg'"):
        pred.limit(-1.0)


def test_gradient_flow_solves_the_ode(circle_setup: dict[str, np.ndarray]) -> None:
    s = circle_setup
    gram, cross, y, f0, fe = s["gram"], s["cross"], s["y"], s["f0"], s["f0_eval"]
    lr, loss = 0.7, "half_sum"
    pred = KernelPredictor(gram, cross, targets=y, lr=lr, loss=loss, f0_train=f0, f0_eval=fe)
    r0 = f0 - y
    for t in (0.0, 0.3, 2.0, 25.0):
        propagator = scipy.linalg.expm(-lr * gram * t)
        np.testing.assert_allclose(pred.flow_train_residual(t), propagator @ r0, atol=1e-12)
        # f(x, t) = f0(x) − K(x, X) K⁻¹ (I − e^{−ηKt}) r0
        expected = fe - cross @ np.linalg.solve(gram, (np.eye(12) - propagator) @ r0)
        np.testing.assert_allclose(pred.flow_eval_prediction(t), expected, atol=1e-9)


def test_predictor_is_finite_on_a_singular_gram() -> None:
    gamma = np.array([0.0, 1.0, 1.0, 2.5, 4.0])  # a repeated point: K has μ = 0
    gram = _ntk_gram(gamma)
    pred = KernelPredictor(gram, targets=np.sin(gamma), lr=0.5, loss="mean")
    assert abs(pred.eigenvalues[-1]) < 1e-12 * pred.eigenvalues[0]
    out = pred.eval_prediction(np.array([0, 10, 10**5]))
    assert np.all(np.isfinite(out))
    assert np.all(np.isfinite(pred.flow_eval_prediction(np.array([0.0, 1e5]))))


def test_uniform_grid_predictions_are_per_frequency() -> None:
    n, loss, lr = 32, "mean", 0.8
    gamma = uniform_angles(n)
    gram = _ntk_gram(gamma)
    target = make_target("fourier-mixture", frequencies=[1, 2, 5, 11], phases=[0, 1, 2, 3])
    pred = KernelPredictor(gram, targets=target(gamma), lr=lr, loss=loss)
    mu_k = circulant_eigenvalues(gram[0])  # k = 0..16
    steps = np.array([0, 1, 5, 50, 500])
    a, b = fourier_modes(pred.train_residual(steps), n // 2)
    a0, b0 = fourier_modes(-target(gamma), n // 2)
    decay = discrete_decay(mu_k, lr, steps, loss_factor(loss, n))
    np.testing.assert_allclose(a, decay * a0, atol=1e-12)
    np.testing.assert_allclose(b, decay * b0, atol=1e-12)


def test_eigvec_frequency_content() -> None:
    n = 15
    gamma = uniform_angles(n)
    lam = 1.0 / (1.0 + np.arange(8)) ** 2  # distinct eigenvalues per frequency
    profile = lam[0] + 2 * sum(lam[k] * np.cos(k * gamma) for k in range(1, 8))
    gram = scipy.linalg.circulant(profile)
    mu, v = np.linalg.eigh(gram)
    content = eigvec_frequency_content(v, gamma, 7)
    assert content.shape == (n, 8)
    np.testing.assert_allclose(content.max(axis=1), 1.0, atol=1e-10)
    # eigenvalue n·λ_k belongs to frequency k
    np.testing.assert_allclose(mu, n * lam[content.argmax(axis=1)], rtol=1e-10)
    rng = np.random.default_rng(2)
    random_gamma = rng.uniform(0, 2 * np.pi, 20)
    _, vr = np.linalg.eigh(_ntk_gram(random_gamma))
    shares = eigvec_frequency_content(vr[:, :5], random_gamma, 6)
    assert shares.shape == (5, 7)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)


def test_predictor_rejects_bad_input(circle_setup: dict[str, np.ndarray]) -> None:
    gram, y = circle_setup["gram"], circle_setup["y"]
    cases = [
        ("train_gram", {"train_gram": gram[:, :5]}),
        ("train_gram", {"train_gram": gram + np.triu(np.ones_like(gram), 1)}),
        ("train_gram", {"train_gram": -gram}),
        ("cross_gram", {"cross_gram": np.ones((3, 5))}),
        ("targets", {"targets": y[:5]}),
        ("f0_train", {"f0_train": np.full(12, np.nan)}),
        ("f0_eval", {"cross_gram": np.ones((3, 12)), "f0_eval": np.zeros(4)}),
        ("lr", {"lr": -1.0}),
        ("loss", {"loss": "mse"}),
    ]
    for name, change in cases:
        kwargs = {"train_gram": gram, "targets": y, "lr": 0.1, "loss": "mean", **change}
        with pytest.raises(ParameterError) as info:
            KernelPredictor(**kwargs)
        assert info.value.parameter == name
        assert f"'{name}'" in str(info.value) and "\n" not in str(info.value)


# ---------------------------------------------------------------- targets


def test_product_target_is_x1_x2() -> None:
    gamma = np.linspace(-np.pi, np.pi, 101)
    x = circle_points(gamma)
    target = make_target("product")
    assert (target.frequencies, target.amplitudes, target.phases) == ((2,), (0.5,), (0.0,))
    np.testing.assert_allclose(target(gamma), x[:, 0] * x[:, 1], atol=1e-15)
    gaussian = np.random.default_rng(0).standard_normal((50, 2))
    np.testing.assert_array_equal(target.on_points(gaussian), gaussian[:, 0] * gaussian[:, 1])
    np.testing.assert_array_equal(product_xy(gaussian), gaussian[:, 0] * gaussian[:, 1])
    with pytest.raises(ParameterError, match="'points'"):
        product_xy(np.zeros((4, 3)))


def test_mixture_defaults_and_evaluation() -> None:
    target = make_target("fourier-mixture")
    assert target.frequencies == MIXTURE_FREQUENCIES == (2, 4, 7, 11, 16, 23, 32)
    assert target.amplitudes == MIXTURE_AMPLITUDES == (0.9, 0.7, 0.55, 0.45, 0.35, 0.28, 0.22)
    assert target.phases == MIXTURE_PHASES == (0, 1.57079632679, 1.2, 2.0, 0.942, 4.5, 5.8)
    assert target.max_frequency == 32
    gamma = np.array([0.0, 0.7, -2.0])
    expected = sum(
        a * np.sin(k * gamma + p)
        for k, a, p in zip(MIXTURE_FREQUENCIES, MIXTURE_AMPLITUDES, MIXTURE_PHASES, strict=True)
    )
    np.testing.assert_allclose(target(gamma), expected, atol=1e-15)
    # off the circle: the angle of the point, whatever its radius
    np.testing.assert_allclose(target.on_points(3.0 * circle_points(gamma)), expected, atol=1e-14)
    # its Fourier coefficients are what the FFT of its values gives
    grid = uniform_angles(128) - np.pi
    a, b = fourier_modes(target(grid), 40, start=-np.pi)
    ta, tb = target.fourier_coefficients(40)
    np.testing.assert_allclose(a, ta, atol=1e-13)
    np.testing.assert_allclose(b, tb, atol=1e-13)
    custom = make_target("fourier-mixture", frequencies=[3, 1])
    assert custom.amplitudes == (1.0, 1.0) and custom.phases == (0.0, 0.0)


def test_sine_target() -> None:
    target = make_target("sine", frequency=5)
    assert (target.frequencies, target.amplitudes, target.phases) == ((5,), (1.0,), (0.0,))
    np.testing.assert_allclose(target(np.array([0.1, 2.0])), np.sin(5 * np.array([0.1, 2.0])))
    assert make_target("sine", frequencies=[5]) == target
    shifted = make_target("sine", frequency=3, amplitudes=[2.0], phases=[0.5])
    assert shifted(0.0) == pytest.approx(2 * math.sin(0.5))


def test_nyquist_check() -> None:
    target = make_target("fourier-mixture")
    target.check_resolvable(65)
    with pytest.raises(ParameterError, match=r"N/2 = 32 of the N = 64") as info:
        target.check_resolvable(64)
    assert info.value.parameter == "frequencies" and "Got 32" in str(info.value)
    with pytest.raises(ParameterError, match=r"Got \(23, 32\)"):
        target.check_resolvable(46)
    make_target("sine", frequency=3).check_resolvable(7)
    with pytest.raises(ParameterError, match="'frequency'"):
        make_target("sine", frequency=3).check_resolvable(6)


def test_target_dict_round_trip() -> None:
    for target in (
        make_target("product"),
        make_target("fourier-mixture"),
        make_target("sine", frequency=4, phases=[1.0]),
    ):
        data = json.loads(json.dumps(target.to_dict()))
        assert Target.from_dict(data) == target
    with pytest.raises(ParameterError, match="'target'"):
        Target.from_dict({"name": "sine", "frequency": 3})


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("target", {"name": "cosine"}),
        ("target", {"name": None}),
        ("frequency", {"name": "sine"}),
        ("frequency", {"name": "sine", "frequency": 0}),
        ("frequency", {"name": "sine", "frequency": 2.5}),
        ("frequency", {"name": "fourier-mixture", "frequency": 3}),
        ("frequency", {"name": "product", "frequency": 3}),
        ("frequencies", {"name": "product", "frequencies": [2]}),
        ("frequencies", {"name": "sine", "frequency": 2, "frequencies": [3]}),
        ("frequencies", {"name": "sine", "frequencies": [2, 3]}),
        ("frequencies", {"name": "fourier-mixture", "frequencies": [1, 0]}),
        ("frequencies", {"name": "fourier-mixture", "frequencies": [1, 2.0]}),
        ("frequencies", {"name": "fourier-mixture", "frequencies": [True]}),
        ("frequencies", {"name": "fourier-mixture", "frequencies": [2, 2]}),
        ("frequencies", {"name": "fourier-mixture", "frequencies": []}),
        ("frequencies", {"name": "fourier-mixture", "frequencies": 3}),
        ("amplitudes", {"name": "fourier-mixture", "amplitudes": [1.0, 2.0]}),
        ("amplitudes", {"name": "fourier-mixture", "frequencies": [1], "amplitudes": [np.inf]}),
        ("amplitudes", {"name": "sine", "frequency": 1, "amplitudes": ["x"]}),
        ("phases", {"name": "fourier-mixture", "frequencies": [1, 2], "phases": [0.0]}),
        ("phases", {"name": "sine", "frequency": 1, "phases": [np.nan]}),
    ],
)
def test_bad_targets_raise_one_line_errors(name: str, kwargs: dict) -> None:
    kw = dict(kwargs)
    family = kw.pop("name")
    with pytest.raises(ParameterError) as info:
        make_target(family, **kw)
    assert info.value.parameter == name
    message = str(info.value)
    assert f"'{name}'" in message and "\n" not in message


def test_with_start_equals_a_new_predictor_bit_for_bit() -> None:
    from spectralntk.dynamics.predict import KernelPredictor

    rng = np.random.default_rng(5)
    a = rng.standard_normal((12, 12))
    gram, cross = a @ a.T, rng.standard_normal((7, 12))
    y, f0, fe = rng.standard_normal(12), rng.standard_normal(12), rng.standard_normal(7)
    base = KernelPredictor(gram, cross, targets=y, lr=0.1, loss="mean")
    fresh = KernelPredictor(gram, cross, targets=y, lr=0.1, loss="mean", f0_train=f0, f0_eval=fe)
    moved = base.with_start(f0, fe)
    steps = np.array([0, 1, 5, 40])
    assert np.array_equal(moved.train_residual(steps), fresh.train_residual(steps))
    assert np.array_equal(moved.flow_train_residual(steps), fresh.flow_train_residual(steps))
    assert np.array_equal(moved.eval_prediction(steps), fresh.eval_prediction(steps))
    assert np.array_equal(base.initial_residual, -y)  # the original is untouched


def test_float32_empirical_grams_are_accepted_at_small_widths() -> None:
    # Width 8, seed 7 of the train defaults, in float32: the Gram's smallest eigenvalue is
    # −8e-7 of the largest — float32 rounding of a PSD J Jᵀ, which the float64 tolerance
    # (1e-8) refused with an error naming the internal 'train_gram'.
    import torch

    from spectralntk.dynamics.predict import KernelPredictor
    from spectralntk.nn.mlp import init_mlp
    from spectralntk.runs.recorders import EmpiricalKernels
    from spectralntk.runs.training import training_inputs
    from spectralntk.settings import merge_settings, training_config

    cfg, _, _ = training_config(merge_settings({"width": [8], "seeds": 10}))
    x, _, y = training_inputs(cfg)
    xt = torch.as_tensor(x, dtype=torch.float32)
    for width in (8, 16, 32):
        net = init_mlp(cfg.network, width, list(range(10)), dtype="float32")
        with torch.no_grad():
            k0 = EmpiricalKernels(xt, xt, False).gram(net).numpy()
        eps32 = float(np.finfo(np.float32).eps)
        for gram in k0:
            p = KernelPredictor(gram, targets=y, lr=0.01, loss="mean", gram_eps=eps32)
            assert p.eigenvalues[-1] > -1e-4 * p.eigenvalues[0]
    # −1e-6 of the largest: float32 rounding, but not float64's.
    bad = np.diag([1.0, -1e-6])
    KernelPredictor(bad, targets=np.zeros(2), lr=0.1, loss="mean", gram_eps=eps32)
    KernelPredictor(bad.astype(np.float32), targets=np.zeros(2), lr=0.1, loss="mean")
    with pytest.raises(ParameterError, match="positive semi-definite"):
        KernelPredictor(bad, targets=np.zeros(2), lr=0.1, loss="mean")
