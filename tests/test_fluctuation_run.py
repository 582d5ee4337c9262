"""The fluctuation run: configuration, statistics, dataset, store round trip, CF compliance."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from test_store import _KNOWN_CHECKER_FALSE_POSITIVES, _checker_results

from spectralntk.errors import ParameterError
from spectralntk.fluctuations import exact_mean_ntk_diagonal, normalized_second_moment
from spectralntk.kernels.recursion import kernel_matrix
from spectralntk.runs.fluctuations import (
    HANIN_NICA_ARCHITECTURE,
    FluctuationConfig,
    fluctuations,
)
from spectralntk.runs.training import training_inputs
from spectralntk.store import load, save
from spectralntk.store.schema import FLUCTUATION, VARIABLES, read_config


def hanin_nica(**settings: object) -> FluctuationConfig:
    """A fluctuation run in Hanin & Nica's network (the presets' architecture)."""
    return FluctuationConfig(**{**HANIN_NICA_ARCHITECTURE, **settings})  # type: ignore[arg-type]


SMALL = {"depths": (2, 3), "widths": (8, 16), "seeds": tuple(range(5)), "probes": 6}


@pytest.fixture(scope="module")
def run():  # type: ignore[no-untyped-def]
    calls: list[tuple[int, int, str]] = []
    cfg = hanin_nica(**SMALL, steps=5, points=12, bootstrap=200)  # type: ignore[arg-type]
    return fluctuations(cfg, on_progress=lambda *a: calls.append(a)), calls


def test_statistics_follow_from_the_stored_samples(run) -> None:  # type: ignore[no-untyped-def]
    result, _ = run
    a = result.arrays
    for i, depth in enumerate(SMALL["depths"]):
        for j, width in enumerate(SMALL["widths"]):
            k = a["ntk_diagonal"][i, j]
            assert k.shape == (5, 6) and np.all(k >= 0)  # 0: a dead network (p ~ 2^-8)
            assert a["beta"][i, j] == depth / width
            assert a["hanin_nica_second_moment"][i, j] == pytest.approx(math.exp(5 * depth / width))
            assert a["ntk_diagonal_mean"][i, j] == pytest.approx(k.mean())
            assert a["normalized_second_moment"][i, j] == pytest.approx(normalized_second_moment(k))
            assert (
                a["normalized_second_moment_low"][i, j]
                <= a["normalized_second_moment"][i, j]
                <= a["normalized_second_moment_high"][i, j]
            )
            assert a["log_normalized_second_moment"][i, j] == pytest.approx(
                math.log(a["normalized_second_moment"][i, j])
            )
            # the profile's anchor column is the diagonal at the anchor
            np.testing.assert_allclose(a["ntk_empirical_profile"][i, j][:, 0], k[:, 0], rtol=1e-12)
            cfg = result.config.network(depth, width)
            assert a["exact_ntk_diagonal_mean"][i, j] == exact_mean_ntk_diagonal(cfg, width)
            rel = a["first_step_ntk_diagonal_change"][i, j][:, 0].mean() / k[:, 0].mean()
            assert a["first_step_relative_change"][i, j] == pytest.approx(rel)
            assert a["first_step_learning_rate"][i, j] == pytest.approx(
                1.0 / a["analytic_ntk_diagonal"][i, j]
            )
            drift = a["training_kernel_drift"][i, j]
            assert np.all(np.isfinite(drift)) and np.all(drift > 0)
            # η = 0.5·2/(c·μ_max) of the analytic Gram (c = 2/N for the mean loss): stable,
            # so the loss goes down
            x_train, _, _ = training_inputs(result.config.training(width))
            mu_max = np.linalg.eigvalsh(kernel_matrix(cfg, x_train).ntk)[-1]
            assert a["training_learning_rate"][i, j] == pytest.approx(12 / (2 * mu_max))
            assert np.all(a["training_diverged_step"][i, j] == -1)
            assert np.all(a["training_loss_final"][i, j] < a["training_loss_initial"][i, j])
            e0 = a["training_ntk_eigenvalue_initial"][i, j]
            assert np.all(np.diff(e0, axis=-1) <= 1e-12)  # descending
            np.testing.assert_allclose(
                a["training_top_eigenvalue_change"][i, j],
                a["training_ntk_eigenvalue_final"][i, j][:, 0] / e0[:, 0] - 1.0,
            )


def test_probe_statistics_are_rotation_invariant_in_law() -> None:
    # Every probe has the same law (rotation-invariant first layer): per-probe means agree
    # with the pooled mean within 4 standard errors of a probe mean.
    cfg = hanin_nica(depths=(2,), widths=(16,), seeds=tuple(range(400)), probes=4, bootstrap=10)
    k = fluctuations(cfg).arrays["ntk_diagonal"][0, 0]
    exact = exact_mean_ntk_diagonal(cfg.network(2, 16), 16)
    se = k.std(axis=0, ddof=1) / math.sqrt(k.shape[0])
    assert np.all(np.abs(k.mean(axis=0) - exact) < 4 * se)


def test_progress_reports_every_batch(run) -> None:  # type: ignore[no-untyped-def]
    _, calls = run
    assert calls[0][:2] == (0, 4)
    finished = [c for c in calls[1:] if not c[2].endswith("training")]
    assert [c[0] for c in finished] == [1, 2, 3, 4]  # one batch per (depth, width) here
    assert all(c[1] == 4 for c in calls)
    assert calls[-1][2] == "depth 3 width 16"
    # with --steps each batch announces its training before it starts
    assert [c[2] for c in calls[1:3]] == ["depth 2 width 8: training", "depth 2 width 8"]


def test_seed_batches_give_identical_results() -> None:
    cfg = hanin_nica(depths=(2,), widths=(8,), seeds=(0, 1, 2), probes=4, bootstrap=50)
    one = fluctuations(cfg).arrays
    many = fluctuations(cfg, memory_budget=1).arrays  # one seed per batch
    for name in ("ntk_diagonal", "ntk_empirical_profile", "first_step_ntk_diagonal_change"):
        np.testing.assert_array_equal(one[name], many[name])


def test_dataset_round_trip_and_compliance(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result, _ = run
    ds = result.to_dataset(history="test")
    assert ds.attrs["spectralntk_run_type"] == FLUCTUATION
    assert ds["ntk_diagonal"].dims == ("depth", "width", "seed", "probe")
    assert ds["ntk_empirical_profile"].dims == ("depth", "width", "seed", "angle")
    assert list(ds["jacot_layers"].values) == [3, 4]
    for name, var in ds.variables.items():
        assert var.attrs["long_name"] == VARIABLES[str(name)].long_name
        assert "units" in var.attrs
    path = save(ds, tmp_path / "fl.nc")
    back = load(path)
    np.testing.assert_array_equal(back["ntk_diagonal"].values, ds["ntk_diagonal"].values)
    assert back["training_diverged"].dtype == np.int8
    assert FluctuationConfig.from_dict(read_config(back)) == result.config


def test_ncdump_reads_a_fluctuation_run(ncdump: str, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # skips on a fresh machine without Debian's netcdf-bin (before the run is computed)
    result, _ = run
    path = save(result.to_dataset(history="test"), tmp_path / "fl.nc")
    dump = subprocess.run([ncdump, "-h", str(path)], capture_output=True, text=True, check=False)
    assert dump.returncode == 0, dump.stderr
    assert "ntk_diagonal(depth, width, seed, probe)" in dump.stdout


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_cf_compliance_of_a_fluctuation_run(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("compliance_checker")
    result, _ = run
    path = save(result.to_dataset(history="test"), tmp_path / "fl.nc")
    failed = {m for w, _, m in _checker_results(path) if w >= 2}
    assert not failed - _KNOWN_CHECKER_FALSE_POSITIVES, failed


def test_without_training_there_are_no_training_variables() -> None:
    cfg = hanin_nica(depths=(1,), widths=(4,), seeds=(0, 1), probes=2, bootstrap=5)
    ds = fluctuations(cfg).to_dataset()
    assert "training_kernel_drift" not in ds and "rank" not in ds.coords
    assert int(ds.attrs["steps"]) == 0


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"depths": (0,)}, "depth"),
        ({"depths": ()}, "depth"),
        ({"widths": (0,)}, "width"),
        ({"widths": (4, 4)}, "width"),
        ({"seeds": (0,)}, "seeds"),
        ({"seeds": (1, 1)}, "seeds"),
        ({"probes": 0}, "probes"),
        ({"first_step_size": 0.0}, "first_step_size"),
        ({"confidence": 1.0}, "confidence"),
        ({"bootstrap": 0}, "bootstrap"),
        ({"steps": -1}, "steps"),
        ({"lr_fraction": 0.0}, "lr_fraction"),
        ({"parameterization": "mup"}, "parameterization"),
        ({"weight_std": float("nan")}, "weight_std"),
        ({"steps": 3, "points": 2}, "points"),
        ({"steps": 3, "loss": "l1"}, "loss"),
    ],
)
def test_bad_configuration_names_the_parameter(changes: dict, param: str) -> None:  # type: ignore[type-arg]
    kwargs = {**SMALL, **changes}
    with pytest.raises(ParameterError) as info:
        hanin_nica(**kwargs)  # type: ignore[arg-type]
    assert info.value.parameter == param
    assert f"'{param}' parameter" in str(info.value)


def test_first_step_change_is_reported_per_unit_step() -> None:
    cfg = hanin_nica(
        depths=(2,), widths=(8,), seeds=(0, 1, 2), probes=3, bootstrap=20, first_step_size=0.25
    )
    a = fluctuations(cfg).arrays
    k, change = a["ntk_diagonal"][0, 0], a["first_step_ntk_diagonal_change"][0, 0]
    assert a["first_step_relative_change"][0, 0] == pytest.approx(
        change[:, 0].mean() / k[:, 0].mean() / 0.25
    )
    assert a["first_step_learning_rate"][0, 0] == pytest.approx(
        0.25 / a["analytic_ntk_diagonal"][0, 0]
    )
