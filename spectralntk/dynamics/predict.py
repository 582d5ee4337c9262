r"""Kernel-regime theory of full-batch gradient descent on the squared loss.

In the kernel regime (Jacot, Gabriel & Hongler 2018; Lee et al. 2019, "Wide
neural networks of any depth evolve as linear models under gradient descent")
the network stays at its first-order Taylor model, and gradient descent
θ ← θ − η∇L on N training points X with residual r = f(X) − y gives

    r_{t+1} = (I − c·η·K) r_t,
    f_{t+1}(x) = f_t(x) − c·η·K(x, X) r_t,

with K the NTK Gram matrix on X and c the factor of the loss convention
(docs/conventions.md, "Loss and learning-rate conventions"):

==========  ==================  =====
loss        L                   c
==========  ==================  =====
half_mean   (1/2N) Σ r²         1/N
mean        (1/N) Σ r²          2/N
half_sum    ½ Σ r²              1
==========  ==================  =====

(∂L/∂f = c·r). With K = V diag(μ) Vᵀ and z = Vᵀ r_0, every eigen-mode decays
independently: z_t = (1 − cημ)^t z_0 (gradient flow: e^{−cημt}), and

    f_t(x) = f_0(x) − K(x, X) V diag(g_t(μ)) z_0,
    g_t(μ) = (1 − (1 − cημ)^t)/μ = cη Σ_{s<t} (1 − cημ)^s   (→ cηt as μ → 0).

Stability needs |1 − cημ_max| < 1, i.e. η < 2/(c·μ_max). As t → ∞ (stable,
K positive definite) f_∞(x) = f_0(x) − K(x, X) K⁻¹ r_0: with f_0 = 0 this is the
kernel regression K(x, X) K⁻¹ y, the standard NTK predictor.
"""

from __future__ import annotations

import copy
import math
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from spectralntk.dynamics.modes import least_squares_modes, mode_energy_share
from spectralntk.errors import check_choice, check_int, check_real, parameter_error

__all__ = [
    "DYNAMICS",
    "LOSSES",
    "KernelPredictor",
    "discrete_decay",
    "discrete_gain",
    "eigvec_frequency_content",
    "flow_decay",
    "flow_gain",
    "loss_factor",
    "loss_value",
    "stability_limit",
    "steps_to_fraction",
]

FloatArray = NDArray[np.float64]
_T = TypeVar("_T", bound=np.generic)

#: Loss conventions (docs/conventions.md).
LOSSES: tuple[str, ...] = ("half_mean", "mean", "half_sum")

#: Kernel-regime dynamics: discrete gradient descent or gradient flow.
DYNAMICS: tuple[str, ...] = ("discrete", "flow")


def loss_factor(loss: str, n_train: int) -> float:
    """The factor c with ∂L/∂f = c·r, so that r_{t+1} ≈ (I − c·η·K) r_t.

    Parameters
    ----------
    loss : {"half_mean", "mean", "half_sum"}
        (1/2N)Σr² (Jacot et al. 2018), (1/N)Σr² (PyTorch ``MSELoss``), ½Σr².
    n_train : int
        N ≥ 1 training points.

    Returns
    -------
    float
        1/N, 2/N or 1.
    """
    name = check_choice("loss", loss, LOSSES)
    n = check_int("n_train", n_train, 1)
    return {"half_mean": 1.0 / n, "mean": 2.0 / n, "half_sum": 1.0}[name]


def loss_value(residual: ArrayLike, loss: str) -> FloatArray:
    """The loss of a residual r = f(X) − y under a convention.

    Parameters
    ----------
    residual : array_like, shape (..., N)
    loss : {"half_mean", "mean", "half_sum"}

    Returns
    -------
    ndarray, shape (...)
        (1/2N)Σr², (1/N)Σr² or ½Σr² over the last axis.
    """
    name = check_choice("loss", loss, LOSSES)
    r = np.asarray(residual, dtype=np.float64)
    if r.ndim == 0 or r.shape[-1] == 0:
        raise parameter_error("residual", "an array of shape (..., N) with N ≥ 1", r.shape)
    total = np.sum(r * r, axis=-1)
    scale = {"half_mean": 0.5 / r.shape[-1], "mean": 1.0 / r.shape[-1], "half_sum": 0.5}[name]
    return np.asarray(scale * total)


