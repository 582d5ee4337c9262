r"""The on-diagonal empirical NTK, one kernel row, and one gradient step on one example.

For the MLP of :mod:`spectralntk.nn.mlp` the gradient of f with respect to the
layer-l parameters is ∂f/∂W^(l) = α_l·δ^(l) h^(l−1)ᵀ and ∂f/∂b^(l) = β_l·δ^(l)
(:mod:`spectralntk.nn.empirical_ntk`), so the diagonal of the empirical NTK needs only
per-point norms (Hanin & Nica 2019, eq. (2.6) in path form):

    K(x, x) = Σ_l ‖δ^(l)(x)‖² · (α_l²‖h^(l−1)(x)‖² + β_l²·[layer l has a bias]),

and one row of the kernel, against an anchor x_a, needs per-point inner products
with the anchor's vectors only:

    K(x_a, x) = Σ_l ⟨δ^(l)(x_a), δ^(l)(x)⟩ · (α_l²⟨h^(l−1)(x_a), h^(l−1)(x)⟩ + β_l²·[bias]).

Both cost one forward and one backward pass on the N points, O(S·N·n²·depth) time
and O(S·N·n·depth) memory, never an N×N Gram or an N×P Jacobian.

:func:`single_example_step` takes one plain gradient step θ ← θ − η·∇θ ½(f(x₀) − y₀)²
on one example, written out layer by layer from the same δ and h (checked against
autograd in the tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from spectralntk.nn.empirical_ntk import _forward
from spectralntk.nn.mlp import MLP

__all__ = ["NTKDiagonal", "layer_gradients", "ntk_diagonal", "single_example_step"]


@dataclass(frozen=True)
class NTKDiagonal:
    """K(x_i, x_i) and K(x_a, x_i) of S networks on N points.

    Attributes
    ----------
    diagonal : Tensor, shape (S, N)
    row : Tensor, shape (S, N)
        Kernel against the anchor point x_a = x[anchor].
    """

    diagonal: Tensor
    row: Tensor


def layer_gradients(net: MLP, x: Tensor) -> Iterator[tuple[int, Tensor, Tensor]]:
    """(l, δ^(l), h^(l−1)) for l = L, …, 1 (backward order).

    Parameters
    ----------
    net : MLP
        S networks.
    x : Tensor, shape (N, n0)

    Yields
    ------
    layer : int
    delta : Tensor, shape (S, N, n_l)
        ∂f/∂z^(l); ones of shape (S, N, 1) at the output layer.
    inputs : Tensor, shape (S, N, n_{l−1}) or (N, n0) for l = 1
        The layer's input h^(l−1).
    """
    inputs, slopes = _forward(net, x)
    count = len(net.seeds)
    delta = x.new_ones((count, x.shape[0], 1))
    for layer in range(net.layers, 0, -1):
        yield layer, delta, inputs[layer - 1]
        if layer > 1:
            alpha, _ = net.scales(layer)
            w = net.weights[layer - 1]  # (S, n_l, n_{l−1})
            delta = slopes[layer - 2] * (alpha * torch.matmul(delta, w))


def _bias_term(net: MLP, layer: int) -> float:
    _, beta = net.scales(layer)
    return beta**2 if net.biases[layer - 1] is not None else 0.0


def ntk_diagonal(net: MLP, x: Tensor, anchor: int = 0) -> NTKDiagonal:
    """Diagonal K(x_i, x_i) and row K(x_anchor, x_i) of every network's empirical NTK.

    Parameters
    ----------
    net : MLP
        S networks.
    x : Tensor, shape (N, n0)
    anchor : int
        Index of the row's anchor point in ``x``.

    Returns
    -------
    NTKDiagonal
        Tensors of shape (S, N) in the network's dtype and device.
    """
    count, points = len(net.seeds), x.shape[0]
    diagonal = x.new_zeros((count, points))
    row = x.new_zeros((count, points))
    for layer, delta, h in layer_gradients(net, x):
        alpha, _ = net.scales(layer)
        bias = _bias_term(net, layer)
        h = h.expand(count, *h.shape[-2:])
        h_sq = (h * h).sum(-1)
        h_row = (h * h[:, anchor : anchor + 1, :]).sum(-1)
        d_sq = (delta * delta).sum(-1)
        d_row = (delta * delta[:, anchor : anchor + 1, :]).sum(-1)
        diagonal += d_sq * (alpha**2 * h_sq + bias)
        row += d_row * (alpha**2 * h_row + bias)
    return NTKDiagonal(diagonal=diagonal, row=row)


def single_example_step(
    net: MLP, x0: Tensor, lr: float | Tensor, target: float = 0.0
) -> tuple[MLP, Tensor]:
    """One gradient step on the loss ½(f(x₀) − y₀)² of a single example, every seed.

    θ ← θ − η·(f(x₀) − y₀)·∇θ f(x₀): the plain (stochastic) gradient step of
    Hanin & Nica (2019, §3, "one step of SGD on a batch of size one").

    Parameters
    ----------
    net : MLP
        S networks; not modified.
    x0 : Tensor, shape (1, n0)
    lr : float or Tensor of shape (S,)
        η (per seed if a tensor).
    target : float
        y₀.

    Returns
    -------
    MLP
        New networks (fresh parameter tensors).
    Tensor, shape (S,)
        The residual f(x₀) − y₀ before the step.
    """
    count = len(net.seeds)
    residual = net(x0)[:, 0] - target  # (S,)
    eta = torch.as_tensor(lr, dtype=residual.dtype, device=residual.device)
    coef = (eta * residual).reshape(count, 1, 1)
    new_w: list[Tensor] = [torch.empty(0)] * net.layers
    new_b: list[Tensor | None] = [None] * net.layers
    for layer, delta, h in layer_gradients(net, x0):
        alpha, beta = net.scales(layer)
        h = h.expand(count, *h.shape[-2:])
        # ∂f/∂W^(l) = α δ hᵀ: (S, n_l, 1) x (S, 1, n_{l−1}); N = 1
        grad_w = alpha * delta.transpose(1, 2) * h
        new_w[layer - 1] = net.weights[layer - 1] - coef * grad_w
        b = net.biases[layer - 1]
        if b is not None:
            new_b[layer - 1] = b - coef[:, :, 0] * (beta * delta[:, 0, :])
    params = [*new_w, *(b for b in new_b if b is not None)]
    return net.with_parameters(params), residual
