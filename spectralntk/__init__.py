"""spectralntk: spectral analysis of neural tangent kernels on the circle S¹.

Conventions (docs/conventions.md): ``depth`` is the number of hidden layers
(Jacot's L = depth + 1), the NTK parameterization of Jacot et al. (2018) is the
default, and λ_k = (1/2π)∫k(γ)e^{−ikγ}dγ is the eigenvalue of frequency k.

Importing the package imports numpy only: run files (xarray, netCDF4) load on
first use of :func:`save`, :func:`load` or :func:`validate`, and torch is only
ever imported by the finite-width modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from spectralntk._version import __version__

# Configuration and errors
from spectralntk.config import Activation, BiasInit, NetworkConfig, Parameterization
from spectralntk.errors import ParameterError, RunFileError, SpectralNTKError

# Analytic kernels
from spectralntk.kernels import Kernel, circle_kernel, kernel_matrix, uniform_angles

# Runs
from spectralntk.runs.spectrum import SpectrumRun, analytic_spectrum

# Spectra on the circle
from spectralntk.spectral import (
    CircleSpectrum,
    PowerLawFit,
    circle_spectrum,
    circulant_eigenvalues,
    discrete_spectrum,
    fit_power_law,
)

# Compute threads (torch and BLAS), as --threads
from spectralntk.threads import set_threads

if TYPE_CHECKING:  # run files, imported lazily (xarray is slow to import)
    from spectralntk.store import load, save, validate
    from spectralntk.sweeps import open_sweep, sweep_points

_LAZY = {
    "save": "spectralntk.store",
    "load": "spectralntk.store",
    "validate": "spectralntk.store",
    "open_sweep": "spectralntk.sweeps",
    "sweep_points": "spectralntk.sweeps",
}

__all__ = [
    "Activation",
    "BiasInit",
    "CircleSpectrum",
    "Kernel",
    "NetworkConfig",
    "ParameterError",
    "Parameterization",
    "PowerLawFit",
    "RunFileError",
    "SpectralNTKError",
    "SpectrumRun",
    "__version__",
    "analytic_spectrum",
    "circle_kernel",
    "circle_spectrum",
    "circulant_eigenvalues",
    "discrete_spectrum",
    "fit_power_law",
    "kernel_matrix",
    "load",
    "open_sweep",
    "save",
    "set_threads",
    "sweep_points",
    "uniform_angles",
    "validate",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:  # run files and sweeps: xarray (and Dask) load on first use
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'spectralntk' has no attribute {name!r}")
