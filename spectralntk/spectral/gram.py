r"""Spectra of Gram matrices on a uniform circle grid that need not be circulant.

A finite-width network breaks the rotation symmetry, so its empirical Gram
matrix K on the N-point grid is not circulant and the Fourier modes are no
longer exact eigenvectors. Three summaries (all divided by N, the grid's
uniform probability measure, so that they estimate the operator eigenvalues λ_k):

- the eigenvalues of K/N (``numpy.linalg.eigvalsh``), in descending order;
- the Rayleigh quotient per frequency, ½(c_kᵀKc_k + s_kᵀKs_k)/N with c_k, s_k the
  orthonormal cos/sin modes (:func:`~spectralntk.spectral.fourier.real_fourier_basis`)
  — the finite-width estimate of λ_k, equal to μ_k/N for a circulant K;
- the leakage of frequency k: the share of ‖K v‖² outside span{c_k, s_k} for
  v = c_k, s_k (averaged) — 0 for a circulant K.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from spectralntk.errors import parameter_error
from spectralntk.spectral.fourier import real_fourier_basis

__all__ = ["GramSpectrum", "gram_spectrum", "relative_distance"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class GramSpectrum:
    """Spectral summaries of Gram matrices K of shape (..., N, N) on the uniform grid.

    Attributes
    ----------
    eigenvalues : ndarray, shape (..., N)
        Eigenvalues of K/N, descending.
    rayleigh : ndarray, shape (..., ⌊N/2⌋ + 1)
        Per-frequency Rayleigh quotients / N.
    leakage : ndarray, shape (..., ⌊N/2⌋ + 1)
        Per-frequency share of energy outside the frequency, in [0, 1].
    """

    eigenvalues: FloatArray
    rayleigh: FloatArray
    leakage: FloatArray


def gram_spectrum(gram: ArrayLike) -> GramSpectrum:
    """Eigenvalues, per-frequency Rayleigh quotients and leakage of Gram matrices.

    Parameters
    ----------
    gram : array_like, shape (..., N, N)
        Symmetric Gram matrices on the grid γ_j = 2πj/N (j = 0 is x0).

    Returns
    -------
    GramSpectrum
    """
    k = np.asarray(gram, dtype=np.float64)
    if k.ndim < 2 or k.shape[-1] != k.shape[-2] or k.shape[-1] == 0:
        raise parameter_error("gram", "an array of square matrices (..., N, N)", k.shape)
    n = k.shape[-1]
    basis, freq = real_fourier_basis(n)
    sym = 0.5 * (k + np.swapaxes(k, -1, -2))
    eig = np.linalg.eigvalsh(sym)[..., ::-1] / n
    m = np.swapaxes(basis.T @ sym @ basis, -1, -2)  # m[..., j, i]: mode i in K v_j
    count = np.bincount(freq)
    diag = np.diagonal(m, axis1=-2, axis2=-1)
    rayleigh = _per_frequency(diag, freq, count) / n
    same = freq[:, None] == freq[None, :]
    energy = np.sum(m**2, axis=-1)
    inside = np.sum(np.where(same, m**2, 0.0), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        leak = np.where(energy > 0, 1.0 - inside / energy, 0.0)
    leakage = np.clip(_per_frequency(leak, freq, count), 0.0, 1.0)
    return GramSpectrum(eigenvalues=eig, rayleigh=rayleigh, leakage=leakage)


def _per_frequency(
    values: FloatArray, freq: NDArray[np.int32], count: NDArray[np.int64]
) -> FloatArray:
    """Mean of ``values[..., j]`` over the columns j of each frequency."""
    average = (freq[:, None] == np.arange(count.size)[None, :]) / count
    return values @ average


def relative_distance(gram: ArrayLike, reference: ArrayLike) -> FloatArray:
    """‖K − K_ref‖_F / ‖K_ref‖_F over the last two axes.

    Parameters
    ----------
    gram : array_like, shape (..., N, N)
    reference : array_like, shape (N, N) or broadcastable
    """
    a, b = np.asarray(gram, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    diff = np.linalg.norm(a - b, axis=(-2, -1))
    return diff / np.linalg.norm(np.broadcast_to(b, a.shape), axis=(-2, -1))
