"""The analytic spectrum run behind ``spectralntk decompose --kernel analytic``.

For every requested depth: the NNGP and NTK eigenvalues λ_k on S¹ (k = 0..K; those
below :data:`~spectralntk.spectral.decomposition.ZERO_TOLERANCE`·λ_max are stored as
0), their cumulative share of the trace, the power-law decay fit (over the
non-vanishing parity and above the float64 floor; none for smooth activations, whose
spectra decay exponentially), and the kernel
profiles k(γ) = K(x0, x(γ)) on a uniform angle grid. The result is computed
with numpy alone; :meth:`SpectrumRun.to_dataset` builds the run Dataset
(importing xarray only then), so a caller can print before paying for xarray.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spectralntk.config import NetworkConfig
from spectralntk.errors import check_int, parameter_error
from spectralntk.kernels.activations import DEFAULT_HERMITE_NODES
from spectralntk.kernels.circle import circle_kernel, uniform_angles
from spectralntk.kernels.recursion import Kernel
from spectralntk.spectral.decomposition import (
    ZERO_TOLERANCE,
    PowerLawFit,
    circle_spectrum,
    cumulative_share,
    decay_fit,
    default_fit_range,
    zero_small,
)
from spectralntk.spectral.fourier import multiplicity
from spectralntk.spectral.quadrature import default_nodes

__all__ = ["KERNELS", "SpectrumRun", "analytic_spectrum"]

FloatArray = NDArray[np.float64]

#: The two kernels of a run, in the order they are reported.
KERNELS = ("ntk", "nngp")


@dataclass(frozen=True)
class SpectrumRun:
    """Analytic NNGP/NTK spectra and profiles of one architecture at several depths.

    Attributes
    ----------
    config : NetworkConfig
        The architecture; its ``depth`` is the first of ``depths``.
    depths : tuple of int, length D
    eigenvalues : Kernel
        λ_k, arrays of shape (D, K + 1); |λ_k| ≤ ``zero_tolerance``·λ_max is 0.
    trace : Kernel
        k(0), arrays of shape (D,).
    angles : ndarray, shape (M,)
        Uniform grid 2πj/M.
    profile : Kernel
        K(x0, x(γ)) on ``angles``, arrays of shape (D, M).
    fits : dict of str to tuple of PowerLawFit
        ``"ntk"`` and ``"nngp"``: one fit per depth over ``fit_range``
        (:func:`~spectralntk.spectral.decomposition.decay_fit`).
    fit_range : (int, int)
    quadrature_nodes : int
        Gauss–Legendre nodes used on [0, π].
    hermite_nodes : int
    zero_tolerance : float
        Share of λ_max below which an eigenvalue is reported as 0.
    """

    config: NetworkConfig
    depths: tuple[int, ...]
    eigenvalues: Kernel
    trace: Kernel
    angles: FloatArray
    profile: Kernel
    fits: dict[str, tuple[PowerLawFit, ...]]
    fit_range: tuple[int, int]
    quadrature_nodes: int
    hermite_nodes: int
    zero_tolerance: float = ZERO_TOLERANCE

    @property
    def max_frequency(self) -> int:
        """K."""
        return int(self.eigenvalues.ntk.shape[-1] - 1)

    def share(self, kernel: str) -> FloatArray:
        """Cumulative share of the trace, shape (D, K + 1), for ``"ntk"`` or ``"nngp"``."""
        return cumulative_share(getattr(self.eigenvalues, kernel), getattr(self.trace, kernel))

    def run_config(self) -> dict[str, Any]:
        """Everything needed to recompute the run, as plain JSON-ready data."""
        network = self.config.to_dict()
        network.pop("depth")
        return {
            "command": "decompose",
            "kernel": "analytic",
            "network": network,
            "depths": list(self.depths),
            "max_frequency": self.max_frequency,
            "angles": int(self.angles.size),
            "fit_range": list(self.fit_range),
            "quadrature_nodes": self.quadrature_nodes,
            "hermite_nodes": self.hermite_nodes,
            "zero_tolerance": self.zero_tolerance,
        }

    def to_dataset(self, *, history: str | None = None) -> Any:
        """The run as a CF-1.8 :class:`xarray.Dataset` (dims depth, frequency, angle).

        Parameters
        ----------
        history : str, optional
            What produced the run (for example the command line).
        """
        from spectralntk.store import schema

        data: dict[str, Any] = {"multiplicity": multiplicity(self.max_frequency)}
        for name in KERNELS:
            fits = self.fits[name]
            data[f"{name}_eigenvalue"] = getattr(self.eigenvalues, name)
            data[f"{name}_cumulative_share"] = self.share(name)
            data[f"{name}_profile"] = getattr(self.profile, name)
            data[f"{name}_decay_exponent"] = np.array([f.exponent for f in fits])
            data[f"{name}_decay_prefactor"] = np.array([f.prefactor for f in fits])
        ds = schema.make_dataset(
            schema.SPECTRUM,
            config=self.run_config(),
            data_vars=data,
            coords={
                schema.DEPTH: np.asarray(self.depths, dtype=np.int32),
                schema.JACOT_LAYERS: np.asarray(self.depths, dtype=np.int32) + 1,
                schema.FREQUENCY: np.arange(self.max_frequency + 1, dtype=np.int32),
                schema.ANGLE: self.angles,
            },
            title=f"Analytic NNGP/NTK spectra on the circle ({self.config.activation.value} MLP)",
            history=history,
        )
        lo, hi = self.fit_range
        for name in KERNELS:
            ds[f"{name}_eigenvalue"].attrs.update(
                zero_tolerance=self.zero_tolerance,
                comment=f"|lambda_k| <= {self.zero_tolerance:g} max_k |lambda_k| is stored as 0",
            )
            ds[f"{name}_decay_exponent"].attrs.update(
                fit_min_frequency=np.int32(lo),
                fit_max_frequency=np.int32(hi),
                comment=_ascii(
                    "NaN where no power law is fitted; "
                    + "; ".join(
                        f"depth {d}: {fit.describe()}"
                        for d, fit in zip(self.depths, self.fits[name], strict=True)
                    )
                ),
            )
        return ds


def _ascii(text: str) -> str:
    """``text`` with the few non-ASCII symbols of the fit descriptions spelled out."""
    for symbol, word in (("≤", "<="), ("λ", "lambda"), ("·", " "), ("≥", ">=")):
        text = text.replace(symbol, word)
    return text


def estimated_bytes(
    max_frequency: int, angles: int, depths: int, quadrature_nodes: int | None = None
) -> float:
    """Estimated peak memory of :func:`analytic_spectrum`: the recursion's temporaries
    (about 40 arrays of the larger of the angle grid and the quadrature nodes), the
    cosine plan's tables (≈ 4√K·n) and the stored results."""
    n = default_nodes(max_frequency) if quadrature_nodes is None else quadrature_nodes
    grid = max(angles, n)
    plan = 4.0 * (max_frequency + 1) ** 0.5 * n
    stored = 2.0 * depths * (angles + 3 * (max_frequency + 1))
    return 8.0 * (40.0 * grid + plan + stored)


