r"""Analytic NNGP Σ and NTK Θ of deep MLPs by the layer recursion of Jacot et al. (2018).

With depth hidden layers (Jacot's L = depth + 1 affine layers), σ_w² = s and
the bias terms b (NNGP) and b_Θ (NTK) of docs/conventions.md:

    Σ¹(x, x')      = s·x·x'/n0 + b,
    Σ^(l+1)(x, x') = s·E[φ(u)φ(v)] + b,      (u, v) ~ N(0, Σ^(l) on {x, x'}),
    Σ̇^(l+1)(x, x') = s·E[φ'(u)φ'(v)],
    Θ¹             = w₀·x·x'/n0 + b_Θ,
    Θ^(l+1)        = Θ^(l)·Σ̇^(l+1) + w_l·E[φ(u)φ(v)] + b_Θ,

(Jacot, Gabriel & Hongler 2018, Theorem 1; Lee et al. 2019 for the standard
parameterization). In the NTK parameterization w_l = s and b_Θ = σ_b²; in the
standard parameterization the gradients carry no σ_w/√n factor, so w_l is the
fan-in n_l of the layer (n0 for the first, the width after) and b_Θ = 1.
With ``bias_init="zero"`` the biases start at 0: b = 0 while b_Θ is kept.

Numerics. Each layer's covariance is carried as the two variances (q1, q2)
and the *angle* t ∈ [0, π] of the pair (cos t is the correlation), never as a
rounded correlation: the angle of the next layer is
t' = 2·atan2(√(S' − C'), √(S' + C')), with S' = √(q1' q2') and C' the
covariance, where S' ∓ C' are assembled from cancellation-free pieces. The
diagonal therefore has t = 0 exactly and the kernel is smooth next to it (and
next to the antipode) at every depth; arccos of a correlation rounded to
1 − 1e-16 would give angle errors of 1e-8.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from spectralntk.config import BiasInit, NetworkConfig, Parameterization
from spectralntk.errors import ParameterError, parameter_error
from spectralntk.kernels.activations import (
    DEFAULT_HERMITE_NODES,
    DualActivation,
    QuadratureError,
    dual_activation,
)

__all__ = ["Kernel", "LayerInput", "kernel_matrix", "recursion"]

#: Pairs per block of :func:`kernel_matrix`.
_BLOCK_ELEMENTS = 1 << 17

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Kernel:
    """The two infinite-width kernels of one network, evaluated on the same pairs.

    Attributes
    ----------
    nngp : ndarray
        Σ^(L): covariance of the output at initialisation (the NNGP kernel).
    ntk : ndarray
        Θ^(L): the neural tangent kernel.
    """

    nngp: FloatArray
    ntk: FloatArray


@dataclass(frozen=True)
class LayerInput:
    """Second moments of a layer's input a on pairs (x, x'), averaged over units.

    Attributes
    ----------
    m1, m2 : ndarray
        E[a(x)²] and E[a(x')²] (for the first layer |x|²/n0 and |x'|²/n0).
    cross : ndarray
        E[a(x) a(x')] (for the first layer x·x'/n0).
    deficit : ndarray
        √(m1 m2) − cross, evaluated without cancellation (≥ 0).
    surplus : ndarray
        √(m1 m2) + cross, evaluated without cancellation (≥ 0).
    """

    m1: FloatArray
    m2: FloatArray
    cross: FloatArray
    deficit: FloatArray
    surplus: FloatArray


def _bias_terms(config: NetworkConfig, *, output: bool) -> tuple[float, float]:
    """(NNGP bias term b, NTK bias term b_Θ) of a hidden or the output layer."""
    present = config.has_bias and (config.output_bias or not output)
    if not present:
        return 0.0, 0.0
    var = config.bias_std * config.bias_std  # inf, not OverflowError, for huge σ_b
    nngp = var if config.bias_init is BiasInit.NORMAL else 0.0
    ntk = var if config.parameterization is Parameterization.NTK else 1.0
    return nngp, ntk


def _weight_scale(config: NetworkConfig, fan_in: int) -> float:
    """w_l: NTK contribution per unit of E[a a'] from the weights of one layer."""
    if config.parameterization is Parameterization.NTK:
        return config.weight_std * config.weight_std
    return float(fan_in)


def _blamed(config: NetworkConfig) -> tuple[str, float]:
    """The parameter that makes the pre-activations large: σ_w unless σ_b² dominates."""
    if config.bias_std > config.weight_std:
        return "bias_std", config.bias_std
    return "weight_std", config.weight_std


def _check_finite(config: NetworkConfig, layer: int, arrays: tuple[FloatArray, ...]) -> None:
    """Refuse a kernel that overflowed float64 (or turned NaN) at ``layer``."""
    if all(np.all(np.isfinite(a)) for a in arrays):
        return
    name, value = _blamed(config)
    option = "--" + name.replace("_", "-")
    raise parameter_error(
        name,
        f"small enough that the kernel stays finite in float64 at depth {config.depth} "
        f"(affine layer {layer + 1} of {config.depth + 1} overflows; lower {option} or --depth)",
        value,
    )


def _unresolved(config: NetworkConfig, layer: int, err: QuadratureError) -> ParameterError:
    """The error for a quadrature activation whose Hermite series did not converge."""
    name, value = _blamed(config)
    return parameter_error(
        name,
        f"small enough for the {config.activation.value} kernel to be computed to its "
        f"tolerance (at hidden layer {layer + 1}: {err})",
        value,
    )


def recursion(
    config: NetworkConfig,
    first: LayerInput,
    *,
    hermite_nodes: int = DEFAULT_HERMITE_NODES,
) -> Kernel:
    """Run the NNGP/NTK recursion from the moments of the network input.

    Parameters
    ----------
    config : NetworkConfig
        Architecture; ``config.depth`` hidden layers then a linear output.
    first : LayerInput
        Moments of the input x on the pairs (arrays broadcasting to one shape).
    hermite_nodes : int
        Gauss–Hermite nodes per dimension for tanh and gelu.

    Returns
    -------
    Kernel
        Σ^(L) and Θ^(L) with the broadcast shape of the inputs.

    Raises
    ------
    ParameterError
        Naming ``weight_std`` (or ``bias_std``) when the kernel overflows float64 or a
        quadrature activation cannot reach its tolerance: no NaN or guessed value is
        ever returned.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # checked per layer
        return _recursion(config, first, hermite_nodes)


def _recursion(config: NetworkConfig, first: LayerInput, hermite_nodes: int) -> Kernel:
    dual: DualActivation = dual_activation(config.activation, hermite_nodes=hermite_nodes)
    s = config.weight_std * config.weight_std  # inf, not OverflowError, for huge σ_w
    layer_in = first
    ntk = np.zeros(np.broadcast_shapes(*(np.shape(a) for a in vars(first).values())))
    fan_in = config.input_dim
    for layer in range(config.depth + 1):
        output = layer == config.depth
        b, b_ntk = _bias_terms(config, output=output)
        m1, m2, e = layer_in.m1, layer_in.m2, layer_in.cross
        q1, q2 = s * m1 + b, s * m2 + b
        cov = s * e + b
        ntk = ntk + _weight_scale(config, fan_in) * e + b_ntk
        _check_finite(config, layer, (q1, q2, cov, ntk))
        if output:
            return Kernel(nngp=np.broadcast_to(cov, ntk.shape).copy(), ntk=ntk)
        # S ∓ C of Σ^(l+1) with S = √(q1 q2), without cancellation:
        # S − s√(m1 m2) − b = s·b·(√m1 − √m2)²/(S + s√(m1 m2) + b) ≥ 0.
        root = np.sqrt(q1 * q2)
        denom = root + s * np.sqrt(m1 * m2) + b
        gap = s * b * (np.sqrt(m1) - np.sqrt(m2)) ** 2 / np.where(denom > 0.0, denom, 1.0)
        minus = gap + s * layer_in.deficit
        plus = gap + s * layer_in.surplus + 2.0 * b
        t = 2.0 * np.arctan2(np.sqrt(np.maximum(minus, 0.0)), np.sqrt(np.maximum(plus, 0.0)))
        try:
            pair = dual.pair(q1, q2, t)
            moments = dual.second_moment(q1), dual.second_moment(q2)
        except QuadratureError as err:
            raise _unresolved(config, layer, err) from None
        ntk = ntk * (s * pair.derivative_cross)
        layer_in = LayerInput(
            m1=moments[0],
            m2=moments[1],
            cross=pair.cross,
            deficit=pair.deficit,
            surplus=pair.surplus,
        )
        fan_in = config.width if config.width is not None else 0
    raise AssertionError("unreachable")  # pragma: no cover


def _as_points(name: str, x: ArrayLike, input_dim: int) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64)
    rule = f"a finite array of shape (N, input_dim={input_dim})"
    if arr.ndim != 2 or arr.shape[1] != input_dim:
        raise parameter_error(name, rule, f"an array of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise parameter_error(name, rule, "an array with non-finite entries")
    return arr


def input_moments(x1: FloatArray, x2: FloatArray) -> LayerInput:
    """Moments of the input layer for all pairs of rows of ``x1`` (N1, n0) and ``x2`` (N2, n0).

    The deficit and surplus |x||x'|/n0 ∓ x·x'/n0 = |x||x'|·|x̂ ∓ x̂'|²/(2 n0) use
    the chords between the unit vectors, exact to rounding even for nearly equal
    or nearly opposite inputs.
    """
    n0 = x1.shape[1]
    r1 = np.linalg.norm(x1, axis=1)
    r2 = np.linalg.norm(x2, axis=1)
    u1 = x1 / np.where(r1 > 0.0, r1, 1.0)[:, None]
    u2 = x2 / np.where(r2 > 0.0, r2, 1.0)[:, None]
    minus = np.sum((u1[:, None, :] - u2[None, :, :]) ** 2, axis=-1)
    plus = np.sum((u1[:, None, :] + u2[None, :, :]) ** 2, axis=-1)
    scale = np.outer(r1, r2) / (2.0 * n0)
    return LayerInput(
        m1=(r1**2 / n0)[:, None],
        m2=(r2**2 / n0)[None, :],
        cross=(x1 @ x2.T) / n0,
        deficit=scale * minus,
        surplus=scale * plus,
    )


def kernel_matrix(
    config: NetworkConfig,
    x1: ArrayLike,
    x2: ArrayLike | None = None,
    *,
    hermite_nodes: int = DEFAULT_HERMITE_NODES,
) -> Kernel:
    """NNGP and NTK Gram matrices K(X1, X2) of the infinite-width network.

    Parameters
    ----------
    config : NetworkConfig
        Architecture (depth = hidden layers, parameterization, biases).
    x1 : array_like, shape (N1, n0)
        Inputs, n0 = ``config.input_dim``.
    x2 : array_like, shape (N2, n0), optional
        Second set of inputs; ``x1`` if omitted (then the result is symmetric
        and its diagonal is exact).
    hermite_nodes : int
        Gauss–Hermite nodes per dimension for tanh and gelu.

    Returns
    -------
    Kernel
        ``nngp`` and ``ntk`` of shape (N1, N2).
    """
    a = _as_points("x1", x1, config.input_dim)
    b = a if x2 is None else _as_points("x2", x2, config.input_dim)
    # Blocks of rows keep every temporary of the recursion small (~1 MB): three
    # times faster than whole-matrix temporaries for N = 2048.
    rows = max(1, _BLOCK_ELEMENTS // max(b.shape[0], 1))
    nngp, ntk = np.empty((a.shape[0], b.shape[0])), np.empty((a.shape[0], b.shape[0]))
    for start in range(0, a.shape[0], rows):
        block = slice(start, start + rows)
        k = recursion(config, input_moments(a[block], b), hermite_nodes=hermite_nodes)
        nngp[block], ntk[block] = k.nngp, k.ntk
    return Kernel(nngp=nngp, ntk=ntk)
