"""No silent wrong numbers: quadrature kernels checked against independent references,
overflow and non-convergence refused with the parameter named, sizes bounded."""

from __future__ import annotations

from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
from reference import trapezoid_circle, trapezoid_dual
from typer.testing import CliRunner

from spectralntk import NetworkConfig, ParameterError, circle_kernel, circle_spectrum
from spectralntk.cli import app
from spectralntk.kernels.activations import dual_activation
from spectralntk.runs.spectrum import analytic_spectrum
from spectralntk.spectral import default_nodes


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def stderr_of(result) -> str:  # type: ignore[no-untyped-def]
    try:
        return result.stderr
    except ValueError:  # pragma: no cover - older click
        return result.output


# ---------------------------------------------------------------------------
# quadrature activations (tanh, gelu) against independent references
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["tanh", "gelu"])
@pytest.mark.parametrize("q", [2.5, 25.0])
def test_second_moments_match_mpmath(activation: str, q: float) -> None:
    # E[φ(√q Z)²] and E[φ'(√q Z)²] by mpmath's tanh-sinh quadrature in 30 digits.
    mp.mp.dps = 30
    r = mp.sqrt(q)

    def phi(z):  # type: ignore[no-untyped-def]
        return mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)

    if activation == "tanh":
        f, df = mp.tanh, (lambda x: mp.sech(x) ** 2)
    else:
        f = lambda x: x * mp.ncdf(x)  # noqa: E731
        df = lambda x: mp.ncdf(x) + x * mp.npdf(x)  # noqa: E731
    m = mp.quad(lambda z: f(r * z) ** 2 * phi(z), [-mp.inf, -1, 0, 1, mp.inf])
    md = mp.quad(lambda z: df(r * z) ** 2 * phi(z), [-mp.inf, -1, 0, 1, mp.inf])
    dual = dual_activation(activation)
    assert abs(dual.second_moment(np.array(q)) - float(m)) <= 2e-14 * float(m)
    assert abs(dual.derivative_second_moment(np.array(q)) - float(md)) <= 2e-14 * float(md)


@pytest.mark.parametrize("activation", ["tanh", "gelu"])
def test_pair_expectations_match_a_2d_trapezoid_reference(activation: str) -> None:
    # q = 25 is σ_w = 5: tanh(5z) and sech²(5z) are nearly a step and a spike, which
    # the former 96-node Gauss–Hermite rule got wrong by 1e-2 (and negative eigenvalues).
    dual = dual_activation(activation)
    q = 25.0
    m, md = dual.second_moment(np.array(q)), dual.derivative_second_moment(np.array(q))
    for t in (0.3, 1.2, 2.5):
        cross, dcross, _ = trapezoid_dual(activation, q, np.cos(t))
        pair = dual.pair(np.array(q), np.array(q), np.array(t))
        assert abs(pair.cross - cross) <= 1e-13 * m
        assert abs(pair.derivative_cross - dcross) <= 1e-13 * md
        assert abs(pair.deficit - (m - cross)) <= 1e-13 * m
        assert abs(pair.surplus - (m + cross)) <= 1e-13 * m


@pytest.mark.slow
def test_tanh_weight_std_5_profile_matches_the_reference() -> None:
    # The whole depth-4 recursion at σ_w = 5 against the naive recursion on the 2-d
    # trapezoid reference: within 1e-12 of k(0) (the requirement is 1e-10).
    cfg = NetworkConfig(depth=4, activation="tanh", weight_std=5.0)
    g = np.array([0.0, 0.05, 0.7, 2.0])
    nngp, ntk = trapezoid_circle(cfg, g)
    k = circle_kernel(cfg, g)
    assert np.max(np.abs(k.ntk - ntk)) <= 1e-12 * ntk[0]
    assert np.max(np.abs(k.nngp - nngp)) <= 1e-12 * nngp[0]


@pytest.mark.parametrize("sw", [5.0, pytest.param(8.0, marks=pytest.mark.slow)])
def test_tanh_spectrum_is_converged_and_nonnegative(sw: float) -> None:
    # What `decompose --activation tanh --weight-std 5` computes: nonnegative (Mercer)
    # eigenvalues, converged in the Gauss–Legendre nodes. The old quadrature gave
    # λ_k < 0 (and λ_0 < 0 at σ_w = 8).
    cfg = NetworkConfig(depth=4, activation="tanh", weight_std=sw)
    spec = circle_spectrum(cfg, 64)
    fine = circle_spectrum(cfg, 64, nodes=2 * default_nodes(64))
    for name in ("ntk", "nngp"):
        lam = getattr(spec.eigenvalues, name)
        ref = getattr(fine.eigenvalues, name)
        assert np.max(np.abs(lam - ref)) <= 1e-12 * np.max(ref)
        assert lam.min() >= -1e-13 * float(getattr(spec.trace, name))


def test_unresolvable_quadrature_is_refused_naming_weight_std() -> None:
    cfg = NetworkConfig(depth=2, activation="tanh", weight_std=40.0)
    with pytest.raises(ParameterError, match="weight_std") as err:
        circle_kernel(cfg, np.linspace(0, np.pi, 5))
    assert err.value.parameter == "weight_std"


