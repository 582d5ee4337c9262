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
    "CircleSpectrum",
    "PowerLawFit",
    "circle_spectrum",
    "cumulative_share",
    "default_fit_range",
    "discrete_spectrum",
    "fit_power_law",
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


@dataclass(frozen=True)
class PowerLawFit:
    """Least-squares fit of log λ_k = log C − p log k over k_min ≤ k ≤ k_max.

    Attributes
    ----------
    exponent : float
        p (NaN when fewer than two eigenvalues in range are above the floor).
    prefactor : float
        C.
    k_min, k_max : int
        The stated frequency range.
    points : int
        Eigenvalues used: those in range above ``floor``·λ_0 (exact zeros, such
        as the odd modes of a bias-free one-hidden-layer ReLU net, are skipped).
    """

    exponent: float
    prefactor: float
    k_min: int
    k_max: int
    points: int


def default_fit_range(max_frequency: int) -> tuple[int, int]:
    """The range used when none is stated: the upper three quarters, [⌈K/4⌉, K], k ≥ 1."""
    k = check_int("max_frequency", max_frequency, 0)
    return max(1, -(-k // 4)), max(1, k)


def fit_power_law(
    eigenvalues: ArrayLike,
    k_range: tuple[int, int] | None = None,
    *,
    floor: float = 1e-12,
) -> PowerLawFit:
    """Fit λ_k ≈ C·k^−p on a log-log scale.

    Parameters
    ----------
    eigenvalues : array_like, shape (K + 1,)
        λ_0..λ_K.
    k_range : (int, int), optional
        Inclusive range; :func:`default_fit_range` if omitted.
    floor : float
        Eigenvalues ≤ floor·λ_0 count as zero and are left out.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if lam.ndim != 1 or lam.size == 0:
        raise parameter_error("eigenvalues", "a non-empty 1-d array", lam.shape)
    k_max_all = lam.size - 1
    lo, hi = default_fit_range(k_max_all) if k_range is None else k_range
    lo = check_int("k_min", lo, 1, max(1, k_max_all))
    hi = check_int("k_max", hi, lo, max(lo, k_max_all))
    k = np.arange(lo, min(hi, k_max_all) + 1)
    sel = lam[k] > floor * abs(lam[0])
    if sel.sum() < 2:
        return PowerLawFit(float("nan"), float("nan"), lo, hi, int(sel.sum()))
    slope, intercept = np.polyfit(np.log(k[sel]), np.log(lam[k][sel]), 1)
    return PowerLawFit(float(-slope), float(np.exp(intercept)), lo, hi, int(sel.sum()))
