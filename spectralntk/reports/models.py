"""Typed reports: what a run says about the NTK picture, as documents other programs read.

One pydantic model per report type (spectrum, convergence, fluctuation). A report is a
pure function of a run :class:`xarray.Dataset` (the builders in
:mod:`spectralntk.reports.spectrum`, :mod:`~spectralntk.reports.convergence` and
:mod:`~spectralntk.reports.fluctuation`); its JSON carries :data:`REPORT_SCHEMA_VERSION`
and the report type, and :func:`load_report` validates it on the way back in. The JSON
Schemas of the models are published in ``spectralntk/reports/schemas/`` (regenerate with
``python -m spectralntk.reports.schema``).

Numbers that may be undefined (a mode never reached, a statistic of no seeds) are
``None`` in the model and ``null`` in JSON, never NaN: JSON has no NaN.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from spectralntk.errors import RunFileError

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "REPORT_TYPES",
    "ConvergenceReport",
    "DepthFluctuation",
    "FigureRef",
    "FluctuationReport",
    "FrequencyRow",
    "GapSplit",
    "KernelSpectrum",
    "Provenance",
    "Report",
    "SpectrumReport",
    "Stat",
    "WidthDistance",
    "WidthSummary",
    "load_report",
    "num",
]

#: Version of the report documents; bump when a field changes meaning or is removed.
REPORT_SCHEMA_VERSION = 1

#: Report types, in the order the schemas are published.
REPORT_TYPES: tuple[str, ...] = ("spectrum", "convergence", "fluctuation")


def num(value: Any) -> float | None:
    """``value`` as a float, or None when it is NaN or infinite (JSON has neither)."""
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stat(_Model):
    """Median and interquartile range over seeds (None where undefined)."""

    median: float | None
    q25: float | None
    q75: float | None
    count: int = Field(description="number of seeds with a value (+inf, never reached, counts)")


class Provenance(_Model):
    """Where a report comes from: the run file and the code."""

    source: str = Field(description="file name of the run (no folder)")
    run_type: str
    run_schema_version: int
    run_spectralntk_version: str = Field(description="spectralntk version that wrote the run")
    report_spectralntk_version: str = Field(description="spectralntk version of this report")
    title: str
    history: str
    config: dict[str, Any] = Field(description="the run configuration (its JSON attribute)")


class FigureRef(_Model):
    """A figure of a report: files relative to the report folder and a caption."""

    name: str
    caption: str
    png: str
    svg: str | None = None


class _ReportBase(_Model):
    schema_version: Literal[1] = 1  # REPORT_SCHEMA_VERSION
    title: str
    provenance: Provenance
    verdicts: list[str] = Field(description="findings stated with their numbers")
    figures: list[FigureRef] = Field(default_factory=list)
    omitted: list[str] = Field(
        default_factory=list,
        description="parts of the report left out because the run cannot give them, and why",
    )


# --------------------------------------------------------------------------
# spectrum (analytic and empirical decompose runs)
# --------------------------------------------------------------------------
class KernelSpectrum(_Model):
    """One kernel (NTK or NNGP) at one depth: λ_k, trace, power-law fit."""

    kernel: Literal["ntk", "nngp"]
    depth: int
    jacot_layers: int
    trace: float | None = Field(description="k(0) = lambda_0 + 2 sum_{k>=1} lambda_k")
    frequencies: list[int]
    eigenvalues: list[float | None] = Field(description="analytic lambda_k, k = frequencies")
    cumulative_share: list[float | None]
    ratio_reference: Literal["lambda_0", "lambda_max"] = Field(
        default="lambda_0",
        description="what ratios divide by: lambda_0, or lambda_max = max_k |lambda_k| where "
        "lambda_0 is 0 (an odd kernel)",
    )
    ratios: list[float | None] = Field(
        default_factory=list, description="lambda_k / ratio_reference, k = frequencies"
    )
    grid_eigenvalues: list[float | None] | None = Field(
        default=None,
        description="empirical runs: mu_k/N of the analytic Gram on the run's grid, what the "
        "empirical Rayleigh quotients converge to (aliasing included); None otherwise",
    )
    decay_exponent: float | None = Field(description="p of lambda_k ~ C k^-p")
    decay_prefactor: float | None
    fit_range: tuple[int, int]
    frequency_for_90_percent: int | None = Field(
        description="smallest k whose cumulative share of the trace reaches 0.9"
    )
    decay_fit: str | None = Field(
        default=None,
        description="how the power law was fitted (parity, frequencies used), or why none is",
    )


class WidthDistance(_Model):
    """Empirical kernels of one (depth, width): distance to the analytic Gram, spectra."""

    depth: int
    width: int
    seeds: int
    kernel: Literal["ntk", "nngp"]
    relative_distance: Stat
    rayleigh_relative_error: Stat = Field(
        description="median over k <= 16 of |Rayleigh_k - mu_k/N| / (mu_k/N), per seed"
    )
    leakage: Stat = Field(description="median over k <= 16 of the leaked energy share, per seed")
    largest_eigenvalue: Stat | None = Field(
        default=None, description="largest eigenvalue of the empirical Gram K/N, per seed"
    )
    rayleigh_mean: list[float | None] = Field(
        default_factory=list,
        description="mean over seeds of the empirical Rayleigh quotient of frequency k, "
        "k = the run's frequencies",
    )
    rayleigh_sd: list[float | None] = Field(
        default_factory=list,
        description="standard deviation over seeds (ddof 1; 0 for one seed) of the same",
    )


class SpectrumReport(_ReportBase):
    """Spectra of the analytic (and empirical) NNGP/NTK on the circle."""

    report_type: Literal["spectrum"] = "spectrum"
    empirical: bool
    kernels: list[KernelSpectrum]
    zero_tolerance: float = Field(
        default=1e-13, description="|lambda_k| <= zero_tolerance * lambda_max is reported as 0"
    )
    widths: list[WidthDistance] = Field(default_factory=list)
    distance_width_exponent: dict[str, float | None] = Field(
        default_factory=dict,
        description="per 'kernel depth D': q of median distance ~ n^-q across widths",
    )


# --------------------------------------------------------------------------
# convergence (training runs)
# --------------------------------------------------------------------------
class FrequencyRow(_Model):
    """One target frequency k at one width: theory against measurement."""

    width: int
    frequency: int
    amplitude: float = Field(description="target amplitude a_k")
    analytic_eigenvalue: float | None = Field(description="lambda_k of the analytic NTK on S1")
    train_eigenvalue: float | None = Field(
        description="mu_k: Rayleigh quotient of the unit frequency-k vectors (cos, sin averaged) "
        "of the analytic NTK Gram on the training points"
    )
    rate: float | None = Field(
        description="x_k = c eta mu_k, the per-step decay rate (grid inputs; on other inputs "
        "mu_k is replaced by its continuum value N lambda_k)"
    )
    predicted_steps_discrete: float | None = Field(
        description="least t with |1 - x_k|^t <= 0.1 (None: never)"
    )
    predicted_steps_flow: float | None = Field(description="ln(10)/x_k (None: never)")
    predicted_steps_curve: float | None = Field(
        description="median over seeds of the steps to 10 % of the run's own discrete "
        "prediction (each seed's initial residual through (I - c eta K)^t; on non-grid "
        "inputs the modes mix); None when not within the run's steps"
    )
    measured_steps: Stat = Field(
        description="steps until the mode's amplitude is <= 0.1 of its start, over seeds; "
        "median None means not reached by the median seed"
    )
    seeds_reached: int
    seeds: int
    predicted_fraction_discrete: float | None = Field(
        description="median over seeds of the predicted (1 - c eta K)^T amplitude / start"
    )
    predicted_fraction_flow: float | None
    measured_fraction: Stat = Field(description="amplitude at the last step / start")
    exponent_at_end: float | None = Field(description="x_k T: the mode is out of reach if small")
    analytic_exponent_at_end: float | None = Field(
        description="c eta N lambda_k T: the same with mu_k replaced by its continuum value "
        "N lambda_k (the 'eta lambda_k t' of the kernel regime; e^-that is the share left)"
    )
    curve_gap: float | None = Field(
        description="median over seeds of max_t |measured - predicted| amplitude / start"
    )
    first_dip_steps: Stat | None = Field(
        default=None,
        description="first step at which the amplitude is <= 0.1 of its start, over seeds, "
        "whether or not it stays there (measured_steps counts only a mode that stays)",
    )
    rebounded_seeds: int = Field(
        default=0,
        description="seeds whose mode fell to <= 0.1 of its start and later rose above it",
    )


class WidthSummary(_Model):
    """One width: agreement with the kernel regime."""

    width: int
    seeds: int
    diverged_seeds: int
    relative_error: Stat = Field(description="RelErr to the NTK predictor at the last step")
    relative_error_limit: Stat = Field(description="RelErr to t -> infinity kernel regression")
    kernel_drift: Stat = Field(description="||K_T - K_0||_F / ||K_0||_F")
    max_curve_gap: float | None = Field(description="largest curve_gap over target frequencies")
    spearman_rho: float | None = Field(
        description="Spearman rho between k and measured steps (not reached ranks last)"
    )
    spearman_rho_left: float | None = Field(
        description="Spearman rho between k and the measured share of the mode left at T"
    )
    stability_limit: float | None
    spearman_p: float | None = Field(
        default=None,
        description="one-sided permutation p-value of spearman_rho (no order against higher "
        "k taking longer)",
    )
    spearman_p_left: float | None = Field(
        default=None, description="one-sided permutation p-value of spearman_rho_left"
    )
    diverged_seed_ids: list[int] = Field(
        default_factory=list, description="the seeds that diverged (left out of every statistic)"
    )
    diverged_steps: list[int] = Field(
        default_factory=list, description="the step at which each of diverged_seed_ids diverged"
    )
    kernel_regime: Literal["holds", "does not hold", "unknown"] = Field(
        default="unknown",
        description="'holds' when the median kernel drift and RelErr to the NTK predictor at T "
        "are both within the report's thresholds, 'does not hold' when either is above, "
        "'unknown' without them (e.g. every seed diverged)",
    )


class GapSplit(_Model):
    """One target frequency k at one width: where the kernel picture breaks.

    The gap between the network's mode curve and the analytic (infinite-width) kernel's
    prediction, split into the finite-width initial kernel (the network linearized at
    step 0, (I - c eta K0)^t r_0, against the analytic prediction) and what changed
    during training (the network against its own linearization). Each part is
    max_t |A_t - B_t| / A_0 of two amplitude curves, median over seeds.
    """

    width: int
    frequency: int
    total_gap: float | None = Field(description="network against the analytic prediction")
    initial_kernel_gap: float | None = Field(
        description="linearized at step 0 (own empirical NTK K0) against the analytic prediction"
    )
    training_gap: float | None = Field(description="network against its linearization at step 0")
    initial_rayleigh_deviation: float | None = Field(
        default=None,
        description="median over seeds of (R0_k - mu_k/N) / (mu_k/N): the empirical NTK's "
        "Rayleigh quotient of frequency k at step 0 against the analytic Gram's",
    )
    rayleigh_change: float | None = Field(
        default=None,
        description="median over seeds of |R_T,k - R0_k| / R0_k: the empirical NTK's Rayleigh "
        "quotient of frequency k at the last checkpoint against step 0",
    )
    dominant: Literal["initial kernel", "training", "both"] | None = Field(
        description="the part at least 1.5 times the other; 'both' within that factor "
        "(None when neither is defined)"
    )


class ConvergenceReport(_ReportBase):
    """Which frequencies a network of each width learns by step T, and does the NTK explain it."""

    report_type: Literal["convergence"] = "convergence"
    loss: str
    loss_factor: float
    lr: float
    steps: int
    fraction: float = Field(description="the mode counts as learned at this amplitude share")
    depth: int
    points: int
    inputs: str
    rows: list[FrequencyRow]
    widths: list[WidthSummary]
    eigenvalue: Literal["mu", "n_lambda"] = Field(
        default="mu",
        description="what carries each mode's rate: 'mu' the Gram eigenvalue mu_k on the grid, "
        "'n_lambda' the continuum value N lambda_k on other inputs",
    )
    regime_drift: float = Field(
        default=0.1, description="kernel drift up to which the kernel regime is said to hold"
    )
    regime_relative_error: float = Field(
        default=0.2, description="RelErr to the NTK predictor up to which the regime holds"
    )
    gap_split: list[GapSplit] = Field(
        default_factory=list,
        description="per width and target frequency: the gap to the analytic prediction split "
        "into the finite-width initial kernel and training (runs with linearized_residual_*)",
    )


# --------------------------------------------------------------------------
# fluctuation (finite-width statistics, Hanin & Nica)
# --------------------------------------------------------------------------
class DepthFluctuation(_Model):
    """One (depth, width) of a fluctuation run (Hanin & Nica 2019)."""

    depth: int
    width: int
    beta: float = Field(description="beta = sum_l 1/n_l over hidden layers")
    seeds: int
    ntk_diagonal_mean: float | None = Field(description="mean of K(x, x) over seeds and probes")
    ntk_diagonal_mean_stderr: float | None
    exact_ntk_diagonal_mean: float | None = Field(description="exact finite-width E[K(x, x)]")
    analytic_ntk_diagonal: float | None = Field(description="infinite-width Theta(x, x)")
    ratio: float | None = Field(description="E[K^2]/E[K]^2 of the on-diagonal NTK")
    ratio_low: float | None = Field(description="bootstrap interval over seeds, lower end")
    ratio_high: float | None
    exp_5beta: float | None = Field(description="Hanin-Nica prediction exp(5 beta)")
    small_beta_log_ratio: float | None = Field(
        description="first-order (small beta) prediction of log(E[K^2]/E[K]^2)"
    )
    log_ratio_over_beta: float | None = Field(description="log(ratio)/beta (Hanin-Nica: ~5)")
    profile_spread: float | None = Field(
        description="median over angles of the seed std / |mean| of the profile K(x0, x)"
    )
    first_step_change: float | None = Field(
        description="E[dK]/E[K] after one step on x0, per unit eta Theta(x0, x0)"
    )
    first_step_change_low: float | None
    first_step_change_high: float | None
    first_step_prediction: float | None = Field(description="(d beta / n0) exp(5 beta)")
    drift: Stat | None = Field(
        default=None, description="||K_T - K_0||_F / ||K_0||_F after training (runs with steps)"
    )


class FluctuationReport(_ReportBase):
    """Finite-width fluctuations of the NTK against the Hanin–Nica exp(5β) law."""

    report_type: Literal["fluctuation"] = "fluctuation"
    steps: int = Field(description="training steps of the drift measurement (0: none)")
    cells: list[DepthFluctuation]
    fitted_coefficient: float | None = Field(
        description="least-squares c of log(ratio) = c beta over all cells (Hanin-Nica: 5)"
    )
    covered: int = Field(description="cells whose bootstrap interval contains exp(5 beta)")
    drift_beta_spearman: float | None = Field(
        default=None, description="Spearman rho between beta and the median drift"
    )


Report = Annotated[
    SpectrumReport | ConvergenceReport | FluctuationReport, Field(discriminator="report_type")
]
"""Any report, told apart by ``report_type``."""

_ADAPTER: TypeAdapter[Any] = TypeAdapter(Report)

#: Model of each report type.
MODELS: dict[str, type[_ReportBase]] = {
    "spectrum": SpectrumReport,
    "convergence": ConvergenceReport,
    "fluctuation": FluctuationReport,
}


def load_report(text: str | bytes) -> SpectrumReport | ConvergenceReport | FluctuationReport:
    """Parse and validate a report's JSON.

    Raises
    ------
    RunFileError
        On invalid JSON, a schema version other than :data:`REPORT_SCHEMA_VERSION`,
        an unknown report type or any field that breaks its model (one line).
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RunFileError(f"Not a spectralntk report: invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RunFileError("Not a spectralntk report: the JSON is not an object")
    version = data.get("schema_version")
    if version != REPORT_SCHEMA_VERSION:
        raise RunFileError(
            f"Report schema version {version!r} is not the version this spectralntk reads "
            f"({REPORT_SCHEMA_VERSION})"
        )
    if data.get("report_type") not in MODELS:
        raise RunFileError(
            f"Unknown report type {data.get('report_type')!r} (known: {', '.join(REPORT_TYPES)})"
        )
    try:
        return _ADAPTER.validate_python(data)  # type: ignore[no-any-return]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RunFileError(
            f"Invalid {data['report_type']} report: {where}: {first['msg']} "
            f"({exc.error_count()} error(s))"
        ) from None