def test_decompose_refuses_unresolvable_tanh(tmp_path: Path) -> None:
    out = tmp_path / "x.nc"
    result = invoke("decompose", "--activation", "tanh", "--weight-std", "40", "--out", str(out))
    assert result.exit_code == 2
    assert "--weight-std" in stderr_of(result) and "Traceback" not in result.output
    assert not out.exists()


# ---------------------------------------------------------------------------
# overflow, NaN and underflow are refused, naming the parameter; nothing is written
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args,option",
    [
        (["--weight-std", "1e150"], "--weight-std"),
        (["--depth", "200", "--weight-std", "10"], "--weight-std"),
        (["--activation", "erf", "--weight-std", "1e200"], "--weight-std"),
        (["--bias-std", "1e200"], "--bias-std"),
        (["--weight-std", "1e-200", "--bias-std", "0"], "--weight-std"),
        (["--weight-std", "0", "--bias-std", "0"], "--weight-std"),
    ],
)
def test_decompose_refuses_overflow_and_underflow(
    tmp_path: Path, args: list[str], option: str
) -> None:
    out = tmp_path / "x.nc"
    result = invoke("decompose", *args, "--max-frequency", "8", "--out", str(out))
    assert result.exit_code == 2, result.output
    err = stderr_of(result)
    assert option in err and "Traceback" not in result.output
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_overflowing_kernel_raises_instead_of_returning_nan() -> None:
    cfg = NetworkConfig(depth=200, weight_std=10.0)
    with pytest.raises(ParameterError, match="finite") as err:
        analytic_spectrum(cfg, max_frequency=8, angles=8)
    assert err.value.parameter == "weight_std"


# ---------------------------------------------------------------------------
# every size option is bounded or checked against --memory-budget before work starts
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args,option",
    [
        (["decompose", "--depth", "2147483648"], "--depth"),  # used to hang
        (["decompose", "--max-frequency", "32768"], "--max-frequency"),  # O(K²): 41 s
        (["decompose", "--angles", "100000000"], "--angles"),  # > 6 GB
        (["decompose", "--kernel", "empirical", "--width", "8", "--points", "20000"], "--points"),
        (
            ["decompose", "--kernel", "empirical", "--width", "8", "--seeds", "1000000000"],
            "--seeds",
        ),
        (["decompose", "--kernel", "empirical", "--width", "100000000"], "--width"),
        (["train", "--seeds", "1000000000"], "--seeds"),
        (["train", "--depth", "5000"], "--depth"),
        (["train", "--width", "100000", "--depth", "3"], "--width"),
        (["fluctuations", "--bootstrap", "100000000"], "--bootstrap"),  # > 6 GB
        (["fluctuations", "--seeds", "1000000"], "--seeds"),
    ],
)
def test_sizes_are_bounded(tmp_path: Path, args: list[str], option: str) -> None:
    out = tmp_path / "x.nc"
    result = invoke(*args, "--out", str(out))
    assert result.exit_code == 2, result.output
    err = stderr_of(result)
    assert option in err and "Traceback" not in result.output
    assert not out.exists()


def test_memory_estimate_is_shown_and_follows_the_budget() -> None:
    cfg = NetworkConfig(depth=1)
    with pytest.raises(ParameterError, match=r"needs an estimated .* GiB") as err:
        analytic_spectrum(cfg, max_frequency=8, angles=10_000_000, memory_budget=1 << 30)
    assert err.value.parameter == "angles"
    run = analytic_spectrum(cfg, max_frequency=8, angles=100_000, memory_budget=1 << 30)
    assert run.angles.size == 100_000


def test_bootstrap_in_blocks_is_the_same_stream() -> None:
    # Resamples are drawn in blocks to bound memory; the interval is the one of a single
    # (B, S) draw with the same seed.
    from spectralntk.fluctuations import bootstrap_interval

    data = np.random.default_rng(1).normal(size=(12, 3))
    stat = lambda x: x.mean(axis=(1, 2))  # noqa: E731
    rng = np.random.default_rng(5)
    values = stat(data[rng.integers(0, 12, size=(200_000, 12))])
    expected = tuple(np.nanpercentile(values, [2.5, 97.5]))
    got = bootstrap_interval(stat, data, resamples=200_000, confidence=0.95, seed=5)
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_diverged_training_has_no_linalg_error(tmp_path: Path) -> None:
    # lr = 1e300: the networks blow up; the run is written with those seeds flagged,
    # not a LinAlgError from the eigenvalues of a non-finite kernel.
    out = tmp_path / "t.nc"
    result = invoke(
        "train", "--lr", "1e300", "--steps", "3", "--seeds", "2", "--width", "8",
        "--points", "32", "--target", "sine", "--frequency", "2", "--out", str(out), "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    from spectralntk.store import load

    ds = load(out)
    assert np.all(ds["diverged_step"].values >= 0)


def test_overflowing_mean_kernel_names_weight_std() -> None:
    from spectralntk.fluctuations import first_step_prediction, layer_mean_contributions

    cfg = NetworkConfig(depth=300, weight_std=10.0, bias_std=0.0)
    with pytest.raises(ParameterError) as err:
        layer_mean_contributions(cfg, 16)
    assert err.value.parameter == "weight_std"
    with pytest.raises(ParameterError) as err:
        first_step_prediction(4000, 16)
    assert err.value.parameter == "depth"
