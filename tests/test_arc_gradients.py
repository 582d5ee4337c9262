"""Arc-by-arc outputs and gradients of depth-1 ReLU networks on the circle (issue 15).

Checked against the dense closed form (tests/test_backprop.py checks that one against
autograd and an independent derivation) within the bounds stated in
spectralntk/nn/arc_gradients.py, on random networks of widths 1 to 16 384, on built
networks with short arcs, always- and never-active neurons and arc ends exactly on
training angles, and for determinism (batch, threads, following runs vs locating).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from spectralntk import NetworkConfig  # noqa: E402
from spectralntk.kernels import circle_points, uniform_angles  # noqa: E402
from spectralntk.nn import init_mlp  # noqa: E402
from spectralntk.nn.arc_gradients import (  # noqa: E402
    WIDEN,
    ArcPoints,
    _hidden_rows,
    arc_gradients,
    arc_runs,
)
from spectralntk.nn.backprop import shallow_relu_gradients  # noqa: E402
from spectralntk.nn.training import gradient_descent, step_method  # noqa: E402

EPS = float(np.finfo(np.float64).eps)
METHODS = ("compiled", "scatter", "sort")
NET = NetworkConfig(depth=1, bias_std=0.1, output_bias=True)


def random_subset(n: int, m: int = 720, seed: int = 0, shuffle: bool = True) -> torch.Tensor:
    """n of the m grid angles as points (the seed experiments' random inputs), shuffled."""
    rng = np.random.default_rng(seed)
    gamma = 2 * np.pi * np.sort(rng.choice(m, size=n, replace=False)) / m
    if shuffle:
        gamma = rng.permutation(gamma)
    return torch.as_tensor(circle_points(gamma))


def bounds(net, x, y, scale):  # type: ignore[no-untyped-def]
    """Per-entry error bounds of f and of each gradient (arc_gradients' docstring),
    plus the dense product's own (n + 3)·ε terms, with a factor 4 of headroom."""
    alpha1, beta1 = net.scales(1)
    alpha2, beta2 = net.scales(2)
    a = _hidden_rows(net)  # (S, 3, n)
    w = net.weights[1][:, 0, :].double()  # (S, n)
    n, n_points = w.shape[1], x.shape[0]
    a_norm = a.abs().sum(dim=1)  # ‖A_j‖₁ (S, n)
    f_bound = 4 * (3 * (2 * n + 4)) * EPS * alpha2 * (w.abs() * a_norm).sum(dim=1)  # (S,)
    _, residual, _ = shallow_relu_gradients(net, x, y, scale, need_grad=False)
    g_sum = (2 * scale * residual.abs()).sum(dim=1)  # Σ|g| (S,)
    df = (2 * scale * f_bound)[:, None]  # how an error of f moves g, summed below
    q_bound = 4 * (8 * n_points) * EPS * g_sum + n_points * df[:, 0]  # |ΔQ| (S,)
    out = alpha2 * w.abs()
    grads = [
        (alpha1 * out * q_bound[:, None])[:, :, None].expand(-1, -1, 2),
        (alpha2 * a_norm * q_bound[:, None])[:, None, :],
    ]
    if net.biases[0] is not None:
        grads.append(beta1 * out * q_bound[:, None])
    if net.biases[1] is not None:
        grads.append((beta2 * n_points * df[:, 0])[:, None])
    return f_bound[:, None], grads


def assert_matches_dense(net, x, y, scale, method):  # type: ignore[no-untyped-def]
    points = ArcPoints.of(x)
    assert points is not None
    f1, r1, g1 = shallow_relu_gradients(net, x, y, scale)
    f2, r2, g2 = arc_gradients(net, points, y, scale, method=method)
    f_bound, g_bounds = bounds(net, x, y, scale)
    assert torch.all((f1 - f2).abs() <= f_bound)
    assert torch.all((r1 - r2).abs() <= f_bound)
    assert len(g1) == len(g2)
    for a, b, bound in zip(g1, g2, g_bounds, strict=True):
        assert a.shape == b.shape
        assert torch.all((a - b).abs() <= bound + 1e-300)


def mask_of(start: torch.Tensor, end: torch.Tensor, n: int) -> torch.Tensor:
    """1[m or m + N in [start, end)] as (S, n, N) booleans."""
    m = torch.arange(n)
    inside = (m >= start[..., None]) & (m < end[..., None])
    again = (m + n >= start[..., None]) & (m + n < end[..., None])
    return inside | again


def exact_mask(a: torch.Tensor, points: ArcPoints) -> torch.Tensor:
    """1[(x1·A1 + x2·A2) + c > 0] at the sorted points, (S, n, N)."""
    a0, a1, c = (a[:, i, :, None] for i in range(3))
    return (points.x1 * a0 + points.x2 * a1 + c) > 0


@pytest.mark.parametrize("width", [1, 2, 7, 100, 1000, 16384])
@pytest.mark.parametrize("method", METHODS)
def test_random_networks_match_the_dense_closed_form(width: int, method: str) -> None:
    x = random_subset(256)
    y = torch.as_tensor(np.random.default_rng(width).standard_normal((3, 256)))
    for net_cfg in (NET, NET.replace(output_bias=False), NET.replace(bias_std=0.0)):
        net = init_mlp(net_cfg, width, [0, 5, 11])
        assert_matches_dense(net, x, y, 1 / 256, method)


@settings(max_examples=30)
@given(
    width=st.integers(1, 60),
    points=st.integers(3, 300),
    grid=st.sampled_from([0, 720, 1000]),
    weight_std=st.floats(0.2, 3.0),
    bias_std=st.sampled_from([0.0, 0.1, 1.0, 3.0]),
    bias_init=st.sampled_from(["normal", "zero"]),
    parameterization=st.sampled_from(["ntk", "standard"]),
    seed=st.integers(0, 10_000),
)
def test_any_depth1_relu_network_on_circle_points(  # type: ignore[no-untyped-def]
    width, points, grid, weight_std, bias_std, bias_init, parameterization, seed
) -> None:
    if grid and points > grid:
        points = grid
    x = (
        random_subset(points, grid, seed)
        if grid
        else torch.as_tensor(circle_points(uniform_angles(points)))
    )
    cfg = NetworkConfig(
        depth=1,
        weight_std=weight_std,
        bias_std=bias_std,
        bias_init=bias_init,
        parameterization=parameterization,
        width=width if parameterization == "standard" else None,
    )
    net = init_mlp(cfg, width, [seed, seed + 1])
    y = torch.as_tensor(np.random.default_rng(seed).standard_normal((2, points)))
    for method in METHODS:
        assert_matches_dense(net, x, y, 0.5, method)
        points_ = ArcPoints.of(x)
        assert points_ is not None
        a = _hidden_rows(net)
        start, end = arc_runs(a, points_)
        assert torch.equal(mask_of(start, end, points_.count), exact_mask(a, points_))


def built_network(rows: np.ndarray) -> object:
    """A depth-1 network (ntk, σ_w = 1 so α₁ = 1/√2, σ_b = 1) with A_j = rows[j]."""
    cfg = NetworkConfig(depth=1, weight_std=1.0, bias_std=1.0, output_bias=False)
    net = init_mlp(cfg, rows.shape[0], [0])
    alpha1, beta1 = net.scales(1)
    with torch.no_grad():
        net.weights[0][0] = torch.as_tensor(rows[:, :2] / alpha1)
        net.biases[0][0] = torch.as_tensor(rows[:, 2] / beta1)
    return net


def special_rows(gamma: np.ndarray) -> np.ndarray:
    """Neurons with short arcs, always/never active, zero weights, ends on angles."""
    rng = np.random.default_rng(1)
    rows = []
    for phi in rng.uniform(0, 2 * np.pi, 40):
        rho = rng.uniform(0.1, 3)
        for theta in (1e-9, 1e-4, 0.004, 0.02, np.pi / 2, np.pi - 0.004, np.pi - 1e-9):
            rows.append([rho * np.cos(phi), rho * np.sin(phi), -rho * np.cos(theta)])
        rows.append([rho * np.cos(phi), rho * np.sin(phi), rho * 1.5])  # always active
        rows.append([rho * np.cos(phi), rho * np.sin(phi), -rho * 1.5])  # never active
        rows.append([rho * np.cos(phi), rho * np.sin(phi), rho])  # tangent from inside
        rows.append([rho * np.cos(phi), rho * np.sin(phi), -rho])  # tangent from outside
    rows += [[0, 0, 0.5], [0, 0, -0.5], [0, 0, 0.0]]  # z ≡ c
    # arc ends exactly on the training angle 0, x = (1, 0): z = a + b·0 − a = 0 there
    for a in (0.3, -0.3, 1.0, -2.0):
        for b in (0.7, -0.7, 0.0):
            rows.append([a, b, -a])
    # and arcs whose ends sit on training angles in the pseudo-angle sense
    for g in gamma[::7]:
        rows.append([np.cos(g + np.pi / 2), np.sin(g + np.pi / 2), 0.0])
    return np.asarray(rows, dtype=np.float64)


@pytest.mark.parametrize("method", METHODS)
def test_built_arcs_match_dense_and_the_exact_mask(method: str) -> None:
    for x in (random_subset(256, seed=3, shuffle=False), random_subset(64, seed=4)):
        x = torch.cat([torch.tensor([[1.0, 0.0]]), x[(x[:, 0] != 1.0)]])  # γ = 0 included
        points = ArcPoints.of(x)
        assert points is not None
        gamma = np.arctan2(x[:, 1].numpy(), x[:, 0].numpy())
        rows = special_rows(gamma)
        net = built_network(rows)
        y = torch.as_tensor(np.random.default_rng(2).standard_normal((1, x.shape[0])))
        # Where the dense product's z rounds to the other side of 0 than ours (|z| of a
        # few ulps: the arcs ending next to a training angle), either mask is a valid
        # subgradient; compare with the dense closed form on the other neurons.
        a = _hidden_rows(net)
        x_aug = torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype)], dim=1)
        z_dense = torch.matmul(x_aug, a[0])  # (N, n), as backprop computes it
        z_ours = x[:, :1] * a[0, 0] + x[:, 1:2] * a[0, 1] + a[0, 2]
        differ = (z_dense > 0) != (z_ours > 0)
        assert torch.all(
            z_ours[differ].abs() <= 8 * EPS * a[0].abs().sum(dim=0).expand_as(z_ours)[differ]
        )
        clean = ~differ.any(dim=0)
        assert clean.sum() >= rows.shape[0] - 30
        assert_matches_dense(built_network(rows[clean.numpy()]), x, y, 1.0, method)
        a = _hidden_rows(net)
        start, end = arc_runs(a, points)
        assert torch.equal(mask_of(start, end, points.count), exact_mask(a, points))
        # the compiled kernels find the same runs
        runs = (np.zeros((1, a.shape[2]), np.int64), np.zeros((1, a.shape[2]), np.int64))
        arc_gradients(net, points, y, 1.0, method="compiled", runs=runs)
        mask = mask_of(torch.as_tensor(runs[0]), torch.as_tensor(runs[1]), points.count)
        assert torch.equal(mask, exact_mask(a, points))
        # z = 0 exactly at γ = 0 is inactive (φ'(0) = 0, as torch)
        zero_rows = (a[0, 0] + a[0, 2] == 0) & (a[0, 1].abs() < 1)
        at_zero = int(torch.argmin((points.x1 - 1).abs() + points.x2.abs()))
        assert zero_rows.sum() >= 12
        assert not mask[0, zero_rows, at_zero].any()


