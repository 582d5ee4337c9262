"""Names, attributes and validation of spectralntk run files.

This is the one module that names every dimension, variable and attribute of a
run file. A run file is a NetCDF-4 file with CF-1.8 attributes (see the design
brief, "Data model"); in memory it is an :class:`xarray.Dataset` built by
:func:`make_dataset` and checked by :func:`validate`.

To add variables (for example the training variables with dimensions
``(width, seed, step, frequency)``), add :class:`VariableSpec` entries to
:data:`VARIABLES` and, for a new run type, an entry to
:data:`REQUIRED_VARIABLES` and :data:`REQUIRED_COORDS`. Bump
:data:`SCHEMA_VERSION` only when a change would make older readers misread a
file (renamed or re-dimensioned variables), not for added variables.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from spectralntk._version import __version__
from spectralntk.errors import ParameterError, RunFileError, check_choice

__all__ = [
    "ANGLE",
    "ATTR_CONFIG",
    "ATTR_CONVENTIONS",
    "ATTR_HISTORY",
    "ATTR_REFERENCES",
    "ATTR_RUN_TYPE",
    "ATTR_SCHEMA_VERSION",
    "ATTR_SOURCE",
    "ATTR_SWEEP_DIMS",
    "ATTR_TITLE",
    "ATTR_VERSION",
    "CF_CONVENTIONS",
    "CHECKPOINT",
    "DEFAULT_REFERENCES",
    "DEPTH",
    "EIGENMODE",
    "EMPIRICAL_SPECTRUM",
    "FLUCTUATION",
    "FREQUENCY",
    "JACOT_LAYERS",
    "PROBE",
    "PROBE_ANGLE",
    "RANK",
    "REQUIRED_ATTRS",
    "REQUIRED_COORDS",
    "REQUIRED_VARIABLES",
    "SAMPLE",
    "SCHEMA_VERSION",
    "SEED",
    "SPECTRUM",
    "STEP",
    "TRAINING",
    "VARIABLES",
    "WIDTH",
    "VariableSpec",
    "dump_config",
    "make_dataset",
    "read_config",
    "validate",
]

# --------------------------------------------------------------------------
# Dimensions
# --------------------------------------------------------------------------
DEPTH = "depth"
"""Number of hidden layers (the seed experiments' convention)."""
WIDTH = "width"
SEED = "seed"
STEP = "step"
FREQUENCY = "frequency"
ANGLE = "angle"
SAMPLE = "sample"
CHECKPOINT = "checkpoint"
RANK = "rank"
"""Position of an eigenvalue of a Gram matrix in descending order (0 = largest)."""
EIGENMODE = "eigenmode"
"""Eigenvector of the analytic NTK Gram on the training points, by descending eigenvalue."""
PROBE = "probe"
"""Probe point x(2πp/P) on the circle at which the NTK diagonal is measured (p = 0: x0)."""
PROBE_ANGLE = "probe_angle"
"""Non-dimension coordinate along ``probe``: the probe point's angle."""

JACOT_LAYERS = "jacot_layers"
"""Non-dimension coordinate along ``depth``: L = depth + 1 (Jacot et al. 2018)."""

# --------------------------------------------------------------------------
# Global attributes
# --------------------------------------------------------------------------
SCHEMA_VERSION = 1
"""Version of the run-file layout this package writes and reads up to."""

ATTR_CONVENTIONS = "Conventions"
ATTR_TITLE = "title"
ATTR_HISTORY = "history"
ATTR_SOURCE = "source"
ATTR_REFERENCES = "references"
ATTR_VERSION = "spectralntk_version"
ATTR_SCHEMA_VERSION = "spectralntk_schema_version"
ATTR_RUN_TYPE = "spectralntk_run_type"
ATTR_CONFIG = "spectralntk_config"
ATTR_SWEEP_DIMS = "spectralntk_sweep_dims"
"""Space-separated dimensions a sweep (:func:`spectralntk.open_sweep`) puts before a run's own."""

CF_CONVENTIONS = "CF-1.8"
DEFAULT_REFERENCES = (
    "Jacot, A., Gabriel, F. and Hongler, C. (2018). Neural Tangent Kernel: "
    "Convergence and Generalization in Neural Networks. NeurIPS 2018. "
    "arXiv:1806.07572"
)

# --------------------------------------------------------------------------
# Run types
# --------------------------------------------------------------------------
SPECTRUM = "spectrum"
"""Run type written by ``spectralntk decompose --kernel analytic``."""
EMPIRICAL_SPECTRUM = "empirical_spectrum"
"""Run type written by ``spectralntk decompose --kernel empirical``."""
TRAINING = "training"
"""Run type written by ``spectralntk train``."""
FLUCTUATION = "fluctuation"
"""Run type written by ``spectralntk fluctuations`` (Hanin & Nica 2019 statistics)."""


# --------------------------------------------------------------------------
# Variables
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class VariableSpec:
    """What the schema fixes about one variable of a run file.

    Parameters
    ----------
    dims : tuple of str
        Dimension names, in order.
    long_name : str
        CF ``long_name`` attribute.
    units : str
        CF ``units`` attribute, a UDUNITS string (``"1"`` if dimensionless).
    dtype : str
        NumPy dtype the values are stored as, e.g. ``"float64"``, ``"int32"``,
        ``"int8"`` (flags) or ``"S1"`` (strings).
    attrs : Mapping[str, Any], optional
        Further attributes, e.g. ``flag_values`` (an array of ``dtype``) and
        ``flag_meanings`` for int8 flags. Never bool, None or dict values.
    """

    dims: tuple[str, ...]
    long_name: str
    units: str
    dtype: str
    attrs: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def all_attrs(self) -> dict[str, Any]:
        """Return ``long_name``, ``units`` and the further attributes."""
        return {"long_name": self.long_name, "units": self.units, **self.attrs}


_NTK_EIGEN = "NTK eigenvalue lambda_k on S1 (uniform probability measure)"
_NNGP_EIGEN = "NNGP eigenvalue lambda_k on S1 (uniform probability measure)"
_SHARE = "cumulative share of the kernel trace k(0) up to frequency k"
_EXPONENT = "power-law decay exponent p of lambda_k ~ C k^-p"
_PREFACTOR = "prefactor C of the power-law fit"
_GRID_EIGEN = "eigenvalue mu_k/N of the analytic Gram matrix on the N-point grid"
_RAYLEIGH = (
    "empirical Rayleigh quotient of frequency k (cos and sin averaged) of the Gram matrix / N"
)
_LEAKAGE = "share of the energy of K v_k outside frequency k (v_k the cos/sin modes)"
_GRAM_EIGEN = "eigenvalue of the empirical Gram matrix on the N-point grid / N"
_EMP_PROFILE = "empirical kernel K(x0, x(gamma)) of one network"
_DISTANCE = "relative Frobenius distance of the empirical to the analytic Gram matrix"

VARIABLES: dict[str, VariableSpec] = {
    # ---- coordinates --------------------------------------------------
    DEPTH: VariableSpec((DEPTH,), "number of hidden layers", "1", "int32"),
    JACOT_LAYERS: VariableSpec(
        (DEPTH,), "number of affine layers L = depth + 1 (Jacot et al. 2018)", "1", "int32"
    ),
    FREQUENCY: VariableSpec((FREQUENCY,), "frequency k (cycles per 2 pi)", "1", "int32"),
    ANGLE: VariableSpec(
        (ANGLE,),
        "angle gamma of x = (cos gamma, sin gamma) on the unit circle",
        "radian",
        "float64",
    ),
    # ---- spectrum run ---------------------------------------------------
    "ntk_eigenvalue": VariableSpec((DEPTH, FREQUENCY), _NTK_EIGEN, "1", "float64"),
    "nngp_eigenvalue": VariableSpec((DEPTH, FREQUENCY), _NNGP_EIGEN, "1", "float64"),
    "multiplicity": VariableSpec((FREQUENCY,), "multiplicity of frequency k", "1", "int32"),
    "ntk_cumulative_share": VariableSpec((DEPTH, FREQUENCY), "NTK " + _SHARE, "1", "float64"),
    "nngp_cumulative_share": VariableSpec((DEPTH, FREQUENCY), "NNGP " + _SHARE, "1", "float64"),
    "ntk_profile": VariableSpec((DEPTH, ANGLE), "NTK Theta(x0, x(gamma))", "1", "float64"),
    "nngp_profile": VariableSpec((DEPTH, ANGLE), "NNGP Sigma(x0, x(gamma))", "1", "float64"),
    "ntk_decay_exponent": VariableSpec((DEPTH,), "NTK " + _EXPONENT, "1", "float64"),
    "nngp_decay_exponent": VariableSpec((DEPTH,), "NNGP " + _EXPONENT, "1", "float64"),
    "ntk_decay_prefactor": VariableSpec((DEPTH,), "NTK " + _PREFACTOR, "1", "float64"),
    "nngp_decay_prefactor": VariableSpec((DEPTH,), "NNGP " + _PREFACTOR, "1", "float64"),
    # ---- empirical spectrum run -------------------------------------------
    WIDTH: VariableSpec((WIDTH,), "hidden width n", "1", "int32"),
    SEED: VariableSpec((SEED,), "random seed of the network initialisation", "1", "int32"),
    RANK: VariableSpec((RANK,), "rank of the eigenvalue in descending order", "1", "int32"),
    **{
        f"{kernel}_{name}": VariableSpec(dims, f"{label} {text}", "1", "float64")
        for kernel, label in (("ntk", "NTK"), ("nngp", "NNGP"))
        for name, dims, text in (
            ("grid_eigenvalue", (DEPTH, FREQUENCY), _GRID_EIGEN),
            ("empirical_rayleigh", (DEPTH, WIDTH, SEED, FREQUENCY), _RAYLEIGH),
            ("empirical_leakage", (DEPTH, WIDTH, SEED, FREQUENCY), _LEAKAGE),
            ("empirical_eigenvalue", (DEPTH, WIDTH, SEED, RANK), _GRAM_EIGEN),
            ("empirical_profile", (DEPTH, WIDTH, SEED, ANGLE), _EMP_PROFILE),
            ("relative_distance", (DEPTH, WIDTH, SEED), _DISTANCE),
        )
    },
}
"""Every variable a run file may hold, by name."""

_TRAIN = (WIDTH, SEED, STEP)
_MODE_RATE = (
    "c = the loss convention's factor (global attribute loss_factor_c), eta = the learning "
    "rate; mu = train_eigenvalue on a grid of training points, N analytic_eigenvalue on "
    "other inputs; inf: never (mu = 0, or |1 - c eta mu| >= 1)"
)
_MODES = (WIDTH, SEED, STEP, FREQUENCY)
_CK = (WIDTH, SEED, CHECKPOINT)
VARIABLES.update(
    {
        STEP: VariableSpec((STEP,), "number of gradient-descent steps taken", "1", "int32"),
        SAMPLE: VariableSpec((SAMPLE,), "index of the training point", "1", "int32"),
        CHECKPOINT: VariableSpec((CHECKPOINT,), "step of a checkpoint", "1", "int32"),
        EIGENMODE: VariableSpec(
            (EIGENMODE,),
            "eigenvector of the analytic NTK Gram on the training points",
            "1",
            "int32",
        ),
        "train_x1": VariableSpec(
            (SAMPLE,), "first coordinate of the training input", "1", "float64"
        ),
        "train_x2": VariableSpec(
            (SAMPLE,), "second coordinate of the training input", "1", "float64"
        ),
        "train_angle": VariableSpec((SAMPLE,), "angle of the training input", "radian", "float64"),
        "train_target": VariableSpec(
            (SAMPLE,), "training target y (with label noise)", "1", "float64"
        ),
        "loss": VariableSpec(_TRAIN, "training loss in the run's loss convention", "1", "float64"),
        "train_residual": VariableSpec(
            (*_TRAIN, SAMPLE), "residual f - y on the training points", "1", "float64"
        ),
        "residual_cos": VariableSpec(
            _MODES, "cos coefficient a_k of the training residual", "1", "float64"
        ),
        "residual_sin": VariableSpec(
            _MODES, "sin coefficient b_k of the training residual", "1", "float64"
        ),
        "eval_residual_cos": VariableSpec(
            _MODES, "cos coefficient a_k of f - target on the evaluation grid", "1", "float64"
        ),
        "eval_residual_sin": VariableSpec(
            _MODES, "sin coefficient b_k of f - target on the evaluation grid", "1", "float64"
        ),
        "predicted_residual_cos": VariableSpec(
            _MODES,
            "cos coefficient of the residual predicted by (I - c eta K)^t r_0",
            "1",
            "float64",
        ),
        "predicted_residual_sin": VariableSpec(
            _MODES,
            "sin coefficient of the residual predicted by (I - c eta K)^t r_0",
            "1",
            "float64",
        ),
        "flow_residual_cos": VariableSpec(
            _MODES,
            "cos coefficient of the residual predicted by exp(-c eta K t) r_0",
            "1",
            "float64",
        ),
        "flow_residual_sin": VariableSpec(
            _MODES,
            "sin coefficient of the residual predicted by exp(-c eta K t) r_0",
            "1",
            "float64",
        ),
        "linearized_residual_cos": VariableSpec(
            _MODES,
            "cos coefficient of the residual of the network linearized at step 0, "
            "(I - c eta K0)^t r_0 with its own empirical NTK K0",
            "1",
            "float64",
        ),
        "linearized_residual_sin": VariableSpec(
            _MODES,
            "sin coefficient of the residual of the network linearized at step 0, "
            "(I - c eta K0)^t r_0 with its own empirical NTK K0",
            "1",
            "float64",
        ),
        "eval_prediction": VariableSpec(
            (*_CK, ANGLE), "network output on the evaluation grid", "1", "float64"
        ),
        "linearized_prediction": VariableSpec(
            (*_CK, ANGLE),
            "prediction of the network linearized at step 0 (own empirical NTK)",
            "1",
            "float64",
        ),
        "relative_error": VariableSpec(
            _CK, "RelErr of the network to the NTK predictor at the same step", "1", "float64"
        ),
        "relative_error_limit": VariableSpec(
            _CK, "RelErr of the network to the t -> infinity NTK kernel regression", "1", "float64"
        ),
        "kernel_drift": VariableSpec(
            _CK, "relative Frobenius change of the empirical NTK since step 0", "1", "float64"
        ),
        "empirical_ntk_eigenvalue": VariableSpec(
            (*_CK, RANK),
            "eigenvalue of the empirical NTK Gram on the training points / N",
            "1",
            "float64",
        ),
        "empirical_ntk_profile": VariableSpec(
            (*_CK, ANGLE),
            "empirical NTK Theta(x0, x(gamma)) of the network at the checkpoint",
            "1",
            "float64",
        ),
        "empirical_ntk_rayleigh": VariableSpec(
            (*_CK, FREQUENCY),
            "Rayleigh quotient of frequency k (cos and sin averaged) of the empirical NTK / N",
            "1",
            "float64",
        ),
        "ntk_train_eigenvalue": VariableSpec(
            (WIDTH, EIGENMODE),
            "eigenvalue mu of the analytic NTK Gram on the training points",
            "1",
            "float64",
        ),
        "eigenmode_frequency_content": VariableSpec(
            (WIDTH, EIGENMODE, FREQUENCY),
            "share of the eigenvector's energy at frequency k",
            "1",
            "float64",
        ),
        "ntk_prediction": VariableSpec(
            (WIDTH, CHECKPOINT, ANGLE),
            "infinite-width NTK predictor at the checkpoint step",
            "1",
            "float64",
        ),
        "ntk_prediction_limit": VariableSpec(
            (WIDTH, ANGLE), "NTK kernel regression K(x,X)(K + ridge I)^-1 y", "1", "float64"
        ),
        "stability_limit": VariableSpec(
            (WIDTH,),
            "largest stable learning rate 2/(c mu_max) of the analytic NTK",
            "1",
            "float64",
        ),
        # ---- the answer per frequency (runs.kernel_theory.frequency_answer) -------
        "analytic_eigenvalue": VariableSpec(
            (WIDTH, FREQUENCY),
            "analytic NTK eigenvalue lambda_k on S1 of the run's architecture "
            "(uniform probability measure)",
            "1",
            "float64",
        ),
        "train_eigenvalue": VariableSpec(
            (WIDTH, FREQUENCY),
            "analytic NTK eigenvalue mu_k of frequency k on the training points "
            "(mean Rayleigh quotient of the unit cos and sin vectors)",
            "1",
            "float64",
        ),
        "target_amplitude": VariableSpec(
            (FREQUENCY,),
            "amplitude A_k of the target's term A_k sin(k gamma + phi_k)",
            "1",
            "float64",
        ),
        "target_phase": VariableSpec(
            (FREQUENCY,),
            "phase phi_k of the target's term A_k sin(k gamma + phi_k)",
            "radian",
            "float64",
        ),
        "predicted_steps_discrete": VariableSpec(
            (WIDTH, FREQUENCY),
            "predicted steps until the frequency-k residual is at 10 % of its start: "
            "least t with |1 - c eta mu|^t <= 0.1",
            "1",
            "float64",
            {"comment": _MODE_RATE},
        ),
        "predicted_steps_flow": VariableSpec(
            (WIDTH, FREQUENCY),
            "predicted gradient-flow time until the frequency-k residual is at 10 % of its "
            "start: ln(10)/(c eta mu)",
            "1",
            "float64",
            {"comment": _MODE_RATE},
        ),
        "measured_fraction": VariableSpec(
            (WIDTH, SEED, FREQUENCY),
            "measured share of the frequency-k residual amplitude left at the last step "
            "(amplitude at T over amplitude at step 0)",
            "1",
            "float64",
            {"comment": "NaN for diverged seeds and for modes that start at 0"},
        ),
        "diverged_step": VariableSpec(
            (WIDTH, SEED), "step at which the network diverged (-1: never)", "1", "int32"
        ),
        "diverged": VariableSpec(
            (WIDTH, SEED),
            "divergence flag",
            "1",
            "int8",
            {"flag_values": np.array([0, 1], dtype=np.int8), "flag_meanings": "finite diverged"},
        ),
        "step_method": VariableSpec(
            (WIDTH,),
            "how each gradient step was computed",
            "1",
            "int8",
            {
                "flag_values": np.array([0, 1, 2, 3], dtype=np.int8),
                "flag_meanings": "arcs closed_form layerwise linearized",
            },
        ),
    }
)

# ---- fluctuation run (spectralntk fluctuations) ----------------------------
_DW = (DEPTH, WIDTH)
_DWS = (DEPTH, WIDTH, SEED)
_KXX = "empirical NTK K(x, x)"
VARIABLES.update(
    {
        PROBE: VariableSpec((PROBE,), "index p of the probe point x(2 pi p / P)", "1", "int32"),
        PROBE_ANGLE: VariableSpec(
            (PROBE,), "angle of the probe point on the unit circle", "radian", "float64"
        ),
        "beta": VariableSpec(
            _DW,
            "Hanin-Nica inverse temperature beta = sum of 1/n_l over hidden layers",
            "1",
            "float64",
        ),
        "ntk_diagonal": VariableSpec(
            (*_DWS, PROBE), f"{_KXX} of one network at the probe point", "1", "float64"
        ),
        "ntk_diagonal_seed_mean": VariableSpec(
            (*_DW, PROBE), f"mean over seeds of the {_KXX}", "1", "float64"
        ),
        "ntk_diagonal_seed_second_moment": VariableSpec(
            (*_DW, PROBE), f"mean over seeds of the squared {_KXX}", "1", "float64"
        ),
        "ntk_diagonal_mean": VariableSpec(
            _DW, f"mean of the {_KXX} over seeds and probe points", "1", "float64"
        ),
        "ntk_diagonal_mean_stderr": VariableSpec(
            _DW,
            "standard error of the mean of K(x, x) (seeds as independent units)",
            "1",
            "float64",
        ),
        "exact_ntk_diagonal_mean": VariableSpec(
            _DW,
            "exact finite-width E[K(x, x)] (ReLU, biases absent or zero at init; NaN otherwise)",
            "1",
            "float64",
        ),
        "analytic_ntk_diagonal": VariableSpec(
            _DW,
            "infinite-width NTK Theta(x, x) in the run's parameterization at this width",
            "1",
            "float64",
        ),
        "normalized_second_moment": VariableSpec(
            _DW, "E[K(x, x)^2] / E[K(x, x)]^2 over seeds and probe points", "1", "float64"
        ),
        "normalized_second_moment_low": VariableSpec(
            _DW,
            "lower end of the percentile bootstrap interval of E[K^2]/E[K]^2 (seeds resampled)",
            "1",
            "float64",
        ),
        "normalized_second_moment_high": VariableSpec(
            _DW,
            "upper end of the percentile bootstrap interval of E[K^2]/E[K]^2 (seeds resampled)",
            "1",
            "float64",
        ),
        "log_normalized_second_moment": VariableSpec(
            _DW, "natural log of E[K(x, x)^2] / E[K(x, x)]^2", "1", "float64"
        ),
        "hanin_nica_second_moment": VariableSpec(
            _DW, "Hanin-Nica prediction exp(5 beta) of E[K^2]/E[K]^2", "1", "float64"
        ),
        "small_beta_log_second_moment": VariableSpec(
            _DW,
            "first-order (small beta) prediction of log(E[K^2]/E[K]^2) (NaN if not ReLU)",
            "1",
            "float64",
        ),
        "ntk_profile_seed_mean": VariableSpec(
            (*_DW, ANGLE), "mean over seeds of the empirical NTK K(x0, x(gamma))", "1", "float64"
        ),
        "ntk_profile_seed_std": VariableSpec(
            (*_DW, ANGLE),
            "standard deviation over seeds of the empirical NTK K(x0, x(gamma))",
            "1",
            "float64",
        ),
        "ntk_profile_relative_spread": VariableSpec(
            (*_DW, ANGLE),
            "standard deviation over seeds / |mean| of the empirical NTK K(x0, x(gamma))",
            "1",
            "float64",
        ),
        "first_step_ntk_diagonal_change": VariableSpec(
            (*_DWS, PROBE),
            "change of K(x, x) after one gradient step on the single example x0",
            "1",
            "float64",
        ),
        "first_step_residual": VariableSpec(
            _DWS, "residual f(x0) - y0 of the single example before the step", "1", "float64"
        ),
        "first_step_relative_change": VariableSpec(
            _DW,
            "mean change of K(x0, x0) / mean K(x0, x0) per unit eta Theta(x0, x0), one step on x0",
            "1",
            "float64",
        ),
        "first_step_relative_change_low": VariableSpec(
            _DW,
            "lower end of the percentile bootstrap interval of the first-step relative change",
            "1",
            "float64",
        ),
        "first_step_relative_change_high": VariableSpec(
            _DW,
            "upper end of the percentile bootstrap interval of the first-step relative change",
            "1",
            "float64",
        ),
        "first_step_prediction": VariableSpec(
            _DW,
            "Hanin-Nica scaling (d beta / n0) exp(5 beta) of the first-step relative change",
            "1",
            "float64",
        ),
        "first_step_learning_rate": VariableSpec(
            _DW, "learning rate eta of the single-example step", "1", "float64"
        ),
        "training_learning_rate": VariableSpec(
            _DW, "learning rate eta of the training run", "1", "float64"
        ),
        "training_kernel_drift": VariableSpec(
            _DWS,
            "relative Frobenius change of the empirical NTK Gram on the training points",
            "1",
            "float64",
        ),
        "training_top_eigenvalue_change": VariableSpec(
            _DWS,
            "relative change of the largest eigenvalue of the NTK Gram on the training points",
            "1",
            "float64",
        ),
        "training_ntk_eigenvalue_initial": VariableSpec(
            (*_DWS, RANK),
            "eigenvalue of the empirical NTK Gram on the training points / N at step 0",
            "1",
            "float64",
        ),
        "training_ntk_eigenvalue_final": VariableSpec(
            (*_DWS, RANK),
            "eigenvalue of the empirical NTK Gram on the training points / N at the last step",
            "1",
            "float64",
        ),
        "training_loss_initial": VariableSpec(
            _DWS, "training loss at step 0 in the run's loss convention", "1", "float64"
        ),
        "training_loss_final": VariableSpec(
            _DWS, "training loss at the last step in the run's loss convention", "1", "float64"
        ),
        "training_diverged": VariableSpec(
            _DWS,
            "divergence flag of the training run",
            "1",
            "int8",
            {"flag_values": np.array([0, 1], dtype=np.int8), "flag_meanings": "finite diverged"},
        ),
    }
)

REQUIRED_VARIABLES: dict[str, frozenset[str]] = {
    SPECTRUM: frozenset(
        {
            "ntk_eigenvalue",
            "nngp_eigenvalue",
            "multiplicity",
            "ntk_cumulative_share",
            "nngp_cumulative_share",
            "ntk_profile",
            "nngp_profile",
            "ntk_decay_exponent",
            "nngp_decay_exponent",
            "ntk_decay_prefactor",
            "nngp_decay_prefactor",
        }
    ),
}
"""Data variables each run type must hold; its keys are the known run types."""

REQUIRED_VARIABLES[EMPIRICAL_SPECTRUM] = frozenset(
    f"{kernel}_{name}"
    for kernel in ("ntk", "nngp")
    for name in (
        "eigenvalue",
        "grid_eigenvalue",
        "profile",
        "empirical_rayleigh",
        "empirical_leakage",
        "empirical_eigenvalue",
        "empirical_profile",
        "relative_distance",
    )
)

REQUIRED_VARIABLES[TRAINING] = frozenset(
    {
        "loss",
        "residual_cos",
        "residual_sin",
        "predicted_residual_cos",
        "predicted_residual_sin",
        "diverged",
        "train_x1",
        "train_x2",
        "train_angle",
    }
)

REQUIRED_VARIABLES[FLUCTUATION] = frozenset(
    {
        "beta",
        "ntk_diagonal",
        "ntk_diagonal_mean",
        "normalized_second_moment",
        "hanin_nica_second_moment",
        "ntk_empirical_profile",
        "first_step_relative_change",
        "first_step_prediction",
    }
)

REQUIRED_ATTRS: dict[str, dict[str, tuple[str, ...]]] = {
    SPECTRUM: {
        f"{kernel}_decay_exponent": ("fit_min_frequency", "fit_max_frequency")
        for kernel in ("ntk", "nngp")
    },
}
"""Integer variable attributes of each run type (its report reads them where present)."""

REQUIRED_COORDS: dict[str, frozenset[str]] = {
    SPECTRUM: frozenset({DEPTH, JACOT_LAYERS, FREQUENCY, ANGLE}),
    EMPIRICAL_SPECTRUM: frozenset({DEPTH, JACOT_LAYERS, WIDTH, SEED, FREQUENCY, ANGLE, RANK}),
    TRAINING: frozenset({WIDTH, SEED, STEP, FREQUENCY, SAMPLE, ANGLE, CHECKPOINT}),
    FLUCTUATION: frozenset({DEPTH, JACOT_LAYERS, WIDTH, SEED, PROBE, PROBE_ANGLE, ANGLE}),
}
"""Coordinates each run type must hold."""


# --------------------------------------------------------------------------
# Configuration as one JSON attribute
# --------------------------------------------------------------------------
def _jsonable(value: Any, where: str) -> Any:
    """Return ``value`` as plain JSON types; ``where`` names it in errors."""
    if isinstance(value, enum.Enum):
        return _jsonable(value.value, where)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic):
        return _jsonable(value.item(), where)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ParameterError(
                "config",
                "The 'config' parameter must hold only finite numbers. "
                f"Got {where}={value!r} instead.",
            )
        return float(value)
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ParameterError(
        "config",
        "The 'config' parameter must hold only JSON values (numbers, strings, "
        f"bools, None, enums, lists, mappings). Got {where}={value!r} instead.",
    )