def _check_trace(config: NetworkConfig, depths: tuple[int, ...], trace: Kernel) -> None:
    """Refuse kernels whose k(0) underflowed to 0 (or below float64's normal range):
    their shares of the trace and ratios λ_k/λ_0 would be 0/0."""
    tiny = np.finfo(np.float64).tiny
    for name in KERNELS:
        values = np.asarray(getattr(trace, name))
        if np.all(values >= tiny):
            continue
        depth = depths[int(np.argmin(values))]
        raise parameter_error(
            "weight_std",
            f"large enough that the {name.upper()} at depth {depth} does not underflow "
            f"float64 (its k(0) is {float(values.min()):.3g}; raise --weight-std or "
            "--bias-std)",
            config.weight_std,
        )


def analytic_spectrum(
    config: NetworkConfig,
    depths: Sequence[int] | None = None,
    *,
    max_frequency: int = 256,
    angles: int = 360,
    fit_range: tuple[int, int] | None = None,
    quadrature_nodes: int | None = None,
    hermite_nodes: int = DEFAULT_HERMITE_NODES,
    memory_budget: int = 1 << 30,
) -> SpectrumRun:
    """Exact spectra and profiles of the analytic NNGP and NTK on S¹.

    Parameters
    ----------
    config : NetworkConfig
        Architecture; ``config.depth`` is used when ``depths`` is omitted.
    depths : sequence of int, optional
        Numbers of hidden layers, each ≥ 0, no repeats (stored in ascending order).
    max_frequency : int
        K ≥ 0: eigenvalues for k = 0..K.
    angles : int
        M ≥ 1 points of the uniform profile grid 2πj/M.
    fit_range : (int, int), optional
        Inclusive k-range of the power-law fit; default [⌈K/4⌉, K].
    quadrature_nodes : int, optional
        Gauss–Legendre nodes (default about πK/4 + 160).
    hermite_nodes : int
        Least number of Hermite-series terms for tanh and gelu.
    memory_budget : int
        Bytes the run may use; its estimate (:func:`estimated_bytes`) is checked before
        any work starts.

    Returns
    -------
    SpectrumRun

    Raises
    ------
    ParameterError
        For an invalid value, ``max_frequency`` above
        :data:`~spectralntk.limits.MAX_FREQUENCY` (the quadrature rule costs O(K²)), or
        a size whose memory estimate exceeds ``memory_budget``.
    """
    from spectralntk.limits import MAX_FREQUENCY, check_memory

    k_max = check_int("max_frequency", max_frequency, 0, MAX_FREQUENCY)
    m = check_int("angles", angles, 1)
    hermite = check_int("hermite_nodes", hermite_nodes, 2)
    depth_list = tuple(
        sorted(check_int("depth", d, 0) for d in ((config.depth,) if depths is None else depths))
    )
    if not depth_list or len(set(depth_list)) != len(depth_list):
        raise parameter_error("depth", "a non-empty list of distinct ints", list(depth_list))
    budget = check_int("memory_budget", memory_budget, 1)
    need = estimated_bytes(k_max, m, len(depth_list), quadrature_nodes)
    check_memory(
        "angles" if m >= default_nodes(k_max) else "max_frequency",
        m if m >= default_nodes(k_max) else k_max,
        need,
        budget,
    )
    if fit_range is None:
        fit_range = default_fit_range(k_max)
    lo = check_int("fit_min_frequency", fit_range[0], 1, max(1, k_max))
    hi = check_int("fit_max_frequency", fit_range[1], lo, max(1, k_max))
    grid = uniform_angles(m)
    nodes = default_nodes(k_max) if quadrature_nodes is None else quadrature_nodes
    spectra, profiles = [], []
    for depth in depth_list:
        cfg = config.replace(depth=depth)
        spectra.append(circle_spectrum(cfg, k_max, nodes=nodes, hermite_nodes=hermite))
        profiles.append(circle_kernel(cfg, grid, hermite_nodes=hermite))

    def stacked(items: list[Kernel]) -> Kernel:
        return Kernel(nngp=np.stack([k.nngp for k in items]), ntk=np.stack([k.ntk for k in items]))

    raw = stacked([s.eigenvalues for s in spectra])
    eigen = Kernel(nngp=zero_small(raw.nngp), ntk=zero_small(raw.ntk))
    trace = stacked([s.trace for s in spectra])
    _check_trace(config, depth_list, trace)
    activation = config.activation.value
    fits = {
        name: tuple(
            decay_fit(lam, (lo, hi), activation=activation, depth=depth)
            for lam, depth in zip(getattr(eigen, name), depth_list, strict=True)
        )
        for name in KERNELS
    }
    return SpectrumRun(
        config=config.replace(depth=depth_list[0]),
        depths=depth_list,
        eigenvalues=eigen,
        trace=trace,
        angles=grid,
        profile=stacked(profiles),
        fits=fits,
        fit_range=(lo, hi),
        quadrature_nodes=nodes + nodes % 2,
        hermite_nodes=hermite,
    )
