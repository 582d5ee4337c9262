r"""Finite depth-and-width statistics of the NTK: Hanin & Nica (2019) and exact moments.

Setting (Hanin & Nica 2019, "Finite depth and width corrections to the neural tangent
kernel", arXiv:1909.05989): a ReLU MLP with input dimension n0, ``depth`` hidden layers
of widths n_1, …, n_d (here all equal to n), a linear scalar output, L = d + 1 affine
layers, weights Gaussian with variance σ_w²/fan-in (He: σ_w² = 2) and biases that are
absent or start at zero. The on-diagonal NTK is K(x, x) = Σ_θ (∂f(x)/∂θ)², the sum over
the trainable parameters θ in the network's parameterization (``standard``: θ = W; ``ntk``:
θ = W/(σ_w/√fan-in), see :mod:`spectralntk.nn.mlp`). Without biases the sum runs over the
weights only. The inverse temperature is

    β = Σ_{l=1}^{d} 1/n_l  (= depth/n for equal widths).

Exact mean (derived here; width-independent in the NTK parameterization)
-------------------------------------------------------------------------
Write δ^(l) = ∂f/∂z^(l) and a^(l) = ReLU(z^(l)), a^(0) = x. The layer-l weights contribute
T_l = c_l·‖δ^(l)‖²·‖a^(l−1)‖² to K(x, x), with c_l = 1 (standard) or σ_w²/n_{l−1} (ntk);
a layer-l bias contributes c_b·‖δ^(l)‖², c_b = 1 (standard) or σ_b² (ntk).

1. Forward: E[‖z^(l+1)‖² | a^(l)] = n_{l+1}·σ_w²‖a^(l)‖²/n_l and, z being symmetric,
   E[ReLU(z)²] = ½E[z²]; hence E‖a^(l)‖² = n_l·(σ_w²/2)^l·‖x‖²/n0 exactly.
2. Backward, given the forward pass up to layer l − 1 with a^(l−1) ≠ 0:
   E[‖δ^(l)‖² | a^(l−1)] = (σ_w²/2)^{L−l}, a constant. Proof by induction from
   δ^(L) = 1: put h = a^(l) ≠ 0 and g = δ^(l+1). Split W = W^(l+1) as W P + W(I − P),
   P the projector on h. The part W(I − P) is independent of W h = z^(l+1) and of
   everything that g depends on, and Euler's identity for the positively homogeneous
   network (no biases) gives hᵀWᵀg = (z^(l+1))ᵀδ^(l+1) = f. With D the 0/1 mask of
   layer l (D h = h) this gives E[‖D Wᵀ g‖² | z^(l)] = E[f² | h]/‖h‖² +
   (σ_w²/n_l)·E‖g‖²·(|S| − 1), |S| = number of active units, and E[f² | h] =
   ‖h‖²·(σ_w²/n_l)(σ_w²/2)^{L−l−1} by step 1. So the conditional mean is
   (σ_w²/n_l)(σ_w²/2)^{L−l−1}·|S|, and |S| ~ Binomial(n_l, ½) given a^(l−1) ≠ 0.
   If a^(l−1) = 0 then z^(l) = 0, all units are off and δ^(l) = 0.
3. Hence E[T_l] = c_l·(σ_w²/2)^{L−l}·E‖a^(l−1)‖² exactly (T_l = 0 when a^(l−1) = 0): the
   factorisation E[‖δ‖²‖a‖²] = E[‖δ‖² | a ≠ 0]·E‖a‖² of Hanin & Nica's path-sum argument.
   For the biases E‖δ^(l)‖² = (σ_w²/2)^{L−l}·P(a^(l−1) ≠ 0) (l < L) with
   P(a^(l−1) ≠ 0) = Π_{k<l}(1 − 2^{−n_k}): a layer with a non-zero input is entirely off
   with probability 2^{−n_k}.

So, with the weights only,

    E[K(x, x)] = (σ_w²/2)^{L−1}·(‖x‖²/n0)·Σ_{l=1}^{L} c_l·n_{l−1}:

``ntk``: σ_w²·L·(σ_w²/2)^{L−1}·‖x‖²/n0 (He: 2L‖x‖²/n0 = L on the unit circle, the
infinite-width Θ^(L)(x, x) for every width); ``standard``: (‖x‖²/n0)(n0 + depth·n) for He,
again equal to the analytic NTK of :mod:`spectralntk.kernels.recursion` at that width
(whose weight terms are linear in the fan-in). Only biases bring in the (negligible at
n ≥ 64) dead-network factors. Hanin & Nica state E[K_N(x, x)] = d(½ + ‖x‖²/n0) for their
network, whose NTK also sums zero-initialised bias terms with their own normalisation of
each layer's weight and bias terms; we do not reproduce their constants, only the structure
(a sum of L width-independent per-layer terms).

Normalised second moment
------------------------
Hanin & Nica (Thm 1): E[K(x, x)²]/E[K(x, x)]² ≃ exp(5β)·(1 + O(Σ n_l^{−2})), "≃" up to
bounded factors, for β bounded. The 5 is the per-layer ratio of a ReLU layer's norm
multiplier M = ‖a^(l)‖²/‖a^(l−1)‖²: E[M²]/E[M]² = 1 + 5/n_l exactly (a Binomial(n, ½)
number of active units, each with a χ²₁ square). A single layer's term, the output
weights' T_L = c_L‖a^(d)‖², has exactly E[T_L²]/E[T_L]² = Π_l (1 + 5/n_l)
= exp(5β − 12.5Σ n_l^{−2} + …). The full K(x, x) sums terms whose fluctuations are
only partly shared, so its log-ratio grows linearly in β with a smaller slope. To first
order in β (log-normal approximation, :func:`small_beta_log_ratio`): layer k enters the
terms l > k through its forward multiplier F_k and the terms l ≤ k through its backward
multiplier B_k; Var F_k ≈ Var B_k ≈ 5/n_k and Cov(F_k, B_k) ≈ 1/n_k (the shared number of
active units), so

    log E[K²]/E[K]² ≈ Var log K ≈ Σ_k (1/n_k)·[5(P_k² + Q_k²) + 2 P_k Q_k],

with P_k (Q_k) the share of E[K] of the terms that see layer k forward (backward). For the
weights-only kernel P_k ≈ 1 − Q_k ≈ k/L and the slope is 5 − 8·(1/6) = 11/3 per unit β,
not 5: the exp(5β) law is the statement up to bounded factors (e^{4β/3}), exact in slope
for a single layer's term. Both regimes need n ≫ 1 and β = O(1); at β ≳ 1 the
log-normal approximation and the finite-n corrections (O(1/n) in the slope) grow.

First step on one example
-------------------------
Hanin & Nica (Thm 2): after one SGD step on a single example x,
E[ΔK(x, x)]/E[K(x, x)] ≍ (dβ/n0)·exp(5β) (d = L affine layers; "≍" up to constants, which
depend on the learning rate and loss). :func:`first_step_prediction` returns that
scaling; the run reports the measured ratio next to it (their quotient should be roughly
constant across depth and width where the law holds).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from spectralntk.config import Activation, BiasInit, NetworkConfig, Parameterization
from spectralntk.errors import check_int, check_real, parameter_error
from spectralntk.limits import MAX_BOOTSTRAP

__all__ = [
    "LayerMeans",
    "as_probe_angles",
    "bootstrap_interval",
    "exact_mean_ntk_diagonal",
    "first_step_prediction",
    "has_exact_mean",
    "inverse_temperature",
    "layer_mean_contributions",
    "log_ratio_slope",
    "normalized_second_moment",
    "predicted_normalized_second_moment",
    "small_beta_log_ratio",
]

FloatArray = NDArray[np.float64]


def inverse_temperature(depth: int, width: int) -> float:
    """Hanin–Nica's β = Σ_{l=1}^{depth} 1/n_l = depth/width for equal hidden widths.

    Parameters
    ----------
    depth : int
        Number of hidden layers (≥ 0).
    width : int
        Hidden width n ≥ 1.
    """
    return check_int("depth", depth, 0) / check_int("width", width, 1)


def predicted_normalized_second_moment(beta: ArrayLike) -> FloatArray:
    """exp(5β), Hanin & Nica (2019) Thm 1's E[K(x,x)²]/E[K(x,x)]² (up to bounded factors)."""
    return np.exp(5.0 * np.asarray(beta, dtype=np.float64))


