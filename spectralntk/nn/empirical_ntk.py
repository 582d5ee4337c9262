r"""Exact empirical NNGP and NTK of finite MLPs, layer by layer, without Jacobians.

For the MLP of :mod:`spectralntk.nn.mlp` the gradient of f with respect to the
layer-l parameters factorises: ∂f/∂W^(l) = α_l·δ^(l) h^(l−1)ᵀ and
∂f/∂b^(l) = β_l·δ^(l), with the backpropagated pre-activation gradients

    δ^(L) = 1,   δ^(l) = φ'(z^(l)) ⊙ (α_{l+1} W^(l+1)ᵀ δ^(l+1)).

Hence (Jacot et al. 2018; Novak et al. 2022, "Fast finite width NTK")

    Θ̂(x, x') = Σ_l ⟨δ^(l)(x), δ^(l)(x')⟩ · (α_l²⟨h^(l−1)(x), h^(l−1)(x')⟩ + β_l²·[bias]),

a sum of (Gram of δ) ⊙ (Gram of layer inputs + bias term). Memory is
O(S·N·n·depth + S·N²) — never the O(N·P) of a Jacobian. The empirical NNGP is the
Gram of the last hidden layer's features scaled as the output layer's prior,
Σ̂(x, x') = σ_w²/n_d·⟨h^(d)(x), h^(d)(x')⟩ + σ_b² (the bias term only for a
normally initialised output bias): the output's covariance given the features.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from spectralntk.config import BiasInit
from spectralntk.nn.mlp import MLP, activation_functions

__all__ = ["EmpiricalKernel", "empirical_kernel", "seed_chunk"]


@dataclass(frozen=True)
class EmpiricalKernel:
    """Empirical kernels of S networks on the pairs (x1, x2).

    Attributes
    ----------
    nngp, ntk : Tensor, shape (S, N1, N2)
    """

    nngp: Tensor
    ntk: Tensor


def _forward(net: MLP, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """Layer inputs h^(l−1), l = 1..L, and φ'(z^(l)), l = 1..d."""
    _, dphi = activation_functions(net.config.activation)
    inputs, slopes = [x], []
    for z, h in net.hidden(x):
        slopes.append(dphi(z))
        inputs.append(h)
    return inputs, slopes


def empirical_kernel(net: MLP, x1: Tensor, x2: Tensor | None = None) -> EmpiricalKernel:
    """Empirical NNGP and NTK of every network in ``net`` on x1 × x2.

    Parameters
    ----------
    net : MLP
        S networks (one width).
    x1 : Tensor, shape (N1, n0)
    x2 : Tensor, shape (N2, n0), optional
        Defaults to ``x1`` (then each kernel is exactly symmetric).

    Returns
    -------
    EmpiricalKernel
        Tensors of shape (S, N1, N2) in the network's dtype, on its device.
    """
    same = x2 is None
    in1, slope1 = _forward(net, x1)
    in2, slope2 = (in1, slope1) if same else _forward(net, x2)  # type: ignore[arg-type]
    count = len(net.seeds)
    shape = (count, x1.shape[0], (x1 if same else x2).shape[0])  # type: ignore[union-attr]
    ntk = x1.new_zeros(shape)
    d1 = d2 = None  # δ^(l) for l < L; δ^(L) = 1
    for layer in range(net.layers, 0, -1):
        alpha, beta = net.scales(layer)
        h1, h2 = in1[layer - 1], in2[layer - 1]
        inputs = alpha**2 * torch.matmul(h1, h2.transpose(-1, -2))
        if net.biases[layer - 1] is not None:
            inputs = inputs + beta**2
        if d1 is None:
            ntk = ntk + inputs
        else:
            grads = torch.matmul(d1, d2.transpose(-1, -2))  # type: ignore[union-attr]
            ntk = ntk + grads * inputs
        if layer > 1:
            w = net.weights[layer - 1]  # (S, n_l, n_{l−1})
            if d1 is None:  # δ^(L) = 1: α W^(L)ᵀ·1 is the weight row itself
                back1 = alpha * w[:, 0, :][:, None, :]
                d1 = slope1[layer - 2] * back1
                d2 = d1 if same else slope2[layer - 2] * back1
            else:
                d1 = slope1[layer - 2] * (alpha * torch.matmul(d1, w))
                d2 = d1 if same else slope2[layer - 2] * (alpha * torch.matmul(d2, w))  # type: ignore[arg-type]
    cfg = net.config
    last = in1[-1], in2[-1]
    nngp = (cfg.weight_std**2 / net.fan_in(net.layers)) * torch.matmul(
        last[0], last[1].transpose(-1, -2)
    )
    if net.biases[-1] is not None and cfg.bias_init is BiasInit.NORMAL:
        nngp = nngp + cfg.bias_std**2
    nngp, ntk = nngp.expand(shape), ntk.expand(shape)
    if same:  # matmul blocking leaves K and Kᵀ a rounding apart: make K exactly symmetric
        nngp, ntk = 0.5 * (nngp + nngp.transpose(1, 2)), 0.5 * (ntk + ntk.transpose(1, 2))
    return EmpiricalKernel(nngp=nngp.contiguous(), ntk=ntk.contiguous())


def seed_chunk(
    input_dim: int, width: int, depth: int, points: int, itemsize: int, budget_bytes: int
) -> int:
    """Seeds per batch so that one batch stays within ``budget_bytes`` (at least 1).

    Counts the parameters, the stored layer inputs and slopes, the running δ and
    a few N×N Gram temporaries, per seed.
    """
    params = width * input_dim + max(depth - 1, 0) * width * width + width + (depth + 2) * width
    activations = 3 * points * width * (depth + 1)
    grams = 6 * points * points
    per_seed = itemsize * (params + activations + grams)
    from spectralntk.limits import check_one_seed

    if grams >= params + activations:
        check_one_seed("points", points, per_seed, budget_bytes)
    else:
        check_one_seed("width", width, per_seed, budget_bytes)
    return max(1, int(budget_bytes // max(per_seed, 1)))
