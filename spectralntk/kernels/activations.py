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
gelu use Mehler's Hermite series (:class:`HermiteSeries`), which estimates its own
error, grows until it meets :data:`SERIES_TOLERANCE` and otherwise refuses
(:class:`QuadratureError`); the tensor Gauss–Hermite rule (:class:`GaussHermite`)
is kept for comparison but has no error estimate (at σ_w = 5 it is off by 1e-2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from spectralntk.config import Activation
from spectralntk.errors import SpectralNTKError

__all__ = [
    "DEFAULT_HERMITE_NODES",
    "DualActivation",
    "DualPair",
    "HermiteSeries",
    "QuadratureError",
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


class QuadratureError(SpectralNTKError, ArithmeticError):
    """The Hermite series of an activation does not reach its tolerance within the term cap.

    Attributes
    ----------
    variance : float
        The pre-activation variance q at which it failed.
    tail : float
        The estimated relative error reached.
    """

    def __init__(self, name: str, variance: float, tail: float, terms: int) -> None:
        super().__init__(
            f"the {name} dual activation does not converge at pre-activation variance "
            f"q = {variance:.6g}: after {terms} Hermite terms its estimated relative error "
            f"is {tail:.3g} > {SERIES_TOLERANCE:g}"
        )
        self.variance = variance
        self.tail = tail


#: Relative tolerance of the Hermite series: the tail Σ_{n>N} a_n² of E[φ²] and of E[φ'²].
SERIES_TOLERANCE = 2e-15
#: Most Hermite terms a series may use (tanh: q up to about 200, i.e. σ_w ≲ 14).
MAX_SERIES_TERMS = 1 << 15
#: Coefficients already computed: (activation name, q, min_terms) -> (a_n, d_n).
_COEFFICIENTS: dict[tuple[str, float, int], tuple[FloatArray, FloatArray]] = {}
#: Half-width of the z-grid: the integrands decay like exp(−z²/4) (< 1e-21 beyond).
_Z_RANGE = 14.0


def _series_rule(q: float, refine: int) -> tuple[FloatArray, FloatArray]:
    """Trapezoid nodes z = δ·j (j = −J..J, J even) and √weights √(δ·ϕ(z)) for variance q."""
    delta = 0.1 / max(1.0, math.sqrt(q)) / 2.0**refine
    half = 2 * math.ceil(_Z_RANGE / delta / 2.0)
    z = delta * np.arange(-half, half + 1, dtype=np.float64)
    root_w = np.sqrt(delta * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi))
    return z, root_w


class HermiteSeries:
    r"""Dual activation by Mehler's formula, with its error estimated and bounded.

    For (u, v) = (√q1 Z1, √q2 Z2) with corr(Z1, Z2) = ρ = cos t, Mehler's formula gives
    E[f(u) g(v)] = Σ_n ρⁿ a_n b_n with the Hermite coefficients
    a_n = E[f(√q1 Z) h_n(Z)], h_n = He_n/√(n!) orthonormal (and b_n likewise); E[φ'φ']
    uses the coefficients of φ'. The coefficients come from a trapezoid rule on a
    uniform z-grid (geometrically convergent for these analytic integrands), checked
    against the rule with every other node (2δ against δ); the series is cut at the
    first N where the tail m − Σ_{n≤N} a_n² of both φ and φ' is below
    :data:`SERIES_TOLERANCE` of m (Bessel; by Cauchy–Schwarz this bounds the error of
    every pair expectation at every angle). The second moments reported are the
    truncated sums Σ a_n², so the deficit is exactly 0 at t = 0. If no N up to
    :data:`MAX_SERIES_TERMS` is enough (very large q: the activation is then almost a
    step), :class:`QuadratureError` is raised: the kernel is refused, never guessed.

    Deficit and surplus are assembled without cancellation: for ρ ≥ 0,
    Σ c_n(1 − ρⁿ) = (1 − ρ)·Σ_j ρʲ T_j with T_j = Σ_{n>j} c_n and 1 − ρ = 2 sin²(t/2);
    for ρ ≤ 0, σ = −ρ, Σ c_n(1 + ρⁿ) = (1 − σ)·Σ_j σʲ T_j + 2·Σ_{n even} c_n σⁿ.

    Parameters
    ----------
    name : str
    phi, dphi : callable
        φ and φ' (vectorised).
    min_terms : int
        Terms the series uses at least.
    """

    def __init__(self, name: str, phi, dphi, min_terms: int = 2) -> None:  # type: ignore[no-untyped-def]
        self.name = name
        self.phi = phi
        self.dphi = dphi
        self.min_terms = max(1, int(min_terms))

    # -- coefficients -------------------------------------------------------------------
    def coefficients(self, q: float) -> tuple[FloatArray, FloatArray]:
        """Hermite coefficients (a_n) of φ(√q Z) and (d_n) of φ'(√q Z), n = 0..N."""
        q = float(q)
        key = (self.name, q, self.min_terms)
        hit = _COEFFICIENTS.get(key)
        if hit is not None:
            return hit
        if not math.isfinite(q) or q < 0.0:
            raise QuadratureError(self.name, q, math.inf, 0)
        for refine in range(4):
            result = self._coefficients(q, refine)
            if result is not None:
                break
        else:
            raise QuadratureError(self.name, q, math.inf, MAX_SERIES_TERMS)
        if len(_COEFFICIENTS) > 256:
            _COEFFICIENTS.clear()
        _COEFFICIENTS[key] = result
        return result

    def _coefficients(self, q: float, refine: int) -> tuple[FloatArray, FloatArray] | None:
        z, root_w = _series_rule(q, refine)
        x = math.sqrt(q) * z
        with np.errstate(over="ignore", invalid="ignore"):
            f = np.stack([self.phi(x), self.dphi(x)]) * root_w  # (2, nodes)
        if not np.all(np.isfinite(f)):
            raise QuadratureError(self.name, q, math.inf, 0)
        moments = np.array([math.fsum(row) for row in f * f])  # m and m' on the fine rule
        norm = np.maximum(moments, 1e-300)
        coarse = f[:, ::2]  # every other node: the rule with 2δ (weights ×2)
        scale = np.sqrt(norm)
        fine_out: list[FloatArray] = []
        psi_prev = np.zeros_like(z)
        psi = root_w.copy()  # √w·h_0
        captured, carry = np.zeros(2), np.zeros(2)  # Kahan-compensated Σ a_n²
        n = 0
        while True:
            a = f @ psi
            a2 = 2.0 * (coarse @ psi[::2])
            if np.any(np.abs(a - a2) > 1e-9 * scale):
                return None  # the coarse rule disagrees: refine the grid
            fine_out.append(a)
            term = a * a - carry
            total = captured + term
            carry = (total - captured) - term
            captured = total
            tail = (moments - captured) / norm
            n += 1
            if n >= self.min_terms and np.all(tail <= SERIES_TOLERANCE):
                break
            if n >= MAX_SERIES_TERMS:
                raise QuadratureError(self.name, q, float(np.max(tail)), n)
            # h_n = (z h_{n−1} − √(n−1) h_{n−2})/√n
            psi_prev, psi = psi, (z * psi - math.sqrt(n - 1) * psi_prev) / math.sqrt(n)
        coeff = np.array(fine_out).T  # (2, N)
        a_coef, d_coef = coeff[0].copy(), coeff[1].copy()
        a_coef.setflags(write=False)
        d_coef.setflags(write=False)
        return a_coef, d_coef

    # -- moments ------------------------------------------------------------------------
    def _moment(self, q: FloatArray, which: int) -> FloatArray:
        q = np.asarray(q, dtype=np.float64)
        values, inverse = np.unique(q, return_inverse=True)
        sums = np.array([np.sum(self.coefficients(v)[which] ** 2) for v in values.ravel()])
        return sums[inverse].reshape(q.shape)

    def second_moment(self, q: FloatArray) -> FloatArray:
        return self._moment(q, 0)

    def derivative_second_moment(self, q: FloatArray) -> FloatArray:
        return self._moment(q, 1)

    # -- pairs --------------------------------------------------------------------------
    def pair(self, q1: FloatArray, q2: FloatArray, t: FloatArray) -> DualPair:
        q1, q2, t = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (q1, q2, t)))
        shape = t.shape
        q1, q2, t = (a.reshape(-1) for a in (q1, q2, t))
        values, inverse = np.unique(np.concatenate([q1, q2]), return_inverse=True)
        i1, i2 = inverse[: t.size], inverse[t.size :]
        coeffs = [self.coefficients(v) for v in values]
        out = np.empty((4, t.size))
        combos, where = np.unique(np.stack([i1, i2]), axis=1, return_inverse=True)
        where = where.reshape(-1)
        for k in range(combos.shape[1]):
            sel = np.flatnonzero(where == k)
            (a1, d1), (a2, d2) = coeffs[combos[0, k]], coeffs[combos[1, k]]
            out[:, sel] = _mehler(a1, d1, a2, d2, t[sel])
        cross, deficit, surplus, dcross = out.reshape(4, *shape)
        return DualPair(
            cross=cross,
            deficit=np.maximum(deficit, 0.0),
            surplus=np.maximum(surplus, 0.0),
            derivative_cross=dcross,
        )


