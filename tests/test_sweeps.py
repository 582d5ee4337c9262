"""Sweeps: sweep files, grain and hashes; runs on a 2-worker LocalCluster; the combined view."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
distributed = pytest.importorskip("distributed")

from spectralntk import ParameterError, load, open_sweep, save, sweep_points  # noqa: E402
from spectralntk.runs.training import train  # noqa: E402
from spectralntk.settings import training_config  # noqa: E402
from spectralntk.store.schema import SCHEMA_VERSION, read_config  # noqa: E402
from spectralntk.sweeps.execute import (  # noqa: E402
    SweepError,
    local_cluster,
    read_index,
    run_sweep,
)
from spectralntk.sweeps.grid import (  # noqa: E402
    estimated_flops,
    plan_tasks,
    run_hash,
    sweep_spec,
)

#: A run of a second or two: sine k = 2 on a 16-point grid, 30 steps.
BASE: dict[str, Any] = {
    "target": "sine",
    "frequency": 2,
    "inputs": "grid",
    "points": 16,
    "eval_points": 32,
    "steps": 30,
    "record_every": 5,
    "seeds": 2,
}


def base_for(axes: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """BASE with ``base`` on top, less the BASE settings the axes vary."""
    varied = {"seeds" if k == "seed" else k for k in axes}
    out = {k: v for k, v in BASE.items() if k not in varied}
    return {**out, **(base or {})}


def spec_of(axes: dict[str, Any], base: dict[str, Any] | None = None, **head: Any) -> Any:
    return sweep_spec({"sweep": {"name": "t", **head}, "base": base_for(axes, base), "axes": axes})


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A LocalCluster of 2 worker processes with 1 thread each (as the CLI's default)."""
    cluster = local_cluster(2)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def reference(spec: Any, point: dict[str, Any], tmp: Path, dtype_threads: int = 1) -> Any:
    """The grid point run with ``train`` in this process (one torch thread, as a worker)."""
    cfg, device, dtype = training_config(spec.point_settings(point))
    threads = torch.get_num_threads()
    torch.set_num_threads(dtype_threads)
    try:
        run = train(cfg, device=device, dtype=dtype)
    finally:
        torch.set_num_threads(threads)
    return load(save(run.to_dataset(), tmp / f"ref-{len(os.listdir(tmp))}.nc"))


# ---------------------------------------------------------------------------
# sweep files
# ---------------------------------------------------------------------------
def test_grid_points_and_batch_axes() -> None:
    axes = {"width": [16, 8], "seed": [3, 1], "lr": [0.5, 0.25], "loss": ["mean", "half_sum"]}
    spec = spec_of(axes)
    assert [k for k, _ in spec.point_axes] == ["lr", "loss"]
    assert spec.points() == [
        {"lr": 0.5, "loss": "mean"},
        {"lr": 0.5, "loss": "half_sum"},
        {"lr": 0.25, "loss": "mean"},
        {"lr": 0.25, "loss": "half_sum"},
    ]
    settings = spec.point_settings(spec.points()[1])
    # width and seed are the run's own dimensions: settings of one run, sorted
    assert settings["width"] == [8, 16] and settings["seeds"] == [1, 3]
    assert settings["loss"] == "half_sum" and settings["steps"] == 30


def test_base_takes_a_preset_and_its_quick_variant() -> None:
    spec = sweep_spec(
        {"base": {"preset": "exp2.3", "quick": True, "steps": 7}, "axes": {"lr": [0.01]}}
    )
    assert spec.base["width"] == [256, 1024] and spec.base["steps"] == 7  # quick, then [base]
    assert spec.base["label_noise"] == 0.02 and spec.name == "sweep"


