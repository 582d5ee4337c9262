"""The answer per frequency in a training run file (issue 12): λ_k, μ_k, the target's
amplitude and phase, predicted steps to 10 % and the share left at T, each labelled, so
that readers without spectralntk (ncdump, plain netCDF4, xarray, R) see it; older files
without these variables still load and report.

The runs here are synthetic (no training): a :class:`TrainingRun` with recorded arrays
made up so that the expected answers are known, turned into a dataset by the same
``to_dataset`` a real run uses.
"""

from __future__ import annotations

import math
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from spectralntk import NetworkConfig, load, save
from spectralntk.dynamics.predict import loss_factor
from spectralntk.reports.build import build_report
from spectralntk.runs.kernel_theory import frequency_answer
from spectralntk.runs.training import TrainingConfig, TrainingRun, _empty_arrays, training_inputs
from spectralntk.spectral import circle_spectrum
from spectralntk.store import schema
from spectralntk.targets import make_target

ANSWER = (
    "analytic_eigenvalue",
    "train_eigenvalue",
    "target_amplitude",
    "target_phase",
    "predicted_steps_discrete",
    "predicted_steps_flow",
    "measured_fraction",
)


def synthetic_run(**changes) -> TrainingRun:  # type: ignore[no-untyped-def]
    """A run whose seed s at width j keeps 0.5^(j + 1) + s/100 of mode k at the end."""
    base = dict(
        network=NetworkConfig(depth=2, output_bias=False),
        widths=(8, 32),
        seeds=(0, 1, 2),
        target=make_target(
            "fourier-mixture",
            frequencies=[1, 3, 5],
            amplitudes=[0.8, -0.4, 0.2],
            phases=[0.0, 1.0, 4.0],
        ),
        inputs="grid",
        points=24,
        eval_points=48,
        lr=0.05,
        steps=30,
        record_every=10,
        loss="mean",
    )
    base.update(changes)
    cfg = TrainingConfig(**base)
    steps = np.asarray(cfg.record_steps(), dtype=np.int64)
    arrays = _empty_arrays(cfg, len(steps), len(cfg.checkpoints))
    w_, s_, t_, f_ = arrays["residual_cos"].shape
    left = 0.5 ** (np.arange(w_)[:, None] + 1) + np.arange(s_)[None, :] / 100  # (W, S)
    done = np.linspace(0.0, 1.0, t_)[None, None, :, None]  # 0 at step 0, 1 at T
    amp = (1 - done * (1 - left[..., None, None])) * np.linspace(1, 2, f_)  # (W, S, T, F)
    arrays["residual_cos"] = amp * math.cos(0.3)
    arrays["residual_sin"] = amp * math.sin(0.3)
    arrays["residual_sin"][:, :, :, 0] = 0.0
    arrays["residual_cos"][:, :, :, 0] = amp[..., 0]
    arrays["diverged_step"][1, 2] = 7  # one diverged seed
    arrays["stability_limit"][:] = 2.0
    x, gamma, y = training_inputs(cfg)
    return TrainingRun(cfg, steps, x, gamma, y, arrays)


def test_every_answer_variable_is_labelled_and_has_its_dimensions() -> None:
    ds = synthetic_run().to_dataset()
    dims = {
        "analytic_eigenvalue": ("width", "frequency"),
        "train_eigenvalue": ("width", "frequency"),
        "target_amplitude": ("frequency",),
        "target_phase": ("frequency",),
        "predicted_steps_discrete": ("width", "frequency"),
        "predicted_steps_flow": ("width", "frequency"),
        "measured_fraction": ("width", "seed", "frequency"),
    }
    for name in ANSWER:
        assert ds[name].dims == dims[name], name
        assert ds[name].attrs["long_name"] and ds[name].attrs["units"], name
    assert ds["target_phase"].attrs["units"] == "radian"
    assert ds["predicted_steps_discrete"].attrs["fraction"] == 0.1


