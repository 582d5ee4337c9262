r"""The fluctuation run behind ``spectralntk fluctuations``: Hanin & Nica (2019) measured.

For every (depth, width) the run initialises S networks (seeds) and measures on P
probe points x_p = x(2πp/P) of the circle (x_0 = (1, 0) is the anchor):

- the on-diagonal empirical NTK K(x_p, x_p) (:func:`spectralntk.nn.ntk_diagonal.ntk_diagonal`,
  only the diagonal, one forward and backward pass) and its statistics: mean over seeds
  and probes with its standard error next to the exact finite-width mean and the
  infinite-width NTK Θ(x, x); the normalised second moment E[K²]/E[K]² (seeds and probes
  pooled: the network law is rotation invariant, so every probe has the same law) with a
  percentile bootstrap interval over seeds, next to Hanin–Nica's exp(5β) and the
  first-order prediction :func:`spectralntk.fluctuations.small_beta_log_ratio`;
- the kernel row K(x_0, x_p) per seed (the profile; dimension ``angle`` = probe angles),
  its seed mean, standard deviation and relative spread;
- one gradient step on the single example (x_0, y_0 = 0), loss ½(f(x_0) − y_0)²,
  learning rate η = ``first_step_size``/Θ(x_0, x_0) (Θ the infinite-width NTK of the same
  parameterization and width: a step that would fit the example in the kernel regime),
  then K(x_p, x_p) again: the change at every probe and the relative change
  E[ΔK(x_0, x_0)]/E[K(x_0, x_0)] per unit η·Θ(x_0, x_0) (means over seeds, bootstrap
  interval) next to Hanin–Nica's (dβ/n0)·exp(5β). For ReLU the change includes units whose
  sign flips during the step; at tiny steps such flips are rare events that dominate the
  Monte Carlo variance, so the default is the natural step η·Θ = 1 (there, measured within
  a factor ~1.5 of the smooth first-order change);
- with ``steps`` T > 0: full-batch gradient descent on a target (as ``spectralntk train``)
  with η = ``lr_fraction``·2/(c·μ_max) of the analytic NTK Gram on the training points;
  the drift ‖K_T − K_0‖_F/‖K_0‖_F of the empirical NTK Gram on the training points and
  its spectrum at steps 0 and T.

The seeds of one (depth, width) are processed in batches that fit ``memory_budget``;
seed s gives bit-identical networks alone or in a batch (:func:`spectralntk.nn.mlp.init_mlp`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spectralntk.config import ARCHITECTURE_DEFAULTS, NetworkConfig, check_fields
from spectralntk.errors import check_choice, check_int, check_real, parameter_error
from spectralntk.fluctuations import as_probe_angles
from spectralntk.limits import MAX_BOOTSTRAP, MAX_GRID, MAX_SEEDS, MAX_STEPS
from spectralntk.targets import Target, make_target

__all__ = [
    "FLUCTUATION_PRESETS",
    "HANIN_NICA_ARCHITECTURE",
    "FluctuationConfig",
    "FluctuationRun",
    "fluctuations",
]

FloatArray = NDArray[np.float64]

#: Hanin & Nica's setting (and the seed author's study): ReLU in the standard
#: parameterization with He initialisation σ_w² = 2 and no biases. Every preset below
#: measures it; the architecture options override it, and without a preset
#: (:class:`FluctuationConfig` in Python) the shared defaults apply
#: (:data:`spectralntk.config.ARCHITECTURE_DEFAULTS`).
HANIN_NICA_ARCHITECTURE: dict[str, Any] = {
    "activation": "relu",
    "parameterization": "standard",
    "weight_std": math.sqrt(2.0),
    "bias_std": 0.0,
    "bias_init": "zero",
    "output_bias": False,
}

#: Named sweeps: the issue's default, the seed author's study and a quick variant.
FLUCTUATION_PRESETS: dict[str, dict[str, Any]] = {
    "default": {
        "depths": (4, 8, 16),
        "widths": (256, 512, 1024),
        "seeds": 20,
        "probes": 64,
        **HANIN_NICA_ARCHITECTURE,
    },
    "hanin-nica": {
        "depths": (4, 8, 16, 32, 64),
        "widths": (256, 512, 1024),
        "seeds": 20,
        "probes": 64,
        **HANIN_NICA_ARCHITECTURE,
    },
    "quick": {
        "depths": (2, 4, 8),
        "widths": (32, 64),
        "seeds": 8,
        "probes": 16,
        **HANIN_NICA_ARCHITECTURE,
    },
}


def _distinct(name: str, values: Any, low: int) -> tuple[int, ...]:
    out = tuple(sorted(check_int(name, v, low) for v in values))
    if not out or len(set(out)) != len(out):
        raise parameter_error(name, "a non-empty list of distinct ints", list(values))
    return out


@dataclass(frozen=True)
class FluctuationConfig:
    """Everything that defines a fluctuation run (validated; JSON round trip).

    Parameters
    ----------
    depths, widths : tuple of int
        Hidden layers (≥ 1) and hidden widths (≥ 1); every pair is measured.
    seeds : tuple of int
        At least 2 distinct seeds (second moments and spreads need two).
    probes : int
        P ≥ 1 probe points 2πp/P on the circle; p = 0 is the single training example.
    activation, parameterization, weight_std, bias_std, bias_init, output_bias
        Architecture (:class:`~spectralntk.config.NetworkConfig`). Defaults: the shared
        :data:`~spectralntk.config.ARCHITECTURE_DEFAULTS`; Hanin & Nica's setting (the
        standard parameterization with He initialisation σ_w² = 2 and no biases) is
        :data:`HANIN_NICA_ARCHITECTURE`, which every preset of
        :data:`FLUCTUATION_PRESETS` sets.
    first_step_size : float
        η·Θ(x_0, x_0) of the single-example step (> 0).
    bootstrap : int
        Bootstrap resamples B ≥ 1.
    confidence : float
        Level of the bootstrap intervals, in (0, 1).
    bootstrap_seed : int
        Seed of the bootstrap's ``numpy.random.default_rng``.
    steps : int
        T ≥ 0 gradient-descent steps on the target (0: no training).
    target : Target
        Function to learn with ``steps`` > 0.
    inputs, points, loss, data_seed
        Training inputs as in ``spectralntk train`` (evaluation grid of 720 angles).
    lr_fraction : float
        Training learning rate as a fraction of the stability limit 2/(c·μ_max), in (0, 1].
    """

    depths: tuple[int, ...]
    widths: tuple[int, ...]
    seeds: tuple[int, ...]
    probes: int = 64
    activation: str = ARCHITECTURE_DEFAULTS["activation"]
    parameterization: str = ARCHITECTURE_DEFAULTS["parameterization"]
    weight_std: float = ARCHITECTURE_DEFAULTS["weight_std"]
    bias_std: float = ARCHITECTURE_DEFAULTS["bias_std"]
    bias_init: str = ARCHITECTURE_DEFAULTS["bias_init"]
    output_bias: bool = ARCHITECTURE_DEFAULTS["output_bias"]
    first_step_size: float = 1.0
    bootstrap: int = 1000
    confidence: float = 0.95
    bootstrap_seed: int = 0
    steps: int = 0
    target: Target = field(default_factory=lambda: make_target("fourier-mixture"))
    inputs: str = "random"
    points: int = 64
    loss: str = "mean"
    lr_fraction: float = 0.5
    data_seed: int = 0

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        put("depths", _distinct("depth", self.depths, 1))
        put("widths", _distinct("width", self.widths, 1))
        if len(self.seeds) > MAX_SEEDS:
            raise parameter_error("seeds", f"at most {MAX_SEEDS} seeds", len(self.seeds))
        seeds = tuple(sorted(check_int("seed", s, 0) for s in self.seeds))
        if len(seeds) < 2 or len(set(seeds)) != len(seeds):
            raise parameter_error(
                "seeds",
                "at least 2 distinct seeds (second moments and spreads need two networks)",
                len(seeds) if len(set(seeds)) == len(seeds) else list(self.seeds),
            )
        put("seeds", seeds)
        put("probes", check_int("probes", self.probes, 1, MAX_GRID))
        size = check_real("first_step_size", self.first_step_size, 0.0)
        if size <= 0:
            raise parameter_error("first_step_size", "a real number in the range (0, inf)", size)
        put("first_step_size", size)
        put("bootstrap", check_int("bootstrap", self.bootstrap, 1, MAX_BOOTSTRAP))
        level = check_real("confidence", self.confidence, 0.0, 1.0)
        if not 0.0 < level < 1.0:
            raise parameter_error("confidence", "a real number in the range (0, 1)", level)
        put("confidence", level)
        put("bootstrap_seed", check_int("bootstrap_seed", self.bootstrap_seed, 0))
        put("steps", check_int("steps", self.steps, 0, MAX_STEPS))
        fraction = check_real("lr_fraction", self.lr_fraction, 0.0, 1.0)
        if fraction <= 0:
            raise parameter_error("lr_fraction", "a real number in the range (0, 1]", fraction)
        put("lr_fraction", fraction)
        put("data_seed", check_int("data_seed", self.data_seed, 0))
        net = self.network(self.depths[0], self.widths[0])  # validates the architecture
        sw = float(net.weight_std)
        if not sw * sw >= np.finfo(np.float64).tiny:  # a product: 1e300 gives inf, no error
            raise parameter_error(
                "weight_std",
                "a real number with σ_w² > 0 in float64 (the moments of the NTK are ratios "
                "that need a nonzero kernel)",
                net.weight_std,
            )
        for name in ("activation", "parameterization", "bias_init"):
            put(name, getattr(net, name).value)
        for name in ("weight_std", "bias_std", "output_bias"):
            put(name, getattr(net, name))
        if self.steps > 0:
            self.training(self.widths[0])  # validates inputs, points, loss, target

    def network(self, depth: int, width: int) -> NetworkConfig:
        """The architecture at one (depth, width)."""
        return NetworkConfig(
            depth=depth,
            activation=self.activation,  # type: ignore[arg-type]
            weight_std=self.weight_std,
            bias_std=self.bias_std,
            bias_init=self.bias_init,  # type: ignore[arg-type]
            output_bias=self.output_bias,
            parameterization=self.parameterization,  # type: ignore[arg-type]
            width=width,
        )

    def training(self, width: int, depth: int | None = None) -> Any:
        """The :class:`~spectralntk.runs.training.TrainingConfig` of the training part."""
        from spectralntk.runs.training import TrainingConfig

        return TrainingConfig(
            network=self.network(self.depths[0] if depth is None else depth, width),
            widths=(width,),
            seeds=self.seeds,
            target=self.target,
            inputs=check_choice("inputs", self.inputs, ("grid", "random", "gaussian")),
            points=self.points,
            loss=self.loss,
            lr=1.0,
            steps=max(self.steps, 1),
            data_seed=self.data_seed,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (the run file's configuration attribute)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["target"] = self.target.to_dict()
        for key in ("depths", "widths", "seeds"):
            out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FluctuationConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming the key."""
        values = check_fields(cls, data)
        if "target" in values:
            values["target"] = Target.from_dict(values["target"])
        for key in ("depths", "widths", "seeds"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


@dataclass
class FluctuationRun:
    """Measured statistics of a fluctuation run (numpy arrays, D depths × W widths).

    ``arrays`` holds the data variables of the run file by name (see
    :mod:`spectralntk.store.schema`, run type ``fluctuation``).
    """

    config: FluctuationConfig
    arrays: dict[str, Any] = field(default_factory=dict)

    @property
    def probe_angles(self) -> FloatArray:
        """The P probe angles 2πp/P."""
        return as_probe_angles(self.config.probes)

    def to_dataset(self, *, history: str | None = None) -> Any:
        """The run as a CF-1.8 :class:`xarray.Dataset` (dims depth, width, seed, probe, …)."""
        from spectralntk.store import schema

        cfg = self.config
        angles = self.probe_angles
        coords: dict[str, Any] = {
            schema.DEPTH: np.asarray(cfg.depths, dtype=np.int32),
            schema.JACOT_LAYERS: np.asarray(cfg.depths, dtype=np.int32) + 1,
            schema.WIDTH: np.asarray(cfg.widths, dtype=np.int32),
            schema.SEED: np.asarray(cfg.seeds, dtype=np.int32),
            schema.PROBE: np.arange(cfg.probes, dtype=np.int32),
            schema.PROBE_ANGLE: angles,
            schema.ANGLE: angles,
        }
        data = dict(self.arrays)
        if cfg.steps > 0:
            coords[schema.RANK] = np.arange(cfg.points, dtype=np.int32)
            data["training_diverged"] = (data.pop("training_diverged_step") >= 0).astype(np.int8)
        ds = schema.make_dataset(
            schema.FLUCTUATION,
            config=cfg.to_dict(),
            data_vars=data,
            coords=coords,
            title=(
                f"Finite depth and width fluctuations of the empirical NTK of {cfg.activation} "
                f"MLPs ({cfg.parameterization} parameterization, {len(cfg.seeds)} seeds)"
            ),
            history=history,
            references=(
                schema.DEFAULT_REFERENCES + "; Hanin, B. and Nica, M. (2019). Finite Depth and "
                "Width Corrections to the Neural Tangent Kernel. ICLR 2020. arXiv:1909.05989"
            ),
        )
        ds.attrs["first_step_example"] = (
            "one gradient step on (x0, y0) = ((1, 0), 0), loss 0.5 (f(x0) - y0)^2, "
            "eta = first_step_size / Theta(x0, x0)"
        )
        ds.attrs["bootstrap"] = (
            f"percentile bootstrap over seeds, {cfg.bootstrap} resamples, "
            f"confidence {cfg.confidence:g}, numpy default_rng({cfg.bootstrap_seed})"
        )
        ds.attrs["steps"] = np.int32(cfg.steps)
        if cfg.steps > 0:
            ds.attrs["loss_convention"] = cfg.loss
        return ds


#: Default bytes one batch of seeds may take in :func:`fluctuations`.
DEFAULT_MEMORY_BUDGET = 2 << 30


def _seeds_per_batch(
    cfg: FluctuationConfig, depth: int, width: int, itemsize: int, budget: int
) -> int:
    """Seeds measured together: the parameters twice (before and after the step), the
    layer inputs and slopes on the probes (and on the training points when training)."""
    n0 = 2
    params = n0 * width + max(depth - 1, 0) * width * width + width + (depth + 1) * width
    points = cfg.probes + (2 * cfg.points if cfg.steps > 0 else 0)
    per_seed = itemsize * (3 * params + 4 * points * width * (depth + 1))
    from spectralntk.limits import check_one_seed

    check_one_seed("width", width, per_seed, budget)
    return max(1, min(len(cfg.seeds), budget // max(per_seed, 1)))


def _summaries(
    cfg: FluctuationConfig, diag: FloatArray, row: FloatArray, change: FloatArray
) -> dict[str, Any]:
    """Statistics of one (depth, width) from K(x_p, x_p), K(x_0, x_p) and ΔK(x_p, x_p), (S, P)."""
    from spectralntk.fluctuations import bootstrap_interval, normalized_second_moment

    s = diag.shape[0]
    boot: dict[str, Any] = {
        "resamples": cfg.bootstrap,
        "confidence": cfg.confidence,
        "seed": cfg.bootstrap_seed,
    }
    ratio = float(normalized_second_moment(diag))
    low, high = bootstrap_interval(lambda b: normalized_second_moment(b, axis=(1, 2)), diag, **boot)
    profile_mean = row.mean(axis=0)
    profile_std = row.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = profile_std / np.abs(profile_mean)

    def relative(b: FloatArray) -> FloatArray:  # per unit η·Θ(x0, x0)
        return b[..., 0].mean(axis=-1) / b[..., 1].mean(axis=-1) / cfg.first_step_size

    pair = np.stack([change[:, 0], diag[:, 0]], axis=-1)  # (S, 2)
    rel_low, rel_high = bootstrap_interval(relative, pair, **boot)
    return {
        "ntk_diagonal_seed_mean": diag.mean(axis=0),
        "ntk_diagonal_seed_second_moment": (diag * diag).mean(axis=0),
        "ntk_diagonal_mean": diag.mean(),
        "ntk_diagonal_mean_stderr": diag.mean(axis=1).std(ddof=1) / math.sqrt(s),
        "normalized_second_moment": ratio,
        "normalized_second_moment_low": low,
        "normalized_second_moment_high": high,
        "log_normalized_second_moment": math.log(ratio) if ratio > 0 else math.nan,
        "ntk_profile_seed_mean": profile_mean,
        "ntk_profile_seed_std": profile_std,
        "ntk_profile_relative_spread": spread,
        "first_step_relative_change": float(relative(pair[None])[0]),
        "first_step_relative_change_low": rel_low,
        "first_step_relative_change_high": rel_high,
    }


def fluctuations(
    config: FluctuationConfig,
    *,
    device: str = "cpu",
    dtype: str = "float64",
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> FluctuationRun:
    """Measure every (depth, width, seed) network of ``config`` (module docstring).

    Parameters
    ----------
    config : FluctuationConfig
    device, dtype : str
        Where the networks live and in which precision (statistics are float64 numpy).
    memory_budget : int
        Bytes one batch of seeds may take.
    on_progress : callable, optional
        ``on_progress(done, total, description)`` after every batch of seeds.

    Returns
    -------
    FluctuationRun
    """
    import torch

    from spectralntk.dynamics.predict import stability_limit
    from spectralntk.fluctuations import (
        exact_mean_ntk_diagonal,
        first_step_prediction,
        has_exact_mean,
        inverse_temperature,
        predicted_normalized_second_moment,
        small_beta_log_ratio,
    )
    from spectralntk.kernels.recursion import kernel_matrix
    from spectralntk.nn.device import resolve_device, resolve_dtype
    from spectralntk.nn.mlp import init_mlp
    from spectralntk.nn.ntk_diagonal import ntk_diagonal, single_example_step
    from spectralntk.runs.training import training_inputs

    cfg = config
    torch_dtype, dev = resolve_dtype(dtype), resolve_device(device)
    itemsize = torch.finfo(torch_dtype).bits // 8
    d_, w_, s_, p_ = len(cfg.depths), len(cfg.widths), len(cfg.seeds), cfg.probes
    angles = as_probe_angles(p_)
    x_probe = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    xp = torch.as_tensor(x_probe, dtype=torch_dtype, device=dev)
    per_dw = {
        "beta",
        "exact_ntk_diagonal_mean",
        "analytic_ntk_diagonal",
        "hanin_nica_second_moment",
        "small_beta_log_second_moment",
        "first_step_prediction",
        "first_step_learning_rate",
        "ntk_diagonal_mean",
        "ntk_diagonal_mean_stderr",
        "normalized_second_moment",
        "normalized_second_moment_low",
        "normalized_second_moment_high",
        "log_normalized_second_moment",
        "first_step_relative_change",
        "first_step_relative_change_low",
        "first_step_relative_change_high",
    }
    arrays: dict[str, Any] = {name: np.full((d_, w_), np.nan) for name in per_dw}
    for name in ("ntk_diagonal", "ntk_empirical_profile", "first_step_ntk_diagonal_change"):
        arrays[name] = np.full((d_, w_, s_, p_), np.nan)
    for name in (
        "ntk_diagonal_seed_mean",
        "ntk_diagonal_seed_second_moment",
        "ntk_profile_seed_mean",
        "ntk_profile_seed_std",
        "ntk_profile_relative_spread",
    ):
        arrays[name] = np.full((d_, w_, p_), np.nan)
    arrays["first_step_residual"] = np.full((d_, w_, s_), np.nan)

    training = cfg.steps > 0
    if training:
        n_train = cfg.points
        x_train, _, y_train = training_inputs(cfg.training(cfg.widths[0]))
        xt = torch.as_tensor(x_train, dtype=torch_dtype, device=dev)
        yt = torch.as_tensor(y_train, dtype=torch_dtype, device=dev)
        arrays["training_learning_rate"] = np.full((d_, w_), np.nan)
        for name in (
            "training_kernel_drift",
            "training_top_eigenvalue_change",
            "training_loss_initial",
            "training_loss_final",
        ):
            arrays[name] = np.full((d_, w_, s_), np.nan)
        for name in ("training_ntk_eigenvalue_initial", "training_ntk_eigenvalue_final"):
            arrays[name] = np.full((d_, w_, s_, n_train), np.nan)
        arrays["training_diverged_step"] = np.full((d_, w_, s_), -1, dtype=np.int32)

    batches = {
        (i, j): _seeds_per_batch(cfg, depth, width, itemsize, memory_budget)
        for i, depth in enumerate(cfg.depths)
        for j, width in enumerate(cfg.widths)
    }
    total = sum(math.ceil(s_ / b) for b in batches.values())
    done = 0
    if on_progress is not None:
        on_progress(0, total, "starting")
    for i, depth in enumerate(cfg.depths):
        for j, width in enumerate(cfg.widths):
            net_cfg = cfg.network(depth, width)
            beta = inverse_temperature(depth, width)
            theta = float(kernel_matrix(net_cfg, x_probe[:1]).ntk[0, 0])
            eta = cfg.first_step_size / theta
            arrays["beta"][i, j] = beta
            arrays["analytic_ntk_diagonal"][i, j] = theta
            arrays["hanin_nica_second_moment"][i, j] = predicted_normalized_second_moment(beta)
            arrays["first_step_prediction"][i, j] = first_step_prediction(depth, width)
            arrays["first_step_learning_rate"][i, j] = eta
            if has_exact_mean(net_cfg):
                arrays["exact_ntk_diagonal_mean"][i, j] = exact_mean_ntk_diagonal(net_cfg, width)
                arrays["small_beta_log_second_moment"][i, j] = small_beta_log_ratio(net_cfg, width)
            if training:
                gram = kernel_matrix(net_cfg, x_train).ntk
                mu_max = float(np.linalg.eigvalsh(gram)[-1])
                lr = cfg.lr_fraction * stability_limit(mu_max, cfg.loss, n_train)
                arrays["training_learning_rate"][i, j] = lr
            size = batches[(i, j)]
            for start in range(0, s_, size):
                sl = slice(start, min(start + size, s_))
                net = init_mlp(net_cfg, width, cfg.seeds[sl], dtype=torch_dtype, device=dev)
                with torch.no_grad():
                    before = ntk_diagonal(net, xp, anchor=0)
                    stepped, residual = single_example_step(net, xp[:1], eta)
                    after = ntk_diagonal(stepped, xp).diagonal
                    del stepped
                k0 = before.diagonal.double().cpu().numpy()
                arrays["ntk_diagonal"][i, j, sl] = k0
                arrays["ntk_empirical_profile"][i, j, sl] = before.row.double().cpu().numpy()
                arrays["first_step_ntk_diagonal_change"][i, j, sl] = (
                    after.double().cpu().numpy() - k0
                )
                arrays["first_step_residual"][i, j, sl] = residual.double().cpu().numpy()
                if training:
                    if on_progress is not None:
                        on_progress(done, total, f"depth {depth} width {width}: training")
                    _train(arrays, (i, j, sl), net, xt, yt, cfg, lr)
                del net
                done += 1
                if on_progress is not None:
                    on_progress(done, total, f"depth {depth} width {width}")
            summary = _summaries(
                cfg,
                arrays["ntk_diagonal"][i, j],
                arrays["ntk_empirical_profile"][i, j],
                arrays["first_step_ntk_diagonal_change"][i, j],
            )
            for name, value in summary.items():
                arrays[name][i, j] = value
    return FluctuationRun(cfg, arrays)


def _train(
    arrays: dict[str, Any],
    where: tuple[int, int, slice],
    net: Any,
    xt: Any,
    yt: Any,
    cfg: FluctuationConfig,
    lr: float,
) -> None:
    """Train one batch of seeds for ``cfg.steps`` steps; record drift and spectra."""
    import torch

    from spectralntk.nn.empirical_ntk import empirical_kernel
    from spectralntk.nn.training import gradient_descent
    from spectralntk.spectral.gram import relative_distance

    i, j, sl = where
    n = xt.shape[0]
    with torch.no_grad():
        k0 = empirical_kernel(net, xt).ntk.double().cpu().numpy()
    losses: dict[int, Any] = {}

    def record(rec: Any) -> None:
        losses[rec.step] = rec.loss.double().cpu().numpy()

    net, status, _ = gradient_descent(
        net,
        xt,
        yt,
        lr=lr,
        steps=cfg.steps,
        loss=cfg.loss,
        record_steps=[0, cfg.steps],
        on_record=record,
    )
    with torch.no_grad():
        kt = empirical_kernel(net, xt).ntk.double().cpu().numpy()
    e0 = np.linalg.eigvalsh(k0)[:, ::-1] / n
    et = np.linalg.eigvalsh(kt)[:, ::-1] / n
    arrays["training_kernel_drift"][i, j, sl] = relative_distance(kt, k0)
    arrays["training_ntk_eigenvalue_initial"][i, j, sl] = e0
    arrays["training_ntk_eigenvalue_final"][i, j, sl] = et
    arrays["training_top_eigenvalue_change"][i, j, sl] = et[:, 0] / e0[:, 0] - 1.0
    arrays["training_loss_initial"][i, j, sl] = losses[0]
    arrays["training_loss_final"][i, j, sl] = losses[cfg.steps]
    arrays["training_diverged_step"][i, j, sl] = status.cpu().numpy()
