"""The training run behind ``spectralntk train``: finite networks against kernel theory.

Every (width, seed) network is trained by full-batch gradient descent
(:mod:`spectralntk.nn.training`; all seeds of a width as one batch). At every
recorded step the run keeps the loss, the residual on the training points and its
real Fourier coefficients per frequency, and the same on the evaluation grid; at
checkpoint steps the predictions on the evaluation grid, the empirical NTK on the
training points (drift ‖K_t − K_0‖_F/‖K_0‖_F and its spectrum). Alongside, the
kernel-regime theory of the same architecture and loss convention
(:mod:`spectralntk.dynamics.predict`): the analytic NTK Gram on the training points,
each seed's residual predicted from its own initial residual, (1 − cημ)^t per
eigen-mode (discrete) and exp(−cημt) (gradient flow); the infinite-width predictor
on the evaluation grid at each checkpoint and at t → ∞ (kernel regression with a
1e-6 ridge, as in the seed write-up), the linearized network's prediction from its
own empirical NTK at step 0, and RelErr = ‖f_net − f_NTK‖/‖f_NTK‖.

Interrupting keeps the finished steps: the state is flushed to ``<out>.state.pt``
(atomically) at recorded steps every ``flush_seconds`` and when ``should_stop``
turns true; ``resume=True`` continues from it to the same result as an
uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spectralntk.config import NetworkConfig
from spectralntk.errors import (
    RunFileError,
    check_choice,
    check_int,
    check_real,
    parameter_error,
)
from spectralntk.targets import Target

__all__ = ["INPUTS", "TrainingConfig", "TrainingRun", "network_at_width", "train"]

FloatArray = NDArray[np.float64]
INPUTS = ("grid", "random", "gaussian")
LOSSES = ("half_mean", "mean", "half_sum")
MODELS = ("network", "linearized")


def _steps_tuple(name: str, values: Sequence[int], steps: int) -> tuple[int, ...]:
    return tuple(sorted({check_int(name, v, 0, steps) for v in values}))


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that defines a training run (validated; JSON round trip).

    Parameters
    ----------
    network : NetworkConfig
        Architecture (depth = hidden layers, parameterization, biases).
    widths : tuple of int
        Hidden widths; each trains its seeds as one batch.
    seeds : tuple of int
        Network seeds.
    target : Target
        Function to learn (:mod:`spectralntk.targets`).
    inputs : {"grid", "random", "gaussian"}
        ``grid``: N equally spaced angles 2πj/N; ``random``: N angles drawn without
        replacement from the evaluation grid (the seed experiments); ``gaussian``:
        x ~ N(0, I₂) (Jacot et al. 2018, Fig. 1).
    points, eval_points : int
        N training points and M points of the evaluation grid 2πj/M.
    label_noise : float
        Standard deviation of Gaussian noise added to the training targets.
    loss : {"half_mean", "mean", "half_sum"}
        Loss convention (../shared/DESIGN.md).
    lr : float
        η > 0.
    steps : int
        Number of gradient steps T ≥ 1.
    record_every : int
        Record every this many steps (and at 0 and T).
    log_records : int
        Also record this many log-spaced steps (0: none).
    eval_every : int
        Record the evaluation grid (a forward pass on M points) at recorded steps
        that are multiples of this, and at checkpoints; 0: every T/200 steps. The
        training-point modes are recorded at every recorded step.
    checkpoints : tuple of int
        Steps with predictions on the evaluation grid and kernel snapshots (0 and T
        are always included).
    max_frequency : int, optional
        K: residual modes k = 0..K. At most N/2 on a grid and N/4 for other inputs
        (least squares), and M/2; default min(64, that limit).
    model : {"network", "linearized"}
    data_seed : int
        Seed of the random inputs and the label noise.
    ridge : float
        Ridge of the t → ∞ kernel-regression predictor.
    """

    network: NetworkConfig
    widths: tuple[int, ...]
    seeds: tuple[int, ...]
    target: Target
    inputs: str = "random"
    points: int = 256
    eval_points: int = 720
    label_noise: float = 0.0
    loss: str = "mean"
    lr: float = 0.01
    steps: int = 1000
    record_every: int = 0
    log_records: int = 0
    eval_every: int = 0
    checkpoints: tuple[int, ...] = ()
    max_frequency: int | None = None
    model: str = "network"
    data_seed: int = 0
    ridge: float = 1e-6

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        widths = tuple(sorted(check_int("width", w, 1) for w in self.widths))
        if not widths or len(set(widths)) != len(widths):
            raise parameter_error("width", "a non-empty list of distinct ints", list(self.widths))
        seeds = tuple(sorted(check_int("seed", s, 0) for s in self.seeds))
        if not seeds or len(set(seeds)) != len(seeds):
            raise parameter_error("seeds", "a non-empty list of distinct seeds", list(self.seeds))
        put("widths", widths)
        put("seeds", seeds)
        put("inputs", check_choice("inputs", self.inputs, INPUTS))
        put("points", check_int("points", self.points, 3))
        put("eval_points", check_int("eval_points", self.eval_points, 3))
        put("label_noise", check_real("label_noise", self.label_noise, 0.0))
        put("loss", check_choice("loss", self.loss, LOSSES))
        lr = check_real("lr", self.lr, 0.0)
        if lr <= 0:
            raise parameter_error("lr", "a finite real number in the range (0, inf)", lr)
        put("lr", lr)
        steps = check_int("steps", self.steps, 1)
        put("record_every", check_int("record_every", self.record_every, 0))
        put("log_records", check_int("log_records", self.log_records, 0))
        put("eval_every", check_int("eval_every", self.eval_every, 0))
        put("checkpoints", _steps_tuple("checkpoints", (0, steps, *self.checkpoints), steps))
        put("model", check_choice("model", self.model, MODELS))
        put("data_seed", check_int("data_seed", self.data_seed, 0))
        put("ridge", check_real("ridge", self.ridge, 0.0))
        if self.inputs == "random" and self.points > self.eval_points:
            raise parameter_error(
                "points",
                f"at most eval_points = {self.eval_points} with random inputs "
                "(drawn without replacement from the evaluation grid)",
                self.points,
            )
        # FFT on a grid resolves k ≤ N/2. Least squares on other inputs is well posed
        # only well below N/2: at K = N/4 the design matrix of a random subset of the
        # evaluation grid has condition number ~20, at K → N/2 above 1e10.
        train_limit = self.points // 2 if self.inputs == "grid" else self.points // 4
        limit = min(train_limit, self.eval_points // 2)
        if self.max_frequency is None:
            put("max_frequency", min(64, limit))
        if self.inputs == "grid":
            self.target.check_resolvable(self.points)
        else:
            self.target.check_resolvable(self.eval_points)
        put("max_frequency", check_int("max_frequency", self.max_frequency, 0, limit))

    @property
    def k_max(self) -> int:
        """K, the highest recorded frequency (resolved in ``__post_init__``)."""
        assert self.max_frequency is not None
        return self.max_frequency

    def record_steps(self) -> tuple[int, ...]:
        """Steps at which the run records (0, T, every ``record_every``, log-spaced)."""
        t = self.steps
        every = self.record_every or max(1, t // 200)
        chosen = set(range(0, t + 1, every)) | {0, t} | set(self.checkpoints)
        if self.log_records:
            chosen |= {round(v) for v in np.geomspace(1, t, self.log_records)}
        return tuple(sorted(chosen))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (the run file's configuration attribute)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["network"] = self.network.to_dict()
        out["target"] = self.target.to_dict()
        for key in ("widths", "seeds", "checkpoints"):
            out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming the key."""
        names = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in names:
                raise parameter_error("config", f"a mapping with keys in {sorted(names)}", key)
        values = dict(data)
        values["network"] = NetworkConfig.from_dict(values["network"])
        values["target"] = Target.from_dict(values["target"])
        for key in ("widths", "seeds", "checkpoints"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


def training_inputs(config: TrainingConfig) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(x_train (N, 2), angles of x_train (N,), noisy targets y (N,)) from the data seed."""
    rng = np.random.default_rng(config.data_seed)
    n, m = config.points, config.eval_points
    if config.inputs == "grid":
        gamma = 2.0 * np.pi * np.arange(n) / n
        x = np.stack([np.cos(gamma), np.sin(gamma)], axis=1)
    elif config.inputs == "random":
        gamma = 2.0 * np.pi * np.sort(rng.choice(m, size=n, replace=False)) / m
        x = np.stack([np.cos(gamma), np.sin(gamma)], axis=1)
    else:
        x = rng.standard_normal((n, 2))
        gamma = np.mod(np.arctan2(x[:, 1], x[:, 0]), 2.0 * np.pi)
    y = config.target.on_points(x)
    if config.label_noise > 0:
        y = y + config.label_noise * rng.standard_normal(n)
    return x, gamma, y


@dataclass
class TrainingRun:
    """Recorded trajectories and theory of a training run (numpy arrays).

    Shapes: W widths, S seeds, T recorded steps, N training points, M evaluation
    points, C checkpoints, F = K + 1 frequencies.
    """

    config: TrainingConfig
    steps: NDArray[np.int64]
    x_train: FloatArray
    train_angle: FloatArray
    y_train: FloatArray
    arrays: dict[str, FloatArray] = field(default_factory=dict)

    def to_dataset(self, *, history: str | None = None) -> Any:
        """The run as a CF-1.8 :class:`xarray.Dataset` (dims width, seed, step, frequency, …)."""
        from spectralntk.dynamics.predict import loss_factor
        from spectralntk.store import schema

        cfg = self.config
        coords: dict[str, Any] = {
            schema.WIDTH: np.asarray(cfg.widths, dtype=np.int32),
            schema.SEED: np.asarray(cfg.seeds, dtype=np.int32),
            schema.STEP: self.steps.astype(np.int32),
            schema.FREQUENCY: np.arange(cfg.k_max + 1, dtype=np.int32),
            schema.SAMPLE: np.arange(cfg.points, dtype=np.int32),
            schema.ANGLE: 2.0 * np.pi * np.arange(cfg.eval_points) / cfg.eval_points,
            schema.CHECKPOINT: np.asarray(cfg.checkpoints, dtype=np.int32),
            schema.EIGENMODE: np.arange(cfg.points, dtype=np.int32),
            schema.RANK: np.arange(cfg.points, dtype=np.int32),
        }
        data = dict(self.arrays)
        data["diverged"] = (data["diverged_step"] >= 0).astype(np.int8)
        data["train_x1"], data["train_x2"] = self.x_train[:, 0], self.x_train[:, 1]
        data["train_angle"], data["train_target"] = self.train_angle, self.y_train
        ds = schema.make_dataset(
            schema.TRAINING,
            config=cfg.to_dict(),
            data_vars=data,
            coords=coords,
            title=(
                f"Gradient descent of {cfg.network.activation.value} MLPs (depth "
                f"{cfg.network.depth}) with mode-wise residuals and NTK theory"
            ),
            history=history,
        )
        ds.attrs["depth"] = np.int32(cfg.network.depth)
        ds.attrs["jacot_layers"] = np.int32(cfg.network.depth + 1)
        ds.attrs["loss_convention"] = cfg.loss
        ds.attrs["loss_factor_c"] = loss_factor(cfg.loss, cfg.points)
        return ds


def _unit_fourier_vectors(gamma: FloatArray, k_max: int) -> FloatArray:
    """cos kγ_j and sin kγ_j sampled at the training angles, unit norm: (2, K + 1, N).

    sin 0γ (and sin kγ where it vanishes on the points) is left at zero.
    """
    k = np.arange(k_max + 1)[:, None]
    waves = np.stack([np.cos(k * gamma[None, :]), np.sin(k * gamma[None, :])])
    norm = np.linalg.norm(waves, axis=-1, keepdims=True)
    return np.divide(waves, norm, out=np.zeros_like(waves), where=norm > 1e-8)


def _fourier_rayleigh(grams: FloatArray, waves: FloatArray) -> FloatArray:
    """Per-frequency Rayleigh quotient of K/N, cos and sin averaged: (S, K + 1).

    On a uniform grid these are exactly the quotients in the orthonormal real Fourier
    basis (:func:`spectralntk.spectral.gram.gram_spectrum`); on other inputs they
    summarise K per frequency with the sampled (non-orthogonal) waves.
    """
    quad = np.einsum("wkn,snm,wkm->swk", waves, grams, waves)  # (S, 2, K + 1)
    present = (np.abs(waves).sum(axis=-1) > 0).sum(axis=0)  # cos and/or sin per k
    return quad.sum(axis=1) / np.maximum(present, 1) / grams.shape[-1]


def _relative_error(outputs: FloatArray, reference: FloatArray) -> FloatArray:
    """‖f − f_ref‖/‖f_ref‖ per row of ``outputs`` (NaN when f_ref = 0, e.g. at t = 0)."""
    norm = float(np.linalg.norm(reference))
    diff = np.linalg.norm(outputs - reference[None, :], axis=1)
    return diff / norm if norm > 0 else np.full(diff.shape, np.nan)


#: Records kept on the device before they are copied to the run's arrays.
RECORD_BUFFER = 256


@dataclass(frozen=True)
class _Projections:
    """Targets and mode maps as float64 tensors on the training device."""

    y_train: Any  # (N,)
    y_eval: Any  # (M,)
    train_modes: Any  # (2(K + 1), N'): rows cos_k then sin_k, zero-padded (_project)
    eval_modes: Any  # (2(K + 1), M')

    @classmethod
    def build(
        cls, train: Any, evaluation: Any, y: FloatArray, y_eval: FloatArray, device: Any
    ) -> _Projections:
        import torch

        def put(values: FloatArray) -> Any:
            return torch.tensor(values, dtype=torch.float64, device=device)

        def stacked(modes: Any) -> Any:
            rows = np.concatenate([modes.cos_matrix, modes.sin_matrix])
            width = -(-rows.shape[1] // _ALIGN) * _ALIGN
            return put(np.pad(rows, ((0, 0), (0, width - rows.shape[1]))))

        return cls(put(y), put(y_eval), stacked(train), stacked(evaluation))


#: Rows of the projections are padded to a multiple of 8 float64 (64 bytes).
_ALIGN = 8


def _project(values: Any, modes: Any) -> tuple[Any, Any]:
    """(a_k, b_k), each (S, K + 1), of ``values`` (S, N) by the stacked rows (2(K + 1), N').

    One matrix-vector product per seed, on a copy of the values zero-padded to the
    rows' length N' (a multiple of 64 bytes): every seed's product has the same
    operands, alignment included, alone or in a batch, on any number of threads, so
    a seed's record does not depend on its batch, nor does a resumed run differ from
    an uninterrupted one, by a bit. (A matrix product's summation order may depend
    on the number of rows and on alignment; a broadcast product and sum would write
    an (S, 2(K + 1), N) temporary, 7.5 MB for the 720-point grid.)
    """
    import torch

    padded = values.new_zeros(values.shape[0], modes.shape[1])
    padded[:, : values.shape[1]] = values
    both = torch.stack([torch.mv(modes, row) for row in padded])
    half = modes.shape[0] // 2
    return both[:, :half], both[:, half:]


class _StepBuffer:
    """The per-step records of one batch of seeds, kept on the device until drained.

    At every recorded step the residual on the training points, its modes (by the
    precomputed projections, :func:`_project`), the loss and, at evaluation steps,
    the evaluation-grid modes go into small float64 device buffers; :meth:`drain`
    copies them to the run's numpy arrays in one go (every ``size`` records, before
    a state flush and at the end of the batch). Converting to numpy at every step
    would switch between torch's and numpy's thread pools at every step, which on a
    2-core machine costs more than the tracking itself.
    """

    _TRAIN = ("loss", "train_residual", "residual_cos", "residual_sin")
    _EVAL = ("eval_residual_cos", "eval_residual_sin")

    def __init__(
        self,
        arrays: dict[str, Any],
        width_index: int,
        seeds: slice,
        size: int,
        proj: _Projections,
    ) -> None:
        import torch

        self.arrays, self.j, self.seeds = arrays, width_index, seeds
        self.size, self.proj = size, proj
        count = seeds.stop - seeds.start
        f, n = proj.train_modes.shape[0] // 2, len(proj.y_train)
        tails = {"loss": (), "train_residual": (n,)}
        tails |= dict.fromkeys(("residual_cos", "residual_sin", *self._EVAL), (f,))
        self.buf = {
            name: torch.empty((count, size, *tail), dtype=torch.float64, device=proj.y_train.device)
            for name, tail in tails.items()
        }
        self.first, self.rows = -1, 0
        self.eval_rows: list[tuple[int, int]] = []
        self.status: Any = None

    def add(self, index: int, rec: Any) -> None:
        """Buffer the record ``rec`` (a StepRecord) of record index ``index``."""

        if self.rows == 0:
            self.first = index
        row, buf, proj = self.rows, self.buf, self.proj
        residual = rec.train_output.double() - proj.y_train
        buf["train_residual"][:, row] = residual
        buf["loss"][:, row] = rec.loss
        buf["residual_cos"][:, row], buf["residual_sin"][:, row] = _project(
            residual, proj.train_modes
        )
        if rec.eval_output is not None:
            e_res = rec.eval_output.double() - proj.y_eval
            buf["eval_residual_cos"][:, row], buf["eval_residual_sin"][:, row] = _project(
                e_res, proj.eval_modes
            )
            self.eval_rows.append((row, index))
        self.rows, self.status = row + 1, rec.diverged_at
        if self.rows == self.size:
            self.drain()

    def drain(self) -> None:
        """Copy the buffered records to the arrays (consecutive record indices)."""
        arrays, j, sl, rows = self.arrays, self.j, self.seeds, self.rows
        if rows:
            got = {name: b[:, :rows].cpu().numpy() for name, b in self.buf.items()}
            # a residual with a non-finite value has no modes (NaN), as in modes()
            bad = ~np.all(np.isfinite(got["train_residual"]), axis=-1)
            got["residual_cos"][bad] = np.nan
            got["residual_sin"][bad] = np.nan
            for name in self._TRAIN:
                arrays[name][j, sl, self.first : self.first + rows] = got[name]
            for row, index in self.eval_rows:
                ea, eb = got["eval_residual_cos"][:, row], got["eval_residual_sin"][:, row]
                # a non-finite value in the residual makes a_0 (its mean) non-finite
                bad = ~(np.all(np.isfinite(ea), axis=-1) & np.all(np.isfinite(eb), axis=-1))
                ea[bad], eb[bad] = np.nan, np.nan
                arrays["eval_residual_cos"][j, sl, index] = ea
                arrays["eval_residual_sin"][j, sl, index] = eb
        if self.status is not None:
            arrays["diverged_step"][j, sl] = self.status.cpu().numpy()
        self.first, self.rows, self.eval_rows = -1, 0, []


#: Default bytes one batch of seeds may take in :func:`train`.
DEFAULT_MEMORY_BUDGET = 4 << 30


def _seeds_per_batch(cfg: TrainingConfig, width: int, itemsize: int, budget: int) -> int:
    """Seeds trained together: all of them if they fit in ``budget`` bytes, else fewer.

    Per seed: the parameters four times (values, gradients, the initial values kept
    for the theory and drift, temporaries of the update) and the activations of a
    forward and backward pass on the training and evaluation points.
    """
    depth, n0 = cfg.network.depth, cfg.network.input_dim
    params = (n0 + 2) * width + max(depth - 1, 0) * (width * width + width) + 1
    activations = 4 * (cfg.points + cfg.eval_points) * width * max(depth, 1)
    per_seed = itemsize * (4 * params + activations)
    return max(1, min(len(cfg.seeds), budget // max(per_seed, 1)))


def network_at_width(cfg: TrainingConfig, width: int) -> NetworkConfig:
    """The architecture of one width (the standard parameterization's NTK needs n)."""
    if cfg.network.parameterization.value == "standard":
        return cfg.network.replace(width=width)
    return cfg.network


def train(
    config: TrainingConfig,
    *,
    device: str = "cpu",
    dtype: str = "float64",
    state_path: str | os.PathLike[str] | None = None,
    resume: bool = False,
    flush_seconds: float = 30.0,
    should_stop: Callable[[], bool] | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> TrainingRun | None:
    """Train every (width, seed) network of ``config`` and compute the theory.

    Parameters
    ----------
    config : TrainingConfig
    device, dtype : str
        Where the networks train and in which precision (theory is float64 numpy).
    state_path : path, optional
        Where interrupted progress is kept (``<out>.state.pt``); None disables it.
    resume : bool
        Continue from ``state_path`` (an error if it is missing or belongs to
        another configuration).
    flush_seconds : float
        Minimum time between flushes of the state at recorded steps.
    should_stop : callable, optional
        Polled before every step; when it returns True the state is flushed and the
        function returns None (resume later).
    on_progress : callable, optional
        ``on_progress(done_steps, total_steps, description)``.
    memory_budget : int
        Bytes one batch of seeds may take (parameters, gradients, the initial
        parameters, activations). The seeds of a width train as one batch when they
        fit, else in consecutive batches; a seed's trajectory is bit-identical
        either way. Width 10000 at depth 3 takes about 6.4 GB per seed in float64.

    Returns
    -------
    TrainingRun, or None if stopped early.
    """
    import torch

    from spectralntk.dynamics.modes import mode_projector
    from spectralntk.dynamics.predict import KernelPredictor, stability_limit
    from spectralntk.kernels.recursion import kernel_matrix
    from spectralntk.nn.device import resolve_device, resolve_dtype
    from spectralntk.nn.empirical_ntk import empirical_kernel
    from spectralntk.nn.mlp import init_mlp
    from spectralntk.nn.training import gradient_descent
    from spectralntk.spectral.gram import relative_distance

    cfg = config
    torch_dtype, dev = resolve_dtype(dtype), resolve_device(device)
    x, gamma, y = training_inputs(cfg)
    m, n, k_max = cfg.eval_points, cfg.points, cfg.k_max
    eval_gamma = 2.0 * np.pi * np.arange(m) / m
    x_eval = np.stack([np.cos(eval_gamma), np.sin(eval_gamma)], axis=1)
    y_eval = cfg.target(eval_gamma)
    steps = np.asarray(cfg.record_steps(), dtype=np.int64)
    step_index = {int(s): i for i, s in enumerate(steps)}
    checkpoints = np.asarray(cfg.checkpoints, dtype=np.int64)
    ck_index = {int(s): i for i, s in enumerate(checkpoints)}
    w_, s_, t_, c_ = len(cfg.widths), len(cfg.seeds), len(steps), len(checkpoints)

    # Residual modes on the training points: exact (discrete orthogonality, as the
    # FFT) on a grid, a least-squares fit of the truncated series otherwise; and
    # exact on the evaluation grid. Built once; applied as matrix products.
    modes = mode_projector(gamma, k_max, method="fft" if cfg.inputs == "grid" else "least_squares")
    eval_modes = mode_projector(eval_gamma, k_max, method="fft")
    fourier = _unit_fourier_vectors(gamma, k_max)
    eval_every = cfg.eval_every or max(1, cfg.steps // 200)
    eval_steps = sorted({int(t) for t in steps if t % eval_every == 0} | set(cfg.checkpoints))

    f_ = k_max + 1
    shapes = {
        "loss": (w_, s_, t_),
        "train_residual": (w_, s_, t_, n),
        "residual_cos": (w_, s_, t_, f_),
        "residual_sin": (w_, s_, t_, f_),
        "eval_residual_cos": (w_, s_, t_, f_),
        "eval_residual_sin": (w_, s_, t_, f_),
        "predicted_residual_cos": (w_, s_, t_, f_),
        "predicted_residual_sin": (w_, s_, t_, f_),
        "flow_residual_cos": (w_, s_, t_, f_),
        "flow_residual_sin": (w_, s_, t_, f_),
        "eval_prediction": (w_, s_, c_, m),
        "linearized_prediction": (w_, s_, c_, m),
        "relative_error": (w_, s_, c_),
        "relative_error_limit": (w_, s_, c_),
        "kernel_drift": (w_, s_, c_),
        "empirical_ntk_eigenvalue": (w_, s_, c_, n),
        "empirical_ntk_rayleigh": (w_, s_, c_, k_max + 1),
        "empirical_ntk_profile": (w_, s_, c_, m),
        "ntk_train_eigenvalue": (w_, n),
        "eigenmode_frequency_content": (w_, n, f_),
        "ntk_prediction": (w_, c_, m),
        "ntk_prediction_limit": (w_, m),
        "stability_limit": (w_,),
    }
    arrays = {name: np.full(shape, np.nan) for name, shape in shapes.items()}
    arrays["diverged_step"] = np.full((w_, s_), -1, dtype=np.int32)

    state_file = Path(state_path) if state_path is not None else None
    itemsize = torch.finfo(torch_dtype).bits // 8
    units = [
        (j, slice(a, min(a + size, s_)))
        for j, width in enumerate(cfg.widths)
        for size in [_seeds_per_batch(cfg, width, itemsize, memory_budget)]
        for a in range(0, s_, size)
    ]
    start_unit, start_step, saved = 0, 0, None
    if resume:
        if state_file is None or not state_file.exists():
            raise RunFileError(f"Cannot resume: no saved state at '{state_file}'")
        saved = torch.load(state_file, weights_only=False)
        if saved["config"] != json.loads(json.dumps(cfg.to_dict())):
            raise RunFileError(
                f"Cannot resume from '{state_file}': it belongs to another configuration"
            )
        arrays.update(saved["arrays"])
        start_unit, start_step = saved["unit"], saved["step"]

    def save_state(u: int, step: int, params: list[Any], theta0: list[Any], status: Any) -> None:
        if state_file is None:
            return
        payload = {
            "config": json.loads(json.dumps(cfg.to_dict())),
            "unit": u,
            "step": step,
            "params": [p.detach().cpu().clone() for p in params],
            "theta0": [p.detach().cpu().clone() for p in theta0],
            "status": status.detach().cpu().clone(),
            "arrays": arrays,
        }
        tmp = state_file.with_name(f".{state_file.name}.tmp")
        torch.save(payload, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, state_file)

    xt = torch.as_tensor(x, dtype=torch_dtype, device=dev)
    xe = torch.as_tensor(x_eval, dtype=torch_dtype, device=dev)
    yt = torch.as_tensor(y, dtype=torch_dtype, device=dev)
    projections = _Projections.build(modes, eval_modes, y, y_eval, dev)
    total = len(units) * (cfg.steps + 1)
    last_flush = time.monotonic()
    stop = {"now": False}

    def poll() -> bool:
        stop["now"] = stop["now"] or (should_stop is not None and should_stop())
        return stop["now"]

    theory_cache: dict[NetworkConfig, dict[str, Any]] = {}
    for u in range(start_unit, len(units)):
        j, batch = units[u]
        width = cfg.widths[j]
        net_cfg = network_at_width(cfg, width)
        # ---- infinite-width theory for this architecture (float64 numpy) -------
        if net_cfg not in theory_cache:
            gram = kernel_matrix(net_cfg, x).ntk
            cross = kernel_matrix(net_cfg, x_eval, x).ntk
            infinite = KernelPredictor(gram, cross, targets=y, lr=cfg.lr, loss=cfg.loss)
            mu, vecs = np.linalg.eigh(gram)
            mu, vecs = mu[::-1], vecs[:, ::-1]
            va, vb = modes(vecs.T)
            energy = va**2 + vb**2
            theory_cache[net_cfg] = {
                "gram": gram,
                "cross": cross,
                "ntk_train_eigenvalue": mu,
                "eigenmode_frequency_content": energy
                / np.maximum(energy.sum(axis=1, keepdims=True), 1e-300),
                "ntk_prediction": infinite.eval_prediction(checkpoints),
                "ntk_prediction_limit": infinite.limit(reg=cfg.ridge),
                "stability_limit": stability_limit(float(mu[0]), cfg.loss, n),
            }
        theory = theory_cache[net_cfg]
        for name in (
            "ntk_train_eigenvalue",
            "eigenmode_frequency_content",
            "ntk_prediction",
            "ntk_prediction_limit",
            "stability_limit",
        ):
            arrays[name][j] = theory[name]
        ntk_t, ntk_limit = theory["ntk_prediction"], theory["ntk_prediction_limit"]

        # ---- networks: fresh, or the saved state of an interrupted run ---------
        net = init_mlp(net_cfg, width, cfg.seeds[batch], dtype=torch_dtype, device=dev)
        theta0 = [p.clone() for p in net.parameters()]
        first, status = 0, None
        if saved is not None and u == start_unit:
            with torch.no_grad():
                for p, q in zip(net.parameters(), saved["params"], strict=True):
                    p.copy_(q.to(dev))
            theta0 = [q.to(dev) for q in saved["theta0"]]
            first, status = start_step, saved["status"].to(dev)
        initial = net.with_parameters(theta0)
        with torch.no_grad():
            k0 = empirical_kernel(initial, xt).ntk.double().cpu().numpy()
            k0_eval = empirical_kernel(initial, xe, xt).ntk.double().cpu().numpy()
            f0 = initial(xt).double().cpu().numpy()
            f0_eval = initial.evaluate(xe).double().cpu().numpy()
        for i, seed_index in enumerate(range(batch.start, batch.stop)):
            # the linearized network: its own empirical NTK at step 0, its own f0
            lin = KernelPredictor(
                k0[i],
                k0_eval[i],
                targets=y,
                lr=cfg.lr,
                loss=cfg.loss,
                f0_train=f0[i],
                f0_eval=f0_eval[i],
            )
            arrays["linearized_prediction"][j, seed_index] = lin.eval_prediction(checkpoints)
            # the analytic kernel's prediction for this seed's own initial residual
            own = KernelPredictor(
                theory["gram"],
                theory["cross"],
                targets=y,
                lr=cfg.lr,
                loss=cfg.loss,
                f0_train=f0[i],
                f0_eval=f0_eval[i],
            )
            pa, pb = modes(own.train_residual(steps))
            qa, qb = modes(own.flow_train_residual(steps))
            arrays["predicted_residual_cos"][j, seed_index] = pa
            arrays["predicted_residual_sin"][j, seed_index] = pb
            arrays["flow_residual_cos"][j, seed_index] = qa
            arrays["flow_residual_sin"][j, seed_index] = qb

        buffer = _StepBuffer(arrays, j, batch, min(RECORD_BUFFER, t_), projections)

        def record(
            rec: Any,
            u: int = u,
            j: int = j,
            sl: slice = batch,
            k0: FloatArray = k0,
            theta0: list[Any] = theta0,
            ntk_t: FloatArray = ntk_t,
            ntk_limit: FloatArray = ntk_limit,
            buffer: _StepBuffer = buffer,
        ) -> None:
            nonlocal last_flush
            buffer.add(step_index[rec.step], rec)
            if rec.eval_output is not None and rec.step in ck_index:
                ci = ck_index[rec.step]
                fe = rec.eval_output.double().cpu().numpy()
                arrays["eval_prediction"][j, sl, ci] = fe
                arrays["relative_error"][j, sl, ci] = _relative_error(fe, ntk_t[ci])
                arrays["relative_error_limit"][j, sl, ci] = _relative_error(fe, ntk_limit)
                with torch.no_grad():
                    kt = empirical_kernel(rec.net, xt).ntk.double()
                    eigen = torch.linalg.eigvalsh(kt).flip(-1).cpu().numpy()
                kt_np = kt.cpu().numpy()
                arrays["kernel_drift"][j, sl, ci] = relative_distance(kt_np, k0)
                arrays["empirical_ntk_eigenvalue"][j, sl, ci] = eigen / n
                arrays["empirical_ntk_rayleigh"][j, sl, ci] = _fourier_rayleigh(kt_np, fourier)
                with torch.no_grad():  # Jacot et al. 2018, Fig. 1: K(x0, x(γ)), x0 = (1, 0)
                    row = empirical_kernel(rec.net, xe[:1], xe).ntk
                arrays["empirical_ntk_profile"][j, sl, ci] = row[:, 0].double().cpu().numpy()
            if on_progress is not None:
                on_progress(u * (cfg.steps + 1) + rec.step + 1, total, f"width {cfg.widths[j]}")
            if state_file is not None and time.monotonic() - last_flush > flush_seconds:
                buffer.drain()
                save_state(u, rec.step, rec.net.parameters(), theta0, rec.diverged_at)
                last_flush = time.monotonic()

        net, status, reached = gradient_descent(
            net,
            xt,
            yt,
            lr=cfg.lr,
            steps=cfg.steps,
            loss=cfg.loss,
            record_steps=steps.tolist(),
            eval_steps=eval_steps,
            x_eval=xe,
            on_record=record,
            model=cfg.model,
            start_step=first,
            theta0=theta0,
            diverged_at=status,
            should_stop=poll,
        )
        buffer.drain()
        if stop["now"]:
            save_state(u, reached, net.parameters(), theta0, status)
            return None
    if state_file is not None and state_file.exists():
        state_file.unlink()
    return TrainingRun(cfg, steps, x, gamma, y, arrays)