def test_following_runs_equals_locating_them_and_seeds_are_independent() -> None:
    x = random_subset(256)
    y = torch.as_tensor(np.sin(3 * np.arctan2(x[:, 1].numpy(), x[:, 0].numpy())))
    batch, alone, fresh = (init_mlp(NET, 3000, s) for s in ([2, 7, 4], [7], [2, 7, 4]))
    points = ArcPoints.of(x)
    assert points is not None
    for net in (batch, alone):
        gradient_descent(net, x, y, lr=1.0, steps=60, loss="mean")  # follows the runs
    for b, a in zip(batch.parameters(), alone.parameters(), strict=True):
        assert torch.equal(b[1], a[0])
    # the same 60 steps, every run located afresh: bit for bit the same
    params = fresh.parameters()
    for _ in range(60):
        _, _, grads = arc_gradients(fresh, points, y.expand(3, -1), 1 / 256)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p.sub_(1.0 * g)
    for b, f in zip(batch.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(b, f)


def test_threads_do_not_change_a_seed() -> None:
    x = random_subset(256)
    y = torch.as_tensor(np.cos(2 * np.arctan2(x[:, 1].numpy(), x[:, 0].numpy())))
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            net = init_mlp(NET, 20000, [0, 1])
            gradient_descent(net, x, y, lr=0.5, steps=5, loss="mean")
            results.append(net.parameters())
    finally:
        torch.set_num_threads(before)
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)


