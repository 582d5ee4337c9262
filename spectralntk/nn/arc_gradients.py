r"""Outputs and gradients of one-hidden-layer ReLU networks on the circle in O(n + N).

The training step of :mod:`spectralntk.nn.backprop` for a depth-1 ReLU network forms
the (N × n) hidden layer: O(nN) per seed and step. When every training point lies on
the unit circle, x_m = (cos γ_m, sin γ_m), the arc structure of
:mod:`spectralntk.nn.relu_arcs` gives the same numbers in O(n + N).

The arcs. Write x̃ = (x, 1), A_j = (α₁W_j1, α₁W_j2, β₁b_j) and
z_mj = x̃_m·A_j = ρ_j cos(γ_m − φ_j) + c_j. Neuron j is active (z > 0) on one open
arc of the circle, |γ − φ_j| < θ_j, θ_j = arccos(−c_j/ρ_j). With the N training
angles sorted once per run and doubled (γ and γ + 2π, positions 0..2N − 1), the
active points of neuron j are one run of positions [s_j, e_j), 0 ≤ s_j ≤ N,
s_j ≤ e_j ≤ s_j + N; point m is active iff m or m + N is in the run.

What the closed form needs, with the mask M_mj = 1[z_mj > 0] and g_m = ∂L/∂f_m = 2c·r_m
(backprop's module docstring), is then

    f_m  = α₂ x̃_m·S_m + β₂b₂,   S_m = Σ_j M_mj w_j A_j          (prefix sum of a difference array),
    Q_j  = Σ_m g_m M_mj x̃_m = P[e_j] − P[s_j],  P[p] = Σ_{q<p} g_q x̃_q  (prefix sums, doubled),
    ∂L/∂w_j = α₂ A_j·Q_j,   ∂L/∂W_j = α₁α₂ w_j Q_j[:2],   ∂L/∂b_j = β₁α₂ w_j Q_j[2],
    ∂L/∂b₂ = β₂ Σ_m g_m,

exactly the dense closed form's f and Q with the sums over points and neurons
regrouped: O(n) to place ±w_jA_j at the run ends, O(N) for the two prefix sums, O(n)
to read Q.

Locating the runs (O(1) per neuron). The zeros of z_j give the arc's ends: the points
(−c_j(A_j1, A_j2) ± √(ρ_j² − c_j²)(∓A_j2, ±A_j1))/ρ_j², whose *pseudo-angles*
(:func:`pseudo_angles`: a monotone stand-in for the angle, a division instead of atan2)
are widened by ``WIDEN`` = 1e-6 on each side (far more than their rounding error,
about 3e-8 at worst, where the arc is √ε wide) and looked up in a table of buckets
that each hold at most one training point, so the runs found contain the true runs
plus at most one extra point at each end. That point is then tested by the sign of
z_mj = (x_m1·A_j1 + x_m2·A_j2) + c_j itself and dropped if z ≤ 0. Neurons active on
every point are located around the minimum of z, those active nowhere around its
maximum. The mask is therefore exactly 1[z > 0] at every point, including points
where z is exactly zero (an arc end on a training angle: φ'(0) = 0, as torch),
provided that consecutive training points are more than h + 2·WIDEN apart in
pseudo-angle (:meth:`ArcPoints.of` refuses points closer than that; the 720-point
grid and any subset of it are 0.0087 rad apart). Where the dense product's z rounds
to the other side of zero than this z (|z| within a few ulps of 0 but not 0), the two
masks differ for that one (point, neuron) pair; both are valid subgradients.

From one step to the next the runs move little: the compiled kernels
(:mod:`spectralntk.nn.arc_kernels`) start from last step's runs and move each end
while the sign test says so (at most ``MAX_WALK`` points; otherwise, and for runs that
became empty or full, the neuron is located afresh). Both routes end at the one run on
which z > 0, so following and locating give the same numbers, bit for bit (tested): a
resumed run, which starts by locating, repeats an uninterrupted one.

Accuracy. Everything here is accumulated in float64, also for float32 networks (the
gradient is rounded to the network's dtype at the end). A prefix-sum difference
P[e] − P[s] carries an absolute error of at most about 2·(2N)·ε·Σ_m |g_m|·‖x̃_m‖_∞
over *all* points (rounding of the running sums), not only the arc's: with
Σ_m |g_m| = 2c·Σ|r_m| this is 8N·c·ε·Σ_m|r_m|. The running sum S_m has at most
2n + 2 terms: |Ŝ_m − S_m| ≲ (2n + 2)·ε·Σ_j |w_j|·‖A_j‖_∞, so f is within about
α₂·3·(2n + 2)·ε·Σ_j|w_j|‖A_j‖_∞ of its exact value — the order of the dense product's
own bound (n + 3)·ε·α₂Σ_j|w_j||z_mj|. tests/test_arc_gradients.py checks both bounds
against the dense closed form, widths 1 to 16 384.

Determinism. Each seed's numbers come from its own rows: the scatter of the run ends
adds in neuron order on the CPU, one row at a time, and every other operation is
elementwise, a per-row prefix sum or a per-row gather, so a seed's gradient does not
depend on the other seeds of its batch or on the number of threads (tested). Off the
CPU, ``scatter_add`` uses atomics whose order varies; there the run ends are sorted
(a stable sort) and summed by a prefix sum instead (``method="sort"``), which is
deterministic on every device. On the CPU the compiled kernels do the same sums one
seed at a time, in index order, on one thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from spectralntk.config import Activation
from spectralntk.nn.mlp import MLP
from spectralntk.nn.relu_arcs import on_unit_circle

__all__ = [
    "WIDEN",
    "ArcPoints",
    "arc_gradients",
    "arc_runs",
    "arc_training_applies",
    "pseudo_angles",
]

#: Half-width (pseudo-angle units, about radians) added to each approximate arc
#: before the exact sign test.
WIDEN = 1e-6
#: The bucket table has at most this many buckets per turn.
MAX_BUCKETS = 1 << 20
METHODS = ("compiled", "scatter", "sort")


def pseudo_angles(x: Tensor, y: Tensor) -> Tensor:
    """Pseudo-angles in [0, 4) of the directions (x, y), elementwise (0 for (0, 0)).

    p = |y|/(|x| + |y|) within each quadrant, shifted by the quadrant: a monotone
    function of the angle in [0, 2π), dp/dγ ∈ [1/2, 1], antipodes exactly 2 apart;
    the same arithmetic as :func:`spectralntk.nn.arc_kernels.pseudo_angle`.
    """
    total = x.abs() + y.abs()
    t = torch.where(total > 0, y.abs() / torch.where(total > 0, total, 1.0), 0.0)
    p = torch.where(y >= 0, torch.where(x >= 0, t, 2.0 - t), torch.where(x < 0, 2.0 + t, 4.0 - t))
    return torch.where(p >= 4.0, p - 4.0, p)


@dataclass(frozen=True)
class ArcPoints:
    """Training points on the circle, prepared once per run for :func:`arc_gradients`.

    Attributes
    ----------
    count : int
        N, the number of points.
    order : Tensor of int64, shape (N,)
        ``x[order]`` is sorted by angle.
    pseudo : Tensor of float64, shape (N,)
        Their pseudo-angles (:func:`pseudo_angles`), sorted.
    x1, x2 : Tensor of float64, shape (N,)
        The sorted points' coordinates (the caller's values, in float64).
    buckets : int
        B, buckets of width 4/B on [0, 4), each holding at most one pseudo-angle.
    first : Tensor of int64, shape (B + 1,)
        first[b]: the number of pseudo-angles in buckets below b (first[B] = N).
    """

    count: int
    order: Tensor
    pseudo: Tensor
    x1: Tensor
    x2: Tensor
    buckets: int
    first: Tensor

    @classmethod
    def of(cls, x: Tensor) -> ArcPoints | None:
        """Prepare the points ``x`` (N, 2); None where arc training does not apply.

        It applies when every point lies on the unit circle (to 8 ulps of its dtype)
        and consecutive pseudo-angles are more than 4·WIDEN apart, so that a table
        of at most ``MAX_BUCKETS`` buckets of width h with h + 2·WIDEN below the
        smallest gap exists (module docstring).
        """
        if not on_unit_circle(x):
            return None
        x64 = x.detach().to(device="cpu", dtype=torch.float64)
        pseudo, order = torch.sort(pseudo_angles(x64[:, 0], x64[:, 1]), stable=True)
        n = pseudo.shape[0]
        gap = float(torch.diff(pseudo, append=pseudo[:1] + 4.0).min()) if n > 1 else 4.0
        buckets = 2
        while buckets <= MAX_BUCKETS and (4.0 / buckets + 2 * WIDEN >= gap or buckets < n):
            buckets *= 2
        if buckets > MAX_BUCKETS:
            return None
        index = _bucket_of(pseudo, buckets)
        counts = torch.bincount(index, minlength=buckets)
        if int(counts.max()) > 1:
            return None
        first = torch.zeros(buckets + 1, dtype=torch.long)
        torch.cumsum(counts, 0, out=first[1:])
        device = x.device
        return cls(
            n,
            order.to(device),
            pseudo.to(device),
            x64[order, 0].contiguous().to(device),
            x64[order, 1].contiguous().to(device),
            buckets,
            first.to(device),
        )


def _bucket_of(q: Tensor, buckets: int) -> Tensor:
    """Bucket index in [0, B − 1] of pseudo-angles in [0, 4) (clamped outside)."""
    return torch.floor(q * (buckets / 4.0)).clamp_(0, buckets - 1).long()


def arc_training_applies(net: MLP, points: ArcPoints | None) -> bool:
    """Whether :func:`arc_gradients` computes ``net``'s step: depth 1, ReLU, circle points."""
    return (
        points is not None
        and net.layers == 2
        and Activation(net.config.activation) is Activation.RELU
        and net.config.input_dim == 2
    )


