r"""Exact eigen-decomposition of the analytic NNGP/NTK on the circle S¹.

The analytic kernels depend on γ − γ' only, so the Fourier modes are the
eigenfunctions of their integral operators (uniform probability measure) and
the eigenvalues are the cosine coefficients of the profile k(γ) = K(x0, x(γ))
(:mod:`spectralntk.spectral.fourier` for the convention). The profile is
analytic on [0, π], so Gauss–Legendre quadrature (:mod:`.quadrature`) gives
λ_k to rounding for every k ≤ K. The deep ReLU NTK's eigenvalues decay like k⁻²
(Bietti & Mairal 2019; Basri et al. 2019 for one hidden layer).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from spectralntk.config import NetworkConfig
from spectralntk.errors import check_int, parameter_error
from spectralntk.kernels.activations import DEFAULT_HERMITE_NODES
from spectralntk.kernels.circle import circle_kernel, uniform_angles
from spectralntk.kernels.recursion import Kernel
from spectralntk.spectral.fourier import circulant_eigenvalues, multiplicity
from spectralntk.spectral.quadrature import cosine_coefficients, cosine_plan

__all__ = [
    "MIN_FIT_POINTS",
    "SMOOTH_ACTIVATIONS",
    "ZERO_TOLERANCE",
    "CircleSpectrum",
    "PowerLawFit",
    "circle_spectrum",
    "cumulative_share",
    "decay_fit",
    "default_fit_range",
    "discrete_spectrum",
    "fit_power_law",
    "ratio_reference",
    "zero_small",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class CircleSpectrum:
    """Eigenvalues λ_k, k = 0..K, of the NNGP and NTK integral operators on S¹.

    Attributes
    ----------
    eigenvalues : Kernel
        ``nngp`` and ``ntk`` arrays of shape (K + 1,).
    trace : Kernel
        k(0) of each kernel (0-d arrays): the operator trace λ_0 + 2Σ_{k≥1} λ_k.
    """

    eigenvalues: Kernel
    trace: Kernel

    @property
    def max_frequency(self) -> int:
        """K."""
        return int(self.eigenvalues.ntk.shape[-1] - 1)

    @property
    def frequency(self) -> NDArray[np.int32]:
        """k = 0..K."""
        return np.arange(self.max_frequency + 1, dtype=np.int32)

    @property
    def multiplicity(self) -> NDArray[np.int32]:
        """1 for k = 0, 2 for k ≥ 1."""
        return multiplicity(self.max_frequency)


def circle_spectrum(
    config: NetworkConfig,
    max_frequency: int,
    *,
    nodes: int | None = None,
    hermite_nodes: int = DEFAULT_HERMITE_NODES,
) -> CircleSpectrum:
    """λ_k = (1/π)∫_0^π k(γ) cos(kγ) dγ for the NNGP and NTK, k = 0..K.

    Parameters
    ----------
    config : NetworkConfig
        Architecture (``input_dim`` 2).
    max_frequency : int
        K ≥ 0.
    nodes : int, optional
        Gauss–Legendre nodes on [0, π]; default about πK/4 + 160.
    hermite_nodes : int
        Gauss–Hermite nodes per dimension for tanh and gelu.

    Returns
    -------
    CircleSpectrum
    """
    plan = cosine_plan(check_int("max_frequency", max_frequency, 0), nodes)
    angles = np.concatenate([plan.angles, [0.0]])
    profile = circle_kernel(config, angles, hermite_nodes=hermite_nodes)
    values = np.stack([profile.nngp[:-1], profile.ntk[:-1]])
    coeff = cosine_coefficients(values, plan)
    return CircleSpectrum(
        eigenvalues=Kernel(nngp=coeff[0], ntk=coeff[1]),
        trace=Kernel(nngp=profile.nngp[-1], ntk=profile.ntk[-1]),
    )


def cumulative_share(eigenvalues: ArrayLike, trace: ArrayLike) -> FloatArray:
    """Share of the trace k(0) carried by frequencies 0..k: (λ_0 + 2Σ_{1≤j≤k} λ_j)/k(0).

    Parameters
    ----------
    eigenvalues : array_like, shape (..., K + 1)
    trace : array_like, shape (...)
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    weighted = lam * multiplicity(lam.shape[-1] - 1)
    return np.cumsum(weighted, axis=-1) / np.asarray(trace, dtype=np.float64)[..., None]


def discrete_spectrum(
    config: NetworkConfig, n_points: int, *, hermite_nodes: int = DEFAULT_HERMITE_NODES
) -> Kernel:
    """Eigenvalues μ_k, k = 0..⌊N/2⌋, of the Gram matrices on N uniform points.

    The Gram matrix of a rotation-invariant kernel on a uniform grid is
    circulant, so its spectrum is the FFT of one row (``numpy.linalg.eigvalsh``
    of the dense matrix gives the same numbers, each with the multiplicity of
    :func:`~spectralntk.spectral.fourier.circulant_multiplicity`).

    Parameters
    ----------
    config : NetworkConfig
    n_points : int
        N ≥ 1.

    Returns
    -------
    Kernel
        ``nngp`` and ``ntk`` of shape (⌊N/2⌋ + 1,); μ_k ≈ N·λ_k.
    """
    n = check_int("n_points", n_points, 1)
    row = circle_kernel(config, uniform_angles(n), hermite_nodes=hermite_nodes)
    return Kernel(nngp=circulant_eigenvalues(row.nngp), ntk=circulant_eigenvalues(row.ntk))