def first_step_prediction(depth: int, width: int, input_dim: int = 2) -> float:
    """(d·β/n0)·exp(5β), d = depth + 1: Hanin & Nica (2019) Thm 2's scaling of E[ΔK]/E[K]."""
    beta = inverse_temperature(depth, width)
    if 5.0 * beta > 700.0:  # exp overflows float64 near 709
        raise parameter_error(
            "depth", f"at most 140 times the width (β = depth/width, exp(5β)); width {width}", depth
        )
    return (depth + 1) * beta / check_int("input_dim", input_dim, 1) * math.exp(5.0 * beta)


def has_exact_mean(config: NetworkConfig) -> bool:
    """Whether :func:`exact_mean_ntk_diagonal` applies: ReLU, biases absent or zero at init."""
    return config.activation is Activation.RELU and (
        not config.has_bias or config.bias_init is BiasInit.ZERO
    )


@dataclass(frozen=True)
class LayerMeans:
    """Exact E[contribution to K(x, x)] of each layer's weights and biases.

    Attributes
    ----------
    weights : ndarray, shape (L,)
        E[T_l] for l = 1..L.
    biases : ndarray, shape (L,)
        E[c_b‖δ^(l)‖²] for layers with a bias, 0 for layers without.
    """

    weights: FloatArray
    biases: FloatArray

    @property
    def total(self) -> float:
        """E[K(x, x)]."""
        return float(self.weights.sum() + self.biases.sum())