@pytest.mark.parametrize(
    "data,key",
    [
        ({"base": {"widht": 8}}, "widht"),
        ({"axes": {"lrr": [0.1]}}, "lrr"),
        ({"axes": {"lr": []}}, "lr"),
        ({"axes": {"lr": 0.1}}, "lr"),
        ({"axes": {"lr": [0.1, 0.1]}}, "lr"),
        ({"base": {"lr": 0.1}, "axes": {"lr": [0.1, 0.2]}}, "lr"),
        ({"base": {"seeds": 3}, "axes": {"seed": [0, 1]}}, "seed"),
        ({"axes": {"seed": [0], "seeds": [1]}}, "seeds"),
        ({"axes": {"device": ["cpu"]}}, "device"),
        ({"axes": {"frequencies": [[1, 2]]}}, "frequencies"),
        ({"axes": {"lr": [0.1, -1.0]}}, "lr"),
        ({"axes": {"width": [8, 0]}}, "width"),
        ({"sweep": {"kind": "bake"}}, "kind"),
        ({"sweep": {"workers": 2}}, "workers"),
        ({"sweep": {"task_gflop": 0}}, "task_gflop"),
        ({"sweeps": {}}, "sweeps"),
        ({"base": {"quick": True}}, "quick"),
    ],
)
def test_bad_sweep_files_name_the_key(data: dict[str, Any], key: str) -> None:
    data = {**data, "base": base_for(data.get("axes", {}), data.get("base"))}
    with pytest.raises(ParameterError) as info:
        sweep_spec(data, file="s.toml")
    assert info.value.parameter == key and repr(key) in str(info.value)
    assert "\n" not in str(info.value)


def test_invalid_point_is_reported_with_its_grid_point() -> None:
    with pytest.raises(ParameterError, match=r"grid point lr = -1\.0") as info:
        spec_of({"lr": [0.1, -1.0]})
    assert info.value.parameter == "lr"


# ---------------------------------------------------------------------------
# hashes and grain
# ---------------------------------------------------------------------------
def test_hash_is_sha256_of_the_canonical_json() -> None:
    config = {"b": [1, 2], "a": {"y": 0.5, "x": "relu"}}
    expected = hashlib.sha256(
        json.dumps(
            {"config": config, "dtype": "float64", "kind": "train", "schema": SCHEMA_VERSION},
            sort_keys=True,
        ).encode()
    ).hexdigest()
    assert run_hash("train", config, "float64") == expected
    assert run_hash("train", dict(reversed(list(config.items()))), "float64") == expected
    assert run_hash("train", config, "float32") != expected


def test_every_task_has_its_own_hash_and_device_is_not_part_of_it() -> None:
    tasks = plan_tasks(spec_of({"width": [8, 16], "lr": [0.5, 0.25], "depth": [1, 2]}))
    assert len({t.key for t in tasks}) == len(tasks) == 4
    on_gpu = plan_tasks(
        spec_of({"width": [8, 16], "lr": [0.5, 0.25], "depth": [1, 2]}, {"device": "cuda"})
    )
    assert [t.key for t in on_gpu] == [t.key for t in tasks]


def test_estimated_flops_counts_passes_and_parameters() -> None:
    cfg, _, _ = training_config(spec_of({}).point_settings({}))
    # depth 1, width 8: P = 4·8 + 1 = 33 parameters; T = 30, N = 16, M = 32;
    # evaluation every max(1, 30 // 200) = 1 step: 31 passes; checkpoints 0 and 30.
    per_seed = 6 * 16 * 33 * 30 + 2 * 32 * 33 * 31 + 2 * 16**2 * 33 * 2
    assert estimated_flops(cfg, 8) == 2 * per_seed
    assert estimated_flops(cfg, 8, seeds=1) == per_seed


def test_grain_groups_small_widths_and_keeps_seeds_together() -> None:
    axes = {"width": [8, 16, 32, 64], "seed": [0, 1, 2]}
    one = plan_tasks(spec_of(axes, task_gflop=1e6))
    assert [t.widths for t in one] == [(8, 16, 32, 64)] and one[0].seeds == (0, 1, 2)
    alone = plan_tasks(spec_of(axes, task_gflop=1e-9))
    assert [t.widths for t in alone] == [(8,), (16,), (32,), (64,)]
    assert all(t.seeds == (0, 1, 2) for t in alone)  # seeds of a width stay batched
    cfg, _, _ = training_config(spec_of(axes).point_settings({}))
    # a limit that fits 8 + 16 + 32 but not 64 as well
    limit = sum(estimated_flops(cfg, w) for w in (8, 16, 32))
    packed = plan_tasks(spec_of(axes, task_gflop=limit * (1 + 1e-12) / 1e9))
    assert [t.widths for t in packed] == [(8, 16, 32), (64,)]
    split = plan_tasks(spec_of(axes, seeds_per_task=2))
    assert [t.seeds for t in split] == [(0, 1), (2,)]


