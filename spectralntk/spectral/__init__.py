"""Spectra on the circle: Fourier conventions, quadrature, exact decompositions."""

from spectralntk.spectral.decomposition import (
    ZERO_TOLERANCE,
    CircleSpectrum,
    PowerLawFit,
    circle_spectrum,
    cumulative_share,
    decay_fit,
    default_fit_range,
    discrete_spectrum,
    fit_power_law,
    ratio_reference,
    zero_small,
)
from spectralntk.spectral.fourier import (
    circulant_eigenvalues,
    circulant_multiplicity,
    multiplicity,
)
from spectralntk.spectral.quadrature import cosine_coefficients, cosine_plan, default_nodes

__all__ = [
    "ZERO_TOLERANCE",
    "CircleSpectrum",
    "PowerLawFit",
    "circle_spectrum",
    "circulant_eigenvalues",
    "circulant_multiplicity",
    "cosine_coefficients",
    "cosine_plan",
    "cumulative_share",
    "decay_fit",
    "default_fit_range",
    "default_nodes",
    "discrete_spectrum",
    "fit_power_law",
    "multiplicity",
    "ratio_reference",
    "zero_small",
]