def layer_mean_contributions(config: NetworkConfig, width: int, x_norm2: float = 1.0) -> LayerMeans:
    """Exact per-layer means of K(x, x) for a ReLU MLP without (or with zero-initialised) biases.

    See the module docstring for the derivation (exact at every width, not asymptotic).

    Parameters
    ----------
    config : NetworkConfig
        Architecture; ``config.depth`` hidden layers of width ``width``.
    width : int
        Hidden width n ≥ 1.
    x_norm2 : float
        ‖x‖² > 0 (1 on the unit circle).

    Returns
    -------
    LayerMeans

    Raises
    ------
    ParameterError
        For an activation other than ReLU or normally initialised biases (no closed form).
    """
    if not has_exact_mean(config):
        raise parameter_error(
            "config",
            "a ReLU network without biases or with bias_init='zero' (the exact mean needs a "
            "positively homogeneous network at initialisation)",
            f"activation={config.activation.value}, bias_std={config.bias_std}, "
            f"bias_init={config.bias_init.value}",
        )
    n = check_int("width", width, 1)
    norm2 = check_real("x_norm2", x_norm2, 0.0)
    depth, n0, s = config.depth, config.input_dim, config.weight_std * config.weight_std
    big_l = depth + 1
    fan_in = [n0] + [n] * depth  # n_{l−1}, l = 1..L
    ntk = config.parameterization is Parameterization.NTK
    gain = s / 2.0
    weights = np.empty(big_l)
    biases = np.zeros(big_l)
    # log P(a^(l−1) ≠ 0) = Σ_{k<l} log(1 − 2^{−n_k}) over hidden layers k = 1..l−1
    log_alive = depth * [math.log1p(-(2.0 ** -float(n)))]
    bias_scale = config.bias_std * config.bias_std if ntk else 1.0
    # log-gains: σ_w²/2 to the power of the depth overflows a Python float (OverflowError)
    # long before the kernel is meaningless; checked below instead.
    log_gain = math.log(gain) if gain > 0 else -math.inf
    if gain > 0 and abs(big_l * log_gain) > 700.0:
        raise parameter_error(
            "weight_std",
            f"such that (σ_w²/2)^(depth + 1) stays within float64 at depth {depth}",
            config.weight_std,
        )
    for layer in range(1, big_l + 1):
        prev = layer - 1
        mean_a2 = norm2 if prev == 0 else fan_in[layer - 1] * gain**prev * norm2 / n0
        c_l = s / fan_in[layer - 1] if ntk else 1.0
        backward = gain ** (big_l - layer)
        weights[layer - 1] = c_l * backward * mean_a2
        output = layer == big_l
        if config.has_bias and (config.output_bias or not output):
            alive = 1.0 if output else math.exp(sum(log_alive[: layer - 1]))
            biases[layer - 1] = bias_scale * backward * alive
    return LayerMeans(weights=weights, biases=biases)


def exact_mean_ntk_diagonal(config: NetworkConfig, width: int, x_norm2: float = 1.0) -> float:
    """Exact E[K(x, x)] at finite width (see :func:`layer_mean_contributions`)."""
    return layer_mean_contributions(config, width, x_norm2).total