def dump_config(config: Mapping[str, Any]) -> str:
    """Serialize a run configuration as one JSON string.

    Keys are sorted, enums become their value, tuples become lists, dataclasses
    become objects; non-finite floats are rejected.

    Parameters
    ----------
    config : Mapping[str, Any]
        The full run configuration.

    Returns
    -------
    str
        A JSON object.

    Raises
    ------
    ParameterError
        If a value is not representable in JSON or is a non-finite float.
    """
    if not isinstance(config, Mapping) and not dataclasses.is_dataclass(config):
        raise ParameterError(
            "config", f"The 'config' parameter must be a mapping. Got {config!r} instead."
        )
    return json.dumps(_jsonable(config, "config"), sort_keys=True, allow_nan=False)


def read_config(ds: xr.Dataset) -> dict[str, Any]:
    """Return the run configuration stored in ``ds`` as a dict.

    Raises
    ------
    RunFileError
        If the attribute is missing or is not a JSON object.
    """
    text = ds.attrs.get(ATTR_CONFIG)
    if not isinstance(text, str):
        raise RunFileError(f"{_where(ds)} has no string attribute {ATTR_CONFIG!r}")
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise RunFileError(
            f"{_where(ds)} has an attribute {ATTR_CONFIG!r} that is not valid JSON ({exc})"
        ) from None
    if not isinstance(config, dict):
        raise RunFileError(
            f"{_where(ds)} has an attribute {ATTR_CONFIG!r} that is not a JSON object"
        )
    return config