# ---------------------------------------------------------------------------
# runs on the cluster
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished(client: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """A 2 × 2 grid (lr × loss), widths 8 and 16 in separate tasks, one point diverging."""
    spec = spec_of(
        {"width": [8, 16], "lr": [0.5, 400.0], "loss": ["mean", "half_sum"]}, task_gflop=1e-9
    )
    folder = tmp_path_factory.mktemp("sweep") / "grid"
    result = run_sweep(spec, folder, client=client)
    return spec, folder, result


def test_sweep_runs_every_task_and_records_outcomes(finished: Any) -> None:
    _, folder, result = finished
    assert result.ran == 8 and result.counts["failed"] == result.counts["pending"] == 0
    index = read_index(folder)
    by_point = {json.dumps(t["point"]): t for t in index["tasks"]}
    # lr = 400 is far above the stability limit 2/(c μ_max): every network diverges
    assert all(
        t["status"] == ("diverged" if t["point"]["lr"] == 400.0 else "finished")
        for t in index["tasks"]
    ), by_point
    assert all((folder / t["file"]).is_file() for t in index["tasks"])
    assert all(t["device"] == "cpu" and t["wall_s"] > 0 for t in index["tasks"])
    assert not list(folder.glob("runs/*.state.pt")) and not list(folder.glob("runs/.*"))


def test_combined_view_dims_coords_and_laziness(finished: Any) -> None:
    _, folder, _ = finished
    ds = open_sweep(folder)
    assert ds["residual_cos"].dims == (
        "lr",
        "loss_convention",
        "width",
        "seed",
        "step",
        "frequency",
    )
    assert ds["ntk_prediction_limit"].dims == ("lr", "loss_convention", "width", "angle")
    assert list(ds["lr"].values) == [0.5, 400.0]
    assert list(ds["loss_convention"].values) == ["mean", "half_sum"]
    assert list(ds["width"].values) == [8, 16] and list(ds["seed"].values) == [0, 1]
    assert list(ds["step"].values) == [0, 5, 10, 15, 20, 25, 30]
    assert ds["residual_cos"].chunks is not None  # dask: nothing read yet
    assert ds.attrs["spectralntk_run_type"] == "training"
    assert ds.attrs["spectralntk_sweep_dims"] == "lr loss_convention"
    status = ds["run_status"]
    meanings = status.attrs["flag_meanings"].split()
    assert [meanings[v] for v in status.sel(width=8).values.ravel()] == [
        "finished",
        "finished",
        "diverged",
        "diverged",
    ]
    points = list(sweep_points(ds))
    assert [p for p, _ in points] == [
        {"lr": 0.5, "loss_convention": "mean"},
        {"lr": 0.5, "loss_convention": "half_sum"},
        {"lr": 400.0, "loss_convention": "mean"},
        {"lr": 400.0, "loss_convention": "half_sum"},
    ]
    assert points[1][1].attrs["loss_convention"] == "half_sum"
    assert read_config(points[2][1])["lr"] == 400.0


def test_combined_data_are_bit_identical_to_train(finished: Any, tmp_path: Path) -> None:
    spec, folder, _ = finished
    ds = open_sweep(folder)
    for point in ({"lr": 0.5, "loss": "half_sum"}, {"lr": 400.0, "loss": "mean"}):
        ref = reference(spec, point, tmp_path)
        got = ds.sel(lr=point["lr"], loss_convention=point["loss"]).load()
        for name, var in ref.data_vars.items():
            assert got[name].dtype == var.dtype, name
            np.testing.assert_array_equal(got[name].values, var.values, err_msg=name, strict=True)
        for name in ref.coords:
            np.testing.assert_array_equal(got[name].values, ref[name].values, err_msg=name)
        assert read_config(ref) == json.loads(
            json.loads(got["run_attrs"].item())["spectralntk_config"]
        )


def test_rerunning_a_finished_sweep_does_nothing(finished: Any, client: Any) -> None:
    spec, folder, _ = finished
    stamps = {p: p.stat().st_mtime_ns for p in folder.glob("runs/*.nc")}
    for resume in (False, True):
        again = run_sweep(spec, folder, client=client, resume=resume)
        assert again.ran == 0
    assert {p: p.stat().st_mtime_ns for p in folder.glob("runs/*.nc")} == stamps


def test_a_failing_run_is_recorded_and_resume_runs_only_it(client: Any, tmp_path: Path) -> None:
    spec = spec_of({"lr": [0.5, 0.25]}, {"width": [8]})
    tasks = plan_tasks(spec)
    folder = tmp_path / "s"
    # A folder where the run file must go: saving that run fails for real.
    blocker = folder / "runs" / tasks[1].file_name
    blocker.mkdir(parents=True)
    first = run_sweep(spec, folder, client=client)
    assert first.counts == {"finished": 1, "diverged": 0, "failed": 1, "pending": 0}
    failed = [t for t in read_index(folder)["tasks"] if t["status"] == "failed"]
    assert failed[0]["key"] == tasks[1].key and "'out'" in failed[0]["error"]
    ds = open_sweep(folder)
    assert ds["run_status"].sel(lr=0.25).item() == 3  # failed
    assert np.isnan(ds["loss"].sel(lr=0.25).values).all()
    assert np.isfinite(ds["loss"].sel(lr=0.5).values).all()
    blocker.rmdir()
    # Every run has an outcome: without --resume nothing runs, failed runs included.
    assert run_sweep(spec, folder, client=client).ran == 0
    kept = (folder / "runs" / tasks[0].file_name).stat().st_mtime_ns
    second = run_sweep(spec, folder, client=client, resume=True)
    assert second.ran == 1 and second.counts["finished"] == 2
    assert (folder / "runs" / tasks[0].file_name).stat().st_mtime_ns == kept
    assert open_sweep(folder)["run_status"].values.tolist() == [[0], [0]]
    # A grid grown by one value: the new run is pending, so only --resume runs it.
    grown = spec_of({"lr": [0.5, 0.25, 0.125]}, {"width": [8]})
    with pytest.raises(SweepError, match=r"2 of 3 runs finished.*--resume"):
        run_sweep(grown, folder, client=client)
    assert run_sweep(grown, folder, client=client, resume=True).ran == 1


def test_an_interrupted_run_continues_and_a_broken_state_restarts(
    client: Any, tmp_path: Path
) -> None:
    spec = spec_of({"lr": [0.5, 0.25]}, {"width": [8, 16]})
    tasks = plan_tasks(spec)
    folder = tmp_path / "s"
    (folder / "runs").mkdir(parents=True)
    # Interrupt the first task's run after a few steps, where the sweep keeps its state.
    state = folder / "runs" / f"{tasks[0].file_name}.state.pt"
    cfg, _, _ = training_config(spec.point_settings(tasks[0].point))
    polls = iter(range(10**6))
    assert train(cfg, state_path=state, should_stop=lambda: next(polls) == 20) is None
    (folder / "runs" / f"{tasks[1].file_name}.state.pt").write_bytes(b"not a torch file")
    result = run_sweep(spec, folder, client=client, resume=True)
    assert result.counts["finished"] == 2
    records = {t["key"]: t for t in read_index(folder)["tasks"]}
    assert records[tasks[0].key]["resumed"] is True
    assert records[tasks[1].key]["resumed"] is False
    assert "saved state discarded" in records[tasks[1].key]["note"]
    ds = open_sweep(folder)
    for task in tasks:
        ref = reference(spec, task.point, tmp_path)
        got = ds.sel(lr=task.point["lr"]).load()
        for name in ("loss", "residual_cos", "eval_prediction", "kernel_drift"):
            np.testing.assert_array_equal(got[name].values, ref[name].values, err_msg=name)


def test_device_passes_through_and_is_checked_on_the_workers(client: Any, tmp_path: Path) -> None:
    spec = spec_of({"dtype": ["float32", "float64"]}, {"width": [8]})
    result = run_sweep(spec, tmp_path / "auto", client=client, device="auto")
    assert result.counts["finished"] == 2
    assert {t["device"] for t in read_index(tmp_path / "auto")["tasks"]} == {"cpu"}
    ds = open_sweep(tmp_path / "auto").load()
    single, double = (ds["loss"].sel(dtype=d).values for d in ("float32", "float64"))
    # Trained in float32, moved back to the host as float64 arrays: every loss is a
    # float32 number; the float64 run's are not.
    assert single.dtype == double.dtype == np.float64
    assert np.array_equal(single.astype(np.float32).astype(np.float64), single)
    assert not np.array_equal(double.astype(np.float32).astype(np.float64), double)
    ref = reference(spec, {"dtype": "float32"}, tmp_path)
    for name in ("loss", "train_residual", "residual_cos"):
        np.testing.assert_array_equal(
            ds[name].sel(dtype="float32").values, ref[name].values, err_msg=name
        )
    with pytest.raises(SweepError, match=r"--device.*'cuda:3'"):
        run_sweep(spec, tmp_path / "gpu", client=client, device="cuda:3")
    assert not list((tmp_path / "gpu").glob("runs/*.nc"))
    with pytest.raises(ParameterError, match="'device'"):
        run_sweep(spec, tmp_path / "bad", client=client, device="gpu")


def test_depth_and_steps_axes_join_on_labels(client: Any, tmp_path: Path) -> None:
    spec = spec_of({"depth": [1, 2], "steps": [10, 20]}, {"width": [8]})
    assert run_sweep(spec, tmp_path / "s", client=client).counts["finished"] == 4
    ds = open_sweep(tmp_path / "s")
    assert ds["loss"].dims == ("depth", "steps", "width", "seed", "step")
    assert ds["depth"].attrs["long_name"] == "number of hidden layers"
    assert ds["jacot_layers"].values.tolist() == [2, 3]  # L = depth + 1
    # the union of the recorded steps; NaN where a point did not get that far
    assert ds["step"].values.tolist() == [0, 5, 10, 15, 20]
    assert ds.attrs["spectralntk_sweep_padded_dims"] == "checkpoint step"
    loss = ds["loss"].load()
    assert np.isnan(loss.sel(steps=10, step=[15, 20])).all()
    assert np.isfinite(loss.sel(steps=20)).all() and np.isfinite(loss.sel(steps=10, step=10)).all()
    assert ds["diverged_step"].dtype == np.int32  # nothing missing: integers stay integers
    # each point as train writes it: its own steps only, its own depth
    points = dict((json.dumps(p), one) for p, one in sweep_points(ds))
    short = points[json.dumps({"depth": 2, "steps": 10})]
    assert short["step"].values.tolist() == [0, 5, 10] and short.attrs["depth"] == 2
    ref = reference(spec, {"depth": 2, "steps": 10}, tmp_path)
    for name, var in ref.data_vars.items():
        np.testing.assert_array_equal(short[name].values, var.values, err_msg=name)


def test_the_readme_sweep_file_is_valid() -> None:
    import re
    import tomllib

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"```toml\n# sweep.toml\n(.*?)```", readme, re.S)
    assert block, "README shows the example sweep.toml"
    spec = sweep_spec(tomllib.loads(block.group(1)), file="sweep.toml")
    assert spec.name == "lr-depth" and len(spec.points()) == 4
    # default grain: widths 64 and 256 of a point fit one task (about 0.2 TFLOP)
    assert [t.widths for t in plan_tasks(spec)] == [(64, 256)] * 4


