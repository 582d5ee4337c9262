"""Residual dynamics on the circle: per-frequency modes and kernel-regime theory.

:mod:`.modes` turns residuals into real Fourier coefficients (exact FFT on a
uniform grid, least squares at arbitrary angles); :mod:`.predict` gives the
kernel-regime predictions of gradient descent for every loss convention
(Jacot et al. 2018; Lee et al. 2019). Pure numpy/scipy: no torch.
"""

from __future__ import annotations

from spectralntk.dynamics.modes import (
    MODE_METHODS,
    ModeProjector,
    fourier_modes,
    grid_offset,
    least_squares_modes,
    mode_amplitude,
    mode_energy,
    mode_energy_share,
    mode_phase,
    mode_projector,
    synthesize,
)
from spectralntk.dynamics.predict import (
    DYNAMICS,
    LOSSES,
    KernelPredictor,
    discrete_decay,
    discrete_gain,
    eigvec_frequency_content,
    flow_decay,
    flow_gain,
    loss_factor,
    loss_value,
    stability_limit,
    steps_to_fraction,
)

__all__ = [
    "DYNAMICS",
    "LOSSES",
    "MODE_METHODS",
    "KernelPredictor",
    "ModeProjector",
    "discrete_decay",
    "discrete_gain",
    "eigvec_frequency_content",
    "flow_decay",
    "flow_gain",
    "fourier_modes",
    "grid_offset",
    "least_squares_modes",
    "loss_factor",
    "loss_value",
    "mode_amplitude",
    "mode_energy",
    "mode_energy_share",
    "mode_phase",
    "mode_projector",
    "stability_limit",
    "steps_to_fraction",
    "synthesize",
]
