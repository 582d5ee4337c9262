r"""Outputs and gradients of the squared loss L = c·Σ r² of seed-batched MLPs, by hand.

Gradient descent (:mod:`spectralntk.nn.training`) needs, per step, f on the training
points, r = f − y and ∂L/∂θ for every seed. Two ways to compute them, chosen by
:func:`loss_gradients`:

- :func:`layerwise_gradients`, any architecture: backpropagation without an autograd
  graph, op for op what autograd computes for :meth:`MLP.__call__` (the same kernels in
  the same order, hence bit-identical gradients; tests/test_backprop.py checks it).
- :func:`shallow_relu_gradients`, depth 1 (one hidden layer), ReLU, few inputs: the
  closed form below, which makes five passes over the (N, n) hidden layer instead of
  about fifteen. At width 1000 a step is memory-bound, and this makes it about three times
  faster than the layerwise pass (benchmarks/bench_training.py).

The closed form. One hidden layer, z = α₁ W x + β₁ b₁, f = α₂ w·φ(z) + β₂ b₂. Append 1
to each input, x̃ = (x, 1) ∈ R^k (k = n₀ + 1; k = n₀ when the hidden layer has no bias),
and fold the scales into A = [α₁W, β₁b₁] ∈ R^{n×k}, so that z_nj = x̃_n·A_j. ReLU is
positively homogeneous: φ(z) = M∘z with the mask M_nj = 1[z_nj > 0] (φ'(0) = 0, as
torch). Hence, with g_n = ∂L/∂f_n = 2c·r_n,

    f_n      = α₂ Σ_j w_j φ(z_nj) + β₂b₂,
    ∂L/∂w_j  = α₂ Σ_n g_n M_nj z_nj = α₂ Σ_i A_ji Q_ij,      Q = (g∘x̃)ᵀ M    (k × n),
    ∂L/∂W_ji = α₁α₂ w_j Q_ij,   ∂L/∂b₁_j = β₁α₂ w_j Q_kj,   ∂L/∂b₂ = β₂ Σ_n g_n,

because ∂L/∂z_nj = α₂ g_n w_j M_nj. One (N × n) array is formed: one product writes z,
φ turns it into h in place, a row-vector product reads f off it, an in-place
comparison turns it into M and a (k × N)·(N × n) product reads Q. The values equal
autograd's to rounding (a few ulps of the largest term; tested), not bit for bit:
the sums run in another order.

Every seed goes through the same computation alone and in a batch (all products are
per seed, the temporaries are fresh), so seed s's trajectory does not depend on the
other seeds, bit for bit (tested).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from spectralntk.config import Activation
from spectralntk.nn.mlp import MLP

__all__ = [
    "SHALLOW_MAX_INPUTS",
    "activation_backward",
    "layerwise_gradients",
    "loss_gradients",
    "network_outputs",
    "shallow_relu_gradients",
    "uses_shallow_relu",
]

#: The closed form is used up to this many inputs n₀. It adds two (N × n × (n₀ + 1))
#: products and saves about a dozen (N × n) elementwise passes, a gain while n₀ + 1 is
#: small next to those passes; on the circle n₀ = 2.
SHALLOW_MAX_INPUTS = 8


def uses_shallow_relu(net: MLP) -> bool:
    """Whether :func:`loss_gradients` takes the closed form for ``net``."""
    return (
        net.layers == 2
        and Activation(net.config.activation) is Activation.RELU
        and net.config.input_dim <= SHALLOW_MAX_INPUTS
    )


def activation_backward(name: Activation, grad_h: Tensor, z: Tensor, h: Tensor) -> Tensor:
    """∂L/∂z from ∂L/∂h, as autograd computes it for φ of mlp.activation_functions."""
    if name is Activation.RELU:
        return torch.ops.aten.threshold_backward(grad_h, h, 0)
    if name is Activation.TANH:
        return torch.ops.aten.tanh_backward(grad_h, h)
    if name is Activation.GELU:
        return torch.ops.aten.gelu_backward(grad_h, z, approximate="none")
    # erf: derivatives.yaml  self: 2.0 / sqrt(M_PI) * exp(-(self.pow(2))) * grad
    return 2.0 / math.sqrt(math.pi) * torch.exp(-(z.pow(2))) * grad_h


def loss_gradients(
    net: MLP, x: Tensor, y: Tensor, scale: float, need_grad: bool = True
) -> tuple[Tensor, Tensor, list[Tensor]]:
    """f, r = f − y and ∂L/∂θ of L = scale·Σ_n r_n², per seed.

    Parameters
    ----------
    net : MLP
        S networks.
    x : Tensor, shape (N, n0)
    y : Tensor, shape (S, N)
    scale : float
        c of the loss convention (training.loss_scale).
    need_grad : bool
        False: only f and r (the gradient list is empty).

    Returns
    -------
    f, residual : Tensor, shape (S, N)
    grads : list of Tensor
        Shaped like ``net.parameters()``, in that order.
    """
    if uses_shallow_relu(net):
        return shallow_relu_gradients(net, x, y, scale, need_grad)
    return layerwise_gradients(net, x, y, scale, need_grad)


def network_outputs(net: MLP, x: Tensor) -> Tensor:
    """f(x), shape (S, M), without autograd, computed as :func:`loss_gradients` does
    (bit for bit: the evaluation grid and the training points agree where they meet)."""
    if uses_shallow_relu(net):
        return _shallow_relu_outputs(net, x)[0]
    return net.evaluate(x)


def layerwise_gradients(
    net: MLP, x: Tensor, y: Tensor, scale: float, need_grad: bool = True
) -> tuple[Tensor, Tensor, list[Tensor]]:
    """:func:`loss_gradients` by backpropagation, bit-identical to autograd.

    Any depth and activation. The same kernels in the same order as autograd's
    backward of :meth:`MLP.__call__` and the loss ``scale * ((f - y) ** 2).sum()``.
    """
    act = Activation(net.config.activation)
    L = net.layers
    zs: list[Tensor] = []
    hs: list[Tensor] = [x]
    with torch.no_grad():
        for z, h in net.hidden(x):
            zs.append(z)
            hs.append(h)
        f = net._affine(L, hs[-1])[..., 0]
        residual = f - y
        if not need_grad:
            return f, residual, []
        g = scale * (2.0 * residual)  # PowBackward: grad · (2 · r), grad = scale
        wgrads: list[Tensor | None] = [None] * L
        bgrads: list[Tensor | None] = [None] * L
        grad_z = g.unsqueeze(-1)  # ∂/∂z^(L), (S, N, 1)
        for layer in range(L, 0, -1):
            alpha, beta = net.scales(layer)
            w, b, h = net.weights[layer - 1], net.biases[layer - 1], hs[layer - 1]
            if b is not None:
                bgrads[layer - 1] = (grad_z.sum(1, keepdim=True) * beta).squeeze(1)
            grad_m = grad_z * alpha
            if layer == L:  # (h * w).sum(-1, keepdim=True)
                grad_p = grad_m.expand(*grad_m.shape[:-1], w.shape[-1])
                wgrads[layer - 1] = (grad_p * h).sum(1, keepdim=True)
                grad_h: Tensor | None = grad_p * w if layer > 1 else None
            else:  # matmul(h, w^T)
                hb = h.expand(grad_m.shape[0], *h.shape) if h.ndim == 2 else h
                wgrads[layer - 1] = hb.transpose(1, 2).bmm(grad_m).transpose(1, 2)
                grad_h = grad_m.bmm(w) if layer > 1 else None
            if grad_h is not None:
                grad_z = activation_backward(act, grad_h, zs[layer - 2], h)
    grads = [*wgrads, *(gb for gb, b in zip(bgrads, net.biases, strict=True) if b is not None)]
    return f, residual, [g_ for g_ in grads if g_ is not None]


def _shallow_relu_outputs(net: MLP, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """f (S, N), x̃ (N, k), Aᵀ (S, k, n) and h = φ(z) (S, N, n) of the closed form."""
    alpha1, beta1 = net.scales(1)
    alpha2, beta2 = net.scales(2)
    w1, w2 = net.weights  # (S, n, n0), (S, 1, n)
    b1, b2 = net.biases  # (S, n) or None, (S, 1) or None
    with torch.no_grad():
        a_t = alpha1 * w1.transpose(1, 2)  # (S, n0, n)
        x_aug = x
        if b1 is not None:
            a_t = torch.cat([a_t, (beta1 * b1)[:, None, :]], dim=1)  # (S, k, n)
            x_aug = torch.cat([x, x.new_ones(x.shape[0], 1)], dim=1)  # (N, k)
        h = torch.matmul(x_aug, a_t).relu_()  # z (S, N, n), then φ(z) in place
        # α₂w is a fresh tensor: its alignment, hence the product's rounding, is the
        # same for seed s alone and in a batch.
        f = torch.bmm(alpha2 * w2, h.transpose(1, 2))[:, 0, :]  # (S, N)
        if b2 is not None:
            f = f + beta2 * b2
    return f, x_aug, a_t, h


def shallow_relu_gradients(
    net: MLP, x: Tensor, y: Tensor, scale: float, need_grad: bool = True
) -> tuple[Tensor, Tensor, list[Tensor]]:
    """:func:`loss_gradients` in closed form for one ReLU hidden layer (module docstring).

    Raises
    ------
    ValueError
        If ``net`` is not a depth-1 ReLU network (:func:`uses_shallow_relu`).
    """
    if not uses_shallow_relu(net):
        raise ValueError(
            "net: the closed form needs depth 1, ReLU and at most "
            f"{SHALLOW_MAX_INPUTS} inputs; got depth {net.layers - 1}, "
            f"{Activation(net.config.activation).value}, {net.config.input_dim} inputs"
        )
    f, x_aug, a_t, h = _shallow_relu_outputs(net, x)
    residual = f - y
    if not need_grad:
        return f, residual, []
    alpha1, beta1 = net.scales(1)
    alpha2, beta2 = net.scales(2)
    n0 = x.shape[1]
    b1, b2 = net.biases
    with torch.no_grad():
        g = scale * (2.0 * residual)  # (S, N)
        q = torch.bmm(g[:, None, :] * x_aug.T, h.gt_(0))  # (g∘x̃)ᵀ M: (S, k, n)
        grad_w2 = alpha2 * (q * a_t).sum(dim=1, keepdim=True)  # (S, 1, n)
        out = alpha2 * net.weights[1]  # ∂L/∂z_nj = g_n · out_j · M_nj, (S, 1, n)
        grads = [alpha1 * (out * q[:, :n0, :]).transpose(1, 2), grad_w2]  # W (S, n, n0)
        if b1 is not None:
            grads.append(beta1 * (out[:, 0, :] * q[:, n0, :]))
        if b2 is not None:
            grads.append(beta2 * g.sum(dim=1, keepdim=True))
    return f, residual, grads