# ---------------------------------------------------------------------------
# fluctuation runs
# ---------------------------------------------------------------------------
FLUCTUATION_BASE = {"seeds": 4, "probes": 8, "bootstrap": 50}


def fluctuation_spec(axes: dict[str, Any], **head: Any) -> Any:
    return sweep_spec(
        {"sweep": {"kind": "fluctuations", **head}, "base": FLUCTUATION_BASE, "axes": axes}
    )


def test_fluctuation_sweep_batches_depth_and_is_identical_to_the_run(
    client: Any, tmp_path: Path
) -> None:
    from spectralntk.runs.fluctuations import fluctuations
    from spectralntk.sweeps.kinds import KINDS

    spec = fluctuation_spec(
        {"width": [16, 32], "depth": [3, 2], "weight_std": [1.2, 1.5]}, task_gflop=1e-9
    )
    # depth is a dimension of a fluctuation run: batched, not a sweep axis
    assert [k for k, _ in spec.point_axes] == ["weight_std"]
    assert [t.widths for t in plan_tasks(spec)] == [(16,), (32,)] * 2
    assert run_sweep(spec, tmp_path / "f", client=client).counts["finished"] == 4
    ds = open_sweep(tmp_path / "f")
    assert ds.attrs["spectralntk_run_type"] == "fluctuation"
    assert ds["ntk_diagonal"].dims == ("weight_std", "depth", "width", "seed", "probe")
    assert ds["depth"].values.tolist() == [2, 3]
    cfg, device, dtype = KINDS["fluctuations"].configure(spec.point_settings({"weight_std": 1.5}))
    ref = fluctuations(cfg, device=device, dtype=dtype).to_dataset()
    got = ds.sel(weight_std=1.5).load()
    for name, var in ref.data_vars.items():
        np.testing.assert_array_equal(got[name].values, var.values, err_msg=name)


