r"""Residuals on the circle, frequency by frequency, as real Fourier coefficients.

Convention (docs/conventions.md, "Residual modes"): a residual r on the circle
is written as the real series

    r(γ) = a_0 + Σ_{k≥1} (a_k cos kγ + b_k sin kγ),     b_0 = 0,

and stored as the real numbers (a_k, b_k), k = 0..K (NetCDF has no portable
complex type). On the circle with the uniform probability measure the modes are
orthogonal and Parseval gives the mean square

    (1/2π) ∫ r² dγ = a_0² + ½ Σ_{k≥1} (a_k² + b_k²),

which :func:`mode_energy` splits per frequency.

Two ways to get the coefficients from values at N points:

* on the uniform grid γ_j = s + 2πj/N, exactly by the discrete Fourier transform
  (:func:`fourier_modes`, ``numpy.fft.rfft``); the discrete modes are orthogonal
  on the grid, so this is also the least-squares fit for every K ≤ N/2;
* at arbitrary distinct angles, by the least-squares fit of the truncated
  series (:func:`least_squares_modes`).

At the Nyquist frequency k = N/2 of an even grid cos kγ and sin kγ are both
proportional to (−1)^j on the grid; the coefficient c of (−1)^j is stored as the
minimum-norm pair a = c cos(Ns/2), b = c sin(Ns/2) (a = c, b = 0 for s = 0).

:class:`ModeProjector` is the same map as a matrix (K + 1, N) for cos and sin
parts, built once for a fixed set of points and applied to many residuals (it
can be moved to any array library, e.g. multiplied on a GPU).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike, NDArray

from spectralntk.errors import check_choice, check_int, check_real, parameter_error

__all__ = [
    "MODE_METHODS",
    "ModeProjector",
    "fourier_modes",
    "grid_offset",
    "least_squares_modes",
    "mode_amplitude",
    "mode_energy",
    "mode_energy_share",
    "mode_phase",
    "mode_projector",
    "synthesize",
]

FloatArray = NDArray[np.float64]

#: Ways of computing residual modes: exact discrete Fourier transform on a
#: uniform grid, or the least-squares fit at arbitrary angles.
MODE_METHODS: tuple[str, ...] = ("fft", "least_squares")

_TWO_PI = 2.0 * np.pi


def _values(values: ArrayLike) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise parameter_error("values", "an array of shape (..., N) with N ≥ 1", arr.shape)
    return arr


def _angles(gamma: ArrayLike) -> FloatArray:
    g = np.asarray(gamma, dtype=np.float64)
    if g.ndim != 1 or g.shape[0] == 0:
        raise parameter_error("gamma", "a non-empty 1-d array of angles", g.shape)
    if not np.all(np.isfinite(g)):
        raise parameter_error("gamma", "an array of finite angles", "non-finite entries")
    return g


def fourier_modes(
    values: ArrayLike, max_frequency: int, *, start: float = 0.0
) -> tuple[FloatArray, FloatArray]:
    """Real Fourier coefficients of values on a uniform grid, exactly, by FFT.

    With F_k = Σ_j r_j e^{−2πijk/N} (``numpy.fft.rfft``) and the grid
    γ_j = s + 2πj/N: a_0 = Re F_0/N, b_0 = 0; for 0 < k < N/2,
    a_k − i b_k = (2/N) F_k e^{−iks}; for even N at k = N/2, a = c cos(Ns/2),
    b = c sin(Ns/2) with c = Re F_{N/2}/N (a = c, b = 0 for s = 0).
    A residual with any non-finite value gets NaN for every mode (a diverged run).

    Parameters
    ----------
    values : array_like, shape (..., N)
        r(γ_j) on the grid, along the last axis.
    max_frequency : int
        K, 0 ≤ K ≤ ⌊N/2⌋.
    start : float
        The first angle s of the grid (0 for :func:`spectralntk.uniform_angles`,
        −π for the evaluation grid on [−π, π)).

    Returns
    -------
    a, b : ndarray, shape (..., K + 1)
        Cos and sin coefficients for k = 0..K.

    Raises
    ------
    ParameterError
        ``'max_frequency'`` when K > ⌊N/2⌋.
    """
    arr = _values(values)
    n = arr.shape[-1]
    kmax = check_int("max_frequency", max_frequency, 0, n // 2)
    s = check_real("start", start)
    spectrum = np.fft.rfft(arr, axis=-1)[..., : kmax + 1]
    k = np.arange(kmax + 1)
    if s != 0.0:
        spectrum = spectrum * np.exp(-1j * k * s)
    a = 2.0 * spectrum.real / n
    b = -2.0 * spectrum.imag / n
    a[..., 0] = spectrum[..., 0].real / n
    b[..., 0] = 0.0
    if n % 2 == 0 and kmax == n // 2 and kmax > 0:
        # spectrum[..., kmax] = c·e^{−iNs/2} with c real: a = Re, b = −Im gives c(cos, sin).
        a[..., kmax] = spectrum[..., kmax].real / n
        b[..., kmax] = -spectrum[..., kmax].imag / n
    return _poison(arr, a, b)


def _poison(values: FloatArray, a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Set every mode of a residual with a non-finite value to NaN (in place)."""
    bad = ~np.all(np.isfinite(values), axis=-1)
    if np.any(bad):
        a[bad] = np.nan
        b[bad] = np.nan
    return a, b


