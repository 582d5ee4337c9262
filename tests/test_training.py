"""Training: exact gradient descent, kernel-regime theory, resume, faults, store."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_store import _KNOWN_CHECKER_FALSE_POSITIVES, _checker_results  # noqa: E402

from spectralntk import NetworkConfig, ParameterError, load, save  # noqa: E402
from spectralntk.kernels import circle_points, uniform_angles  # noqa: E402
from spectralntk.nn import empirical_kernel, init_mlp  # noqa: E402
from spectralntk.nn.backprop import loss_gradients  # noqa: E402
from spectralntk.nn.training import gradient_descent  # noqa: E402
from spectralntk.runs.training import TrainingConfig, train  # noqa: E402
from spectralntk.settings import merge_settings, parse_override, training_config  # noqa: E402
from spectralntk.targets import make_target  # noqa: E402

NET = NetworkConfig(depth=1, output_bias=False)


def small_config(**changes):  # type: ignore[no-untyped-def]
    base = dict(
        network=NET,
        widths=(16, 64),
        seeds=(0, 1),
        target=make_target("fourier-mixture", frequencies=[1, 3], amplitudes=[0.8, 0.4]),
        inputs="grid",
        points=16,
        eval_points=48,
        lr=0.5,
        steps=40,
        record_every=5,
        checkpoints=(20,),
        loss="mean",
    )
    base.update(changes)
    return TrainingConfig(**base)


def test_one_step_is_one_hand_step_and_seeds_are_independent() -> None:
    x = torch.as_tensor(circle_points(uniform_angles(12)))
    y = torch.sin(3 * torch.as_tensor(uniform_angles(12)))
    batch, alone, hand = (init_mlp(NET, 24, s) for s in ([3, 9], [9], [9]))
    gradient_descent(batch, x, y, lr=0.3, steps=7, loss="half_sum")
    gradient_descent(alone, x, y, lr=0.3, steps=7, loss="half_sum")
    for b, a in zip(batch.parameters(), alone.parameters(), strict=True):
        assert torch.equal(b[1], a[0])  # batching changes nothing, bit for bit
    params = [p.clone().requires_grad_(True) for p in hand.parameters()]
    loss = 0.5 * ((hand.with_parameters(params)(x)[0] - y) ** 2).sum()
    grads = torch.autograd.grad(loss, params)
    _, _, ours = loss_gradients(hand, x, y[None], 0.5)
    one = init_mlp(NET, 24, [9])
    gradient_descent(one, x, y, lr=0.3, steps=1, loss="half_sum", method="closed_form")
    for p, q, g, h in zip(one.parameters(), params, grads, ours, strict=True):
        assert torch.equal(p, q.detach() - 0.3 * h)  # θ − η∇L, nothing else
        # the depth-1 ReLU gradient is a closed form: autograd's to rounding
        # (bounded in tests/test_backprop.py; here |∇L| < 1, N = 12, n = 24)
        assert torch.allclose(h, g, rtol=0, atol=1e-13)
    deeper = NET.replace(depth=2)
    two, three = init_mlp(deeper, 24, [9]), init_mlp(deeper, 24, [9])
    params = [p.clone().requires_grad_(True) for p in two.parameters()]
    loss = 0.5 * ((two.with_parameters(params)(x)[0] - y) ** 2).sum()
    grads = torch.autograd.grad(loss, params)
    gradient_descent(three, x, y, lr=0.3, steps=1, loss="half_sum")
    for p, q, g in zip(three.parameters(), params, grads, strict=True):
        assert torch.equal(p, q.detach() - 0.3 * g)  # layerwise: autograd bit for bit


def test_linearized_model_follows_its_own_empirical_ntk() -> None:
    # GD on the Taylor model at θ₀ in parameter space: r_t = (I − cηK₀)^t r₀ exactly.
    x = torch.as_tensor(circle_points(uniform_angles(10)))
    y = torch.cos(2 * torch.as_tensor(uniform_angles(10)))
    net = init_mlp(NetworkConfig(depth=2), 32, [0, 1])
    k0 = empirical_kernel(net, x).ntk
    seen = {}
    gradient_descent(
        net,
        x,
        y,
        lr=0.4,
        steps=25,
        loss="mean",
        model="linearized",
        record_steps=[0, 25],
        on_record=lambda r: seen.__setitem__(r.step, r.train_output.clone()),
    )
    c = 2 / 10
    for s in range(2):
        r = seen[0][s] - y
        for _ in range(25):
            r = r - c * 0.4 * k0[s] @ r
        torch.testing.assert_close(seen[25][s] - y, r, rtol=0, atol=1e-12)


@pytest.fixture(scope="module")
def run():  # type: ignore[no-untyped-def]
    return train(small_config())


def test_prediction_at_step_zero_is_the_initial_residual(run) -> None:  # type: ignore[no-untyped-def]
    a = run.arrays
    np.testing.assert_allclose(
        a["predicted_residual_cos"][:, :, 0], a["residual_cos"][:, :, 0], atol=1e-12
    )
    np.testing.assert_allclose(
        a["flow_residual_sin"][:, :, 0], a["residual_sin"][:, :, 0], atol=1e-12
    )
    # the infinite-width predictor starts from the mean output 0
    np.testing.assert_array_equal(a["ntk_prediction"][:, 0], 0.0)


def test_linearized_network_prediction_equals_linearized_training() -> None:
    # The same network trained as its Taylor model lands exactly where the
    # function-space formula with its own K₀ says (two independent computations).
    lin = train(small_config(model="linearized", widths=(32,)))
    a = lin.arrays
    np.testing.assert_allclose(a["eval_prediction"], a["linearized_prediction"], atol=1e-10)


def test_wide_network_follows_the_discrete_prediction_within_its_drift() -> None:
    # r_t − r̂_t = Σ_s (I − cηK)^(t−1−s) cη (K − K_s) r_s, so with ‖I − cηK‖ ≤ 1 (η below
    # the stability limit) and ‖r_s‖ ≤ ‖r_0‖:  ‖r_t − r̂_t‖ ≤ cηt·max_s‖K_s − K‖·‖r_0‖,
    # where K is the analytic NTK and K_s the network's kernel at step s. We bound
    # ‖K_s − K‖ ≤ ‖K_s − K_0‖ + ‖K_0 − K‖ with the drift measured at checkpoints every
    # 10 steps (and a factor 2 for the steps between checkpoints).
    from spectralntk import kernel_matrix

    cfg = small_config(widths=(2048,), steps=40, checkpoints=tuple(range(0, 41, 10)), seeds=(0,))
    result = train(cfg)
    a = result.arrays
    x = circle_points(uniform_angles(16))
    k_inf = kernel_matrix(NET, x).ntk
    k0 = empirical_kernel(init_mlp(NET, 2048, [0]), torch.as_tensor(x)).ntk[0].numpy()
    norm_k = np.linalg.norm(k_inf)
    drift = np.nanmax(a["kernel_drift"][0, 0]) * np.linalg.norm(k0)
    c, eta, t = 2 / 16, cfg.lr, cfg.steps
    assert cfg.lr < a["stability_limit"][0]
    bound = (
        c
        * eta
        * t
        * (2 * drift + np.linalg.norm(k0 - k_inf))
        * np.linalg.norm(a["train_residual"][0, 0, 0])
    )
    # Parseval on the 16-point grid: ‖r‖² = N(a0² + ½Σ(a_k² + b_k²) + a_{N/2}²).
    da = a["residual_cos"][0, 0, -1] - a["predicted_residual_cos"][0, 0, -1]
    db = a["residual_sin"][0, 0, -1] - a["predicted_residual_sin"][0, 0, -1]
    weights = np.array([1.0] + [0.5] * 7 + [1.0])
    gap = np.sqrt(16 * np.sum(weights * (da**2 + db**2)))
    assert gap <= bound
    assert gap < 0.05 * np.linalg.norm(a["train_residual"][0, 0, 0])  # and it is small
    assert norm_k > 0


def test_resume_gives_the_same_result_as_an_uninterrupted_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = small_config()
    full = train(cfg)
    state = tmp_path / "run.nc.state.pt"
    polls = iter(range(10**6))
    stopped = train(cfg, state_path=state, should_stop=lambda: next(polls) == 55)
    assert stopped is None and state.exists()
    resumed = train(cfg, state_path=state, resume=True)
    # the state outlives train(): it goes once the run file is saved (issue 13)
    assert resumed is not None and state.exists()
    for name, value in full.arrays.items():
        np.testing.assert_array_equal(resumed.arrays[name], value, err_msg=name)


def test_resume_refuses_another_configuration(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from spectralntk.errors import RunFileError

    state = tmp_path / "s.pt"
    polls = iter(range(10**6))
    train(small_config(), state_path=state, should_stop=lambda: next(polls) == 3)
    with pytest.raises(RunFileError, match="another configuration"):
        train(small_config(lr=0.25), state_path=state, resume=True)
    with pytest.raises(RunFileError, match="no saved state"):
        train(small_config(), state_path=tmp_path / "none.pt", resume=True)


def test_divergence_is_flagged_and_the_rest_continue() -> None:
    # Far above the stability limit every seed blows up; each is flagged with its step.
    result = train(small_config(lr=400.0, steps=30, widths=(16,)))
    steps = result.arrays["diverged_step"]
    assert np.all(steps >= 0) and np.all(steps <= 30)
    ds = result.to_dataset()
    assert (
        ds["diverged"].dtype == np.int8
        and ds["diverged"].attrs["flag_meanings"] == "finite diverged"
    )
    assert np.all(ds["diverged"].values == 1)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_store_round_trip_and_cf(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ds = run.to_dataset(history="test")
    back = load(save(ds, tmp_path / "train.nc"))
    assert dict(back.sizes)["step"] == len(run.steps)
    for name in ("loss", "residual_cos", "eval_residual_sin", "kernel_drift", "ntk_prediction"):
        np.testing.assert_array_equal(back[name].values, ds[name].values)
    assert back.attrs["loss_convention"] == "mean" and back.attrs["depth"] == 1
    assert (
        TrainingConfig.from_dict(__import__("json").loads(back.attrs["spectralntk_config"]))
        == run.config
    )
    failed = {m for w, _, m in _checker_results(tmp_path / "train.nc") if w >= 2}
    assert not failed - _KNOWN_CHECKER_FALSE_POSITIVES, failed


@pytest.mark.parametrize(
    "changes,param",
    [
        ({"lr": 0.0}, "lr"),
        ({"lr": -1.0}, "lr"),
        ({"steps": 0}, "steps"),
        ({"inputs": "sphere"}, "inputs"),
        ({"loss": "l1"}, "loss"),
        ({"target": make_target("sine", frequency=8)}, "frequency"),  # Nyquist of 16 points
        ({"max_frequency": 9}, "max_frequency"),
        ({"points": 1000, "inputs": "random"}, "points"),
        ({"widths": ()}, "width"),
    ],
)
def test_bad_configuration(changes: dict, param: str) -> None:
    with pytest.raises(ParameterError) as err:
        small_config(**changes)
    assert err.value.parameter == param and "\n" not in str(err.value)


def test_settings_layers_and_overrides() -> None:
    key, value = parse_override("width=[8, 16]")
    assert (key, value) == ("width", [8, 16])
    assert parse_override("loss=mean") == ("loss", "mean")
    cfg, device, _ = training_config(
        merge_settings({"lr": 0.1, "steps": 5}, {"lr": 0.2}, dict([parse_override("seeds=2")]))
    )
    assert cfg.lr == 0.2 and cfg.steps == 5 and cfg.seeds == (0, 1) and device == "cpu"
    with pytest.raises(ParameterError, match=r"'set' parameter.*Got 'lrr'"):
        parse_override("lrr=1")
    with pytest.raises(ParameterError, match="'target' parameter"):
        training_config(merge_settings({"target": "square"}))


def test_config_dict_round_trip() -> None:
    cfg = small_config()
    assert TrainingConfig.from_dict(cfg.to_dict()) == cfg
    assert dataclasses.replace(cfg, lr=0.1).lr == 0.1


def test_per_frequency_kernel_spectrum_at_checkpoints(run) -> None:  # type: ignore[no-untyped-def]
    # On the 16-point grid the quotients are those of the orthonormal Fourier basis.
    from spectralntk.spectral.gram import gram_spectrum

    net = init_mlp(NET, 16, [0, 1])
    x = torch.as_tensor(circle_points(uniform_angles(16)))
    k0 = empirical_kernel(net, x).ntk.numpy()
    expected = gram_spectrum(k0).rayleigh[:, : run.config.k_max + 1]
    np.testing.assert_allclose(run.arrays["empirical_ntk_rayleigh"][0, :, 0], expected, rtol=1e-10)


def test_seed_batches_under_a_memory_budget_give_the_same_run() -> None:
    # A budget that fits one seed per batch trains the seeds one after another: the
    # trajectories and their records are bit-identical to the single batch (12 seeds:
    # enough for a BLAS matrix product to change its summation order with the batch);
    # the theory's batched linear algebra agrees to rounding.
    cfg = small_config(widths=(32,), seeds=tuple(range(12)), points=15, steps=10, checkpoints=(5,))
    together = train(cfg)
    apart = train(cfg, memory_budget=1)
    exact = ("loss", "train_residual", "residual_cos", "residual_sin", "eval_prediction")
    for name in (*exact, "eval_residual_cos", "eval_residual_sin", "diverged_step"):
        np.testing.assert_array_equal(apart.arrays[name], together.arrays[name], err_msg=name)
    for name, value in together.arrays.items():
        np.testing.assert_allclose(apart.arrays[name], value, rtol=1e-12, atol=1e-15, err_msg=name)


@pytest.mark.parametrize("points", [16, 15, 720])
def test_mode_projections_do_not_depend_on_the_batch_or_the_threads(points: int) -> None:
    from spectralntk.dynamics.modes import mode_projector
    from spectralntk.runs.recorders import Projections, _project

    gamma = np.sort(np.random.default_rng(points).uniform(0, 2 * np.pi, points))
    modes = mode_projector(gamma, min(64, points // 4), method="least_squares")
    proj = Projections.build(modes, modes, np.zeros(points), np.zeros(points), "cpu")
    values = torch.as_tensor(np.random.default_rng(1).normal(size=(12, points)))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _project(values, proj.train_modes)
        torch.set_num_threads(2)
        two = _project(values, proj.train_modes)
    finally:
        torch.set_num_threads(threads)
    alone = _project(values[7:8].clone(), proj.train_modes)
    for a, b, c in zip(one, two, alone, strict=True):
        assert torch.equal(a, b) and torch.equal(a[7], c[0])
    a, b = modes(values.numpy())
    np.testing.assert_allclose(one[0].numpy(), a, rtol=0, atol=1e-13)
    np.testing.assert_allclose(one[1].numpy(), b, rtol=0, atol=1e-13)


def test_empirical_ntk_profile_at_checkpoints(run) -> None:  # type: ignore[no-untyped-def]
    # Step 0: the row x0 = (1, 0) of the initial networks' NTK on the evaluation grid
    # (Jacot et al. 2018, Fig. 1), computed here on the 48-point grid directly.
    net = init_mlp(NET, 64, [0, 1])
    grid = torch.as_tensor(circle_points(uniform_angles(48)))
    k0 = empirical_kernel(net, grid).ntk.numpy()
    profile = run.arrays["empirical_ntk_profile"]  # (W, S, C, M)
    # (arc by arc for this depth-1 ReLU net: to rounding of the kernel's scale)
    scale = np.abs(k0[:, 0]).max()
    np.testing.assert_allclose(profile[1, :, 0], k0[:, 0], rtol=0, atol=1e-13 * scale)
    # training moves the kernel: the last checkpoint differs, by the drift's order
    change = np.abs(profile[1, :, -1] - profile[1, :, 0]).max()
    assert 0 < change < np.abs(k0[:, 0]).max()


def test_progress_is_weighted_by_estimated_cost_and_names_its_phases() -> None:
    from spectralntk.runs.cost import unit_cost

    cfg = small_config(widths=(8, 512), seeds=(0, 1), steps=30, checkpoints=(10,))
    seen: list[tuple[int, int, str]] = []
    train(cfg, on_progress=lambda d, t, text: seen.append((d, t, text)))
    done = [d for d, _, _ in seen]
    assert all(t == 1000 for _, t, _ in seen)
    assert done == sorted(done) and done[-1] == 1000
    # the wide unit starts where the cost model says the narrow one ends
    evaluations = len(cfg.record_steps())  # eval_every = T/200 = 1: every recorded step
    costs = [
        unit_cost(
            "arcs", seeds=2, width=w, depth=1, points=16, eval_points=48, theory=i == 0
        ).total(30, evaluations, len(cfg.checkpoints))
        for i, w in enumerate(cfg.widths)
    ]
    first_wide = next(d for d, _, text in seen if text.startswith("width 512"))
    assert abs(first_wide - 1000 * costs[0] / sum(costs)) <= 2
    texts = {text.split(": ", 1)[1].split(" at step")[0] for _, _, text in seen}
    assert {"analytic NTK theory", "initial empirical NTK", "empirical NTK"} <= texts
    assert any(text == "width 512: step 30 of 30" for _, _, text in seen)


def test_the_run_records_its_step_method() -> None:
    from spectralntk.nn.training import STEP_METHODS

    names = list(STEP_METHODS)
    for changes, method in (
        ({}, "arcs"),
        ({"inputs": "gaussian"}, "closed_form"),
        ({"network": NET.replace(depth=2)}, "layerwise"),
        ({"model": "linearized"}, "linearized"),
    ):
        run = train(small_config(widths=(8,), seeds=(0,), steps=4, checkpoints=(), **changes))
        assert run is not None
        assert [names[i] for i in run.arrays["step_method"]] == [method]
        ds = run.to_dataset()
        assert ds["step_method"].attrs["flag_meanings"].split()[names.index(method)] == method


def _golden_config(**changes):  # type: ignore[no-untyped-def]
    """The configurations whose arrays tests/data/train_digests.json records."""
    net = NetworkConfig(depth=1, bias_std=0.1, output_bias=False)
    base = dict(
        network=net,
        widths=(16, 64),
        seeds=(0, 1, 2),
        target=make_target("fourier-mixture", frequencies=[1, 3], amplitudes=[0.8, 0.4]),
        inputs="random",
        points=32,
        eval_points=96,
        lr=0.5,
        steps=60,
        record_every=5,
        checkpoints=(20,),
        loss="mean",
        label_noise=0.02,
    )
    base.update(changes)
    return TrainingConfig(**base)


def test_unchanged_step_methods_store_the_same_bits_as_before_the_rewrite() -> None:
    """train() as parts (issue 15) against the monolithic train() of commit 7d52db6.

    The digests were written by that commit on this kind of machine (the fingerprint in
    the file); BLAS and libm results depend on the CPU and the builds, so elsewhere the
    test skips (regenerate the file by running that commit's train() on these configs).
    """
    import hashlib
    import json
    import platform
    from pathlib import Path

    golden = json.loads((Path(__file__).parent / "data" / "train_digests.json").read_text())
    try:
        flags = Path("/proc/cpuinfo").read_text().split("flags")[1].split("\n")[0].split()
    except (OSError, IndexError):
        flags = []
    here = {
        "torch": torch.__version__,
        "numpy": np.__version__,
        "machine": platform.machine(),
        "avx512f": "avx512f" in flags,
        "avx2": "avx2" in flags,
    }
    if here != golden["fingerprint"]:
        pytest.skip(f"digests recorded on {golden['fingerprint']}, this is {here}")
    net2 = NetworkConfig(depth=2, bias_std=0.1, output_bias=False)
    cases = {
        "closed": (_golden_config(inputs="gaussian"), {}),
        "layer": (_golden_config(network=net2, inputs="grid"), {}),
        "lin": (_golden_config(model="linearized", inputs="grid", points=16), {}),
        "budget": (_golden_config(network=net2), {"memory_budget": 200000}),
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, (cfg, options) in cases.items():
            run = train(cfg, **options)
            assert run is not None
            arrays = {**run.arrays, "steps": run.steps}
            arrays.pop("step_method")  # new in the rewrite
            arrays.pop("linearized_residual_cos")  # added later (issue 12)
            arrays.pop("linearized_residual_sin")
            digests = {
                k: hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()[:16]
                for k, v in sorted(arrays.items())
            }
            assert digests == golden["cases"][name], name
    finally:
        torch.set_num_threads(threads)


def test_linearized_residual_modes_equal_an_explicit_linearized_training() -> None:
    """(I − cηK̂₀)^t r₀ per mode, from one eigendecomposition of each seed's K̂₀, equals
    the modes of the network trained as its own Taylor model at θ₀ (parameter space), and
    of r ← r − cηK̂₀r iterated by hand."""
    from spectralntk.dynamics.modes import mode_projector

    cfg = small_config(model="linearized", widths=(16, 32))
    a = train(cfg).arrays
    # the linearized network is trained in parameter space: its measured modes
    np.testing.assert_allclose(a["linearized_residual_cos"], a["residual_cos"], atol=1e-10)
    np.testing.assert_allclose(a["linearized_residual_sin"], a["residual_sin"], atol=1e-10)
    # and by hand, from K̂₀ of the same initial networks
    x = torch.as_tensor(circle_points(uniform_angles(cfg.points)))
    y = cfg.target(uniform_angles(cfg.points))
    modes = mode_projector(uniform_angles(cfg.points), cfg.k_max, method="fft")
    steps = cfg.record_steps()
    c = 2 / cfg.points
    for j, width in enumerate(cfg.widths):
        net = init_mlp(cfg.network, width, list(cfg.seeds))
        k0 = empirical_kernel(net, x).ntk.double().numpy()
        f0 = net(x).double().detach().numpy()
        for s in range(len(cfg.seeds)):
            r, by_hand = f0[s] - y, []
            for t in range(cfg.steps + 1):
                if t in steps:
                    by_hand.append(r.copy())
                r = r - c * cfg.lr * k0[s] @ r
            ca, sa = modes(np.stack(by_hand))
            np.testing.assert_allclose(a["linearized_residual_cos"][j, s], ca, atol=1e-10)
            np.testing.assert_allclose(a["linearized_residual_sin"][j, s], sa, atol=1e-10)
    # a trained (not linearized) network moves away from its linearization
    b = train(small_config(widths=(16,), lr=2.0)).arrays
    assert np.nanmax(np.abs(b["linearized_residual_cos"] - b["residual_cos"])) > 1e-4
    np.testing.assert_allclose(
        b["linearized_residual_cos"][:, :, 0], b["residual_cos"][:, :, 0], atol=1e-12
    )