def _hidden_rows(net: MLP) -> Tensor:
    """A = (α₁W_·1, α₁W_·2, β₁b) as rows (S, 3, n), float64."""
    alpha1, beta1 = net.scales(1)
    w1, b1 = net.weights[0], net.biases[0]
    count, width = w1.shape[0], w1.shape[1]
    a = torch.empty(count, 3, width, dtype=torch.float64, device=w1.device)
    torch.mul(w1.transpose(1, 2), alpha1, out=a[:, :2])
    if b1 is not None:
        torch.mul(b1, beta1, out=a[:, 2])
    else:
        a[:, 2] = 0.0
    return a


def _at_or_after(q: Tensor, points: ArcPoints) -> Tensor:
    """The number of sorted pseudo-angles below each q in [0, 4) (exact)."""
    first = points.first
    b = _bucket_of(q, points.buckets)
    i = first[b]
    inside = i < first[b + 1]
    below = points.pseudo[i.clamp(max=points.count - 1)] < q
    return i + (inside & below).long()


def arc_runs(a: Tensor, points: ArcPoints) -> tuple[Tensor, Tensor]:
    """The runs [s, e) of doubled positions where each neuron is active (vectorized).

    The same algorithm as :func:`spectralntk.nn.arc_kernels.runs_and_outputs`, in
    tensor operations (any device).

    Parameters
    ----------
    a : Tensor of float64, shape (S, 3, n)
        Rows A_·1, A_·2, c (:func:`_hidden_rows`).
    points : ArcPoints

    Returns
    -------
    start, end : Tensor of int64, shape (S, n)
        0 ≤ start < N and start < end ≤ start + N for an active neuron, start = end = 0
        otherwise; point m is active for neuron j iff m or m + N lies in
        [start_j, end_j), which holds iff (x_m1·A_j1 + x_m2·A_j2) + c_j > 0.
    """
    n = points.count
    a0, a1, c = a.unbind(dim=1)
    rho2 = a0 * a0 + a1 * a1
    degenerate = rho2 == 0.0
    full = (c * c >= rho2) & (c > 0) & ~degenerate
    empty = (c * c >= rho2) & (c <= 0) & ~degenerate
    s = torch.sqrt((rho2 - c * c).clamp_(min=0.0))
    ps = pseudo_angles(-c * a0 + s * a1, -c * a1 - s * a0)
    pe = pseudo_angles(-c * a0 - s * a1, -c * a1 + s * a0)
    d = pe - ps
    d = torch.where(d < 0, d + 4.0, d)
    d = torch.where((c < 0) & (d > 2.0), d - 4.0, d)
    d = torch.where((c > 0) & (d < 2.0), d + 4.0, d)
    lo = ps - WIDEN
    hi = ps + d + WIDEN
    full = full | (~degenerate & ~empty & (hi - lo >= 4.0))
    partial = ~(degenerate | full | empty)
    # partial runs: bucket ends of the widened arc
    shift_lo = torch.where(lo < 0, -n, 0)
    lo = torch.where(lo < 0, lo + 4.0, lo)
    wraps = torch.floor(hi / 4.0).clamp_(min=0)
    hi = hi - 4.0 * wraps
    first = points.first
    start = first[_bucket_of(lo, points.buckets)] + shift_lo
    end = first[_bucket_of(hi, points.buckets) + 1] + n * wraps.long()
    end = torch.minimum(end, start + n)
    # full runs around the minimum of z, empty ones around its maximum
    gap = _at_or_after(pseudo_angles(-a0, -a1), points)
    top = _at_or_after(pseudo_angles(a0, a1), points)
    start = torch.where(full, gap, torch.where(empty, top - 1, start))
    end = torch.where(full, gap + n, torch.where(empty, top + 1, end))
    start = torch.where(degenerate, 0, start)
    end = torch.where(degenerate, torch.where(c > 0, n, 0), end)
    # the exact test at both ends
    check = ~degenerate
    first_m = start.remainder(n)
    z_first = points.x1[first_m] * a0 + points.x2[first_m] * a1 + c
    start = start + (check & (start < end) & (z_first <= 0)).long()
    last_m = (end - 1).remainder(n)
    z_last = points.x1[last_m] * a0 + points.x2[last_m] * a1 + c
    end = end - (check & (start < end) & (z_last <= 0)).long()
    active = start < end
    shift = torch.where(start < 0, n, torch.where(start >= n, -n, 0))
    start = torch.where(active, start + shift, 0)
    end = torch.where(active, end + shift, 0)
    del partial
    return start, end