def small_beta_log_ratio(config: NetworkConfig, width: int) -> float:
    """First-order (small β) prediction of log(E[K(x,x)²]/E[K(x,x)]²).

    Var log K ≈ Σ_k (1/n_k)[5(P_k² + Q_k²) + 2P_kQ_k] (module docstring): P_k is the
    share of E[K] from weight terms l > k (layer k enters them forward), Q_k from the
    weight and bias terms l ≤ k (layer k enters them backward). A single layer's term
    gives 5/n_k per layer (Hanin & Nica's exp(5β)); the weights-only kernel of equal
    layers about (11/3)·β.

    Parameters
    ----------
    config : NetworkConfig
        ReLU architecture with exact means (:func:`has_exact_mean`).
    width : int
        Hidden width n.
    """
    means = layer_mean_contributions(config, width)
    total = means.total
    w, b = means.weights / total, means.biases / total
    out = 0.0
    for k in range(1, config.depth + 1):  # hidden layer k; terms indexed by layer l = 1..L
        forward = float(w[k:].sum())  # weight terms l > k (indices l − 1 ≥ k)
        backward = float(w[:k].sum() + b[:k].sum())  # terms l ≤ k
        out += (5.0 * (forward**2 + backward**2) + 2.0 * forward * backward) / width
    return out


def normalized_second_moment(samples: ArrayLike, axis: int | tuple[int, ...] | None = None) -> Any:
    """E[K²]/E[K]² estimated by sample means over ``axis`` (all axes by default).

    Computed on K/max|K| so that K² neither overflows nor underflows (depth 64 with
    σ_w² < 2 scales K by (σ_w²/2)^64).

    Parameters
    ----------
    samples : array_like
        Values of K (seeds and exchangeable probe points pooled).
    axis : int or tuple of int, optional
    """
    k = np.asarray(samples, dtype=np.float64)
    scale = np.max(np.abs(k), axis=axis, keepdims=True)
    u = k / np.where(scale > 0, scale, 1.0)
    mean = u.mean(axis=axis)
    return (u * u).mean(axis=axis) / (mean * mean)


def bootstrap_interval(
    statistic: Callable[[FloatArray], FloatArray],
    samples: ArrayLike,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` resampling the rows (seeds).

    Rows (axis 0, one per network seed) are drawn with replacement, each keeping all its
    columns (the probe points of one network are dependent, so the network is the unit
    that is resampled). ``numpy.random.default_rng(seed)`` makes the interval
    reproducible.

    Parameters
    ----------
    statistic : callable
        Maps an array of shape (B, S, ...) (B resampled data sets) to shape (B,).
    samples : array_like, shape (S, ...)
    resamples : int
        B ≥ 1.
    confidence : float
        In (0, 1).
    seed : int

    Returns
    -------
    (low, high) : tuple of float
    """
    data = np.asarray(samples, dtype=np.float64)
    count = data.shape[0]
    b = check_int("bootstrap", resamples, 1, MAX_BOOTSTRAP)
    level = check_real("confidence", confidence, 0.0, 1.0)
    if not 0.0 < level < 1.0:
        raise parameter_error("confidence", "a real number in the range (0, 1)", level)
    rng = np.random.default_rng(check_int("bootstrap_seed", seed, 0))
    # Resamples in blocks of about 2²² drawn indices: the same stream as one (b, count)
    # draw (numpy draws them in order), in bounded memory whatever b is.
    rows = max(1, (1 << 22) // max(count * int(np.prod(data.shape[1:])), 1))
    parts = []
    for start in range(0, b, rows):
        index = rng.integers(0, count, size=(min(rows, b - start), count))
        parts.append(np.asarray(statistic(data[index]), dtype=np.float64))
    values = np.concatenate(parts)
    tail = 50.0 * (1.0 - level)
    low, high = np.nanpercentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def log_ratio_slope(beta: ArrayLike, log_ratio: ArrayLike) -> tuple[float, float, float]:
    """Least-squares line log_ratio ≈ a + c·β: (slope c, intercept a, standard error of c).

    Parameters
    ----------
    beta, log_ratio : array_like, shape (M,)
        M ≥ 3 points.
    """
    x = np.asarray(beta, dtype=np.float64).ravel()
    y = np.asarray(log_ratio, dtype=np.float64).ravel()
    if x.size != y.size or x.size < 3:
        raise parameter_error("beta", "an array of at least 3 values, one per log-ratio", x.size)
    design = np.stack([np.ones_like(x), x], axis=1)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    dof = max(x.size - 2, 1)
    cov = np.linalg.inv(design.T @ design) * float(resid @ resid) / dof
    return float(coef[1]), float(coef[0]), float(math.sqrt(cov[1, 1]))


def as_probe_angles(probes: int) -> FloatArray:
    """P equally spaced probe angles 2πp/P (p = 0 is the anchor x0 = (1, 0))."""
    return 2.0 * np.pi * np.arange(check_int("probes", probes, 1)) / probes