def test_the_answer_has_known_values_on_a_grid() -> None:
    run = synthetic_run()
    ds = run.to_dataset()
    cfg = run.config
    lam = circle_spectrum(cfg.network, cfg.k_max).eigenvalues.ntk
    np.testing.assert_allclose(ds["analytic_eigenvalue"].values, [lam, lam], rtol=1e-12)
    # on a grid the Gram is circulant: μ_k = N·λ_k up to aliasing (λ_k decays like k^-2)
    mu = ds["train_eigenvalue"].values
    np.testing.assert_allclose(mu[0, :4], cfg.points * lam[:4], rtol=0.05)
    amp, phase = ds["target_amplitude"].values, ds["target_phase"].values
    np.testing.assert_allclose(amp[[1, 3, 5]], [0.8, 0.4, 0.2], rtol=1e-14)
    np.testing.assert_allclose(phase[[1, 3, 5]], [0.0, 1.0 + math.pi, 4.0], atol=1e-14)
    assert np.all(amp[[0, 2, 4, 6]] == 0) and np.all(phase[[0, 2, 4, 6]] == 0)
    c = loss_factor(cfg.loss, cfg.points)
    for k in (1, 3, 5):
        x = c * cfg.lr * mu[0, k]
        expected = math.ceil(math.log(0.1) / math.log(abs(1 - x)))
        assert ds["predicted_steps_discrete"].values[0, k] == expected
        assert ds["predicted_steps_flow"].values[0, k] == pytest.approx(math.log(10) / x)
    left = ds["measured_fraction"].values
    np.testing.assert_allclose(left[0, :, 3], [0.5, 0.51, 0.52], rtol=1e-12)
    np.testing.assert_allclose(left[1, :2, 3], [0.25, 0.26], rtol=1e-12)
    assert np.all(np.isnan(left[1, 2]))  # the diverged seed


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"inputs": "random", "points": 32, "eval_points": 64, "max_frequency": 8},
        {"network": NetworkConfig(depth=1, parameterization="standard", weight_std=1.4, width=8)},
    ],
    ids=["grid", "random", "standard"],
)
def test_the_stored_answer_is_what_the_convergence_report_says(changes: dict) -> None:
    ds = synthetic_run(**changes).to_dataset()
    report = build_report(ds)
    widths = list(ds["width"].values)
    for row in report.rows:
        j, k = widths.index(row.width), row.frequency
        assert ds["target_amplitude"].values[k] == pytest.approx(row.amplitude, rel=1e-14)
        assert ds["analytic_eigenvalue"].values[j, k] == pytest.approx(
            row.analytic_eigenvalue, rel=1e-12
        )
        assert ds["train_eigenvalue"].values[j, k] == pytest.approx(row.train_eigenvalue, rel=1e-12)
        discrete = ds["predicted_steps_discrete"].values[j, k]  # +inf is None in the report
        assert discrete == pytest.approx(row.predicted_steps_discrete or math.inf, rel=1e-12)
        assert ds["predicted_steps_flow"].values[j, k] == pytest.approx(
            row.predicted_steps_flow, rel=1e-12
        )
        ok = ds["diverged"].values[j] == 0
        assert float(np.median(ds["measured_fraction"].values[j, ok, k])) == pytest.approx(
            row.measured_fraction.median, rel=1e-12
        )
    if "network" in changes:  # the standard parameterization's NTK depends on the width
        lam = ds["analytic_eigenvalue"].values
        assert not np.allclose(lam[0], lam[1])


def test_unstable_or_zero_modes_are_never_reached() -> None:
    run = synthetic_run(lr=10.0)
    networks = [run.config.network] * len(run.config.widths)
    out = frequency_answer(run.config, networks, run.x_train, run.train_angle, run.arrays)
    assert np.isinf(out["predicted_steps_discrete"][0, 0])  # |1 − cημ_0| ≥ 1
    assert np.isfinite(out["predicted_steps_flow"][0, 0])  # gradient flow has no limit


def test_other_tools_read_the_answer(tmp_path: Path) -> None:
    path = save(synthetic_run().to_dataset(history="test"), tmp_path / "train.nc")
    ds = load(path)
    with netCDF4.Dataset(path) as nc:
        for name in ANSWER:
            var = nc.variables[name]
            assert var.long_name == schema.VARIABLES[name].long_name
            assert var.units == schema.VARIABLES[name].units
            np.testing.assert_array_equal(var[:].filled(np.nan), ds[name].values)
        assert "inf" in nc.variables["predicted_steps_discrete"].comment


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_compliance_of_a_run_with_the_answer(tmp_path: Path) -> None:
    pytest.importorskip("compliance_checker")
    from test_store import _KNOWN_CHECKER_FALSE_POSITIVES, _checker_results

    path = save(synthetic_run().to_dataset(), tmp_path / "train.nc")
    failed = {m for w, _, m in _checker_results(path) if w >= 2}
    assert not failed - _KNOWN_CHECKER_FALSE_POSITIVES, failed


def test_older_files_without_the_answer_load_and_report(tmp_path: Path) -> None:
    ds = synthetic_run().to_dataset()
    old = ds.drop_vars(list(ANSWER))
    path = save(old, tmp_path / "old.nc")
    back = load(path)
    assert not set(ANSWER) & set(back.variables)
    assert build_report(back).rows == build_report(ds).rows