def _scatter_runs(
    values: Tensor, start: Tensor, end: Tensor, length: int, accumulate: str
) -> Tensor:
    """Σ_j values_j·1[start_j ≤ p < end_j] for p = 0..length − 1: (S, R, length).

    ``values`` (S, R, n); start, end (S, n) with end ≤ length.
    """
    count, rows, _ = values.shape
    if accumulate == "scatter":
        opens = values.new_zeros(count, rows, length + 1)
        closes = values.new_zeros(count, rows, length + 1)
        opens.scatter_add_(2, start[:, None, :].expand(-1, rows, -1), values)
        closes.scatter_add_(2, end[:, None, :].expand(-1, rows, -1), values)
        return opens[..., :length].sub_(closes[..., :length]).cumsum_(dim=2)
    # Sorted events and one prefix sum: no atomics (deterministic on every device).
    positions = torch.cat([start, end], dim=1)  # (S, 2n)
    weights = torch.cat([values, -values], dim=2)  # (S, R, 2n)
    positions, perm = torch.sort(positions, dim=1, stable=True)
    running = weights.gather(2, perm[:, None, :].expand(-1, rows, -1)).cumsum_(dim=2)
    grid = torch.arange(length, device=values.device).expand(count, -1).contiguous()
    upto = torch.searchsorted(positions, grid, right=True)  # events at positions ≤ p
    padded = torch.cat([values.new_zeros(count, rows, 1), running], dim=2)
    return padded.gather(2, upto[:, None, :].expand(-1, rows, -1))


