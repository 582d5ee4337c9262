"""Spectra on S¹: closed forms, Mercer, circulant = dense, quadrature convergence, fits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import polygamma
from strategies import network_configs

from spectralntk import (
    NetworkConfig,
    ParameterError,
    analytic_spectrum,
    circle_kernel,
    circle_spectrum,
    discrete_spectrum,
    fit_power_law,
    kernel_matrix,
)
from spectralntk.kernels import circle_points, uniform_angles
from spectralntk.spectral import circulant_eigenvalues, circulant_multiplicity, default_nodes


def _one_layer_closed_form(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """λ_k of the bias-free one-hidden-layer ReLU NNGP and NTK (σ_w = 1, n0 = 2).

    Σ(γ) = (sin γ + (π − γ) cos γ)/(4π), Θ(γ) = (2(π − γ) cos γ + sin γ)/(4π), and
    I1 = ∫_0^π sin γ cos kγ = (1 + (−1)^k)/(1 − k²) (0 for k = 1),
    I2 = ∫_0^π (π − γ) cos γ cos kγ = (J(k − 1) + J(k + 1))/2 with
    J(m) = ∫_0^π (π − γ) cos mγ = (1 − (−1)^m)/m², J(0) = π²/2 (Basri et al. 2019).
    """
    k = k.astype(np.float64)
    sign = (-1.0) ** k

    def j(m: np.ndarray) -> np.ndarray:
        m = np.abs(m)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (1 - (-1.0) ** m) / m**2
        return np.where(m == 0, np.pi**2 / 2, out)

    with np.errstate(divide="ignore", invalid="ignore"):
        i1 = np.where(k == 1, 0.0, (1 + sign) / (1 - k**2))
    i2 = 0.5 * (j(k - 1) + j(k + 1))
    return (i1 + i2) / (4 * np.pi**2), (2 * i2 + i1) / (4 * np.pi**2)


def test_one_hidden_layer_matches_closed_form_up_to_k_4096() -> None:
    spec = circle_spectrum(NetworkConfig(depth=1, bias_std=0.0), 4096)
    nngp, ntk = _one_layer_closed_form(np.arange(4097))
    lam = spec.eigenvalues
    assert np.max(np.abs(lam.ntk - ntk)) <= 1e-13 * ntk[0]
    assert np.max(np.abs(lam.nngp - nngp)) <= 1e-13 * nngp[0]
    # Basri et al. 2019: odd frequencies k ≥ 3 carry nothing, exactly.
    odd = np.arange(3, 4097, 2)
    assert np.all(ntk[odd] == 0.0)
    assert np.max(np.abs(lam.ntk[odd])) <= 2e-14 * lam.ntk[0]
    assert np.all(lam.ntk[::2] > 0)


@pytest.mark.parametrize(
    "cfg",
    [
        NetworkConfig(depth=4),
        NetworkConfig(depth=64, weight_std=2**0.5, bias_std=0.0),
        NetworkConfig(depth=3, activation="erf", weight_std=1.5),
        NetworkConfig(depth=2, parameterization="standard", width=64, bias_init="zero"),
    ],
    ids=["relu-4", "he-64", "erf-3", "standard-2"],
)
def test_quadrature_has_converged(cfg: NetworkConfig) -> None:
    # Doubling the Gauss–Legendre nodes changes no eigenvalue by more than 1e-13 of the
    # largest one (λ_0 for ReLU; λ_1 for the nearly odd erf kernel).
    k_max = 1024
    spec = circle_spectrum(cfg, k_max)
    fine = circle_spectrum(cfg, k_max, nodes=2 * default_nodes(k_max))
    for a, b in (
        (spec.eigenvalues.ntk, fine.eigenvalues.ntk),
        (spec.eigenvalues.nngp, fine.eigenvalues.nngp),
    ):
        assert np.max(np.abs(a - b)) <= 1e-13 * np.max(np.abs(b))


@pytest.mark.slow
@pytest.mark.parametrize("depth", [1, 4, 16])
def test_quadrature_has_converged_at_k_4096(depth: int) -> None:
    cfg = NetworkConfig(depth=depth)
    spec = circle_spectrum(cfg, 4096)
    fine = circle_spectrum(cfg, 4096, nodes=2 * default_nodes(4096))
    assert (
        np.max(np.abs(spec.eigenvalues.ntk - fine.eigenvalues.ntk))
        <= 1e-13 * spec.eigenvalues.ntk[0]
    )


@given(cfg=network_configs(max_depth=6, activations=("relu", "erf")))
def test_eigenvalues_are_nonnegative(cfg: NetworkConfig) -> None:
    # Positive semi-definite kernels (Mercer): λ_k ≥ 0 up to rounding.
    spec = circle_spectrum(cfg, 128)
    for lam, trace in (
        (spec.eigenvalues.ntk, spec.trace.ntk),
        (spec.eigenvalues.nngp, spec.trace.nngp),
    ):
        assert np.all(lam >= -1e-14 * trace)


def test_mercer_identity_for_a_smooth_kernel() -> None:
    # erf kernels are analytic in γ: λ_k decays exponentially, and
    # k(0) = λ_0 + 2 Σ_{k≥1} λ_k holds to rounding with K = 200.
    spec = circle_spectrum(NetworkConfig(depth=3, activation="erf"), 200)
    for lam, trace in (
        (spec.eigenvalues.ntk, spec.trace.ntk),
        (spec.eigenvalues.nngp, spec.trace.nngp),
    ):
        assert abs(lam[0] + 2 * lam[1:].sum() - trace) <= 1e-14 * trace


def test_mercer_identity_for_relu_with_its_k_minus_2_tail() -> None:
    # For the ReLU NTK λ_k ≈ C k⁻² (+ O(k⁻³)), so k(0) − λ_0 − 2Σ_{k≤K} λ_k = 2Σ_{k>K} λ_k
    # ≈ 2C ψ'(K + 1) (trigamma), with relative error O(1/K). The remainder is 1e-5 of
    # k(0) here, so this checks the normalisation of λ_k to ~1e-8 relative.
    k_max = 4096
    spec = circle_spectrum(NetworkConfig(depth=4), k_max)
    lam = spec.eigenvalues.ntk
    remainder = float(spec.trace.ntk - lam[0] - 2 * lam[1:].sum())
    c = fit_power_law(lam, (k_max // 2, k_max)).prefactor
    tail = 2 * c * float(polygamma(1, k_max + 1))
    assert remainder > 0
    assert abs(remainder - tail) <= 5e-3 * remainder


@given(
    cfg=network_configs(max_depth=4, activations=("relu", "erf", "gelu")),
    n=st.integers(1, 48),
)
def test_fft_spectrum_equals_dense_eigh(cfg: NetworkConfig, n: int) -> None:
    # The Gram matrix on N uniform points is circulant: eigvalsh of the dense matrix
    # built from the general-input kernel equals the FFT of one profile row, each μ_k
    # counted with its multiplicity.
    gram = kernel_matrix(cfg, circle_points(uniform_angles(n)))
    mu = discrete_spectrum(cfg, n)
    for dense, fft in ((gram.ntk, mu.ntk), (gram.nngp, mu.nngp)):
        expanded = np.sort(np.repeat(fft, circulant_multiplicity(n)))
        eig = np.linalg.eigvalsh(dense)
        assert np.max(np.abs(eig - expanded)) <= 1e-10 * max(np.abs(eig).max(), 1e-300)
        assert abs(np.sum(expanded) - np.trace(dense)) <= 1e-12 * abs(np.trace(dense)) + 1e-300


@pytest.mark.parametrize("cfg", [NetworkConfig(depth=1), NetworkConfig(depth=4, bias_init="zero")])
def test_quadrature_equals_fine_grid_fft(cfg: NetworkConfig) -> None:
    # μ_k/N = Σ_m λ_{k+mN} (Poisson summation): for k ≤ 32 ≪ N = 2^16 the aliased
    # terms sum to about 2C·ζ(2)/N² ≈ 2e-11 for C ≈ 0.03 (the k⁻² prefactor).
    n, k_max = 2**16, 32
    mu = discrete_spectrum(cfg, n).ntk[: k_max + 1] / n
    lam = circle_spectrum(cfg, k_max).eigenvalues.ntk
    c = fit_power_law(circle_spectrum(cfg, 1024).eigenvalues.ntk, (256, 1024)).prefactor
    alias = 2 * c * (np.pi**2 / 6) / n**2
    assert np.max(np.abs(mu - lam)) <= 2 * alias
    assert np.max(np.abs(mu - lam)) > 0.1 * alias  # and the aliasing is really there


def test_fft_of_a_coarse_grid_is_aliased_but_quadrature_is_not() -> None:
    # Why the quadrature is the answer: one FFT row on 4096 points is ~1 % off at k = 256.
    cfg = NetworkConfig(depth=4)
    lam = circle_spectrum(cfg, 256).eigenvalues.ntk
    mu = discrete_spectrum(cfg, 4096).ntk / 4096
    assert abs(mu[256] / lam[256] - 1) > 1e-3


@pytest.mark.parametrize("depth", [1, 4, 16])
def test_relu_ntk_decays_like_k_minus_2_and_nngp_like_k_minus_4(  # Bietti & Mairal 2019
    depth: int,
) -> None:
    spec = circle_spectrum(NetworkConfig(depth=depth), 1024)
    ntk = fit_power_law(spec.eigenvalues.ntk, (256, 1024))
    assert abs(ntk.exponent - 2) < 0.01
    assert ntk.points == 769
    if depth < 16:  # deeper NNGPs flatten: λ_k/λ_0 falls below the 1e-12 floor
        nngp = fit_power_law(spec.eigenvalues.nngp, (64, 256))
        assert abs(nngp.exponent - 4) < 0.02


@given(p=st.floats(0.5, 4), c=st.floats(1e-3, 10), lo=st.integers(1, 50))
def test_power_law_fit_recovers_exponent(p: float, c: float, lo: int) -> None:
    k = np.arange(1, 401, dtype=float)
    lam = np.concatenate([[2 * c], c * k**-p])
    fit = fit_power_law(lam, (lo, 400))
    assert abs(fit.exponent - p) < 1e-9 and abs(fit.prefactor / c - 1) < 1e-8
    assert (fit.k_min, fit.k_max, fit.points) == (lo, 400, 401 - lo)


def test_power_law_fit_skips_exact_zeros_and_reports_too_few_points() -> None:
    lam = np.zeros(11)
    lam[0] = 1.0
    lam[2::2] = np.arange(2, 11, 2, dtype=float) ** -2
    fit = fit_power_law(lam, (1, 10))
    assert fit.points == 5 and abs(fit.exponent - 2) < 1e-12
    assert np.isnan(fit_power_law(np.array([1.0, 0.0, 0.0]), (1, 2)).exponent)


def test_analytic_spectrum_run() -> None:
    run = analytic_spectrum(NetworkConfig(), [4, 1], max_frequency=64, angles=90)
    assert run.depths == (1, 4)
    assert run.eigenvalues.ntk.shape == (2, 65) and run.profile.ntk.shape == (2, 90)
    for name in ("ntk", "nngp"):
        share = run.share(name)
        assert np.all(np.diff(share, axis=1) >= 0) and np.all(share <= 1 + 1e-12)
        np.testing.assert_allclose(getattr(run.profile, name)[:, 0], getattr(run.trace, name))
    np.testing.assert_allclose(
        run.profile.ntk[1], circle_kernel(NetworkConfig(depth=4), uniform_angles(90)).ntk
    )
    assert run.fit_range == (16, 64)


@pytest.mark.parametrize(
    "kwargs,param",
    [
        ({"max_frequency": -1}, "max_frequency"),
        ({"angles": 0}, "angles"),
        ({"fit_range": (10, 5)}, "fit_max_frequency"),
        ({"fit_range": (0, 5)}, "fit_min_frequency"),
        ({"depths": [2, 2]}, "depth"),
        ({"depths": [-1]}, "depth"),
        ({"depths": []}, "depth"),
    ],
)
def test_bad_run_parameters(kwargs: dict, param: str) -> None:
    with pytest.raises(ParameterError, match=f"'{param}' parameter") as err:
        analytic_spectrum(NetworkConfig(), **{"max_frequency": 32, **kwargs})
    assert err.value.parameter == param and "\n" not in str(err.value)


def test_circulant_helpers() -> None:
    assert circulant_multiplicity(6).tolist() == [1, 2, 2, 1]
    assert circulant_multiplicity(7).sum() == 7
    np.testing.assert_allclose(circulant_eigenvalues([1.0, 0.5, 0.5]), [2.0, 0.5])
    with pytest.raises(ParameterError, match="'row' parameter"):
        circulant_eigenvalues([])


# ---------------------------------------------------------------------------
# odd and smooth kernels: zeros, ratios, fits over one parity (issue 12)
# ---------------------------------------------------------------------------
def _erf_one_layer_nngp(k: int) -> float:
    """λ_k of the bias-free one-hidden-layer erf NNGP (σ_w = 1, n0 = 2), by scipy's quad.

    Σ¹ = cos γ / 2 on the circle (variance 1/2), so Williams' (1997) closed form gives
    Σ²(γ) = (2/π) arcsin(cos γ / 2): an odd function of cos γ, whence λ_k = 0 for even k.
    """
    from scipy.integrate import quad

    value, _ = quad(
        lambda g: (2 / np.pi) * np.arcsin(np.cos(g) / 2) * np.cos(k * g), 0, np.pi, limit=200
    )
    return value / np.pi


def test_quadrature_noise_of_exact_zeros_is_far_below_the_zero_tolerance() -> None:
    # The tolerance is a statement about float64 rounding: an exact zero (even modes of
    # an odd kernel, every mode k ≥ 2 of a depth-0 kernel) comes out below it by a margin.
    from spectralntk.spectral import ZERO_TOLERANCE

    for k_max in (64, 1024, 4096):
        for cfg in (
            NetworkConfig(depth=0, activation="erf", bias_std=0.0),
            NetworkConfig(depth=3, activation="tanh", bias_std=0.0),
            NetworkConfig(depth=1, bias_std=0.0),  # ReLU: odd k ≥ 3 vanish
        ):
            spec = circle_spectrum(cfg, k_max)
            for lam in (spec.eigenvalues.ntk, spec.eigenvalues.nngp):
                top = np.abs(lam).max()
                zeros = lam[2::2] if cfg.activation.value != "relu" else lam[3::2]
                assert np.abs(zeros).max() <= ZERO_TOLERANCE / 5 * top, (cfg, k_max)


def test_odd_erf_kernel_has_exact_zeros_and_no_power_law() -> None:
    cfg = NetworkConfig(depth=1, activation="erf", bias_std=0.0)
    run = analytic_spectrum(cfg, [0, 1], max_frequency=64, angles=8)
    # depth 0: Σ¹ = Θ¹ = cos γ / 2, so λ_1 = 1/4 and every other λ_k is exactly 0
    for lam in (run.eigenvalues.ntk[0], run.eigenvalues.nngp[0]):
        np.testing.assert_array_equal(lam[[0, *range(2, 65)]], 0.0)
        assert lam[1] == pytest.approx(0.25, rel=1e-14)
    # depth 1: the odd kernel (2/π) arcsin(cos γ / 2): even λ_k are 0, odd ones match quad
    nngp = run.eigenvalues.nngp[1]
    np.testing.assert_array_equal(nngp[0::2], 0.0)
    for k in (1, 3, 5, 7):
        assert nngp[k] == pytest.approx(_erf_one_layer_nngp(k), rel=1e-9, abs=1e-15)
    for name in ("ntk", "nngp"):
        at0, at1 = run.fits[name]
        assert not at0.fitted and "is 0" in at0.reason and "16 ≤ k ≤ 64" in at0.reason
        assert not at1.fitted and "erf is smooth" in at1.reason
        assert "exponentially" in at1.describe() and at1.describe().startswith("no power law")


def test_ratio_reference_is_lambda_max_where_lambda_0_vanishes() -> None:
    from spectralntk.spectral import ratio_reference, zero_small

    lam = zero_small([1.8e-17, 0.25, -5.9e-18, 3.5e-17, 0.01])
    np.testing.assert_array_equal(lam, [0.0, 0.25, 0.0, 0.0, 0.01])
    assert ratio_reference(lam) == (0.25, "λ_max")
    assert ratio_reference([2.0, 1.0, 0.5]) == (2.0, "λ_0")
    assert ratio_reference([0.1, 1.0, 0.5]) == (0.1, "λ_0")  # small, but not rounding noise


@pytest.mark.parametrize(("name", "p"), [("nngp", 4.0), ("ntk", 2.0)])
def test_bias_free_depth_2_relu_exponents_at_k_1024(name: str, p: float) -> None:
    # Both parities decay like k^-p with different prefactors; the old fixed floor of
    # 1e-12·λ_0 dropped the odd NNGP modes above k ≈ 800 and gave p = 3.91.
    run = analytic_spectrum(NetworkConfig(depth=2, bias_std=0.0), max_frequency=1024, angles=4)
    fit = run.fits[name][0]
    assert fit.exponent == pytest.approx(p, abs=0.01)
    assert fit.parity == "all" and fit.points == 769 and fit.k_last == 1024


def test_bias_free_one_layer_relu_is_fitted_over_the_even_modes() -> None:
    # odd modes k ≥ 3 vanish exactly (Basri et al. 2019): the fit uses the even ones
    run = analytic_spectrum(NetworkConfig(depth=1, bias_std=0.0), max_frequency=256, angles=4)
    np.testing.assert_array_equal(run.eigenvalues.ntk[0, 3::2], 0.0)
    for name, p in (("ntk", 2.0), ("nngp", 4.0)):
        fit = run.fits[name][0]
        assert fit.parity == "even" and fit.points == 97  # 64, 66, …, 256
        assert fit.exponent == pytest.approx(p, abs=0.02)
        assert "even k only" in fit.describe()


def test_fit_stops_where_one_parity_reaches_the_floor() -> None:
    # even modes k^-4, odd modes half that; above k = 60 the odd ones are rounding noise.
    k = np.arange(1, 129, dtype=float)
    lam = np.where(k % 2 == 0, k**-4.0, 0.5 * k**-4.0)
    lam[(k > 60) & (k % 2 == 1)] = 1e-18
    lam = np.concatenate([[1.0], lam])
    fit = fit_power_law(lam, (10, 128))
    assert fit.k_last == 60 and fit.points == 51 and fit.parity == "all"
    assert fit.exponent == pytest.approx(4.0, abs=0.01)
    assert "float64 floor above k = 60" in fit.describe()
    # keeping the even modes to k = 128 alone would tilt the slope away from 4
    keep = (np.arange(129) >= 10) & ((np.arange(129) % 2 == 0) | (np.arange(129) <= 60))
    kk = np.arange(129)[keep]
    tilted = -np.polyfit(np.log(kk), np.log(lam[kk]), 1)[0]
    assert abs(tilted - 4.0) > 0.05


def test_fit_reports_why_it_is_missing() -> None:
    from spectralntk.spectral import decay_fit

    lam = np.r_[1.0, 0.5, np.full(30, 1e-17)]
    fit = fit_power_law(lam, (8, 31))
    assert not fit.fitted and "is 0" in fit.reason
    lam = np.r_[1.0, 0.5, 0.25, 0.1, np.full(28, 1e-17)]
    fit = fit_power_law(lam, (2, 31))
    assert not fit.fitted and "float64 floor" in fit.reason and "k = 4" in fit.reason
    smooth = decay_fit(np.exp(-np.arange(40.0)), activation="gelu", depth=2)
    assert not smooth.fitted and "gelu is smooth" in smooth.reason
    relu = decay_fit(np.r_[1.0, np.arange(1, 40.0) ** -2], activation="relu", depth=2)
    assert relu.exponent == pytest.approx(2.0, abs=1e-12)