# --------------------------------------------------------------------------
# Building a dataset
# --------------------------------------------------------------------------
def _bad(parameter: str, rule: str, got: str) -> ParameterError:
    """Parameter error in the package template, with ``got`` shown verbatim."""
    return ParameterError(
        parameter, f"The {parameter!r} parameter must be {rule}. Got {got} instead."
    )


def _as_stored(parameter: str, name: str, value: ArrayLike, spec: VariableSpec) -> np.ndarray:
    """Return ``value`` as an array of ``spec.dtype`` with ``len(spec.dims)`` dims."""
    where = f"{parameter}[{name!r}]"
    arr = np.asarray(value)
    if arr.ndim != len(spec.dims):
        raise _bad(
            where,
            f"an array with {len(spec.dims)} dimension(s) {spec.dims}",
            f"an array of shape {arr.shape}",
        )
    target = np.dtype(spec.dtype)
    if target.kind in "iu":
        if arr.dtype.kind not in "iu":
            raise _bad(where, f"an integer array (stored as {target})", f"dtype {arr.dtype}")
        info = np.iinfo(target)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            raise _bad(where, f"an integer array that fits {target}", f"values up to {arr.max()}")
    elif target.kind == "f" and arr.dtype.kind not in "iuf":
        raise _bad(where, f"a real array (stored as {target})", f"dtype {arr.dtype}")
    return arr.astype(target)