def _design(gamma: FloatArray, kmax: int) -> FloatArray:
    """Columns [1, cos γ, sin γ, cos 2γ, sin 2γ, …, cos Kγ, sin Kγ], shape (N, 2K + 1)."""
    k = np.arange(1, kmax + 1)
    phase = np.multiply.outer(gamma, k)
    out = np.empty((gamma.shape[0], 2 * kmax + 1))
    out[:, 0] = 1.0
    out[:, 1::2] = np.cos(phase)
    out[:, 2::2] = np.sin(phase)
    return out


def _distinct_angles(gamma: FloatArray) -> int:
    wrapped = np.sort(np.remainder(gamma, _TWO_PI))
    if wrapped.size == 1:
        return 1
    gaps = np.diff(np.concatenate([wrapped, [wrapped[0] + _TWO_PI]]))
    return max(int(np.count_nonzero(gaps > 1e-12)), 1)


def _split(coef: FloatArray, kmax: int) -> tuple[FloatArray, FloatArray]:
    """(..., 2K + 1) design coefficients to a, b of shape (..., K + 1)."""
    a = np.empty((*coef.shape[:-1], kmax + 1))
    b = np.zeros_like(a)
    a[..., 0] = coef[..., 0]
    a[..., 1:] = coef[..., 1::2]
    b[..., 1:] = coef[..., 2::2]
    return a, b


def _least_squares_matrix(gamma: FloatArray, kmax: int) -> FloatArray:
    """Pseudo-inverse of the design matrix, shape (2K + 1, N), by a thin QR."""
    distinct = _distinct_angles(gamma)
    if 2 * kmax + 1 > distinct:
        raise parameter_error(
            "max_frequency",
            f"an int in the range [0, {(distinct - 1) // 2}] (2K + 1 ≤ {distinct} distinct angles)",
            kmax,
        )
    q, r = np.linalg.qr(_design(gamma, kmax))
    return np.asarray(scipy.linalg.solve_triangular(r, q.T), dtype=np.float64)


def least_squares_modes(
    gamma: ArrayLike, values: ArrayLike, max_frequency: int
) -> tuple[FloatArray, FloatArray]:
    """Real Fourier coefficients at arbitrary angles by least squares.

    Solves min over (a, b) of Σ_j (r(γ_j) − a_0 − Σ_{k=1}^K (a_k cos kγ_j + b_k sin kγ_j))²
    with a thin QR of the design matrix [1, cos kγ, sin kγ] (N, 2K + 1), once
    for all leading axes of ``values``. The fit is unique when the angles hold
    at least 2K + 1 distinct points modulo 2π (a non-zero trigonometric
    polynomial of degree K has at most 2K roots). On the uniform grid with
    K < N/2 it equals :func:`fourier_modes`; a residual that is a
    trigonometric polynomial of degree ≤ K is recovered exactly.

    Parameters
    ----------
    gamma : array_like, shape (N,)
        Angles of the points in radians.
    values : array_like, shape (..., N)
        r(γ_j) along the last axis.
    max_frequency : int
        K ≥ 0 with 2K + 1 ≤ number of distinct angles.

    Returns
    -------
    a, b : ndarray, shape (..., K + 1)

    Raises
    ------
    ParameterError
        ``'max_frequency'`` when there are fewer than 2K + 1 distinct angles;
        ``'values'`` when its last axis does not match ``gamma``.
    """
    g = _angles(gamma)
    arr = _values(values)
    if arr.shape[-1] != g.shape[0]:
        raise parameter_error("values", f"an array of shape (..., {g.shape[0]})", arr.shape)
    kmax = check_int("max_frequency", max_frequency, 0)
    pinv = _least_squares_matrix(g, kmax)
    with np.errstate(invalid="ignore", over="ignore"):
        coef = arr @ pinv.T
    return _poison(arr, *_split(coef, kmax))


