r"""Fourier conventions on S¹ and the spectrum of circulant Gram matrices.

Convention (docs/conventions.md): for a kernel k(γ − γ') on the circle with the
uniform probability measure, the eigenvalue of frequency k is

    λ_k = (1/2π) ∫_0^{2π} k(γ) e^{−ikγ} dγ = (1/π) ∫_0^π k(γ) cos(kγ) dγ,

with multiplicity 1 for k = 0 and 2 (cos kγ, sin kγ) for k ≥ 1, and Mercer's
identity k(0) = λ_0 + 2 Σ_{k≥1} λ_k.

On N equally spaced points the Gram matrix G_ij = k(2π(i − j)/N) is circulant;
its eigenvalues are μ_k = Σ_j k(2πj/N) e^{−2πijk/N} = N Σ_m λ_{k+mN} (aliasing),
for k = 0..⌊N/2⌋ with multiplicity 1 at k = 0 and k = N/2 and 2 otherwise.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from spectralntk.errors import check_int, parameter_error

__all__ = [
    "circulant_eigenvalues",
    "circulant_multiplicity",
    "multiplicity",
    "real_fourier_basis",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int32]


def multiplicity(max_frequency: int) -> IntArray:
    """Multiplicities of frequencies 0..K on S¹: 1, 2, 2, …, shape (K + 1,)."""
    k = check_int("max_frequency", max_frequency, 0)
    out = np.full(k + 1, 2, dtype=np.int32)
    out[0] = 1
    return out


def circulant_multiplicity(n_points: int) -> IntArray:
    """Multiplicities of μ_k, k = 0..⌊N/2⌋, for N points; they sum to N."""
    n = check_int("n_points", n_points, 1)
    out = np.full(n // 2 + 1, 2, dtype=np.int32)
    out[0] = 1
    if n % 2 == 0:
        out[-1] = 1
    return out


def circulant_eigenvalues(row: ArrayLike) -> FloatArray:
    """Eigenvalues μ_k of the circulant matrix with first row ``row``.

    Parameters
    ----------
    row : array_like, shape (..., N)
        k(2πj/N), j = 0..N−1, of an even kernel (row[j] = row[N − j]).

    Returns
    -------
    ndarray, shape (..., ⌊N/2⌋ + 1)
        μ_k for k = 0..⌊N/2⌋ (real: the row is even).
    """
    arr = np.asarray(row, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise parameter_error("row", "a non-empty array of kernel values", arr.shape)
    return np.fft.rfft(arr, axis=-1).real


def real_fourier_basis(n_points: int) -> tuple[FloatArray, IntArray]:
    """Orthonormal real Fourier basis of R^N on the grid γ_j = 2πj/N.

    Columns: the constant 1/√N (k = 0); √(2/N)·cos(kγ_j) and √(2/N)·sin(kγ_j) for
    1 ≤ k < N/2; (−1)^j/√N for k = N/2 when N is even.

    Parameters
    ----------
    n_points : int
        N ≥ 1.

    Returns
    -------
    basis : ndarray, shape (N, N)
        Orthonormal columns.
    frequency : ndarray of int32, shape (N,)
        The frequency k of each column.
    """
    n = check_int("n_points", n_points, 1)
    columns, freqs = [np.full(n, 1.0 / np.sqrt(n))], [0]
    for k in range(1, (n + 1) // 2):
        # exact integer phases: cos(2π(kj mod N)/N) keeps large k·j accurate
        phase = 2.0 * np.pi * ((k * np.arange(n)) % n) / n
        columns += [np.sqrt(2.0 / n) * np.cos(phase), np.sqrt(2.0 / n) * np.sin(phase)]
        freqs += [k, k]
    if n % 2 == 0 and n > 1:
        columns.append(np.where(np.arange(n) % 2 == 0, 1.0, -1.0) / np.sqrt(n))
        freqs.append(n // 2)
    return np.stack(columns, axis=1), np.asarray(freqs, dtype=np.int32)
