r"""The empirical NTK of one-hidden-layer ReLU networks on the circle, arc by arc.

For a depth-1 network f = α₂ Σ_j w_j φ(x̃·A_j) + β₂b₂ (notation of
:mod:`spectralntk.nn.arc_gradients`), the gradient of f at x has the entries
∂f/∂w_j = α₂ M_j(x) x̃·A_j, ∂f/∂W_j = α₁α₂ w_j M_j(x) x, ∂f/∂b_j = β₁α₂ w_j M_j(x) and
∂f/∂b₂ = β₂, so the empirical NTK Θ̂(x, x') = ⟨∇_θ f(x), ∇_θ f(x')⟩ is

    Θ̂(x, x') = x̃ᵀ [Σ_j M_j(x) M_j(x') B_j] x̃' + β₂²,
    B_j = α₂² (A_j A_jᵀ + w_j² diag(α₁², α₁², β₁²))

(β₁ = 0 without hidden bias, β₂ = 0 without output bias). Neuron j adds the constant
3 × 3 matrix B_j on the rectangle (its run of active points among the x) × (its run
among the x'): a 2-D difference array and 2-D prefix sums give all of Θ̂ on A × B
points in O(n + A·B) per seed instead of the O(n·A·B) of the layerwise Gram
(:func:`spectralntk.nn.empirical_ntk.empirical_kernel`). The masks are exactly
1[x̃·A_j > 0] (arc_gradients' runs); the prefix sums add an absolute error of about
(A + B)·ε·Σ_j ‖B_j‖ (tests/test_arc_ntk.py compares with the layerwise Gram).

Used by training runs for the empirical NTK at step 0 and at checkpoints
(:mod:`spectralntk.runs.recorders`), where the layerwise Gram of a width-10 000 network
on 256 points took more time than the 500 steps between two snapshots of kernel-drift.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from spectralntk.nn.arc_gradients import WIDEN, ArcPoints, arc_training_applies
from spectralntk.nn.mlp import MLP

__all__ = ["arc_ntk", "arc_ntk_applies"]


def arc_ntk_applies(net: MLP, *points: ArcPoints | None) -> bool:
    """Whether :func:`arc_ntk` computes ``net``'s kernel on these points (CPU only)."""
    return net.weights[0].device.type == "cpu" and all(arc_training_applies(net, p) for p in points)


def _runs(
    net: MLP, points: ArcPoints, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    from spectralntk.nn import arc_kernels

    alpha1, beta1 = net.scales(1)
    alpha2, _ = net.scales(2)
    count, width = w1.shape[0], w1.shape[1]
    starts = np.zeros((count, width), dtype=np.int64)
    ends = np.zeros((count, width), dtype=np.int64)
    f = np.empty((count, points.count))
    arc_kernels.runs_and_outputs(
        w1, b1, w2, alpha1, beta1, alpha2, points.pseudo.numpy(), points.first.numpy(),
        points.buckets, WIDEN, points.x1.numpy(), points.x2.numpy(), points.order.numpy(),
        starts, ends, f,
    )  # fmt: skip
    return starts, ends


def arc_ntk(net: MLP, points_a: ArcPoints, points_b: ArcPoints | None = None) -> Tensor:
    """Θ̂(x_a, x_b) of every seed, shape (S, A, B), float64, in the callers' orders.

    Parameters
    ----------
    net : MLP
        S depth-1 ReLU networks with 2 inputs, on the CPU.
    points_a, points_b : ArcPoints
        The points (:meth:`ArcPoints.of`); ``points_b`` defaults to ``points_a``.

    Raises
    ------
    ValueError
        If the networks or points are not of that kind (:func:`arc_ntk_applies`).
    """
    from spectralntk.nn import arc_kernels

    points_b = points_a if points_b is None else points_b
    if not arc_ntk_applies(net, points_a, points_b):
        raise ValueError(
            "net: the arc NTK needs depth-1 ReLU networks with 2 inputs on the CPU and "
            "points on the unit circle"
        )
    alpha1, beta1 = net.scales(1)
    alpha2, beta2 = net.scales(2)
    w1t, w2t = net.weights
    b1t, b2t = net.biases
    count, width = w1t.shape[0], w1t.shape[1]
    w1 = w1t.detach().to(torch.float64).contiguous().numpy()
    w2 = w2t.detach()[:, 0, :].to(torch.float64).contiguous().numpy()
    b1 = (
        b1t.detach().to(torch.float64).contiguous().numpy()
        if b1t is not None
        else np.zeros((count, width))
    )
    runs_a = _runs(net, points_a, w1, b1, w2)
    runs_b = runs_a if points_b is points_a else _runs(net, points_b, w1, b1, w2)
    out = np.empty((count, points_a.count, points_b.count))
    arc_kernels.run_kernel(
        w1, b1, w2, alpha1, beta1, alpha2,
        beta1 * beta1 if b1t is not None else 0.0,
        beta2 * beta2 if b2t is not None else 0.0,
        points_a.x1.numpy(), points_a.x2.numpy(), points_a.order.numpy(), runs_a[0], runs_a[1],
        points_b.x1.numpy(), points_b.x2.numpy(), points_b.order.numpy(), runs_b[0], runs_b[1],
        out,
    )  # fmt: skip
    if points_b is points_a:  # the prefix sums run rows first: symmetrize exactly
        out = 0.5 * (out + out.transpose(0, 2, 1))
    return torch.from_numpy(out)