#: |λ_k| at or below this share of λ_max = max_k |λ_k| is reported as 0. The quadrature's
#: rounding of an exact zero (the even modes of an odd kernel, the odd modes k ≥ 3 of a
#: bias-free one-hidden-layer ReLU net) stays below 2e-14·λ_max for K ≤ 4096 (checked in
#: the tests), so everything below the tolerance is float64 noise, and everything above
#: it holds at least a few significant digits.
ZERO_TOLERANCE = 1e-13

#: Activations whose dual kernels are analytic on the whole circle: their eigenvalues
#: decay exponentially (faster than any power of k), so no power law is fitted to them.
SMOOTH_ACTIVATIONS: tuple[str, ...] = ("erf", "tanh", "gelu")

#: Fewest eigenvalues a power law is fitted to.
MIN_FIT_POINTS = 3


def zero_small(eigenvalues: ArrayLike, tolerance: float = ZERO_TOLERANCE) -> FloatArray:
    """λ with every |λ_k| ≤ ``tolerance``·max_k |λ_k| set to 0 (along the last axis).

    Parameters
    ----------
    eigenvalues : array_like, shape (..., K + 1)
    tolerance : float
        Share of λ_max below which an eigenvalue is rounding noise
        (:data:`ZERO_TOLERANCE`).
    """
    lam = np.array(eigenvalues, dtype=np.float64)
    top = np.max(np.abs(lam), axis=-1, keepdims=True) if lam.size else np.zeros(lam.shape[:-1])
    lam[np.abs(lam) <= tolerance * top] = 0.0
    return lam