def _check_coordinate(name: str, arr: np.ndarray) -> None:
    """CF: coordinates have no missing values; dimension coordinates are strictly monotonic."""
    where = f"coords[{name!r}]"
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise _bad(where, "finite (CF forbids missing coordinate values)", "a non-finite value")
    if VARIABLES[name].dims == (name,) and arr.size > 1:
        step = np.diff(arr)
        if not (np.all(step > 0) or np.all(step < 0)):
            raise _bad(where, "strictly monotonic (a CF coordinate variable)", repr(arr.tolist()))


def _history_line(history: str | None, run_type: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = history if history is not None else f"created {run_type} run"
    return f"{stamp} spectralntk {__version__}: {' '.join(str(text).split())}"


def make_dataset(
    run_type: str,
    *,
    config: Mapping[str, Any],
    data_vars: Mapping[str, ArrayLike],
    coords: Mapping[str, ArrayLike],
    title: str,
    history: str | None = None,
    references: str = DEFAULT_REFERENCES,
) -> xr.Dataset:
    """Build a run dataset whose names, dims, dtypes and attributes follow the schema.

    The caller passes only arrays; dimensions, dtype, ``long_name`` and
    ``units`` come from :data:`VARIABLES`.

    Parameters
    ----------
    run_type : str
        One of the keys of :data:`REQUIRED_VARIABLES`, e.g. ``"spectrum"``.
    config : Mapping[str, Any]
        Full run configuration, stored as one JSON string attribute.
    data_vars : Mapping[str, array_like]
        Data variables by registered name.
    coords : Mapping[str, array_like]
        Coordinates by registered name (e.g. ``depth``, ``jacot_layers``).
    title : str
        CF ``title``.
    history : str, optional
        What produced the data (e.g. the command line); stored after an
        ISO-8601 UTC time stamp and the package version.
    references : str, optional
        CF ``references``; defaults to Jacot et al. (2018), arXiv:1806.07572.

    Returns
    -------
    xarray.Dataset
        A dataset that passes :func:`validate`.

    Raises
    ------
    ParameterError
        For an unknown run type, an unregistered variable name, an array with
        the wrong number of dimensions or dtype, inconsistent dimension sizes,
        a missing required variable or a configuration that is not JSON.
    """
    run_type = check_choice("run_type", run_type, tuple(REQUIRED_VARIABLES))
    if not isinstance(title, str):
        raise _bad("title", "a str", repr(title))
    arrays: dict[str, tuple[str, np.ndarray]] = {}
    for parameter, given in (("coords", coords), ("data_vars", data_vars)):
        for name, value in given.items():
            if name not in VARIABLES:
                raise _bad(
                    parameter,
                    "a mapping keyed by names registered in spectralntk.store.schema.VARIABLES",
                    f"unregistered name {name!r}",
                )
            if name in arrays:
                raise _bad(parameter, "free of names also given elsewhere", repr(name))
            arrays[name] = (parameter, _as_stored(parameter, name, value, VARIABLES[name]))

    missing = (REQUIRED_VARIABLES[run_type] - set(data_vars)) | (
        REQUIRED_COORDS[run_type] - set(coords)
    )
    if missing:
        raise _bad(
            "data_vars",
            f"complete for run type {run_type!r}",
            f"a mapping without {', '.join(sorted(missing))}",
        )

    sizes: dict[str, tuple[int, str]] = {}
    for name, (parameter, arr) in arrays.items():
        for dim, size in zip(VARIABLES[name].dims, arr.shape, strict=True):
            seen = sizes.setdefault(dim, (size, name))
            if seen[0] != size:
                raise _bad(
                    f"{parameter}[{name!r}]",
                    f"of size {seen[0]} along {dim!r} like {seen[1]!r}",
                    f"size {size}",
                )
        if parameter == "coords":
            _check_coordinate(name, arr)

    def variable(name: str, arr: np.ndarray) -> xr.Variable:
        spec = VARIABLES[name]
        return xr.Variable(spec.dims, arr, attrs=spec.all_attrs())

    ds = xr.Dataset(
        data_vars={n: variable(n, a) for n, (p, a) in arrays.items() if p == "data_vars"},
        coords={n: variable(n, a) for n, (p, a) in arrays.items() if p == "coords"},
        attrs={
            ATTR_CONVENTIONS: CF_CONVENTIONS,
            ATTR_TITLE: title,
            ATTR_HISTORY: _history_line(history, run_type),
            ATTR_SOURCE: f"spectralntk {__version__}",
            ATTR_REFERENCES: references,
            ATTR_VERSION: __version__,
            ATTR_SCHEMA_VERSION: np.int32(SCHEMA_VERSION),
            ATTR_RUN_TYPE: run_type,
            ATTR_CONFIG: dump_config(config),
        },
    )
    return validate(ds)


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------
def _where(ds: xr.Dataset) -> str:
    source = ds.encoding.get("source")
    return f"file '{source}'" if source else "dataset"


def _check_attr_types(ds: xr.Dataset) -> None:
    """NetCDF cannot store bool, None or dict attributes."""
    owners: list[tuple[str, Mapping[str, Any]]] = [("global", ds.attrs)]
    owners += [(f"variable {name!r}", var.attrs) for name, var in ds.variables.items()]
    for owner, attrs in owners:
        for key, value in attrs.items():
            if value is None or isinstance(value, bool | np.bool_ | Mapping):
                raise RunFileError(
                    f"{_where(ds)} has {owner} attribute {key!r} of type {type(value).__name__}, "
                    "which NetCDF cannot store (use int8 0/1 for flags, JSON strings for mappings)"
                )


def validate(ds: xr.Dataset) -> xr.Dataset:
    """Check that ``ds`` is a spectralntk run this package can read (and report).

    Parameters
    ----------
    ds : xarray.Dataset
        A dataset built by :func:`make_dataset` or loaded from a run file.

    Returns
    -------
    xarray.Dataset
        ``ds`` itself.

    Raises
    ------
    RunFileError
        With a one-line message if the schema version attribute is missing or
        invalid, or newer than :data:`SCHEMA_VERSION`; if the run type is
        unknown; if required variables are missing; if a registered variable has
        other dimensions than the schema, or holds text where the schema has numbers
        (or numbers where it has text); if a dimension the run type needs is empty;
        if a numeric dimension coordinate is not finite and strictly monotonic; if
        an attribute of :data:`REQUIRED_ATTRS` is there but not an integer; if the
        configuration attribute is not a JSON object (for a training run: not a
        training configuration whose widths, seeds, frequencies and points match
        the dimensions); or if an attribute is a bool, None or dict.
    """
    where = _where(ds)
    version = ds.attrs.get(ATTR_SCHEMA_VERSION)
    if (
        isinstance(version, bool | np.bool_)
        or not isinstance(version, int | np.integer)
        or version < 1
    ):
        raise RunFileError(
            f"{where} is not a spectralntk run (no valid {ATTR_SCHEMA_VERSION!r} attribute)"
        )
    if version > SCHEMA_VERSION:
        raise RunFileError(
            f"{where} was written by schema version {int(version)}; this spectralntk "
            f"(version {__version__}) reads up to schema {SCHEMA_VERSION}; upgrade spectralntk"
        )
    run_type = ds.attrs.get(ATTR_RUN_TYPE)
    if not isinstance(run_type, str) or run_type not in REQUIRED_VARIABLES:
        known = ", ".join(repr(k) for k in REQUIRED_VARIABLES)
        raise RunFileError(f"{where} has unknown run type {run_type!r} (known: {known})")
    required = REQUIRED_VARIABLES[run_type] | REQUIRED_COORDS[run_type]
    missing = sorted(required - set(map(str, ds.variables)))
    if missing:
        raise RunFileError(
            f"{where} is missing required variables of a {run_type!r} run: {', '.join(missing)}"
        )
    sweep_dims = tuple(str(ds.attrs.get(ATTR_SWEEP_DIMS, "")).split())
    for name, var in ds.variables.items():
        spec = VARIABLES.get(str(name))
        if spec is not None and var.dims not in (spec.dims, (*sweep_dims, *spec.dims)):
            raise RunFileError(
                f"{where} has variable {name!r} with dimensions {var.dims}; "
                f"the schema requires {spec.dims}"
                + (f" (after the sweep dimensions {sweep_dims})" if sweep_dims else "")
            )
    config = read_config(ds)
    _check_attr_types(ds)
    _check_dtypes(ds)
    _check_dimensions(ds, run_type)
    _check_required_attrs(ds, run_type)
    if run_type == TRAINING and not sweep_dims:
        _check_training_config(ds, config)
    return ds


#: NumPy dtype kinds a stored variable may have, by the kind of its schema dtype.
#: Integers may come back as floats (a sweep pads missing points with NaN).
_DTYPE_KINDS = {"i": "iuf", "u": "iuf", "f": "iuf", "S": "SUO"}


def _check_dtypes(ds: xr.Dataset) -> None:
    """Registered variables hold numbers where the schema has numbers, text where text."""
    for name, var in ds.variables.items():
        spec = VARIABLES.get(str(name))
        if spec is None:
            continue
        kinds = _DTYPE_KINDS.get(np.dtype(spec.dtype).kind, "")
        if var.dtype.kind not in kinds:
            raise RunFileError(
                f"{_where(ds)} has variable {name!r} of dtype {var.dtype}; "
                f"the schema stores it as {spec.dtype}"
            )


def _check_dimensions(ds: xr.Dataset, run_type: str) -> None:
    """The run type's dimensions are non-empty; numeric dimension coordinates are
    finite and strictly monotonic (CF coordinate variables)."""
    for name in sorted(REQUIRED_COORDS[run_type]):
        if name in ds.dims and ds.sizes[name] == 0:
            raise RunFileError(
                f"{_where(ds)} has an empty dimension {name!r}; a {run_type!r} run needs "
                "at least one value along it"
            )
    for dim in ds.dims:
        name = str(dim)
        if dim not in ds.variables or name not in VARIABLES:
            continue
        values = np.asarray(ds[dim].values)
        if values.dtype.kind not in "iuf" or values.size == 0:
            continue
        if not np.all(np.isfinite(values)):
            raise RunFileError(
                f"{_where(ds)} has coordinate {name!r} with a missing or non-finite value"
            )
        step = np.diff(values.astype(np.float64))
        if values.size > 1 and not (np.all(step > 0) or np.all(step < 0)):
            raise RunFileError(
                f"{_where(ds)} has coordinate {name!r} that is not strictly monotonic"
            )


def _check_required_attrs(ds: xr.Dataset, run_type: str) -> None:
    """Variable attributes of :data:`REQUIRED_ATTRS` are integers where present."""
    for name, keys in REQUIRED_ATTRS.get(run_type, {}).items():
        if name not in ds.variables:
            continue
        for key in keys:
            if key not in ds[name].attrs:
                continue
            value = ds[name].attrs[key]
            if isinstance(value, np.ndarray) and value.size == 1:
                value = value.item()
            if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
                raise RunFileError(
                    f"{_where(ds)} has variable {name!r} whose attribute {key!r} is not an "
                    f"integer (got {value!r})"
                )


def _check_training_config(ds: xr.Dataset, config: Mapping[str, Any]) -> None:
    """The stored configuration of a training run parses and matches its dimensions."""
    from spectralntk.errors import SpectralNTKError
    from spectralntk.runs.training import TrainingConfig

    where = _where(ds)
    try:
        cfg = TrainingConfig.from_dict(config)
    except (SpectralNTKError, KeyError, TypeError, ValueError, AttributeError) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, KeyError):
            detail = f"missing key {exc}"
        raise RunFileError(
            f"{where} has a {ATTR_CONFIG!r} attribute that is not a training "
            f"configuration ({detail})"
        ) from None
    expected = {
        WIDTH: len(cfg.widths),
        SEED: len(cfg.seeds),
        FREQUENCY: cfg.k_max + 1,
        SAMPLE: cfg.points,
    }
    for dim, size in expected.items():
        if ds.sizes.get(dim) != size:
            raise RunFileError(
                f"{where} has {ds.sizes.get(dim, 0)} values along {dim!r} but its "
                f"configuration {ATTR_CONFIG!r} implies {size}"
            )
    depth = ds.attrs.get(DEPTH)  # train writes the network's depth as a global attribute
    if depth is not None and not (
        isinstance(depth, int | np.integer) and int(depth) == cfg.network.depth
    ):
        raise RunFileError(
            f"{where} has global attribute 'depth' = {depth!r} but its configuration "
            f"{ATTR_CONFIG!r} has network depth {cfg.network.depth}"
        )
    for name in ("train_x1", "train_x2", "train_angle"):
        if not np.all(np.isfinite(ds[name].values)):
            raise RunFileError(f"{where} has training inputs {name!r} that are not all finite")
    if [int(w) for w in ds[WIDTH].values] != list(cfg.widths):
        raise RunFileError(
            f"{where} has widths {ds[WIDTH].values.tolist()} but its configuration "
            f"{ATTR_CONFIG!r} lists {list(cfg.widths)}"
        )
