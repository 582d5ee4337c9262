r"""One-hidden-layer ReLU networks on the unit circle, evaluated arc by arc.

On a point of the circle, x = (cos γ, sin γ), hidden neuron j of a depth-1 network has
the pre-activation z_j(γ) = x̃·A_j = ρ_j cos(γ − φ_j) + c_j, with x̃ = (x, 1),
A_j = (α₁W_j1, α₁W_j2, β₁b_j), ρ_j = |(A_j1, A_j2)|, φ_j their angle and c_j = β₁b_j.
It is positive on one open arc |γ − φ_j| < θ_j, θ_j = arccos(−c_j/ρ_j) (the whole circle
when c_j > ρ_j, nowhere when c_j ≤ −ρ_j), and there ReLU(z_j) = x̃·A_j is linear in x̃.
So the network is

    f(γ) = α₂ x̃(γ)·S(γ) + β₂b₂,      S(γ) = Σ_{j : |γ − φ_j| < θ_j} w_j A_j ∈ R³,

with S piecewise constant, changing only where an arc begins or ends. On M sorted
angles, S is the cumulative sum of ±w_j A_j placed at each arc's first and past-last
index, found by bucketing the angles (:func:`sorted_positions`): O(n + M) work per
network instead of the O(nM) of the forward pass. For the evaluation grid of a training
run (720 points) at width 1000 that is about 3× cheaper than the forward pass
(benchmarks/bench_training.py prints what tracking costs).

Accuracy. S(γ) is a running sum of at most 2n + 2 terms, so f is within about
(2n + 4)·ε·α₂Σ_j |w_j||A_j| of its exact value, the same order as the direct sum's
(n + 3)·ε·α₂Σ_j |w_j||z_j| bound (tested against it). Arc membership comes from angles
accurate to a few ε (√ε for arcs a few ε wide); a point misplaced across an arc's end
has |z_j| of that order, so its term w_j·ReLU(z_j) is rounding-sized either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from spectralntk.config import Activation
from spectralntk.nn.mlp import MLP

__all__ = ["CirclePoints", "arc_outputs", "on_unit_circle", "sorted_positions", "uses_arcs"]

#: :func:`sorted_positions` uses 2M buckets and scans at most this many points per
#: bucket; a set of angles more crowded than that goes to ``torch.searchsorted``.
MAX_BUCKET_SCAN = 4


def on_unit_circle(x: Tensor) -> bool:
    """Whether every row of ``x`` (M, 2) lies on the unit circle to 8 ulps."""
    if x.ndim != 2 or x.shape[1] != 2 or x.shape[0] == 0:
        return False
    radius2 = (x * x).sum(dim=1)
    return bool(((radius2 - 1.0).abs() <= 8 * torch.finfo(x.dtype).eps).all())


def uses_arcs(net: MLP, x: Tensor) -> bool:
    """Whether :func:`arc_outputs` applies: depth 1, ReLU, CPU, points on the circle.

    Off the CPU the forward pass is used instead: its scatter of arc ends would add
    in a nondeterministic order there, and a resumed run must repeat itself exactly.
    """
    return (
        net.layers == 2
        and Activation(net.config.activation) is Activation.RELU
        and x.device.type == "cpu"
        and on_unit_circle(x)
    )


def _bucket_table(gamma: Tensor) -> tuple[Tensor, int] | None:
    """(first index of each of 2M buckets, M + 1 entries more; the most in a bucket)."""
    m = gamma.shape[0]
    counts = torch.bincount(_buckets(gamma, m), minlength=2 * m)
    most = int(counts.max())
    if most > MAX_BUCKET_SCAN:
        return None
    first = torch.zeros(2 * m + 1, dtype=torch.long, device=gamma.device)
    torch.cumsum(counts, 0, out=first[1:])
    return first, most


def _buckets(values: Tensor, m: int) -> Tensor:
    return torch.floor(values * (m / math.pi)).clamp_(0, 2 * m - 1).long()


def sorted_positions(
    gamma: Tensor,
    queries: Tensor,
    *,
    right: bool = False,
    table: tuple[Tensor, int] | None = None,
) -> Tensor:
    """``torch.searchsorted(gamma, queries, right=right)`` for angles, by buckets.

    The number of angles below each query (at or below with ``right``). A binary
    search of random queries mispredicts about every other branch; here each query
    finds its bucket of width 2π/2M by one multiplication and compares with the few
    angles in it, which is exact: multiplication by the same factor and floor are
    monotone, so an angle in a lower bucket is below the query and one in a higher
    bucket above it.

    Parameters
    ----------
    gamma : Tensor, shape (M,)
        Sorted angles in [0, 2π).
    queries : Tensor, any shape
        Any real values.
    right : bool
    table : optional
        ``_bucket_table(gamma)``, when it is already known.

    Returns
    -------
    Tensor of int64, shape of ``queries``
    """
    m = gamma.shape[0]
    table = _bucket_table(gamma) if table is None else table
    if table is None:
        return torch.searchsorted(gamma, queries.contiguous(), right=right)
    first, most = table
    b = _buckets(queries, m)
    position, stop = first[b], first[b + 1]
    found = position.clone()
    for offset in range(most):
        index = position + offset
        inside = index < stop
        value = gamma[index.clamp(max=m - 1)]
        below = value <= queries if right else value < queries
        found += inside & below
    return found


@dataclass(frozen=True)
class CirclePoints:
    """Points of the unit circle prepared once for repeated :func:`arc_outputs` calls.

    Attributes
    ----------
    points : Tensor, shape (M, 2)
        The points, in the caller's order.
    gamma : Tensor, shape (M,)
        Their angles in [0, 2π), sorted.
    order : Tensor of int64, shape (M,)
        ``points[order]`` are in that order.
    features : Tensor, shape (3, M)
        x̃ = (x₁, x₂, 1) at the sorted angles.
    table : tuple or None
        The bucket table of :func:`sorted_positions`.
    """

    points: Tensor
    gamma: Tensor
    order: Tensor
    features: Tensor
    table: tuple[Tensor, int] | None

    @classmethod
    def of(cls, x: Tensor) -> CirclePoints:
        """Prepare the points ``x`` (M, 2), which must lie on the unit circle."""
        if not on_unit_circle(x):
            raise ValueError(
                "x: points (M, 2) on the unit circle (to 8 ulps) are required; got shape "
                f"{tuple(x.shape)}"
            )
        two_pi = 2.0 * math.pi
        gamma = torch.atan2(x[:, 1], x[:, 0]).remainder_(two_pi)
        gamma = torch.where(gamma < two_pi, gamma, 0.0)  # a remainder rounded up to 2π
        gamma, order = torch.sort(gamma)
        features = torch.cat([x[order].T, x.new_ones(1, x.shape[0])])
        return cls(x, gamma, order, features, _bucket_table(gamma))


def arc_outputs(net: MLP, x: Tensor | CirclePoints) -> Tensor:
    """f(x) of every seed of a depth-1 ReLU network on points of the unit circle.

    Parameters
    ----------
    net : MLP
        S networks of depth 1 with ReLU activation and input dimension 2.
    x : Tensor of shape (M, 2), or CirclePoints
        Points (cos γ, sin γ), in any order (prepared with :meth:`CirclePoints.of`
        when evaluated repeatedly).

    Returns
    -------
    Tensor, shape (S, M)
        Equal to ``net(x)`` to rounding (module docstring), in the order of ``x``.

    Raises
    ------
    ValueError
        If ``net`` or ``x`` is not of that kind (:func:`uses_arcs`).
    """
    points = x.points if isinstance(x, CirclePoints) else x
    if not (net.layers == 2 and Activation(net.config.activation) is Activation.RELU) or (
        points.device.type != "cpu"
    ):
        raise ValueError(
            "net, x: arc evaluation needs a depth-1 ReLU network on the CPU and points "
            f"(M, 2) on the unit circle; got depth {net.layers - 1}, "
            f"{Activation(net.config.activation).value} on {points.device.type}"
        )
    circle = x if isinstance(x, CirclePoints) else CirclePoints.of(x)
    alpha1, beta1 = net.scales(1)
    alpha2, beta2 = net.scales(2)
    w1, w2 = net.weights  # (S, n, 2), (S, 1, n)
    b1, b2 = net.biases
    count, m = w1.shape[0], points.shape[0]
    with torch.no_grad():
        # (S, 3, n) rows A_·1, A_·2, c, each contiguous (strided rows halve the speed)
        a = torch.empty(count, 3, w1.shape[1], dtype=w1.dtype)
        torch.mul(w1.transpose(1, 2), alpha1, out=a[:, :2])
        if b1 is not None:
            torch.mul(b1, beta1, out=a[:, 2])
        else:
            a[:, 2] = 0.0
        a0, a1, c = a.unbind(dim=1)
        v = a * w2  # w_j A_j (S, 3, n)
        rho = torch.sqrt(a0 * a0 + a1 * a1)
        phi = torch.atan2(a1, a0)
        # cos θ = −c/ρ: θ = π on the whole circle (c ≥ ρ, also ρ = 0 < c), θ = 0 nowhere
        # (c ≤ −ρ, also ρ = c = 0 where z ≡ 0)
        theta = torch.arccos(torch.nan_to_num(-c / rho, nan=1.0).clamp_(-1.0, 1.0))
        two_pi = 2.0 * math.pi
        gamma, order, table = circle.gamma, circle.order, circle.table
        lo = (phi - theta).remainder_(two_pi)
        hi = lo + 2.0 * theta
        # The arc (lo, hi): sorted indices [start, end), and where it passes 2π also
        # [0, wrap). Every neuron adds w_j A_j to ``opens`` where a run of indices
        # begins and to ``closes`` just past its end. A point at an arc's end (z = 0)
        # may fall either side: its term is zero to rounding.
        queries = torch.stack([lo, hi, hi - two_pi])
        start, end, wrap = sorted_positions(gamma, queries, table=table)
        end = torch.maximum(end, start)
        wrap = torch.where(theta == math.pi, start, wrap)  # all of it, whatever rounding
        v_wrapped = v * (hi >= two_pi)[:, None, :]
        opens, closes = (torch.zeros(count, 3, m + 1, dtype=v.dtype) for _ in range(2))
        for out, index, term in ((opens, start, v), (closes, end, v), (closes, wrap, v_wrapped)):
            out.scatter_add_(2, index[:, None, :].expand(-1, 3, -1), term)
        opens[:, :, 0] += v_wrapped.sum(dim=2)
        partial = opens[..., :m].sub_(closes[..., :m]).cumsum_(dim=2)  # S(γ) (S, 3, M)
        f_sorted = alpha2 * (partial * circle.features).sum(dim=1)
        f = torch.empty_like(f_sorted)
        f[:, order] = f_sorted
        if b2 is not None:
            f = f + beta2 * b2
    return f