def ratio_reference(eigenvalues: ArrayLike, tolerance: float = ZERO_TOLERANCE) -> tuple[float, str]:
    """What λ_k is shown relative to: (λ_0, "λ_0"), or (λ_max, "λ_max") where λ_0 = 0.

    λ_0 counts as 0 when |λ_0| ≤ ``tolerance``·λ_max (an odd kernel, a bias-free
    linear one); the ratio to it would be a ratio to rounding noise.

    Parameters
    ----------
    eigenvalues : array_like, shape (K + 1,)
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    top = float(np.max(np.abs(lam))) if lam.size else 0.0
    if lam.size and abs(float(lam[0])) > tolerance * top:
        return float(lam[0]), "λ_0"
    return top, "λ_max"


@dataclass(frozen=True)
class PowerLawFit:
    """Least-squares fit of log λ_k = log C − p log k over k_min ≤ k ≤ k_max.

    Attributes
    ----------
    exponent : float
        p (NaN when no power law is fitted; ``reason`` says why).
    prefactor : float
        C (NaN with ``exponent``).
    k_min, k_max : int
        The stated frequency range.
    points : int
        Eigenvalues used.
    parity : {"all", "even", "odd"}
        Which frequencies were fitted: a parity whose eigenvalues all vanish in the
        range (the odd modes k ≥ 3 of a bias-free one-hidden-layer ReLU net) is left out.
    k_last : int
        The largest frequency used: the fit stops below the first eigenvalue of the
        fitted parities that reaches the float64 floor (``tolerance``·λ_max), so that
        the parities enter it over the same range (−1 when nothing is fitted).
    reason : str
        Why no power law is fitted ("" when one is).
    """

    exponent: float
    prefactor: float
    k_min: int
    k_max: int
    points: int
    parity: str = "all"
    k_last: int = -1
    reason: str = ""

    @property
    def fitted(self) -> bool:
        """Whether a power law was fitted (a finite exponent)."""
        return bool(np.isfinite(self.exponent))

    def describe(self) -> str:
        """How the fit was made, or why there is none (one line, for tables and reports)."""
        if not self.fitted:
            return f"no power law: {self.reason}" if self.reason else "no power law"
        which = {"all": "", "even": "even k only, ", "odd": "odd k only, "}[self.parity]
        upto = (
            f"; λ_k reaches the float64 floor above k = {self.k_last}"
            if 0 <= self.k_last < self.k_max
            else ""
        )
        return (
            f"log-log least squares over {self.k_min} ≤ k ≤ {self.k_max}, "
            f"{which}{self.points} eigenvalues{upto}"
        )


def default_fit_range(max_frequency: int) -> tuple[int, int]:
    """The range used when none is stated: the upper three quarters, [⌈K/4⌉, K], k ≥ 1."""
    k = check_int("max_frequency", max_frequency, 0)
    return max(1, -(-k // 4)), max(1, k)


def fit_power_law(
    eigenvalues: ArrayLike,
    k_range: tuple[int, int] | None = None,
    *,
    tolerance: float = ZERO_TOLERANCE,
) -> PowerLawFit:
    """Fit λ_k ≈ C·k^−p on a log-log scale, over the non-vanishing parity and above the floor.

    Eigenvalues with |λ_k| ≤ ``tolerance``·λ_max are zeros (λ_max = max_k |λ_k|, over
    all k given). A parity (even or odd k) all of whose eigenvalues in range are zeros
    is left out; the fit then runs over the other parity up to the last frequency
    before the first zero (or negative value) of the fitted parities: mixing one
    parity's full range with the other's low frequencies would tilt the slope.

    Parameters
    ----------
    eigenvalues : array_like, shape (K + 1,)
        λ_0..λ_K.
    k_range : (int, int), optional
        Inclusive range; :func:`default_fit_range` if omitted.
    tolerance : float
        Share of λ_max below which an eigenvalue counts as 0 (:data:`ZERO_TOLERANCE`).

    Returns
    -------
    PowerLawFit
        With NaN exponent and a ``reason`` when fewer than :data:`MIN_FIT_POINTS`
        eigenvalues are left.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if lam.ndim != 1 or lam.size == 0:
        raise parameter_error("eigenvalues", "a non-empty 1-d array", lam.shape)
    k_max_all = lam.size - 1
    lo, hi = default_fit_range(k_max_all) if k_range is None else k_range
    lo = check_int("k_min", lo, 1, max(1, k_max_all))
    hi = check_int("k_max", hi, lo, max(lo, k_max_all))
    nan = float("nan")

    def none(reason: str, points: int = 0, parity: str = "all") -> PowerLawFit:
        return PowerLawFit(nan, nan, lo, hi, points, parity, -1, reason)

    top = float(np.max(np.abs(lam))) if np.all(np.isfinite(lam)) else nan
    if not top > 0:
        return none("the eigenvalues are all 0" if top == 0 else "the eigenvalues are not finite")
    k = np.arange(lo, min(hi, k_max_all) + 1)
    zero = np.abs(lam[k]) <= tolerance * top
    live = [p for p in (0, 1) if np.any(~zero[k % 2 == p])]
    floor = f"{tolerance:g}·λ_max"
    if not live:
        return none(f"every λ_k with {lo} ≤ k ≤ {hi} is 0, |λ_k| ≤ {floor}")
    parity = "all" if len(live) == 2 else ("even", "odd")[live[0]]
    use = np.isin(k % 2, live)
    ks, values = k[use], lam[k][use]
    bad = (np.abs(values) <= tolerance * top) | (values <= 0)
    if bad.any():
        first = int(ks[np.argmax(bad)])
        keep = ks < first
        ks, values = ks[keep], values[keep]
        if ks.size < MIN_FIT_POINTS:
            return none(
                f"λ_k reaches the float64 floor ({floor}) at k = {first}, leaving "
                f"{ks.size} eigenvalue{'s' if ks.size != 1 else ''} in {lo} ≤ k ≤ {hi}",
                int(ks.size),
                parity,
            )
    if ks.size < MIN_FIT_POINTS:
        return none(f"only {ks.size} eigenvalues in {lo} ≤ k ≤ {hi}", int(ks.size), parity)
    slope, intercept = np.polyfit(np.log(ks), np.log(values), 1)
    return PowerLawFit(
        float(-slope), float(np.exp(intercept)), lo, hi, int(ks.size), parity, int(ks[-1])
    )


def decay_fit(
    eigenvalues: ArrayLike,
    k_range: tuple[int, int] | None = None,
    *,
    activation: str,
    depth: int,
    tolerance: float = ZERO_TOLERANCE,
) -> PowerLawFit:
    """The power-law fit of an architecture's spectrum, or none for a smooth activation.

    A smooth activation (:data:`SMOOTH_ACTIVATIONS`) at depth ≥ 1 has kernels that are
    analytic on the circle, so λ_k decays exponentially: no exponent p describes it,
    and none is fitted (the reason says so). Otherwise :func:`fit_power_law`.

    Parameters
    ----------
    eigenvalues : array_like, shape (K + 1,)
    k_range : (int, int), optional
    activation : str
        The activation's name (``relu``, ``erf``, ``tanh``, ``gelu``).
    depth : int
        Hidden layers (at depth 0 the kernels are linear in x·x' for every activation).
    tolerance : float
    """
    fit = fit_power_law(eigenvalues, k_range, tolerance=tolerance)
    name = str(getattr(activation, "value", activation))
    if name in SMOOTH_ACTIVATIONS and depth >= 1:
        nan = float("nan")
        return dataclasses.replace(
            fit,
            exponent=nan,
            prefactor=nan,
            points=0,
            k_last=-1,
            reason=(
                f"{name} is smooth, so its kernels are analytic on the circle and λ_k "
                "decays exponentially"
            ),
        )
    return fit