def _positive(name: str, value: float) -> float:
    v = check_real(name, value)
    if v <= 0.0:
        raise parameter_error(name, "a finite real number in the range (0, inf)", v)
    return v


def stability_limit(mu_max: float, loss: str, n_train: int) -> float:
    """Largest stable learning rate η_max = 2/(c·μ_max) of gradient descent.

    Parameters
    ----------
    mu_max : float
        Largest eigenvalue of the NTK Gram matrix on the training points (> 0).
    loss : {"half_mean", "mean", "half_sum"}
    n_train : int

    Returns
    -------
    float
        The mode of μ_max oscillates without decaying at η = η_max and diverges
        above it.
    """
    mu = _positive("mu_max", mu_max)
    return 2.0 / (loss_factor(loss, n_train) * mu)


def _rates(mu: ArrayLike, lr: float, c: float) -> FloatArray:
    """x = c·η·μ for finite μ (..., M)."""
    m = np.asarray(mu, dtype=np.float64)
    if not np.all(np.isfinite(m)):
        raise parameter_error("mu", "an array of finite eigenvalues", "non-finite entries")
    return _positive("c", c) * _positive("lr", lr) * m


def _steps(steps: ArrayLike) -> NDArray[np.int64]:
    """Non-negative integer steps (ints or integral floats), any shape."""
    s = np.asarray(steps)
    if s.dtype == np.bool_ or not (
        np.issubdtype(s.dtype, np.integer) or np.issubdtype(s.dtype, np.floating)
    ):
        raise parameter_error("steps", "an array of non-negative integers", s.dtype.name)
    if np.issubdtype(s.dtype, np.floating) and not np.all(
        np.isfinite(s) & (s == np.round(s)) & (np.abs(s) < 2.0**62)
    ):
        raise parameter_error("steps", "an array of non-negative integers", "non-integral values")
    out = s.astype(np.int64)
    if np.any(out < 0):
        raise parameter_error("steps", "an array of non-negative integers", int(out.min()))
    return out


def _times(times: ArrayLike) -> FloatArray:
    t = np.asarray(times, dtype=np.float64)
    if not np.all(np.isfinite(t) & (t >= 0)):
        raise parameter_error("times", "an array of finite non-negative times", "other values")
    return t


def _power(x: FloatArray, t: NDArray[np.int64]) -> FloatArray:
    """(1 − x)^t for rates x (...) and integer steps t (same shape), accurately.

    For x < 1 (positive base) exp(t·log1p(−x)) keeps the accuracy of x even when
    1 − x rounds; for x ≥ 1 the base 1 − x ≤ 0 is exact in floating point and
    (1 − x)^t = (−1)^t |1 − x|^t (0^0 = 1). Divergent modes overflow to ±inf.
    """
    tf = t.astype(np.float64)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        positive = np.exp(tf * np.log1p(-np.minimum(x, 0.5)))
        base = 1.0 - x
        magnitude = np.power(np.abs(base), tf)
        sign = np.where((t % 2 == 1) & (base < 0), -1.0, 1.0)
        out = np.where(x < 0.5, positive, sign * magnitude)
    return np.asarray(out, dtype=np.float64)


def _outer(t: NDArray[_T], x: FloatArray) -> tuple[NDArray[_T], FloatArray]:
    """Broadcast steps (T-shape) against rates (...): shapes T + x.shape."""
    tt = t
    shape = tt.shape + x.shape
    tb = np.broadcast_to(tt.reshape(tt.shape + (1,) * x.ndim), shape)
    return np.asarray(tb), np.broadcast_to(x, shape)


