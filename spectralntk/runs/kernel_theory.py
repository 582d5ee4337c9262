"""Kernel-regime theory of a training run: what the NTK predicts, per architecture and seed.

In the kernel regime (Jacot et al. 2018; Lee et al. 2019) gradient descent moves the
training residual as r_{t+1} = (I − c·η·K) r_t, K the NTK Gram on the N training
points, c the loss convention's factor (docs/conventions.md). Two kernels are used:

- :class:`ArchitectureTheory`: the analytic (infinite-width) NTK of one architecture
  (:func:`spectralntk.kernels.recursion.kernel_matrix`): its Gram and eigen-modes on
  the training points, the infinite-width predictor on the evaluation grid at each
  checkpoint and at t → ∞ (kernel regression with a ridge), the stability limit
  η_max = 2/(c·μ_max);
- :func:`seed_predictions`: per seed, the same analytic kernel started from that
  seed's own initial outputs (discrete (1 − cημ)^t and gradient flow e^{−cημt} per
  eigen-mode, in Fourier modes), and the network linearized at step 0 (its own
  empirical NTK K̂₀ and f₀): its prediction on the evaluation grid at checkpoints and
  its residual modes (I − cηK̂₀)^t r₀ at every recorded step;
- :func:`frequency_answer`: the run's answer per frequency k, as the run file stores it
  for readers without spectralntk: λ_k on S¹, μ_k on the training points, the target's
  amplitude and phase, the predicted steps until a mode is at 10 % of its start
  (discrete and flow) and the measured share of each mode left at the last step.

Everything is float64 numpy; :mod:`spectralntk.dynamics.predict` does the algebra.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spectralntk.config import NetworkConfig

__all__ = [
    "LEARNED_FRACTION",
    "ArchitectureTheory",
    "SeedPredictions",
    "frequency_answer",
    "seed_predictions",
]

FloatArray = NDArray[np.float64]

#: A mode counts as learned when its residual amplitude is down to this share of its start
#: (the convergence report's threshold, :data:`spectralntk.reports.convergence.FRACTION`).
LEARNED_FRACTION = 0.1


@dataclass(frozen=True)
class ArchitectureTheory:
    """The analytic NTK's predictions for one architecture on a run's points.

    Attributes
    ----------
    gram : ndarray, shape (N, N)
        Analytic NTK Θ(x_i, x_j) on the training points.
    cross : ndarray, shape (M, N)
        Θ(x_eval, x_train).
    ntk_train_eigenvalue : ndarray, shape (N,)
        Eigenvalues μ of ``gram``, descending.
    eigenmode_frequency_content : ndarray, shape (N, K + 1)
        Share of each eigenvector's energy at frequency k.
    ntk_prediction : ndarray, shape (C, M)
        Infinite-width predictor at each checkpoint step.
    ntk_prediction_limit : ndarray, shape (M,)
        The t → ∞ kernel regression K(x, X)(K + ridge·I)⁻¹ y.
    stability_limit : float
        η_max = 2/(c·μ_max).
    predictor : KernelPredictor
        The analytic kernel's predictor from f₀ = 0 (reused for every seed's start).
    """

    gram: FloatArray
    cross: FloatArray
    ntk_train_eigenvalue: FloatArray
    eigenmode_frequency_content: FloatArray
    ntk_prediction: FloatArray
    ntk_prediction_limit: FloatArray
    stability_limit: float
    predictor: Any

    #: The fields stored per width in the run (shapes as above, a leading width axis).
    STORED = (
        "ntk_train_eigenvalue",
        "eigenmode_frequency_content",
        "ntk_prediction",
        "ntk_prediction_limit",
        "stability_limit",
    )

    @classmethod
    def of(
        cls,
        network: NetworkConfig,
        x: FloatArray,
        x_eval: FloatArray,
        y: FloatArray,
        *,
        lr: float,
        loss: str,
        checkpoints: NDArray[np.int64],
        ridge: float,
        modes: Any,
    ) -> ArchitectureTheory:
        """The theory of ``network`` on training points ``x`` (N, 2), grid ``x_eval``
        (M, 2) and targets ``y`` (N,); ``modes`` maps (·, N) vectors to their Fourier
        coefficients (:func:`spectralntk.dynamics.modes.mode_projector`)."""
        from spectralntk.dynamics.predict import KernelPredictor, stability_limit
        from spectralntk.kernels.recursion import kernel_matrix

        gram = kernel_matrix(network, x).ntk
        cross = kernel_matrix(network, x_eval, x).ntk
        infinite = KernelPredictor(gram, cross, targets=y, lr=lr, loss=loss)
        mu, vecs = np.linalg.eigh(gram)
        mu, vecs = mu[::-1], vecs[:, ::-1]
        va, vb = modes(vecs.T)
        energy = va**2 + vb**2
        return cls(
            gram=gram,
            cross=cross,
            ntk_train_eigenvalue=mu,
            eigenmode_frequency_content=energy
            / np.maximum(energy.sum(axis=1, keepdims=True), 1e-300),
            ntk_prediction=infinite.eval_prediction(checkpoints),
            ntk_prediction_limit=_limit(infinite, ridge, network),
            stability_limit=stability_limit(float(mu[0]), loss, x.shape[0]),
            predictor=infinite,
        )


def _limit(predictor: Any, ridge: float, network: NetworkConfig) -> Any:
    """The t → ∞ kernel regression; a Gram that rounding leaves indefinite is a kernel too
    large for float64 and the ridge: the error names the std that made it so."""
    from spectralntk.errors import ParameterError, parameter_error

    try:
        return predictor.limit(reg=ridge)
    except ParameterError as err:
        if err.parameter != "reg":
            raise
        name = "weight_std" if network.weight_std >= network.bias_std else "bias_std"
        raise parameter_error(
            name,
            f"small enough that the NTK Gram on the training points, with the ridge "
            f"{ridge:g}, stays positive definite in float64 (it does not at this scale)",
            getattr(network, name),
        ) from None


@dataclass(frozen=True)
class SeedPredictions:
    """One seed's kernel-regime predictions.

    Attributes
    ----------
    linearized_prediction : ndarray, shape (C, M)
        The network linearized at step 0 on the evaluation grid, at each checkpoint.
    predicted_residual_cos, predicted_residual_sin : ndarray, shape (T, K + 1)
        Fourier modes of the analytic kernel's discrete-time residual from this
        seed's initial residual, at each recorded step.
    flow_residual_cos, flow_residual_sin : ndarray, shape (T, K + 1)
        The same for gradient flow.
    linearized_residual_cos, linearized_residual_sin : ndarray, shape (T, K + 1)
        Fourier modes of the residual of the network linearized at step 0,
        (I − cηK̂₀)^t r₀ with the seed's own empirical NTK K̂₀ (one eigendecomposition
        of K̂₀, then every recorded step): the finite-width initial kernel's prediction.
    """

    linearized_prediction: FloatArray
    predicted_residual_cos: FloatArray
    predicted_residual_sin: FloatArray
    flow_residual_cos: FloatArray
    flow_residual_sin: FloatArray
    linearized_residual_cos: FloatArray
    linearized_residual_sin: FloatArray


def seed_predictions(
    theory: ArchitectureTheory,
    k0: FloatArray,
    k0_eval: FloatArray,
    f0: FloatArray,
    f0_eval: FloatArray,
    y: FloatArray,
    *,
    lr: float,
    loss: str,
    steps: NDArray[np.int64],
    checkpoints: NDArray[np.int64],
    modes: Any,
    gram_eps: float | None = None,
) -> SeedPredictions:
    """Predictions for one seed from its empirical NTK K̂₀ (N, N), K̂₀(x_eval, X)
    (M, N) and initial outputs f₀ (N,) and f₀(x_eval) (M,); ``gram_eps`` is the
    rounding ε of the network's precision (see :class:`KernelPredictor`)."""
    from spectralntk.dynamics.predict import KernelPredictor
    from spectralntk.errors import ParameterError, parameter_error

    try:
        lin = KernelPredictor(
            k0,
            k0_eval,
            targets=y,
            lr=lr,
            loss=loss,
            f0_train=f0,
            f0_eval=f0_eval,
            gram_eps=gram_eps,
        )
    except ParameterError as err:
        if err.parameter not in ("train_gram", "cross_gram"):
            raise
        # The network's own kernel failed a check: the user's lever is the precision.
        raise parameter_error(
            "dtype",
            f"a precision in which the initial empirical NTK is a valid kernel ({err})",
            "float32" if gram_eps is not None and gram_eps > 1e-10 else "float64",
        ) from None
    own = theory.predictor.with_start(f0, f0_eval)  # the analytic kernel from f₀
    pa, pb = modes(own.train_residual(steps))
    qa, qb = modes(own.flow_train_residual(steps))
    la, lb = modes(lin.train_residual(steps))
    return SeedPredictions(lin.eval_prediction(checkpoints), pa, pb, qa, qb, la, lb)