def arc_gradients(
    net: MLP,
    points: ArcPoints,
    y: Tensor,
    scale: float,
    need_grad: bool = True,
    *,
    method: str | None = None,
    runs: tuple[Any, Any] | None = None,
) -> tuple[Tensor, Tensor, list[Tensor]]:
    """:func:`backprop.loss_gradients` of a depth-1 ReLU network on circle points, O(n + N).

    Parameters
    ----------
    net : MLP
        S networks of depth 1, ReLU, input dimension 2.
    points : ArcPoints
        The N training points (:meth:`ArcPoints.of`).
    y : Tensor, shape (S, N)
        Targets, in the caller's point order.
    scale : float
        c of the loss L = c·Σ r².
    need_grad : bool
        False: only f and r.
    method : {"compiled", "scatter", "sort"}, optional
        ``compiled``: the Numba kernels of :mod:`spectralntk.nn.arc_kernels` (CPU);
        ``scatter`` and ``sort``: tensor operations, the run ends summed by
        ``scatter_add`` or by a stable sort and a prefix sum (module docstring).
        Default ``compiled`` on the CPU, ``sort`` elsewhere.
    runs : (starts, ends), optional
        ``compiled`` only: int64 arrays (S, n) with last step's runs, updated in place
        (zeros the first time). Following the runs from step to step instead of
        locating them afresh is faster and gives the same numbers, bit for bit.

    Returns
    -------
    f, residual : Tensor, shape (S, N), in the caller's order and net's dtype
    grads : list of Tensor
        Shaped like ``net.parameters()``, in that order (module docstring for the
        formulas and their accuracy).
    """
    if not arc_training_applies(net, points):
        raise ValueError(
            "net: arc gradients need a depth-1 ReLU network with 2 inputs; got depth "
            f"{net.layers - 1}, {Activation(net.config.activation).value}, "
            f"{net.config.input_dim} inputs"
        )
    device = net.weights[0].device
    mode = method or ("compiled" if device.type == "cpu" else "sort")
    if mode not in METHODS:
        raise ValueError(f"method: one of {METHODS}; got {mode!r}")
    if mode == "compiled":
        return _compiled_gradients(net, points, y, scale, need_grad, runs)
    return _tensor_gradients(net, points, y, scale, need_grad, mode)