def grid_offset(gamma: ArrayLike, *, atol: float = 1e-10) -> float | None:
    """The start s if the angles are the uniform grid s + 2πj/N in order, else None.

    Parameters
    ----------
    gamma : array_like, shape (N,)
    atol : float
        Tolerance in radians for each angle (modulo 2π).

    Returns
    -------
    float or None
        s = γ_0 when γ_j ≡ γ_0 + 2πj/N (mod 2π) for every j.
    """
    g = _angles(gamma)
    n = g.shape[0]
    expected = g[0] + _TWO_PI * np.arange(n) / n
    diff = np.remainder(g - expected + np.pi, _TWO_PI) - np.pi
    return float(g[0]) if bool(np.all(np.abs(diff) <= atol)) else None


@dataclass(frozen=True)
class ModeProjector:
    """Linear map from residual values at N fixed points to (a_k, b_k), k = 0..K.

    ``a = values @ cos_matrix.T``, ``b = values @ sin_matrix.T``. Build with
    :func:`mode_projector`.

    Attributes
    ----------
    gamma : ndarray, shape (N,)
        Angles of the points.
    max_frequency : int
        K.
    method : {"fft", "least_squares"}
        ``fft``: the exact discrete Fourier transform of a uniform grid (in
        matrix form; :func:`fourier_modes` gives the same by FFT);
        ``least_squares``: the fit of :func:`least_squares_modes`.
    cos_matrix, sin_matrix : ndarray, shape (K + 1, N)
        Rows map values to a_k and b_k (the sin row of k = 0 is zero).
    """

    gamma: FloatArray
    max_frequency: int
    method: str
    cos_matrix: FloatArray
    sin_matrix: FloatArray

    def __call__(self, values: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Coefficients of ``values`` (..., N): a, b of shape (..., K + 1)."""
        arr = _values(values)
        if arr.shape[-1] != self.gamma.shape[0]:
            raise parameter_error(
                "values", f"an array of shape (..., {self.gamma.shape[0]})", arr.shape
            )
        with np.errstate(invalid="ignore", over="ignore"):
            a, b = arr @ self.cos_matrix.T, arr @ self.sin_matrix.T
        return _poison(arr, a, b)

    @property
    def frequencies(self) -> NDArray[np.int64]:
        """k = 0..K, shape (K + 1,)."""
        return np.arange(self.max_frequency + 1, dtype=np.int64)


def mode_projector(gamma: ArrayLike, max_frequency: int, *, method: str = "auto") -> ModeProjector:
    """Build the mode map for residuals at the points ``gamma``.

    Parameters
    ----------
    gamma : array_like, shape (N,)
        Angles of the points (the order of the residual's last axis).
    max_frequency : int
        K: ≤ N/2 for ``fft``; 2K + 1 ≤ distinct angles for ``least_squares``.
    method : {"auto", "fft", "least_squares"}
        ``auto`` uses ``fft`` when ``gamma`` is a uniform grid s + 2πj/N in
        order (:func:`grid_offset`) and ``least_squares`` otherwise.

    Returns
    -------
    ModeProjector
        For ``fft`` the rows are the discrete orthogonality formulas
        a_0 = (1/N)Σ r_j, a_k = (2/N)Σ r_j cos kγ_j, b_k = (2/N)Σ r_j sin kγ_j,
        and at k = N/2 (even N) a = (1/N)Σ r_j cos(Nγ_j/2), b = (1/N)Σ r_j sin(Nγ_j/2).
    """
    g = _angles(gamma)
    n = g.shape[0]
    choice = check_choice("method", method, ("auto", *MODE_METHODS))
    if choice == "auto":
        choice = "fft" if grid_offset(g) is not None else "least_squares"
    kmax = check_int("max_frequency", max_frequency, 0)
    if choice == "fft":
        start = grid_offset(g)
        if start is None:
            raise parameter_error("gamma", "a uniform grid s + 2πj/N for method 'fft'", "other")
        kmax = check_int("max_frequency", kmax, 0, n // 2)
        # exact integer phases: k·j mod N keeps large k·j accurate
        j = np.arange(n)
        k = np.arange(kmax + 1)
        phase = _TWO_PI * (np.multiply.outer(k, j) % n) / n + k[:, None] * start
        weight = np.full(kmax + 1, 2.0 / n)
        weight[0] = 1.0 / n
        if n % 2 == 0 and kmax == n // 2 and kmax > 0:
            weight[kmax] = 1.0 / n
        cos_m = weight[:, None] * np.cos(phase)
        sin_m = weight[:, None] * np.sin(phase)
        sin_m[0] = 0.0
    else:
        pinv = _least_squares_matrix(g, kmax)
        cos_m = np.empty((kmax + 1, n))
        sin_m = np.zeros((kmax + 1, n))
        cos_m[0] = pinv[0]
        cos_m[1:] = pinv[1::2]
        sin_m[1:] = pinv[2::2]
    return ModeProjector(
        gamma=g.copy(), max_frequency=kmax, method=choice, cos_matrix=cos_m, sin_matrix=sin_m
    )


def synthesize(a: ArrayLike, b: ArrayLike, gamma: ArrayLike) -> FloatArray:
    """Evaluate a_0 + Σ_{k≥1} (a_k cos kγ + b_k sin kγ) (the inverse of the mode maps).

    Parameters
    ----------
    a, b : array_like, shape (..., K + 1)
    gamma : array_like, shape (N,)

    Returns
    -------
    ndarray, shape (..., N)
    """
    aa = np.asarray(a, dtype=np.float64)
    bb = np.asarray(b, dtype=np.float64)
    if aa.shape != bb.shape or aa.ndim == 0:
        raise parameter_error("b", f"an array of the shape of 'a' {aa.shape}", bb.shape)
    g = _angles(gamma)
    phase = np.multiply.outer(np.arange(aa.shape[-1]), g)  # (K + 1, N)
    out: FloatArray = aa @ np.cos(phase) + bb @ np.sin(phase)
    return out


def mode_amplitude(a: ArrayLike, b: ArrayLike) -> FloatArray:
    """Amplitude A_k = √(a_k² + b_k²) of each mode, shape of ``a``.

    a cos kγ + b sin kγ = A cos(kγ − φ) with φ = :func:`mode_phase`.
    """
    return np.asarray(np.hypot(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)))


def mode_phase(a: ArrayLike, b: ArrayLike) -> FloatArray:
    """Phase φ_k = atan2(b_k, a_k) in (−π, π], so a cos kγ + b sin kγ = A cos(kγ − φ)."""
    return np.asarray(np.arctan2(np.asarray(b, dtype=np.float64), np.asarray(a, dtype=np.float64)))


def mode_energy(a: ArrayLike, b: ArrayLike) -> FloatArray:
    """Mean-square contribution of each frequency on the circle (Parseval).

    E_0 = a_0², E_k = (a_k² + b_k²)/2 for k ≥ 1, so Σ_k E_k = (1/2π)∫ r² dγ.

    Parameters
    ----------
    a, b : array_like, shape (..., K + 1)

    Returns
    -------
    ndarray, shape (..., K + 1)
    """
    aa = np.asarray(a, dtype=np.float64)
    bb = np.asarray(b, dtype=np.float64)
    energy = 0.5 * (aa**2 + bb**2)
    energy[..., 0] = aa[..., 0] ** 2 + bb[..., 0] ** 2
    return np.asarray(energy)


def mode_energy_share(a: ArrayLike, b: ArrayLike) -> FloatArray:
    """Share E_k / Σ_k E_k of each frequency (0 where the total is 0), shape (..., K + 1)."""
    energy = mode_energy(a, b)
    total = energy.sum(axis=-1, keepdims=True)
    return np.divide(energy, total, out=np.zeros_like(energy), where=total > 0)