def frequency_answer(
    config: Any,
    networks: Sequence[NetworkConfig],
    x_train: FloatArray,
    train_angle: FloatArray,
    arrays: dict[str, Any],
) -> dict[str, FloatArray]:
    """The run's answer per frequency k = 0..K, as stored in a training run file.

    Parameters
    ----------
    config : TrainingConfig
    networks : sequence of NetworkConfig, length W
        The architecture of each width (:func:`spectralntk.runs.training.network_at_width`).
    x_train : ndarray, shape (N, 2)
        Training inputs.
    train_angle : ndarray, shape (N,)
        Their angles.
    arrays : dict
        The run's recorded arrays: ``residual_cos``, ``residual_sin`` (W, S, T, K + 1)
        and ``diverged_step`` (W, S).

    Returns
    -------
    dict of str to ndarray
        ``analytic_eigenvalue`` (W, K + 1): λ_k of the analytic NTK on S¹ (below the zero
        tolerance stored as 0); ``train_eigenvalue`` (W, K + 1): μ_k, the mean Rayleigh
        quotient of the unit cos/sin vectors of frequency k of the analytic NTK Gram on
        the training points (its eigenvalue of frequency k on a grid);
        ``target_amplitude``, ``target_phase`` (K + 1): A_k ≥ 0 and φ_k ∈ [0, 2π) of the
        target's term A_k sin(kγ + φ_k); ``predicted_steps_discrete`` and
        ``predicted_steps_flow`` (W, K + 1): steps until the mode is at
        :data:`LEARNED_FRACTION` of its start, least t with |1 − cημ|^t ≤ 0.1 and
        ln 10/(cημ) (+inf: never), with μ = μ_k on a grid and N·λ_k on other inputs
        (there the Fourier vectors are not eigenvectors of the Gram, as in the
        convergence report); ``measured_fraction`` (W, S, K + 1): the residual's
        frequency-k amplitude at the last recorded step over its amplitude at step 0
        (NaN for diverged seeds and for modes that start at 0).
    """
    from spectralntk.dynamics.predict import loss_factor, steps_to_fraction
    from spectralntk.kernels.recursion import kernel_matrix
    from spectralntk.runs.recorders import fourier_rayleigh, unit_fourier_vectors
    from spectralntk.spectral.decomposition import circle_spectrum, zero_small

    k_max, n = config.k_max, x_train.shape[0]
    waves = unit_fourier_vectors(np.asarray(train_angle, dtype=np.float64), k_max)
    lam = np.empty((len(config.widths), k_max + 1))
    mu = np.empty_like(lam)
    cache: dict[NetworkConfig, tuple[FloatArray, FloatArray]] = {}
    for j, net in enumerate(networks):
        if net not in cache:
            gram = kernel_matrix(net, x_train).ntk
            cache[net] = (
                zero_small(circle_spectrum(net, k_max).eigenvalues.ntk),
                fourier_rayleigh(gram[None], waves)[0] * n,
            )
        lam[j], mu[j] = cache[net]
    carrier = mu if config.inputs == "grid" else n * lam
    c = loss_factor(config.loss, n)
    positive = carrier > 0
    safe = np.where(positive, carrier, 1.0)

    def steps(dynamics: str) -> FloatArray:
        out = steps_to_fraction(safe, config.lr, c, LEARNED_FRACTION, dynamics=dynamics)
        return np.where(positive, out, np.inf)

    a, b = config.target.fourier_coefficients(k_max)
    amplitude = np.hypot(a, b)
    phase = np.where(amplitude > 0, np.mod(np.arctan2(a, b), 2.0 * np.pi), 0.0)
    amp = np.hypot(arrays["residual_cos"], arrays["residual_sin"])  # (W, S, T, F)
    with np.errstate(invalid="ignore", divide="ignore"):
        left = amp[:, :, -1, :] / amp[:, :, 0, :]
    left[np.asarray(arrays["diverged_step"]) >= 0] = np.nan
    return {
        "analytic_eigenvalue": lam,
        "train_eigenvalue": mu,
        "target_amplitude": amplitude,
        "target_phase": phase,
        "predicted_steps_discrete": steps("discrete"),
        "predicted_steps_flow": steps("flow"),
        "measured_fraction": np.where(np.isfinite(left), left, np.nan),
    }
