"""Kernel-regime theory of a training run: what the NTK predicts, per architecture and seed.

In the kernel regime (Jacot et al. 2018; Lee et al. 2019) gradient descent moves the
training residual as r_{t+1} = (I − c·η·K) r_t, K the NTK Gram on the N training
points, c the loss convention's factor (../shared/DESIGN.md). Two kernels are used:

- :class:`ArchitectureTheory`: the analytic (infinite-width) NTK of one architecture
  (:func:`spectralntk.kernels.recursion.kernel_matrix`): its Gram and eigen-modes on
  the training points, the infinite-width predictor on the evaluation grid at each
  checkpoint and at t → ∞ (kernel regression with a ridge), the stability limit
  η_max = 2/(c·μ_max);
- :func:`seed_predictions`: per seed, the same analytic kernel started from that
  seed's own initial outputs (discrete (1 − cημ)^t and gradient flow e^{−cημt} per
  eigen-mode, in Fourier modes), and the network linearized at step 0 (its own
  empirical NTK K̂₀ and f₀).

Everything is float64 numpy; :mod:`spectralntk.dynamics.predict` does the algebra.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spectralntk.config import NetworkConfig

__all__ = ["ArchitectureTheory", "SeedPredictions", "seed_predictions"]

FloatArray = NDArray[np.float64]


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
            ntk_prediction_limit=infinite.limit(reg=ridge),
            stability_limit=stability_limit(float(mu[0]), loss, x.shape[0]),
            predictor=infinite,
        )


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
    """

    linearized_prediction: FloatArray
    predicted_residual_cos: FloatArray
    predicted_residual_sin: FloatArray
    flow_residual_cos: FloatArray
    flow_residual_sin: FloatArray


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
    return SeedPredictions(lin.eval_prediction(checkpoints), pa, pb, qa, qb)