def _outputs(f64: Tensor, net: MLP, y: Tensor, scale: float) -> tuple[Tensor, Tensor, Tensor]:
    """f (the output bias added, in net's dtype), r = f − y and g = 2c·r in float64."""
    _, beta2 = net.scales(2)
    b2 = net.biases[1]
    if b2 is not None:
        f64 = f64 + beta2 * b2.to(torch.float64)
    f = f64.to(net.weights[1].dtype)
    residual = f - y
    return f, residual, scale * (2.0 * residual.to(torch.float64))


def _numpy64(t: Tensor) -> Any:
    return t.detach().to(torch.float64).contiguous().numpy()


def _compiled_gradients(
    net: MLP,
    points: ArcPoints,
    y: Tensor,
    scale: float,
    need_grad: bool,
    runs: tuple[Any, Any] | None,
) -> tuple[Tensor, Tensor, list[Tensor]]:
    from spectralntk.nn import arc_kernels

    alpha1, beta1 = net.scales(1)
    alpha2, beta2 = net.scales(2)
    w1, w2 = net.weights
    b1, b2 = net.biases
    dtype = w2.dtype
    count, width = w1.shape[0], w1.shape[1]
    n = points.count
    w1n, w2n = _numpy64(w1), _numpy64(w2[:, 0, :])
    b1n = _numpy64(b1) if b1 is not None else np.zeros((count, width))
    pseudo, first = points.pseudo.numpy(), points.first.numpy()
    x1, x2, order = points.x1.numpy(), points.x2.numpy(), points.order.numpy()
    if runs is None:
        runs = (np.zeros((count, width), dtype=np.int64), np.zeros((count, width), dtype=np.int64))
    starts, ends = runs
    f64 = np.empty((count, n))
    with torch.no_grad():
        arc_kernels.runs_and_outputs(
            w1n, b1n, w2n, alpha1, beta1, alpha2, pseudo, first, points.buckets, WIDEN,
            x1, x2, order, starts, ends, f64,
        )  # fmt: skip
        f, residual, g = _outputs(torch.from_numpy(f64), net, y, scale)
        if not need_grad:
            return f, residual, []
        g = g.contiguous()
        grad_w1 = np.empty((count, width, 2))
        grad_w2 = np.empty((count, width))
        grad_b1 = np.empty((count, width))
        arc_kernels.run_gradients(
            g.numpy(), w1n, b1n, w2n, alpha1, beta1, alpha2, x1, x2, order, starts, ends,
            grad_w1, grad_w2, grad_b1,
        )  # fmt: skip
        grads = [
            torch.from_numpy(grad_w1).to(dtype),
            torch.from_numpy(grad_w2).to(dtype)[:, None, :],
        ]
        if b1 is not None:
            grads.append(torch.from_numpy(grad_b1).to(dtype))
        if b2 is not None:
            grads.append((beta2 * g.sum(dim=1, keepdim=True)).to(dtype))
    return f, residual, grads


