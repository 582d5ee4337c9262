r"""Kernels on the unit circle S¹ as functions of the angle.

Inputs are x(γ) = (cos γ, sin γ) (n0 = 2) and the anchor is x0 = x(0). On the
circle every input has the same norm, so Σ and Θ depend on γ − γ' only: the
profile k(γ) = Θ(x0, x(γ)) determines the whole kernel, which is what makes
the Fourier modes its eigenfunctions (see :mod:`spectralntk.spectral`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from spectralntk.config import NetworkConfig
from spectralntk.errors import parameter_error
from spectralntk.kernels.activations import DEFAULT_HERMITE_NODES
from spectralntk.kernels.recursion import Kernel, LayerInput, recursion

__all__ = ["circle_kernel", "circle_points", "uniform_angles", "wrap_angle"]

FloatArray = NDArray[np.float64]


def wrap_angle(gamma: ArrayLike) -> FloatArray:
    """Angle between x(γ) and x0, in [0, π]: |γ| reduced modulo 2π."""
    g = np.remainder(np.asarray(gamma, dtype=np.float64), 2.0 * np.pi)
    return np.minimum(g, 2.0 * np.pi - g)


def uniform_angles(n: int) -> FloatArray:
    """The n equally spaced angles 2πj/n, j = 0..n−1, on [0, 2π)."""
    return 2.0 * np.pi * np.arange(n) / n


def circle_points(gamma: ArrayLike) -> FloatArray:
    """Points x(γ) = (cos γ, sin γ), shape (..., 2)."""
    g = np.asarray(gamma, dtype=np.float64)
    return np.stack([np.cos(g), np.sin(g)], axis=-1)


def circle_kernel(
    config: NetworkConfig,
    gamma: ArrayLike,
    *,
    hermite_nodes: int = DEFAULT_HERMITE_NODES,
) -> Kernel:
    """NNGP and NTK profiles Σ(x0, x(γ)) and Θ(x0, x(γ)) on the unit circle.

    Parameters
    ----------
    config : NetworkConfig
        Architecture; ``config.input_dim`` must be 2.
    gamma : array_like, shape (M,) or any shape
        Angles in radians (any real value; the kernel is 2π-periodic and even).
    hermite_nodes : int
        Gauss–Hermite nodes per dimension for tanh and gelu.

    Returns
    -------
    Kernel
        Arrays of the shape of ``gamma``. At γ = 0 the value is exact: the
        input deficit sin²(γ/2) vanishes and every layer's angle is 0.
    """
    if config.input_dim != 2:
        raise parameter_error("input_dim", "2 for kernels on the circle", config.input_dim)
    g = np.asarray(gamma, dtype=np.float64)
    if not np.all(np.isfinite(g)):
        raise parameter_error(
            "gamma", "an array of finite angles", "an array with non-finite entries"
        )
    t = wrap_angle(g)
    half = np.asarray(0.5)  # every point has |x|²/n0 = 1/2: scalars broadcast
    # |x|²/n0 = 1/2, x0·x/n0 = cos γ/2, (1 ∓ cos γ)/2 = sin²(γ/2), cos²(γ/2).
    first = LayerInput(
        m1=half,
        m2=half,
        cross=0.5 * np.cos(t),
        deficit=np.sin(0.5 * t) ** 2,
        surplus=np.cos(0.5 * t) ** 2,
    )
    return recursion(config, first, hermite_nodes=hermite_nodes)
