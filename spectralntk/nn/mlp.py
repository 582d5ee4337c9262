r"""Seed-batched MLPs in the parameterizations of docs/conventions.md.

A network of depth d (hidden layers) and width n has L = d + 1 affine layers

    z^(l) = α_l·W^(l) h^(l−1) + β_l·b^(l),   h^(0) = x,   h^(l) = φ(z^(l)),   f = z^(L),

with trainable W^(l) ∈ R^{n_l×n_{l−1}} and b^(l) ∈ R^{n_l} (n_0 = input_dim, n_L = 1).

- ``ntk`` (Jacot et al. 2018): W, b ~ N(0, 1) (b = 0 with ``bias_init="zero"``),
  α_l = σ_w/√n_{l−1}, β_l = σ_b.
- ``standard``: W ~ N(0, σ_w²/n_{l−1}), b ~ N(0, σ_b²) (or 0), α_l = β_l = 1.

Both give the same function at initialisation for the same seed. Hidden layers have
biases iff σ_b > 0; the output layer iff also ``output_bias``.

S networks (seeds) of one width are stored stacked, W^(l) of shape (S, n_l, n_{l−1}),
and evaluated as one batched computation. Seed s draws its parameters from its own
CPU generator, layer by layer (W^(1), b^(1), W^(2), …, always drawing every bias so
that bias options do not shift the stream), always in float64, and only then rounds
them to the requested dtype and moves them to the device: seed s has bit-identical
weights alone or in a batch and on any device, and its float32 network is its float64
network rounded once to float32 (the same seed gives the same network in both).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from spectralntk.config import Activation, BiasInit, NetworkConfig, Parameterization
from spectralntk.errors import check_int, parameter_error
from spectralntk.nn.device import resolve_device, resolve_dtype

__all__ = ["MLP", "activation_functions", "init_mlp"]


def _gelu_prime(z: Tensor) -> Tensor:
    return 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0))) + z * torch.exp(-0.5 * z * z) / math.sqrt(
        2.0 * math.pi
    )


def activation_functions(
    activation: Activation | str,
) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]:
    """(φ, φ') in torch, matching :mod:`spectralntk.kernels.activations`."""
    name = Activation(activation)
    if name is Activation.RELU:
        return torch.relu, lambda z: (z > 0).to(z.dtype)
    if name is Activation.ERF:
        return torch.erf, lambda z: (2.0 / math.sqrt(math.pi)) * torch.exp(-z * z)
    if name is Activation.TANH:
        return torch.tanh, lambda z: 1.0 - torch.tanh(z) ** 2
    return (lambda z: torch.nn.functional.gelu(z, approximate="none")), _gelu_prime


@dataclass(frozen=True)
class MLP:
    """S networks of one architecture and width, with stacked parameters.

    Attributes
    ----------
    config : NetworkConfig
        Architecture (depth, activation, σ_w, σ_b, biases, parameterization).
    width : int
        Hidden width n.
    seeds : tuple of int
        The S seeds, in batch order.
    weights : tuple of Tensor
        W^(l), l = 1..L, of shape (S, n_l, n_{l−1}).
    biases : tuple of Tensor or None
        b^(l) of shape (S, n_l), or None for a layer without bias.
    """

    config: NetworkConfig
    width: int
    seeds: tuple[int, ...]
    weights: tuple[Tensor, ...]
    biases: tuple[Tensor | None, ...]

    @property
    def layers(self) -> int:
        """L = depth + 1."""
        return len(self.weights)

    def fan_in(self, layer: int) -> int:
        """n_{l−1} for layer l = 1..L."""
        return self.config.input_dim if layer == 1 else self.width

    def scales(self, layer: int) -> tuple[float, float]:
        """(α_l, β_l) of layer l = 1..L."""
        if self.config.parameterization is Parameterization.STANDARD:
            return 1.0, 1.0
        return self.config.weight_std / math.sqrt(self.fan_in(layer)), self.config.bias_std

    def parameters(self) -> list[Tensor]:
        """All trainable tensors (weights, then the biases that exist)."""
        return [*self.weights, *(b for b in self.biases if b is not None)]

    def with_parameters(self, params: Sequence[Tensor]) -> MLP:
        """The same networks with the tensors ``params`` (in :meth:`parameters` order)."""
        weights = tuple(params[: self.layers])
        rest = iter(params[self.layers :])
        biases = tuple(None if b is None else next(rest) for b in self.biases)
        return dataclasses.replace(self, weights=weights, biases=biases)

    def hidden(self, x: Tensor) -> Iterator[tuple[Tensor, Tensor]]:
        """(z^(l), h^(l) = φ(z^(l))) for the hidden layers l = 1..d, each (S, N, n).

        Parameters
        ----------
        x : Tensor, shape (N, n0) or (S, N, n0)
        """
        phi, _ = activation_functions(self.config.activation)
        h = x
        for layer in range(1, self.layers):
            z = self._affine(layer, h)
            h = phi(z)
            yield z, h

    def _affine(self, layer: int, h: Tensor) -> Tensor:
        alpha, beta = self.scales(layer)
        w = self.weights[layer - 1]
        if layer == self.layers:
            # Scalar output as multiply-and-sum: a batched matrix-vector product takes a
            # different BLAS path for one seed than for several, and seed s must give
            # bit-identical results alone and in a batch.
            z = alpha * (h * w).sum(dim=-1, keepdim=True)
        else:
            z = alpha * torch.matmul(h, w.transpose(1, 2))
        b = self.biases[layer - 1]
        return z if b is None else z + beta * b[:, None, :]

    def __call__(self, x: Tensor) -> Tensor:
        """Network outputs f(x) for x of shape (N, n0) or (S, N, n0); shape (S, N)."""
        h = x
        for _, h in self.hidden(x):  # noqa: B007 - the last hidden features
            pass
        return self._affine(self.layers, h)[..., 0]

    def evaluate(self, x: Tensor) -> Tensor:
        """f(x) without autograd, updating intermediates in place; shape (S, N).

        The values are bit-identical to :meth:`__call__` (the same operations in
        the same order), with one (S, N, n) temporary per layer instead of four:
        for evaluation grids, where the forward pass is memory-bound.
        """
        phi, _ = activation_functions(self.config.activation)
        phi_ = _IN_PLACE.get(Activation(self.config.activation), phi)
        with torch.no_grad():
            h = x
            for layer in range(1, self.layers):
                alpha, beta = self.scales(layer)
                z = torch.matmul(h, self.weights[layer - 1].transpose(1, 2)).mul_(alpha)
                b = self.biases[layer - 1]
                if b is not None:
                    z.add_(beta * b[:, None, :])
                h = phi_(z)
            alpha, beta = self.scales(self.layers)
            w = self.weights[-1]
            product = h * w if h is x else h.mul_(w)
            f = product.sum(dim=-1).mul_(alpha)
            b = self.biases[-1]
            return f if b is None else f.add_(beta * b)


#: In-place versions of the activations that have one (the values are the same).
_IN_PLACE: dict[Activation, Callable[[Tensor], Tensor]] = {
    Activation.RELU: torch.relu_,
    Activation.ERF: torch.Tensor.erf_,
    Activation.TANH: torch.Tensor.tanh_,
}


def init_mlp(
    config: NetworkConfig,
    width: int,
    seeds: Sequence[int],
    *,
    dtype: str | torch.dtype = "float64",
    device: str | torch.device = "cpu",
    out: MLP | None = None,
) -> MLP:
    """Initialise S = len(seeds) networks (see the module docstring for the streams).

    Parameters
    ----------
    config : NetworkConfig
        Architecture.
    width : int
        Hidden width n ≥ 1.
    seeds : sequence of int
        Non-negative seeds, one network each.
    dtype : {"float32", "float64"}
        Parameters are drawn in float64 either way; float32 rounds them once, so the
        same seed gives the same network in both precisions.
    device : str
        ``cpu``, ``cuda``, ``auto``, ….
    out : MLP, optional
        Networks of the same shape on the CPU whose weight tensors are reused (and
        overwritten): filling memory that is already mapped saves the page faults of
        0.8 GB of fresh weights per seed at width 10000. The values drawn are the same.

    Returns
    -------
    MLP
    """
    n = check_int("width", width, 1)
    seed_list = tuple(check_int("seed", s, 0) for s in seeds)
    if not seed_list:
        raise parameter_error("seeds", "a non-empty sequence of seeds", list(seeds))
    torch_dtype, dev = resolve_dtype(dtype), resolve_device(device)
    sizes = [config.input_dim] + [n] * config.depth + [1]
    shapes = list(zip(sizes[1:], sizes[:-1], strict=True))  # (n_l, n_{l-1})
    standard = config.parameterization is Parameterization.STANDARD
    count = len(seed_list)
    # Filled in place, seed by seed: no per-seed copies (width 10000 is 0.4 GB a layer).
    draw = torch.float64  # float32 networks are float64 draws rounded once, at the end
    reuse = (
        out is not None
        and torch_dtype == draw
        and dev.type == "cpu"
        and [tuple(w.shape) for w in out.weights] == [(count, *shape) for shape in shapes]
        and out.weights[0].dtype == torch_dtype
        and out.weights[0].device.type == "cpu"
    )
    weights = (
        list(out.weights)  # type: ignore[union-attr]
        if reuse
        else [torch.empty(count, *shape, dtype=draw) for shape in shapes]
    )
    biases = [torch.empty(count, shape[0], dtype=draw) for shape in shapes]
    for i, seed in enumerate(seed_list):
        gen = torch.Generator(device="cpu").manual_seed(seed)
        for w, b in zip(weights, biases, strict=True):
            torch.randn(w.shape[1:], generator=gen, dtype=draw, out=w[i])
            torch.randn(b.shape[1:], generator=gen, dtype=draw, out=b[i])
    for (_, fan_in), w, b in zip(shapes, weights, biases, strict=True):
        if standard:
            w.mul_(config.weight_std / math.sqrt(fan_in))
            b.mul_(config.bias_std)
        if config.bias_init is BiasInit.ZERO:
            b.zero_()
    last = len(shapes) - 1
    kept = [
        b.to(dev, torch_dtype)
        if config.has_bias and (config.output_bias or layer != last)
        else None
        for layer, b in enumerate(biases)
    ]
    return MLP(config, n, seed_list, tuple(w.to(dev, torch_dtype) for w in weights), tuple(kept))