def _pad(a: FloatArray, n: int) -> FloatArray:
    return np.concatenate([a, np.zeros(n - a.size)]) if a.size < n else a


def _horner(coeff: FloatArray, x: FloatArray) -> FloatArray:
    """Σ_n coeff[n]·xⁿ by Horner's rule (stable for |x| ≤ 1)."""
    acc = np.zeros_like(x)
    for c in coeff[::-1]:
        acc *= x
        acc += c
    return acc


def _mehler(
    a1: FloatArray, d1: FloatArray, a2: FloatArray, d2: FloatArray, t: FloatArray
) -> FloatArray:
    """(cross, deficit, surplus, derivative cross) of one pair of coefficient sets."""
    n = max(a1.size, a2.size)
    a1, a2 = _pad(a1, n), _pad(a2, n)
    m = max(d1.size, d2.size)
    d1, d2 = _pad(d1, m), _pad(d2, m)
    c = a1 * a2
    total = np.sum(c)
    tails = np.concatenate([np.cumsum(c[::-1])[::-1][1:], [0.0]])  # T_j = Σ_{n>j} c_n
    even = c.copy()
    even[1::2] = 0.0
    m1, m2 = np.sum(a1 * a1), np.sum(a2 * a2)
    # √(M1 M2) − Σ c_n = ½Σ(a1 − a2)² − ½(√M1 − √M2)², exactly 0 for equal variances.
    bracket = 0.5 * np.sum((a1 - a2) ** 2) - 0.5 * (math.sqrt(m1) - math.sqrt(m2)) ** 2
    x = np.cos(t)
    sigma = np.abs(x)
    cross = _horner(c, x)
    low = 2.0 * np.sin(0.5 * t) ** 2  # 1 − cos t
    high = 2.0 * np.cos(0.5 * t) ** 2  # 1 + cos t
    tail_sum = _horner(tails, sigma)
    deficit = np.where(x >= 0.0, low * tail_sum, total - cross) + bracket
    surplus = np.where(x <= 0.0, high * tail_sum + 2.0 * _horner(even, sigma), total + cross)
    surplus = surplus + bracket
    return np.stack([cross, deficit, surplus, _horner(d1 * d2, x)])


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
        return HermiteSeries("tanh", np.tanh, _tanh_prime, hermite_nodes)
    return HermiteSeries("gelu", _gelu, _gelu_prime, hermite_nodes)