def discrete_decay(mu: ArrayLike, lr: float, steps: ArrayLike, c: float) -> FloatArray:
    """Per-mode factor (1 − c·η·μ)^t of gradient descent.

    Parameters
    ----------
    mu : array_like, shape (..., M)
        Eigenvalues of the NTK Gram matrix (any shape).
    lr : float
        η > 0.
    steps : array_like of int, shape (T,) or any shape
        Non-negative step counts (integral floats are accepted).
    c : float
        Loss factor (:func:`loss_factor`).

    Returns
    -------
    ndarray, shape steps.shape + mu.shape
        Exact powers of the base 1 − cημ, negative bases included
        ((−1)^t |1 − cημ|^t); modes with cημ > 2 grow and overflow to ±inf.
    """
    x = _rates(mu, lr, c)
    t, xb = _outer(_steps(steps), x)
    return _power(xb, t)


def flow_decay(mu: ArrayLike, lr: float, times: ArrayLike, c: float) -> FloatArray:
    """Per-mode factor e^{−c·η·μ·t} of gradient flow (time t in steps).

    Parameters
    ----------
    mu : array_like, shape (..., M)
    lr : float
    times : array_like, shape (T,) or any shape
        Non-negative times (real).
    c : float

    Returns
    -------
    ndarray, shape times.shape + mu.shape
    """
    x = _rates(mu, lr, c)
    t, xb = _outer(_times(times), x)
    with np.errstate(over="ignore"):
        return np.asarray(np.exp(-xb * t))


def _gain_factor(x: FloatArray, t: NDArray[np.int64]) -> FloatArray:
    """h = (1 − (1 − x)^t)/x = Σ_{s<t} (1 − x)^s, with h = t at x = 0."""
    tf = t.astype(np.float64)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        small = np.minimum(x, 0.5)
        stable = -np.expm1(tf * np.log1p(-small)) / small  # accurate for x < 1/2
        direct = (1.0 - _power(x, t)) / x
        out = np.where(x < 0.5, stable, direct)
        out = np.where(x == 0.0, tf, out)
    return np.asarray(out)


def discrete_gain(mu: ArrayLike, lr: float, steps: ArrayLike, c: float) -> FloatArray:
    """g_t(μ) = (1 − (1 − cημ)^t)/μ = cη Σ_{s<t} (1 − cημ)^s.

    The weight of mode μ in f_t(x) = f_0(x) − K(x, X) V diag(g_t(μ)) Vᵀ r_0.
    Computed as −cη·expm1(t·log1p(−x))/x with x = cημ (stable as μ → 0, where
    g_t → cηt; exact 0 gives cηt) and directly for x ≥ 1/2.

    Returns
    -------
    ndarray, shape steps.shape + mu.shape
    """
    x = _rates(mu, lr, c)
    t, xb = _outer(_steps(steps), x)
    return np.asarray(c * lr * _gain_factor(xb, t))


def flow_gain(mu: ArrayLike, lr: float, times: ArrayLike, c: float) -> FloatArray:
    """Gradient-flow weight g_t(μ) = (1 − e^{−cημt})/μ = −cη·expm1(−xt)/x (→ cηt at μ = 0).

    Returns
    -------
    ndarray, shape times.shape + mu.shape
    """
    x = _rates(mu, lr, c)
    t, xb = _outer(_times(times), x)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        h = np.where(xb == 0.0, t, -np.expm1(-xb * t) / xb)
    return np.asarray(c * lr * h)


def steps_to_fraction(
    mu: ArrayLike,
    lr: float,
    c: float,
    fraction: float = 0.1,
    *,
    dynamics: str = "discrete",
) -> FloatArray:
    """Predicted number of steps until a mode is reduced to ``fraction`` of its start.

    Parameters
    ----------
    mu : array_like, any shape
        Eigenvalues.
    lr, c : float
        Learning rate η and loss factor c.
    fraction : float
        f in (0, 1).
    dynamics : {"discrete", "flow"}
        ``discrete``: the least integer t with |1 − cημ|^t ≤ f, i.e.
        ⌈log f / log|1 − cημ|⌉ (0 steps never; 1 step when cημ = 1; inf when
        |1 − cημ| ≥ 1). ``flow``: the time log(1/f)/(cημ) (inf for μ ≤ 0).

    Returns
    -------
    ndarray of float, shape of ``mu``
    """
    x = _rates(mu, lr, c)
    f = check_real("fraction", fraction, 0.0, 1.0)
    if f in (0.0, 1.0):
        raise parameter_error("fraction", "a finite real number in the range (0, 1)", f)
    mode = check_choice("dynamics", dynamics, DYNAMICS)
    logf = math.log(f)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if mode == "flow":
            return np.asarray(np.where(x > 0, -logf / x, np.inf))
        base = np.abs(1.0 - x)
        log_base = np.where(x < 0.5, np.log1p(-np.minimum(x, 0.5)), np.log(base))
        ratio = np.where(base < 1.0, logf / log_base, np.inf)
        steps = np.ceil(ratio)
        # ceil may land one too high when the ratio is an integer up to rounding
        finite = np.isfinite(steps) & (steps > 1)
        prev = np.where(finite, steps - 1.0, 0.0)
        earlier = finite & (base**prev <= f)
        steps = np.where(earlier, prev, steps)
        return np.asarray(np.where(base == 0.0, 1.0, np.maximum(steps, 1.0)))