def test_float32_networks_accumulate_in_float64() -> None:
    x32 = random_subset(256).float()
    net32 = init_mlp(NET, 4096, [0], dtype=torch.float32)
    net64 = init_mlp(NET, 4096, [0], dtype=torch.float64)
    with torch.no_grad():
        for p, q in zip(net64.parameters(), net32.parameters(), strict=True):
            p.copy_(q.double())
    y = torch.as_tensor(np.random.default_rng(0).standard_normal((1, 256)))
    points = ArcPoints.of(x32)
    assert points is not None
    f32, _, g32 = arc_gradients(net32, points, y.float(), 1 / 256)
    f64, _, g64 = shallow_relu_gradients(net64, x32.double(), y, 1 / 256)
    dense32 = shallow_relu_gradients(net32, x32, y.float(), 1 / 256)
    eps32 = float(np.finfo(np.float32).eps)
    # f is the float64 answer rounded once; the gradients differ from float64's by
    # the float32 residual they start from (r = f − y rounded to float32)
    assert torch.all((f32.double() - f64).abs() <= eps32 * f64.abs() + 1e-12)
    for a, b, d in zip(g32, g64, dense32[2], strict=True):
        assert a.dtype == torch.float32
        assert (a.double() - b).abs().max() <= 4 * eps32 * b.abs().max()
        # and closer to it than the float32 dense product
        assert (a.double() - b).abs().max() <= (d.double() - b).abs().max()