@pytest.mark.parametrize(
    ("head", "base", "key"),
    [
        ({"seeds_per_task": 2}, {}, "seeds_per_task"),
        ({}, {"seeds": 1}, "seeds"),
        ({}, {"lr": 0.1}, "lr"),
        ({}, {"preset": "hanin"}, "preset"),
    ],
)
def test_bad_fluctuation_sweep_files(head: dict[str, Any], base: dict[str, Any], key: str) -> None:
    data = {
        "sweep": {"kind": "fluctuations", **head},
        "base": {**FLUCTUATION_BASE, **base},
        "axes": {"width": [8]},
    }
    with pytest.raises(ParameterError) as info:
        sweep_spec(data)
    assert info.value.parameter == key


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_run_files_of_a_sweep_pass_cf_1_8(finished: Any) -> None:
    pytest.importorskip("compliance_checker")
    from test_store import _KNOWN_CHECKER_FALSE_POSITIVES, _checker_results

    _, folder, _ = finished
    task = read_index(folder)["tasks"][0]
    failed = {m for w, _, m in _checker_results(folder / task["file"]) if w >= 2}
    assert not failed - _KNOWN_CHECKER_FALSE_POSITIVES, failed


def test_no_sweep_dimension_clashes_with_a_run_variable() -> None:
    from spectralntk.settings import DEFAULTS
    from spectralntk.store.schema import VARIABLES
    from spectralntk.sweeps.combine import sweep_dim_name
    from spectralntk.sweeps.kinds import fluctuation_defaults

    for setting in {*DEFAULTS, *fluctuation_defaults()}:
        name = sweep_dim_name(setting)
        # depth: a sweep dimension of train runs, which have no depth dimension
        assert name not in VARIABLES or name == "depth", (setting, name)
    assert sweep_dim_name("loss") == "loss_convention" and sweep_dim_name("lr") == "lr"


