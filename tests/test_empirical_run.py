"""The empirical spectrum run: analyses, dataset, store round trip, CF compliance."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from test_store import _KNOWN_CHECKER_FALSE_POSITIVES, _checker_results

from spectralntk import NetworkConfig, ParameterError, discrete_spectrum, load, save
from spectralntk.runs.empirical import empirical_spectrum
from spectralntk.spectral.gram import gram_spectrum


@pytest.fixture(scope="module")
def run():  # type: ignore[no-untyped-def]
    progress: list[tuple[int, int, str]] = []
    result = empirical_spectrum(
        NetworkConfig(bias_init="zero"),
        [64, 16],
        seeds=3,
        depths=[2, 1],
        points=24,
        on_progress=lambda *a: progress.append(a),
    )
    return result, progress


def test_run_shapes_progress_and_analytic_side(run) -> None:  # type: ignore[no-untyped-def]
    result, progress = run
    assert result.depths == (1, 2) and result.widths == (16, 64) and result.seeds == (0, 1, 2)
    assert result.rayleigh.ntk.shape == (2, 2, 3, 13)
    assert result.eigenvalues.ntk.shape == (2, 2, 3, 24)
    assert progress[-1][:2] == (12, 12) and all(p[1] == 12 for p in progress)
    for i, depth in enumerate(result.depths):
        mu = discrete_spectrum(NetworkConfig(depth=depth, bias_init="zero"), 24)
        np.testing.assert_allclose(result.analytic_grid_eigenvalues.ntk[i], mu.ntk / 24, rtol=1e-12)
    # Empirical Rayleigh quotients are averages of eigen-decompositions: their sum over
    # all modes (with multiplicity) is the trace, as is the sum of the eigenvalues.
    mult = np.array([1] + [2] * 11 + [1])
    np.testing.assert_allclose(
        (result.rayleigh.ntk * mult).sum(-1), result.eigenvalues.ntk.sum(-1), rtol=1e-12
    )
    assert np.all((result.leakage.ntk >= 0) & (result.leakage.ntk <= 1))
    assert np.all(result.eigenvalues.ntk[..., :-1] >= result.eigenvalues.ntk[..., 1:])


def test_circulant_gram_has_no_leakage_and_exact_rayleigh() -> None:
    from spectralntk import kernel_matrix
    from spectralntk.kernels import circle_points, uniform_angles

    cfg = NetworkConfig(depth=3)
    gram = kernel_matrix(cfg, circle_points(uniform_angles(20))).ntk
    spec = gram_spectrum(gram)
    np.testing.assert_allclose(spec.rayleigh, discrete_spectrum(cfg, 20).ntk / 20, rtol=1e-12)
    assert np.max(spec.leakage) < 1e-12


def test_round_trip_through_the_store(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result, _ = run
    ds = result.to_dataset(history="test")
    back = load(save(ds, tmp_path / "emp.nc"))
    assert dict(back.sizes) == {
        "depth": 2,
        "width": 2,
        "seed": 3,
        "frequency": 13,
        "angle": 24,
        "rank": 24,
    }
    for name in ds.data_vars:
        np.testing.assert_array_equal(back[name].values, ds[name].values)
    assert back.attrs["spectralntk_run_type"] == "empirical_spectrum"


def test_deterministic_bit_for_bit() -> None:
    a = empirical_spectrum(NetworkConfig(depth=2), [8], seeds=[5, 2], points=12)
    b = empirical_spectrum(NetworkConfig(depth=2), [8], seeds=[2, 5], points=12)
    np.testing.assert_array_equal(a.profile.ntk, b.profile.ntk)
    np.testing.assert_array_equal(a.eigenvalues.nngp, b.eigenvalues.nngp)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_cf_compliance_of_an_empirical_run(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("compliance_checker")
    result, _ = run
    path = save(result.to_dataset(history="test"), tmp_path / "emp.nc")
    failed = {m for w, _, m in _checker_results(path) if w >= 2}
    assert not failed - _KNOWN_CHECKER_FALSE_POSITIVES, failed


@pytest.mark.parametrize(
    "kwargs,param",
    [
        ({"widths": [0]}, "width"),
        ({"widths": []}, "width"),
        ({"seeds": 0}, "seeds"),
        ({"points": 2}, "points"),
        ({"dtype": "float16"}, "dtype"),
        ({"device": "tpu"}, "device"),
        ({"memory_budget": 0}, "memory_budget"),
    ],
)
def test_bad_input(kwargs: dict, param: str) -> None:
    args = {"widths": [4], "seeds": 1, "points": 8, **kwargs}
    with pytest.raises(ParameterError) as err:
        empirical_spectrum(NetworkConfig(depth=1), **args)
    assert err.value.parameter == param and "\n" not in str(err.value)


def test_leakage_of_a_known_mode_coupling() -> None:
    # In the Fourier basis F, K = F (I + ε(e_a e_bᵀ + e_b e_aᵀ)) Fᵀ couples the cos mode
    # of k = 1 (column 1) with that of k = 2 (column 3): K v = v + ε v', so each loses
    # ε²/(1 + ε²) of its energy; averaged with its untouched sin partner, half of that.
    from spectralntk.spectral.fourier import real_fourier_basis

    n, eps = 12, 0.3
    basis, freq = real_fourier_basis(n)
    inner = np.eye(n)
    inner[1, 3] = inner[3, 1] = eps
    spec = gram_spectrum(basis @ inner @ basis.T)
    expected = np.zeros(n // 2 + 1)
    expected[[1, 2]] = 0.5 * eps**2 / (1 + eps**2)
    np.testing.assert_allclose(spec.leakage, expected, atol=1e-14)
    np.testing.assert_allclose(spec.rayleigh, np.ones(n // 2 + 1) / n, rtol=1e-13)
    assert freq[1] == 1 and freq[3] == 2