def eigvec_frequency_content(
    eigenvectors: ArrayLike, gamma: ArrayLike, max_frequency: int
) -> FloatArray:
    """Frequency content of eigenvectors of a Gram matrix at arbitrary angles.

    Each eigenvector (a column of V) is fitted by the truncated Fourier series of
    degree K by least squares (:func:`spectralntk.dynamics.least_squares_modes`)
    and its energy split per frequency (:func:`mode_energy_share`). On a uniform
    grid with a circulant Gram matrix each eigenvector is one frequency.

    Parameters
    ----------
    eigenvectors : array_like, shape (N, E)
        Eigenvectors as columns (E ≤ N of them).
    gamma : array_like, shape (N,)
        Angles of the training points.
    max_frequency : int
        K with 2K + 1 ≤ number of distinct angles.

    Returns
    -------
    ndarray, shape (E, K + 1)
        Share of eigenvector e's fitted energy in frequency k; each row sums to 1.
    """
    v = np.asarray(eigenvectors, dtype=np.float64)
    if v.ndim != 2:
        raise parameter_error("eigenvectors", "a 2-d array (N, E) of columns", v.shape)
    a, b = least_squares_modes(gamma, v.T, max_frequency)
    return mode_energy_share(a, b)


class KernelPredictor:
    r"""Gradient descent of the linearized (kernel-regime) model, at any step.

    Built once from the NTK Gram matrix on the training points: K = V diag(μ) Vᵀ
    (``numpy.linalg.eigh``, eigenvalues sorted descending) and z_0 = Vᵀ r_0 with
    r_0 = f_0(X) − y; then every prediction is a product in the eigenbasis
    (Lee et al. 2019, eq. (9)–(11); Jacot et al. 2018, §5):

    * ``train_residual(t)`` = V diag((1 − cημ)^t) z_0,
    * ``eval_prediction(t)`` = f_0(x) − K(x, X) V diag(g_t(μ)) z_0,
      g_t(μ) = (1 − (1 − cημ)^t)/μ (→ cηt as μ → 0),
    * ``flow_*`` the same with e^{−cημt},
    * ``limit(reg)`` = f_0(x) − K(x, X)(K + reg·I)⁻¹ r_0.

    With f_0 = 0 (the mean of the infinite-width network at initialisation, the
    default) r_0 = −y and ``limit`` is the standard NTK predictor
    K(x, X)(K + reg·I)⁻¹ y (docs/experiments.md uses reg = 1e-6).

    Parameters
    ----------
    train_gram : array_like, shape (N, N)
        K(X, X), symmetric positive semi-definite (symmetrised here) to the rounding of
        its precision (``gram_eps``): a float32 Gram may be asymmetric by 64ε₃₂ and have
        eigenvalues down to −16·N·ε₃₂ of the largest (float64: 1e-10 and 1e-8).
    cross_gram : array_like, shape (M, N), optional
        K(x, X) for the evaluation points; the training points if omitted.
    targets : array_like, shape (N,)
        y on the training points.
    lr : float
        η > 0.
    loss : {"half_mean", "mean", "half_sum"}
        Sets c = :func:`loss_factor` (loss, N).
    f0_train : array_like, shape (N,), optional
        Initial outputs f_0(X) (default 0).
    f0_eval : array_like, shape (M,), optional
        Initial outputs f_0(x) on the evaluation points (default 0, or
        ``f0_train`` when ``cross_gram`` is omitted).
    gram_eps : float, optional
        Relative rounding of the Gram's entries: ε of the precision it was computed in
        (``numpy.finfo(numpy.float32).eps`` for a float32 network's kernel, even when
        stored as float64). Default: ε of ``train_gram``'s dtype.

    Attributes
    ----------
    eigenvalues : ndarray, shape (N,)
        μ, descending.
    eigenvectors : ndarray, shape (N, N)
        V, columns.
    initial_modes : ndarray, shape (N,)
        z_0 = Vᵀ r_0.
    c : float
        Loss factor.
    """

    def __init__(
        self,
        train_gram: ArrayLike,
        cross_gram: ArrayLike | None = None,
        *,
        targets: ArrayLike,
        lr: float,
        loss: str,
        f0_train: ArrayLike | None = None,
        f0_eval: ArrayLike | None = None,
        gram_eps: float | None = None,
    ) -> None:
        given = np.asarray(train_gram)
        # Rounding of the precision the Gram was computed in (float32 empirical NTKs).
        if gram_eps is None:
            gram_eps = float(np.finfo(given.dtype).eps) if given.dtype.kind == "f" else 0.0
        eps = check_real("gram_eps", gram_eps, 0.0, 1.0)
        k = np.asarray(given, dtype=np.float64)
        if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] == 0:
            raise parameter_error("train_gram", "a square (N, N) matrix", k.shape)
        if not np.all(np.isfinite(k)):
            raise parameter_error("train_gram", "a finite matrix", "non-finite entries")
        n = k.shape[0]
        scale = float(np.max(np.abs(k))) if k.size else 0.0
        asym = float(np.max(np.abs(k - k.T)))
        if asym > max(1e-10, 64 * eps) * max(scale, np.finfo(float).tiny):
            raise parameter_error("train_gram", "a symmetric matrix", f"asymmetry {asym:.3g}")
        k = 0.5 * (k + k.T)
        cross = k if cross_gram is None else np.asarray(cross_gram, dtype=np.float64)
        if cross.ndim != 2 or cross.shape[1] != n:
            raise parameter_error("cross_gram", f"a matrix of shape (M, {n})", cross.shape)
        if not np.all(np.isfinite(cross)):
            raise parameter_error("cross_gram", "a finite matrix", "non-finite entries")
        y = self._vector("targets", targets, n)
        f0 = np.zeros(n) if f0_train is None else self._vector("f0_train", f0_train, n)
        m = cross.shape[0]
        if f0_eval is not None:
            fe = self._vector("f0_eval", f0_eval, m)
        else:
            fe = f0.copy() if cross_gram is None else np.zeros(m)
        self.lr = _positive("lr", lr)
        self.loss = check_choice("loss", loss, LOSSES)
        self.c = loss_factor(self.loss, n)
        mu, v = np.linalg.eigh(k)
        if mu[0] < -max(1e-8, 16 * n * eps) * max(abs(mu[-1]), np.finfo(float).tiny):
            raise parameter_error(
                "train_gram", "a positive semi-definite matrix", f"eigenvalue {mu[0]:.3g}"
            )
        self.eigenvalues: FloatArray = np.ascontiguousarray(mu[::-1])
        self.eigenvectors: FloatArray = np.ascontiguousarray(v[:, ::-1])
        self.targets: FloatArray = y
        self.f0_train: FloatArray = f0
        self.f0_eval: FloatArray = fe
        self.initial_residual: FloatArray = f0 - y
        self.initial_modes: FloatArray = self.eigenvectors.T @ self.initial_residual
        self._cross_v: FloatArray = cross @ self.eigenvectors  # (M, N)

    def with_start(self, f0_train: ArrayLike, f0_eval: ArrayLike) -> KernelPredictor:
        """The same kernel and targets from other initial outputs, without a new eigh.

        Equal, bit for bit, to a new ``KernelPredictor(train_gram, cross_gram, …,
        f0_train=f0_train, f0_eval=f0_eval)`` (the eigendecomposition of the same
        matrix is reused); the per-seed predictions of a training run use it.
        """
        n, m = self.n_train, self._cross_v.shape[0]
        other = copy.copy(self)
        other.f0_train = self._vector("f0_train", f0_train, n)
        other.f0_eval = self._vector("f0_eval", f0_eval, m)
        other.initial_residual = other.f0_train - self.targets
        other.initial_modes = self.eigenvectors.T @ other.initial_residual
        return other

    @staticmethod
    def _vector(name: str, value: ArrayLike, size: int) -> FloatArray:
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape != (size,):
            raise parameter_error(name, f"an array of shape ({size},)", arr.shape)
        if not np.all(np.isfinite(arr)):
            raise parameter_error(name, "a finite array", "non-finite entries")
        return arr.copy()

    @property
    def n_train(self) -> int:
        """N, the number of training points."""
        return int(self.eigenvalues.shape[0])

    @property
    def stability_limit(self) -> float:
        """η_max = 2/(c·μ_max) (:func:`stability_limit`)."""
        return stability_limit(float(self.eigenvalues[0]), self.loss, self.n_train)

    def mode_decay(self, steps: ArrayLike) -> FloatArray:
        """(1 − cημ_i)^t per eigen-mode, shape steps.shape + (N,)."""
        return discrete_decay(self.eigenvalues, self.lr, steps, self.c)

    def flow_mode_decay(self, times: ArrayLike) -> FloatArray:
        """e^{−cημ_i t} per eigen-mode, shape times.shape + (N,)."""
        return flow_decay(self.eigenvalues, self.lr, times, self.c)

    def train_residual(self, steps: ArrayLike) -> FloatArray:
        """r_t = (I − cηK)^t r_0 = V diag((1 − cημ)^t) Vᵀ r_0.

        Parameters
        ----------
        steps : array_like of int, shape (T,) or scalar

        Returns
        -------
        ndarray, shape steps.shape + (N,)
        """
        with np.errstate(invalid="ignore", over="ignore"):
            return np.asarray((self.mode_decay(steps) * self.initial_modes) @ self.eigenvectors.T)

    def flow_train_residual(self, times: ArrayLike) -> FloatArray:
        """r(t) = exp(−cηKt) r_0, the solution of dr/dt = −cηK r; shape times.shape + (N,)."""
        return np.asarray((self.flow_mode_decay(times) * self.initial_modes) @ self.eigenvectors.T)

    def eval_prediction(self, steps: ArrayLike) -> FloatArray:
        """f_t(x) = f_0(x) − K(x, X) V diag(g_t(μ)) Vᵀ r_0 after t steps.

        Parameters
        ----------
        steps : array_like of int, shape (T,) or scalar

        Returns
        -------
        ndarray, shape steps.shape + (M,)
        """
        gain = discrete_gain(self.eigenvalues, self.lr, steps, self.c)
        with np.errstate(invalid="ignore", over="ignore"):
            return np.asarray(self.f0_eval - (gain * self.initial_modes) @ self._cross_v.T)

    def flow_eval_prediction(self, times: ArrayLike) -> FloatArray:
        """Gradient-flow f(x, t) with g_t(μ) = (1 − e^{−cημt})/μ; shape times.shape + (M,)."""
        gain = flow_gain(self.eigenvalues, self.lr, times, self.c)
        return np.asarray(self.f0_eval - (gain * self.initial_modes) @ self._cross_v.T)

    def limit(self, reg: float = 1e-6) -> FloatArray:
        """t → ∞: f_0(x) − K(x, X)(K + reg·I)⁻¹ r_0, shape (M,).

        With f_0 = 0 this is kernel regression K(x, X)(K + reg·I)⁻¹ y.

        Raises
        ------
        ParameterError
            ``'reg'`` when reg < 0 or K + reg·I is singular.
        """
        r = check_real("reg", reg, 0.0)
        shifted = self.eigenvalues + r
        if np.any(shifted <= 0.0):
            raise parameter_error("reg", "large enough that K + reg·I is positive definite", r)
        return np.asarray(self.f0_eval - self._cross_v @ (self.initial_modes / shifted))
