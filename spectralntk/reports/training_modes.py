"""What a training run holds per mode, read from its Dataset: residual shares, the
configuration, the target's frequencies and the analytic eigenvalues of its architecture.

Shared by the convergence report (:mod:`spectralntk.reports.convergence`), its figures
(:mod:`spectralntk.reports.figures`) and the gap split (:mod:`spectralntk.reports.linearized`),
which import it and not one another.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "analytic_eigenvalues",
    "mode_fractions",
    "target_frequencies",
    "train_eigenvalues",
]

FloatArray = NDArray[np.float64]


def _amplitude(ds: Any, prefix: str) -> FloatArray:
    """√(a_k² + b_k²) of ``{prefix}_cos``/``_sin``: (W, S, T, F)."""
    return np.hypot(ds[f"{prefix}_cos"].values, ds[f"{prefix}_sin"].values)


def mode_fractions(ds: Any, prefix: str = "residual") -> FloatArray:
    """Amplitude of every mode over its amplitude at step 0: (W, S, T, F).

    ``prefix`` is ``residual`` (measured), ``predicted_residual`` (discrete theory) or
    ``flow_residual`` (gradient flow). Diverged seeds are NaN; a mode that starts at 0
    is NaN.
    """
    amp = _amplitude(ds, prefix)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = amp / amp[:, :, :1, :]
    out[ds["diverged"].values.astype(bool)] = np.nan
    return np.where(np.isfinite(out), out, np.nan)


def _config(ds: Any) -> Any:
    from spectralntk.runs.training import TrainingConfig
    from spectralntk.store.schema import read_config

    return TrainingConfig.from_dict(read_config(ds))


def target_frequencies(ds: Any) -> list[tuple[int, float]]:
    """(k, a_k) of the target's frequencies that the run records, ascending k."""
    cfg = _config(ds)
    pairs = sorted(
        (int(k), abs(float(a)))
        for k, a in zip(cfg.target.frequencies, cfg.target.amplitudes, strict=True)
        if k <= cfg.k_max
    )
    return pairs


def train_eigenvalues(ds: Any) -> FloatArray:
    """μ_k of the analytic NTK Gram on the run's training points, per width: (W, F).

    The Rayleigh quotient v_kᵀ K v_k of the unit vectors cos kγ_j and sin kγ_j (those
    not identically zero on the points), averaged; on a uniform grid these are the
    Gram's eigenvalues of frequency k (circulant).
    """
    from spectralntk.kernels.recursion import kernel_matrix
    from spectralntk.runs.recorders import fourier_rayleigh, unit_fourier_vectors
    from spectralntk.runs.training import network_at_width

    cfg = _config(ds)
    x = np.stack([ds["train_x1"].values, ds["train_x2"].values], axis=1)
    waves = unit_fourier_vectors(ds["train_angle"].values, cfg.k_max)
    out = np.empty((len(cfg.widths), cfg.k_max + 1))
    cache: dict[Any, FloatArray] = {}
    for j, width in enumerate(cfg.widths):
        net = network_at_width(cfg, width)
        if net not in cache:
            gram = kernel_matrix(net, x).ntk
            cache[net] = fourier_rayleigh(gram[None], waves)[0] * len(x)
        out[j] = cache[net]
    return out


def analytic_eigenvalues(ds: Any, max_frequency: int) -> FloatArray:
    """λ_k of the analytic NTK on S¹, k = 0..K, per width: (W, K + 1)."""
    from spectralntk.runs.training import network_at_width
    from spectralntk.spectral.decomposition import circle_spectrum

    cfg = _config(ds)
    cache: dict[Any, FloatArray] = {}
    rows = []
    for width in cfg.widths:
        net = network_at_width(cfg, width)
        if net not in cache:
            cache[net] = circle_spectrum(net, max_frequency).eigenvalues.ntk
        rows.append(cache[net])
    return np.stack(rows)
