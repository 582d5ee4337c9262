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
index: O(n log M + M) work per network instead of the O(nM) of the forward pass.
This makes the evaluation grid of a training run (720 points, every recorded step)
nearly free next to a training step (benchmarks/bench_training.py).

Accuracy. S(γ) is a running sum of at most 2n + 2 terms, so f is within about
(2n + 4)·ε·α₂Σ_j |w_j||A_j| of its exact value, the same order as the direct sum's
(n + 3)·ε·α₂Σ_j |w_j||z_j| bound (tested against it). Arc membership comes from angles
accurate to a few ε (√ε for arcs a few ε wide); a point misplaced across an arc's end
has |z_j| of that order, so its term w_j·ReLU(z_j) is rounding-sized either way.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from spectralntk.config import Activation
from spectralntk.nn.mlp import MLP

__all__ = ["arc_outputs", "on_unit_circle", "uses_arcs"]


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


def arc_outputs(net: MLP, x: Tensor) -> Tensor:
    """f(x) of every seed of a depth-1 ReLU network on points of the unit circle.

    Parameters
    ----------
    net : MLP
        S networks of depth 1 with ReLU activation and input dimension 2.
    x : Tensor, shape (M, 2)
        Points (cos γ, sin γ), in any order.

    Returns
    -------
    Tensor, shape (S, M)
        Equal to ``net(x)`` to rounding (module docstring).

    Raises
    ------
    ValueError
        If ``net`` or ``x`` is not of that kind (:func:`uses_arcs`).
    """
    if not uses_arcs(net, x):
        raise ValueError(
            "net, x: arc evaluation needs a depth-1 ReLU network on the CPU and points "
            f"(M, 2) on the unit circle; got depth {net.layers - 1}, "
            f"{Activation(net.config.activation).value}, x of shape {tuple(x.shape)} "
            f"on {x.device.type}"
        )
    alpha1, beta1 = net.scales(1)
    alpha2, beta2 = net.scales(2)
    w1, w2 = net.weights  # (S, n, 2), (S, 1, n)
    b1, b2 = net.biases
    count, m = w1.shape[0], x.shape[0]
    with torch.no_grad():
        a = alpha1 * w1
        c = beta1 * b1 if b1 is not None else torch.zeros_like(a[..., 0])  # (S, n)
        v = torch.cat([a, c[..., None]], dim=-1) * w2[:, 0, :, None]  # w_j A_j (S, n, 3)
        rho = torch.hypot(a[..., 0], a[..., 1])
        phi = torch.atan2(a[..., 1], a[..., 0])
        ratio = -c / rho  # ±inf, or nan for 0/0 (never active: z ≡ 0)
        always = ratio < -1.0
        never = ~(ratio < 1.0)  # also nan
        theta = torch.arccos(ratio.clamp(-1.0, 1.0))
        two_pi = 2.0 * math.pi
        gamma = torch.atan2(x[:, 1], x[:, 0]).remainder_(two_pi)
        gamma = torch.where(gamma < two_pi, gamma, 0.0)  # a remainder rounded up to 2π
        gamma, order = torch.sort(gamma)
        lo = (phi - theta).remainder(two_pi)
        hi = lo + 2.0 * theta
        # The open arc (lo, hi): sorted indices [start, end), and where it passes 2π
        # also [0, wrap). Every neuron adds +w_j A_j where a run of indices begins and
        # −w_j A_j just past its end.
        start = torch.searchsorted(gamma, lo, right=True)
        end = torch.maximum(torch.searchsorted(gamma, hi), start)
        wrap = torch.searchsorted(gamma, hi - two_pi)
        wrapped = (hi > two_pi) & ~always
        start = torch.where(always, 0, start)
        end = torch.where(always, m, end)
        v = torch.where(never[..., None], 0.0, v)
        v_wrapped = torch.where(wrapped[..., None], v, 0.0)
        ends = torch.zeros(count, m + 1, 3, dtype=v.dtype)
        for index, term in ((start, v), (end, -v), (wrap, -v_wrapped)):
            ends.scatter_add_(1, index[..., None].expand(-1, -1, 3), term)
        ends[:, 0] += v_wrapped.sum(dim=1)
        partial = ends[:, :m].cumsum_(dim=1)  # S(γ) at the sorted angles (S, M, 3)
        xs = x[order]
        f_sorted = alpha2 * (
            partial[..., 0] * xs[:, 0] + partial[..., 1] * xs[:, 1] + partial[..., 2]
        )
        f = torch.empty_like(f_sorted)
        f[:, order] = f_sorted
        if b2 is not None:
            f = f + beta2 * b2
    return f