def test_a_sweep_without_point_axes_is_one_train_run(client: Any, tmp_path: Path) -> None:
    spec = spec_of({"width": [8, 16]}, task_gflop=1e-9)  # two tasks, one grid point
    assert run_sweep(spec, tmp_path / "s", client=client).counts["finished"] == 2
    ds = open_sweep(tmp_path / "s")
    assert ds.attrs["spectralntk_sweep_dims"] == "" and ds["loss"].dims == ("width", "seed", "step")
    [(point, one)] = list(sweep_points(ds))
    assert point == {}
    ref = reference(spec, {}, tmp_path)
    for name, var in ref.data_vars.items():
        np.testing.assert_array_equal(one[name].values, var.values, err_msg=name)
    assert read_config(one) == read_config(ref)


def test_validate_accepts_the_sweep_dimensions_only_in_front(finished: Any) -> None:
    from spectralntk.errors import RunFileError
    from spectralntk.store.schema import validate

    _, folder, _ = finished
    ds = open_sweep(folder)
    assert validate(ds) is ds
    bad = ds.assign(loss=ds["loss"].transpose("width", "lr", ...))
    with pytest.raises(RunFileError, match=r"'loss'.*after the sweep dimensions"):
        validate(bad)
    undeclared = ds.copy()
    undeclared.attrs["spectralntk_sweep_dims"] = "lr"  # loss_convention not declared
    with pytest.raises(RunFileError, match="the schema requires"):
        validate(undeclared)
