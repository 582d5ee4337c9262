r"""Dual activations: Gaussian expectations of φ and φ' for the kernel recursion.

For a centred Gaussian pair (u, v) with variances q1, q2 and correlation
cos t (t ∈ [0, π] is the *angle* of the pair) every activation provides

- ``cross``     E[φ(u) φ(v)],
- ``deficit``   √(m1 m2) − E[φ(u) φ(v)] with m_i = E[φ(u_i)²], and
- ``surplus``   √(m1 m2) + E[φ(u) φ(v)], both computed without cancellation so
  that the next layer's angle is exact near t = 0 and near t = π,
- ``derivative_cross``  E[φ'(u) φ'(v)],

and the diagonal moments E[φ(u)²], E[φ'(u)²] for u ~ N(0, q).

ReLU is the arc-cosine kernel of degree 1 (Cho & Saul 2009):
E[φφ] = √(q1 q2)/(2π)·J(t), J(t) = sin t + (π − t) cos t, E[φ'φ'] = (π − t)/(2π).
Its deficit uses π − J(t) = (π − t)(1 − cos t) + (t − sin t), both terms evaluated
without cancellation. erf has the closed forms of Williams (1997). tanh and
gelu use tensor Gauss–Hermite quadrature; their deficit and surplus are
½E[(φ(u) ∓ φ(v))²] − ½(√m1 − √m2)², sums of squares (the deficit is exactly 0
at t = 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from spectralntk.config import Activation

__all__ = [
    "DEFAULT_HERMITE_NODES",
    "DualActivation",
    "DualPair",
    "dual_activation",
    "t_minus_sin",
]

FloatArray = NDArray[np.float64]

#: Gauss–Hermite nodes per dimension for activations without a closed form.
DEFAULT_HERMITE_NODES = 96


@dataclass(frozen=True)
class DualPair:
    """Gaussian expectations on pairs; arrays broadcast to one common shape."""

    cross: FloatArray
    deficit: FloatArray
    surplus: FloatArray
    derivative_cross: FloatArray


class DualActivation(Protocol):
    """What the NNGP/NTK recursion needs to know about an activation φ."""

    name: str

    def second_moment(self, q: FloatArray) -> FloatArray:
        """E[φ(u)²], u ~ N(0, q)."""
        ...

    def derivative_second_moment(self, q: FloatArray) -> FloatArray:
        """E[φ'(u)²], u ~ N(0, q)."""
        ...

    def pair(self, q1: FloatArray, q2: FloatArray, t: FloatArray) -> DualPair:
        """Expectations for (u, v) with variances q1, q2 and correlation cos t."""
        ...


#: Taylor coefficients of (t − sin t)/t³ = Σ_k (−t²)^(k−1)/(2k+1)!, highest first.
_T_MINUS_SIN = tuple(1.0 / math.factorial(2 * k + 1) for k in range(6, 0, -1))
#: Below this angle t − sin t comes from the series. Above it the subtraction loses at most
#: ε·t/(t − sin t) relative, and π − J(t) = (π − t)(1 − cos t) + (t − sin t) is dominated
#: by its first term, so the error in π − J stays below 2ε/(πt) ≤ 4ε.
_SERIES_BELOW = 0.2


def t_minus_sin(t: FloatArray, sin_t: FloatArray | None = None) -> FloatArray:
    """t − sin t: a Taylor series below 0.2 (6 terms, 1e-17 relative), the difference above.

    Parameters
    ----------
    t : ndarray
        Angles in [0, π].
    sin_t : ndarray, optional
        sin t, if already computed.
    """
    t = np.asarray(t, dtype=np.float64)
    t2 = t * t
    series = np.full_like(t, _T_MINUS_SIN[0])
    for coeff in _T_MINUS_SIN[1:]:
        series *= -t2
        series += coeff
    series *= t2 * t
    return np.where(t < _SERIES_BELOW, series, t - (np.sin(t) if sin_t is None else sin_t))


class ReLU:
    """φ(x) = max(0, x): arc-cosine kernel of degree 1 (Cho & Saul 2009)."""

    name = "relu"

    def second_moment(self, q: FloatArray) -> FloatArray:
        return 0.5 * np.asarray(q, dtype=np.float64)

    def derivative_second_moment(self, q: FloatArray) -> FloatArray:
        q = np.asarray(q, dtype=np.float64)
        return np.where(q > 0.0, 0.5, 0.0)

    def pair(self, q1: FloatArray, q2: FloatArray, t: FloatArray) -> DualPair:
        scale = np.sqrt(q1 * q2) / (2.0 * np.pi)
        sin_t = np.sin(t)
        rest = np.pi - t
        j = sin_t + rest * np.cos(t)
        # π − J(t) = (π − t)(1 − cos t) + (t − sin t); 1 − cos t = 2 sin²(t/2).
        pi_minus_j = rest * 2.0 * np.sin(0.5 * t) ** 2 + t_minus_sin(t, sin_t)
        cross = scale * j
        return DualPair(
            cross=cross,
            deficit=scale * pi_minus_j,
            surplus=scale * (np.pi + j),
            # A zero-variance pre-activation is the constant 0, where φ'(0) = 0 (as in
            # torch): no slope, whatever angle atan2(0, 0) gave. Keeps Σ̇ PSD.
            derivative_cross=np.where((q1 > 0.0) & (q2 > 0.0), rest / (2.0 * np.pi), 0.0)
            * np.ones(cross.shape),
        )


class Erf:
    """φ(x) = erf(x): closed forms of Williams (1997), "Computing with infinite networks"."""

    name = "erf"

    def second_moment(self, q: FloatArray) -> FloatArray:
        q = np.asarray(q, dtype=np.float64)
        return (2.0 / np.pi) * np.arcsin(2.0 * q / (1.0 + 2.0 * q))

    def derivative_second_moment(self, q: FloatArray) -> FloatArray:
        q = np.asarray(q, dtype=np.float64)
        return (4.0 / np.pi) / np.sqrt(1.0 + 4.0 * q)

    def pair(self, q1: FloatArray, q2: FloatArray, t: FloatArray) -> DualPair:
        c = np.sqrt(q1 * q2) * np.cos(t)
        a1, a2 = 1.0 + 2.0 * q1, 1.0 + 2.0 * q2
        cross = (2.0 / np.pi) * np.arcsin(2.0 * c / np.sqrt(a1 * a2))
        m = np.sqrt(self.second_moment(q1) * self.second_moment(q2))
        # (1+2q1)(1+2q2) − 4c² = 1 + 2(q1 + q2) + 4 q1 q2 sin² t, no cancellation.
        det = 1.0 + 2.0 * (q1 + q2) + 4.0 * q1 * q2 * np.sin(t) ** 2
        return DualPair(
            cross=cross,
            deficit=np.maximum(m - cross, 0.0),
            surplus=np.maximum(m + cross, 0.0),
            derivative_cross=(4.0 / np.pi) / np.sqrt(det),
        )


@lru_cache(maxsize=8)
def _hermite_rule(nodes: int) -> tuple[FloatArray, FloatArray]:
    """Probabilists' Gauss–Hermite nodes and weights normalised to sum 1."""
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


class GaussHermite:
    """Dual activation by tensor Gauss–Hermite quadrature on a Gaussian pair.

    Parameters
    ----------
    name : str
        Activation name.
    phi, dphi : callable
        φ and φ' (vectorised).
    nodes : int
        Nodes per dimension; the pair expectation costs ``nodes²`` evaluations.
    """

    #: pairs per chunk, bounding the temporary (chunk, nodes, nodes) arrays.
    chunk = 512

    def __init__(self, name: str, phi, dphi, nodes: int = DEFAULT_HERMITE_NODES) -> None:  # type: ignore[no-untyped-def]
        self.name = name
        self.phi = phi
        self.dphi = dphi
        self.nodes = nodes

    def _moment(self, f, q: FloatArray) -> FloatArray:  # type: ignore[no-untyped-def]
        z, w = _hermite_rule(self.nodes)
        q = np.asarray(q, dtype=np.float64)
        return (f(np.sqrt(q)[..., None] * z) ** 2) @ w

    def second_moment(self, q: FloatArray) -> FloatArray:
        return self._moment(self.phi, q)

    def derivative_second_moment(self, q: FloatArray) -> FloatArray:
        return self._moment(self.dphi, q)

    def pair(self, q1: FloatArray, q2: FloatArray, t: FloatArray) -> DualPair:
        q1, q2, t = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (q1, q2, t)))
        # The rule is not symmetric in (u, v); order each pair (larger variance first)
        # so that K(x, x') and K(x', x) are the same computation, hence equal.
        q1, q2 = np.maximum(q1, q2), np.minimum(q1, q2)
        shape = t.shape
        flat = [a.reshape(-1) for a in (q1, q2, t)]
        out = np.empty((4, t.size))
        for start in range(0, t.size, self.chunk):
            part = slice(start, start + self.chunk)
            out[:, part] = self._pair_flat(*(a[part] for a in flat))
        gap = np.sqrt(self.second_moment(q1)) - np.sqrt(self.second_moment(q2))
        return DualPair(
            cross=out[0].reshape(shape),
            deficit=np.maximum(out[1].reshape(shape) - 0.5 * gap**2, 0.0),
            surplus=np.maximum(out[2].reshape(shape) - 0.5 * gap**2, 0.0),
            derivative_cross=out[3].reshape(shape),
        )

    def _pair_flat(self, q1: FloatArray, q2: FloatArray, t: FloatArray) -> FloatArray:
        z, w = _hermite_rule(self.nodes)
        u = np.sqrt(q1)[:, None] * z  # (S, n)
        v = np.sqrt(q2)[:, None, None] * (
            np.cos(t)[:, None, None] * z[None, :, None] + np.sin(t)[:, None, None] * z
        )  # (S, n_i, n_j)
        fu, fv = self.phi(u), self.phi(v)
        cross = (fu * (fv @ w)) @ w
        half_diff = 0.5 * (((fu[:, :, None] - fv) ** 2) @ w) @ w
        half_sum = 0.5 * (((fu[:, :, None] + fv) ** 2) @ w) @ w
        dcross = (self.dphi(u) * (self.dphi(v) @ w)) @ w
        return np.stack([cross, half_diff, half_sum, dcross])


def _tanh_prime(x: FloatArray) -> FloatArray:
    return 1.0 / np.cosh(x) ** 2


def _gelu(x: FloatArray) -> FloatArray:
    from scipy.special import ndtr

    return x * ndtr(x)


def _gelu_prime(x: FloatArray) -> FloatArray:
    from scipy.special import ndtr

    return ndtr(x) + x * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def dual_activation(
    activation: Activation | str, *, hermite_nodes: int = DEFAULT_HERMITE_NODES
) -> DualActivation:
    """Return the dual activation of ``activation``.

    Parameters
    ----------
    activation : Activation or str
        ``relu`` and ``erf`` in closed form, ``tanh`` and ``gelu`` by quadrature.
    hermite_nodes : int
        Gauss–Hermite nodes per dimension for the quadrature activations.
    """
    name = Activation(activation)
    if name is Activation.RELU:
        return ReLU()
    if name is Activation.ERF:
        return Erf()
    if name is Activation.TANH:
        return GaussHermite("tanh", np.tanh, _tanh_prime, hermite_nodes)
    return GaussHermite("gelu", _gelu, _gelu_prime, hermite_nodes)
