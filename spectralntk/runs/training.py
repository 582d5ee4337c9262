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
own empirical NTK at step 0 (on the grid at checkpoints, and its residual modes
(I − cηK̂₀)^t r₀ at every recorded step), and RelErr = ‖f_net − f_NTK‖/‖f_NTK‖.

Interrupting keeps the finished steps: the state is flushed to ``<out>.state.pt``
(atomically) at recorded steps every ``flush_seconds`` and when ``should_stop``
turns true; ``resume=True`` continues from it to the same result as an
uninterrupted run. A flush that fails (disk full) warns
(:class:`~spectralntk.store.state.StateFlushWarning`) and is tried again at the
next flush; training goes on. The state outlives :func:`train`: it is removed when
the run file is saved (``save(ds, out, state=state_path)``), so that a kill while
the file is written leaves a state that resumes.
"""

from __future__ import annotations

import bisect
import dataclasses
import os
import time
import warnings
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
from spectralntk.limits import MAX_GRID, MAX_STEPS
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
        Loss convention (docs/conventions.md).
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
        put("points", check_int("points", self.points, 3, MAX_GRID))
        put("eval_points", check_int("eval_points", self.eval_points, 3, MAX_GRID))
        put("label_noise", check_real("label_noise", self.label_noise, 0.0))
        put("loss", check_choice("loss", self.loss, LOSSES))
        lr = check_real("lr", self.lr, 0.0)
        if lr <= 0:
            raise parameter_error("lr", "a finite real number in the range (0, inf)", lr)
        put("lr", lr)
        steps = check_int("steps", self.steps, 1, MAX_STEPS)
        put("record_every", check_int("record_every", self.record_every, 0))
        put("log_records", check_int("log_records", self.log_records, 0, MAX_GRID))
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
        else:  # the inputs are drawn from (random) or fitted on (gaussian) the eval grid
            self.target.check_resolvable(
                self.eval_points, grid="evaluation angles", set_by="eval_points"
            )
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
        from spectralntk.runs.kernel_theory import LEARNED_FRACTION, frequency_answer

        data = dict(self.arrays)
        data["diverged"] = (data["diverged_step"] >= 0).astype(np.int8)
        # the answer per frequency, for readers without spectralntk (ncdump, xarray, R)
        networks = [network_at_width(cfg, width) for width in cfg.widths]
        data.update(frequency_answer(cfg, networks, self.x_train, self.train_angle, self.arrays))
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
        for name in ("predicted_steps_discrete", "predicted_steps_flow"):
            ds[name].attrs["fraction"] = LEARNED_FRACTION
        return ds


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
    # the initial empirical kernels (N×N, M×N) and their float64 eigendecomposition
    grams = cfg.points * (cfg.points + cfg.eval_points) + 3 * cfg.points * cfg.points
    per_seed = itemsize * (4 * params + activations) + 8 * grams
    from spectralntk.limits import check_one_seed

    if 8 * grams > itemsize * (4 * params + activations):
        check_one_seed("points", cfg.points, per_seed, budget)
    check_one_seed("width", width, per_seed, budget)
    return max(1, min(len(cfg.seeds), budget // max(per_seed, 1)))


def network_at_width(cfg: TrainingConfig, width: int) -> NetworkConfig:
    """The architecture of one width (the standard parameterization's NTK needs n)."""
    if cfg.network.parameterization.value == "standard":
        return cfg.network.replace(width=width)
    return cfg.network


@dataclass(frozen=True)
class _Unit:
    """One (width, seed batch) of a run: trained as one batched computation."""

    width_index: int
    seeds: slice


def _units(cfg: TrainingConfig, itemsize: int, budget: int) -> list[_Unit]:
    s_ = len(cfg.seeds)
    return [
        _Unit(j, slice(a, min(a + size, s_)))
        for j, width in enumerate(cfg.widths)
        for size in [_seeds_per_batch(cfg, width, itemsize, budget)]
        for a in range(0, s_, size)
    ]


def _step_method(cfg: TrainingConfig, width: int) -> str:
    """The step method :func:`~spectralntk.nn.training.gradient_descent` will use."""
    from spectralntk.nn.training import step_method

    if cfg.model == "linearized":
        return "linearized"
    x, _, _ = training_inputs(cfg)
    import torch

    from spectralntk.nn.mlp import init_mlp

    probe = init_mlp(network_at_width(cfg, width), 1, [0], dtype=torch.float64)
    return step_method(probe, torch.as_tensor(x))


class _Progress:
    """``on_progress(done, total, description)`` in estimated seconds of work.

    Each unit's steps, grid passes, snapshots and setup are weighted by
    :func:`spectralntk.runs.cost.unit_cost`, so that the fraction done (and an ETA
    drawn from it) moves with the time a run takes, whatever its widths.
    """

    def __init__(
        self,
        cfg: TrainingConfig,
        units: list[_Unit],
        methods: list[str],
        evaluations: int,
        callback: Callable[[int, int, str], None] | None,
    ) -> None:
        from spectralntk.runs.cost import unit_cost

        self.callback = callback
        self.costs = [
            unit_cost(
                methods[unit.width_index],
                seeds=unit.seeds.stop - unit.seeds.start,
                width=cfg.widths[unit.width_index],
                depth=cfg.network.depth,
                points=cfg.points,
                eval_points=cfg.eval_points,
                theory=u
                == next(
                    i
                    for i, other in enumerate(units)
                    if network_at_width(cfg, cfg.widths[other.width_index])
                    == network_at_width(cfg, cfg.widths[unit.width_index])
                ),
            )
            for u, unit in enumerate(units)
        ]
        counts = (cfg.steps, evaluations, len(cfg.checkpoints))
        totals = [c.total(*counts) for c in self.costs]
        self.before = [sum(totals[:u]) for u in range(len(totals))]
        self.total = sum(totals)
        self.steps = cfg.steps

    def report(self, u: int, done: float, description: str) -> None:
        """Unit ``u`` has done ``done`` estimated seconds of its own work."""
        if self.callback is not None:
            scale = 1000.0 / max(self.total, 1e-12)  # per mille of the run
            finished = round((self.before[u] + done) * scale)
            self.callback(min(finished, 1000), 1000, description)

    def at_step(self, u: int, step: int, evaluations: int, checkpoints: int, text: str) -> None:
        """Unit ``u`` at ``step`` with so many grid passes and snapshots done."""
        c = self.costs[u]
        self.report(
            u,
            c.setup + step * c.step + evaluations * c.evaluation + checkpoints * c.checkpoint,
            text,
        )


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

    The parts: the kernel-regime theory of each architecture and seed
    (:mod:`spectralntk.runs.kernel_theory`), gradient descent with its step method
    (:func:`spectralntk.nn.training.gradient_descent`), the recorders
    (:mod:`spectralntk.runs.recorders`) and the resumable state
    (:mod:`spectralntk.store.state`); this function runs them unit by unit.

    Parameters
    ----------
    config : TrainingConfig
    device, dtype : str
        Where the networks train and in which precision (theory is float64 numpy).
    state_path : path, optional
        Where interrupted progress is kept (``<out>.state.pt``); None disables it.
        It is left in place when the run finishes: pass it to ``save(…, state=…)``,
        which removes it once the run file is safely written.
    resume : bool
        Continue from ``state_path`` (an error if it is missing or belongs to
        another configuration).
    flush_seconds : float
        Minimum time between flushes of the state at recorded steps.
    should_stop : callable, optional
        Polled before every step; when it returns True the state is flushed and the
        function returns None (resume later).
    on_progress : callable, optional
        ``on_progress(done, total, description)``: per mille of the run's estimated
        work (:class:`_Progress`), and what it is doing.
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
    from spectralntk.nn.device import resolve_device, resolve_dtype
    from spectralntk.nn.mlp import init_mlp
    from spectralntk.nn.training import STEP_METHODS, gradient_descent
    from spectralntk.runs.kernel_theory import ArchitectureTheory, seed_predictions
    from spectralntk.runs.recorders import (
        RECORD_BUFFER,
        CheckpointRecorder,
        EmpiricalKernels,
        Projections,
        StepRecorder,
        unit_fourier_vectors,
    )
    from spectralntk.store.state import StateFlushWarning, load_state, save_state

    cfg = config
    torch_dtype, dev = resolve_dtype(dtype), resolve_device(device)
    x, gamma, y = training_inputs(cfg)
    m, k_max = cfg.eval_points, cfg.k_max
    eval_gamma = 2.0 * np.pi * np.arange(m) / m
    x_eval = np.stack([np.cos(eval_gamma), np.sin(eval_gamma)], axis=1)
    y_eval = cfg.target(eval_gamma)
    steps = np.asarray(cfg.record_steps(), dtype=np.int64)
    step_index = {int(s): i for i, s in enumerate(steps)}
    checkpoints = np.asarray(cfg.checkpoints, dtype=np.int64)
    ck_index = {int(s): i for i, s in enumerate(checkpoints)}

    # Residual modes on the training points: exact (discrete orthogonality, as the
    # FFT) on a grid, a least-squares fit of the truncated series otherwise; and
    # exact on the evaluation grid. Built once; applied as matrix products.
    modes = mode_projector(gamma, k_max, method="fft" if cfg.inputs == "grid" else "least_squares")
    eval_modes = mode_projector(eval_gamma, k_max, method="fft")
    waves = unit_fourier_vectors(gamma, k_max)
    eval_every = cfg.eval_every or max(1, cfg.steps // 200)
    eval_steps = sorted({int(t) for t in steps if t % eval_every == 0} | set(cfg.checkpoints))
    arrays = _empty_arrays(cfg, len(steps), len(checkpoints))
    methods = [_step_method(cfg, width) for width in cfg.widths]
    arrays["step_method"] = np.asarray(
        [list(STEP_METHODS).index(name) for name in methods], dtype=np.int8
    )

    state_file = Path(state_path) if state_path is not None else None
    itemsize = torch.finfo(torch_dtype).bits // 8
    units = _units(cfg, itemsize, memory_budget)
    progress = _Progress(cfg, units, methods, len(eval_steps), on_progress)
    start_unit, start_step, saved = 0, 0, None
    if resume:
        saved = load_state(state_file, cfg.to_dict())
        arrays.update(saved.arrays)
        start_unit, start_step = saved.unit, saved.step

    def flush(u: int, step: int, params: list[Any], theta0: list[Any], status: Any) -> None:
        if state_file is not None:
            save_state(state_file, cfg.to_dict(), u, step, params, theta0, status, arrays)

    def try_flush(u: int, step: int, params: list[Any], theta0: list[Any], status: Any) -> None:
        """A periodic flush: a failure warns, and the next flush tries again."""
        try:
            flush(u, step, params, theta0, status)
        except RunFileError as exc:
            warnings.warn(
                f"{exc}; training goes on, the state is saved again at the next flush",
                StateFlushWarning,
                stacklevel=2,
            )

    xt = torch.as_tensor(x, dtype=torch_dtype, device=dev)
    xe = torch.as_tensor(x_eval, dtype=torch_dtype, device=dev)
    yt = torch.as_tensor(y, dtype=torch_dtype, device=dev)
    projections = Projections.build(modes, eval_modes, y, y_eval, dev)
    last_flush = time.monotonic()
    stop = {"now": False}

    def poll() -> bool:
        stop["now"] = stop["now"] or (should_stop is not None and should_stop())
        return stop["now"]

    theories: dict[NetworkConfig, ArchitectureTheory] = {}
    for u in range(start_unit, len(units)):
        j, batch = units[u].width_index, units[u].seeds
        width = cfg.widths[j]
        net_cfg = network_at_width(cfg, width)
        label = f"width {width}"
        # ---- infinite-width theory for this architecture (float64 numpy) -------
        if net_cfg not in theories:
            progress.report(u, 0.0, f"{label}: analytic NTK theory")
            theories[net_cfg] = ArchitectureTheory.of(
                net_cfg,
                x,
                x_eval,
                y,
                lr=cfg.lr,
                loss=cfg.loss,
                checkpoints=checkpoints,
                ridge=cfg.ridge,
                modes=modes,
            )
        theory = theories[net_cfg]
        for name in ArchitectureTheory.STORED:
            arrays[name][j] = getattr(theory, name)

        # ---- networks: fresh, or the saved state of an interrupted run ---------
        net = init_mlp(net_cfg, width, cfg.seeds[batch], dtype=torch_dtype, device=dev)
        theta0 = [p.clone() for p in net.parameters()]
        first, status = 0, None
        if saved is not None and u == start_unit:
            with torch.no_grad():
                for p, q in zip(net.parameters(), saved.params, strict=True):
                    p.copy_(q.to(dev))
            theta0 = [q.to(dev) for q in saved.theta0]
            first, status = start_step, saved.status.to(dev)
        initial = net.with_parameters(theta0)
        progress.report(u, 0.0, f"{label}: initial empirical NTK")
        kernels = EmpiricalKernels(xt, xe, methods[j] == "arcs")
        with torch.no_grad():
            k0 = kernels.gram(initial).numpy()
            k0_eval = kernels.cross(initial).numpy()
            f0 = initial(xt).double().cpu().numpy()
            f0_eval = initial.evaluate(xe).double().cpu().numpy()
        for i, seed_index in enumerate(range(batch.start, batch.stop)):
            own = seed_predictions(
                theory,
                k0[i],
                k0_eval[i],
                f0[i],
                f0_eval[i],
                y,
                lr=cfg.lr,
                loss=cfg.loss,
                steps=steps,
                checkpoints=checkpoints,
                modes=modes,
                gram_eps=torch.finfo(torch_dtype).eps,
            )
            for name in (
                "linearized_prediction",
                "predicted_residual_cos",
                "predicted_residual_sin",
                "flow_residual_cos",
                "flow_residual_sin",
                "linearized_residual_cos",
                "linearized_residual_sin",
            ):
                arrays[name][j, seed_index] = getattr(own, name)

        recorder = StepRecorder(arrays, j, batch, min(RECORD_BUFFER, len(steps)), projections)
        snapshots = CheckpointRecorder(
            arrays,
            j,
            batch,
            ck_index,
            k0,
            theory.ntk_prediction,
            theory.ntk_prediction_limit,
            xt,
            xe,
            waves,
            kernels,
        )

        def record(
            rec: Any,
            u: int = u,
            label: str = label,
            theta0: list[Any] = theta0,
            recorder: StepRecorder = recorder,
            snapshots: CheckpointRecorder = snapshots,
        ) -> None:
            nonlocal last_flush
            recorder.add(step_index[rec.step], rec)
            passes = bisect.bisect_right(eval_steps, rec.step)
            if snapshots.wants(rec):
                taken = bisect.bisect_left(cfg.checkpoints, rec.step)
                text = f"{label}: empirical NTK at step {rec.step:,}"
                progress.at_step(u, rec.step, passes, taken, text)
                snapshots.add(rec)
            taken = bisect.bisect_right(cfg.checkpoints, rec.step)
            text = f"{label}: step {rec.step:,} of {cfg.steps:,}"
            progress.at_step(u, min(rec.step + 1, cfg.steps), passes, taken, text)
            if state_file is not None and time.monotonic() - last_flush > flush_seconds:
                recorder.drain()
                try_flush(u, rec.step, rec.net.parameters(), theta0, rec.diverged_at)
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
        recorder.drain()
        if stop["now"]:
            flush(u, reached, net.parameters(), theta0, status)
            return None
    return TrainingRun(cfg, steps, x, gamma, y, arrays)


def _empty_arrays(cfg: TrainingConfig, t_: int, c_: int) -> dict[str, Any]:
    """The run's arrays, NaN (or −1 for ``diverged_step``) until recorded."""
    w_, s_, n, m, f_ = len(cfg.widths), len(cfg.seeds), cfg.points, cfg.eval_points, cfg.k_max + 1
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
        "linearized_residual_cos": (w_, s_, t_, f_),
        "linearized_residual_sin": (w_, s_, t_, f_),
        "eval_prediction": (w_, s_, c_, m),
        "linearized_prediction": (w_, s_, c_, m),
        "relative_error": (w_, s_, c_),
        "relative_error_limit": (w_, s_, c_),
        "kernel_drift": (w_, s_, c_),
        "empirical_ntk_eigenvalue": (w_, s_, c_, n),
        "empirical_ntk_rayleigh": (w_, s_, c_, f_),
        "empirical_ntk_profile": (w_, s_, c_, m),
        "ntk_train_eigenvalue": (w_, n),
        "eigenmode_frequency_content": (w_, n, f_),
        "ntk_prediction": (w_, c_, m),
        "ntk_prediction_limit": (w_, m),
        "stability_limit": (w_,),
    }
    arrays: dict[str, Any] = {name: np.full(shape, np.nan) for name, shape in shapes.items()}
    arrays["diverged_step"] = np.full((w_, s_), -1, dtype=np.int32)
    return arrays