def _tensor_gradients(
    net: MLP, points: ArcPoints, y: Tensor, scale: float, need_grad: bool, mode: str
) -> tuple[Tensor, Tensor, list[Tensor]]:
    alpha1, beta1 = net.scales(1)
    alpha2, beta2 = net.scales(2)
    w2 = net.weights[1]  # (S, 1, n)
    b1, b2 = net.biases
    dtype = w2.dtype
    n_points = points.count
    features = torch.stack([points.x1, points.x2, torch.ones_like(points.x1)])  # (3, N)
    with torch.no_grad():
        a = _hidden_rows(net)  # (S, 3, n) float64
        out = alpha2 * w2.to(torch.float64)  # α₂ w_j (S, 1, n)
        start, end = arc_runs(a, points)
        runs = _scatter_runs(a * out, start, end, 2 * n_points, mode)  # α₂ Σ w_j A_j
        s_sorted = runs[..., :n_points] + runs[..., n_points:]  # fold the doubling
        f_sorted = (s_sorted * features).sum(dim=1)  # (S, N)
        f64 = torch.empty_like(f_sorted)
        f64[:, points.order] = f_sorted
        f, residual, g = _outputs(f64, net, y, scale)  # g (S, N) in the caller's order
        if not need_grad:
            return f, residual, []
        weighted = g[:, points.order][:, None, :] * features  # (S, 3, N) sorted
        prefix = weighted.new_zeros(weighted.shape[0], 3, 2 * n_points + 1)
        torch.cumsum(torch.cat([weighted, weighted], dim=2), dim=2, out=prefix[..., 1:])
        q = prefix.gather(2, end[:, None, :].expand(-1, 3, -1)).sub_(
            prefix.gather(2, start[:, None, :].expand(-1, 3, -1))
        )  # Q_j = Σ_m g_m M_mj x̃_m (S, 3, n)
        grad_w2 = alpha2 * (q * a).sum(dim=1, keepdim=True)  # (S, 1, n)
        grads = [(alpha1 * (out * q[:, :2])).transpose(1, 2).to(dtype), grad_w2.to(dtype)]
        if b1 is not None:
            grads.append((beta1 * (out[:, 0] * q[:, 2])).to(dtype))
        if b2 is not None:
            grads.append((beta2 * g.sum(dim=1, keepdim=True)).to(dtype))
    return f, residual, grads