def test_where_arcs_apply() -> None:
    net = init_mlp(NET, 8, [0])
    on_circle = random_subset(64)
    assert step_method(net, on_circle) == "arcs"
    assert step_method(net, torch.randn(64, 2, dtype=torch.float64)) == "closed_form"
    assert step_method(init_mlp(NET.replace(depth=2), 8, [0]), on_circle) == "layerwise"
    assert step_method(net, on_circle, "linearized") == "linearized"
    crowded = torch.as_tensor(circle_points(np.array([0.0, WIDEN, 1.0, 2.0])))
    assert ArcPoints.of(crowded) is None  # closer than the widening: not exact
    assert step_method(net, crowded) == "closed_form"
    with pytest.raises(ValueError, match="method"):
        gradient_descent(net, torch.randn(8, 2), torch.zeros(8), lr=0.1, steps=1, method="arcs")


def test_a_trajectory_stays_with_the_dense_closed_form() -> None:
    """1 000 steps at lr 0.01 of 2 networks of width 512: within 1e-11 (slow test: 30 000)."""
    trajectories_agree(width=512, steps=1000, tolerance=1e-11)


@pytest.mark.slow
def test_a_30000_step_trajectory_stays_within_1e9_of_the_dense_closed_form() -> None:
    trajectories_agree(width=2048, steps=30_000, tolerance=1e-9)


def trajectories_agree(width: int, steps: int, tolerance: float) -> None:
    x = random_subset(256)
    gamma = np.arctan2(x[:, 1].numpy(), x[:, 0].numpy())
    y = torch.as_tensor(0.9 * np.sin(2 * gamma) + 0.45 * np.sin(11 * gamma + 2.0))
    nets = {
        m: init_mlp(NET.replace(output_bias=False), width, [0, 1]) for m in ("arcs", "closed_form")
    }
    losses = {}
    for method, net in nets.items():
        seen: list[torch.Tensor] = []
        gradient_descent(
            net, x, y, lr=0.01, steps=steps, loss="mean", method=method,
            record_steps=range(0, steps + 1, steps // 10),
            on_record=lambda rec, seen=seen: seen.append(rec.train_output.clone()),
        )  # fmt: skip
        losses[method] = torch.stack(seen)
    assert (losses["arcs"] - losses["closed_form"]).abs().max() <= tolerance
    for a, b in zip(nets["arcs"].parameters(), nets["closed_form"].parameters(), strict=True):
        assert (a - b).abs().max() <= tolerance
