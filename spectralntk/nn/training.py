r"""Full-batch gradient descent of seed-batched MLPs, exactly θ ← θ − η∇L.

Every seed of an :class:`~spectralntk.nn.mlp.MLP` trains on the same inputs with its own
targets; the loss summed over seeds is differentiated once, and since seed s's loss
depends only on seed s's parameters, each seed receives exactly its own gradient: the
batch is S independent runs computed together. No momentum, no weight decay.

Loss conventions (docs/conventions.md), residual r = f − y on N training points:
``half_mean`` L = (1/2N)Σr² (Jacot et al. 2018), ``mean`` L = (1/N)Σr² (PyTorch's
MSELoss), ``half_sum`` L = ½Σr². In the kernel regime r_{t+1} ≈ (I − c·η·K) r_t with
c = 1/N, 2/N and 1 respectively.

``model="linearized"`` trains the first-order Taylor model of each network at its
initial parameters θ₀ instead (Lee et al. 2019):
f_lin(x; θ) = f(x; θ₀) + J(x)(θ − θ₀), by gradient descent on θ in parameter space
(a forward-mode product J·Δθ and a reverse-mode product Jᵀ·∂L/∂f per step, both at the
fixed θ₀). Its training residual follows (I − c·η·K₀)^t r₀ exactly, with K₀ = J Jᵀ its
own empirical NTK.

A seed whose loss becomes non-finite, or exceeds ``divergence_factor`` times its
initial loss, is marked diverged at that step and frozen; the other seeds go on.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from spectralntk.errors import check_choice, check_int, check_real, parameter_error
from spectralntk.nn.arc_gradients import ArcPoints, arc_gradients, arc_training_applies
from spectralntk.nn.backprop import (
    layerwise_gradients,
    loss_gradients,
    network_outputs,
    uses_shallow_relu,
)
from spectralntk.nn.mlp import MLP
from spectralntk.nn.relu_arcs import CirclePoints, arc_outputs, uses_arcs

__all__ = [
    "LOSS_SCALES",
    "MODELS",
    "STEP_METHODS",
    "StepRecord",
    "evaluation_outputs",
    "evaluation_points",
    "gradient_descent",
    "loss_scale",
    "step_method",
]

#: L = scale · Σ r²: the scale of each loss convention, as a function of N.
LOSS_SCALES: dict[str, Callable[[int], float]] = {
    "half_mean": lambda n: 0.5 / n,
    "mean": lambda n: 1.0 / n,
    "half_sum": lambda n: 0.5,
}
MODELS = ("network", "linearized")
#: How a training step is computed (:func:`step_method`).
STEP_METHODS: dict[str, str] = {
    "arcs": "one ReLU hidden layer on the circle, arc by arc in O(n + N) (nn/arc_gradients.py)",
    "closed_form": "one ReLU hidden layer, dense closed form in O(nN) (nn/backprop.py)",
    "layerwise": "backpropagation layer by layer, bit-identical to autograd (nn/backprop.py)",
    "linearized": "the first-order Taylor model at θ₀, by forward- and reverse-mode products",
}


def step_method(net: MLP, x_train: Tensor, model: str = "network") -> str:
    """The key of :data:`STEP_METHODS` that :func:`gradient_descent` uses for ``net``.

    ``arcs`` wherever it applies (depth 1, ReLU, training points on the unit circle
    more than a few µrad apart: :meth:`ArcPoints.of`), else ``closed_form`` for other
    one-ReLU-layer networks, else ``layerwise``; ``linearized`` for that model.
    """
    points = ArcPoints.of(x_train) if net.layers == 2 else None
    return _method_for(net, points, check_choice("model", model, MODELS))


def _method_for(net: MLP, points: ArcPoints | None, model: str) -> str:
    """:func:`step_method` with the training points already prepared (or None)."""
    if model == "linearized":
        return "linearized"
    if arc_training_applies(net, points):
        return "arcs"
    return "closed_form" if uses_shallow_relu(net) else "layerwise"


def loss_scale(loss: str, n_train: int) -> float:
    """The factor of Σr² in the loss ``loss`` on ``n_train`` points."""
    return LOSS_SCALES[check_choice("loss", loss, tuple(LOSS_SCALES))](n_train)


@dataclass(frozen=True)
class StepRecord:
    """What the training loop reports at a recorded step (tensors on the net's device).

    Attributes
    ----------
    step : int
        Number of gradient steps taken.
    train_output : Tensor, shape (S, N)
        f on the training points.
    eval_output : Tensor of shape (S, M), or None
        f on the evaluation points, at the steps in ``eval_steps``.
    loss : Tensor, shape (S,)
    diverged_at : Tensor of int64, shape (S,)
        Step at which each seed diverged, −1 if it has not.
    net : MLP
        The networks at this step (parameters are updated in place afterwards).
    """

    step: int
    train_output: Tensor
    eval_output: Tensor | None
    loss: Tensor
    diverged_at: Tensor
    net: MLP


#: On the CPU the seeds are trained in consecutive chunks whose (seeds, N, width)
#: activations take at most this many bytes, so that a step's activations stay in the
#: cache (4 MiB: the best of 1-8 MiB measured on a 2-core machine with 2 MiB L2 per
#: core). The chunk size depends on N, the width and the dtype only, never on the
#: number of seeds: a seed alone and in a batch go through the same computation.
CHUNK_BYTES = 4 << 20


def _seed_chunks(net: MLP, x: Tensor) -> list[slice]:
    """Slices of the seed axis trained together (all seeds off the CPU)."""
    count = len(net.seeds)
    if x.device.type != "cpu":
        return [slice(0, count)]
    per_seed = x.shape[0] * max(net.width, x.shape[-1]) * x.element_size()
    size = max(1, min(count, CHUNK_BYTES // max(per_seed, 1)))
    return [slice(a, min(a + size, count)) for a in range(0, count, size)]


def evaluation_outputs(net: MLP, params: Sequence[Tensor], x: Tensor | CirclePoints) -> Tensor:
    """Outputs (S, M) on ``x``, without autograd, computed in O(n + M) where possible.

    Depth-1 ReLU networks on points of the unit circle (the evaluation grid) are
    evaluated arc by arc (:mod:`spectralntk.nn.relu_arcs`), in O(n + M) per seed;
    other networks by the forward pass of training (:func:`backprop.network_outputs`).
    Every seed's row goes through the same computation whatever the chunking (the
    forward pass is independent per seed), so the values equal one batched call.

    Parameters
    ----------
    net : MLP
        The architecture of the S networks.
    params : sequence of Tensor
        Their parameters, in :meth:`MLP.parameters` order.
    x : Tensor of shape (M, n0), or CirclePoints
        The points; :func:`evaluation_points` prepares them once for repeated calls.

    Returns
    -------
    Tensor, shape (S, M)
    """
    points = x if isinstance(x, CirclePoints) else evaluation_points(net, x)
    if isinstance(points, CirclePoints):
        return arc_outputs(net.with_parameters(params), points)
    chunks = _seed_chunks(net, points)
    if len(chunks) == 1:
        return network_outputs(net.with_parameters(params), points)
    return torch.cat(
        [network_outputs(net.with_parameters([p[sl] for p in params]), points) for sl in chunks]
    )


def evaluation_points(net: MLP, x: Tensor) -> Tensor | CirclePoints:
    """``x`` as :func:`evaluation_outputs` evaluates it fastest, prepared once."""
    return CirclePoints.of(x) if uses_arcs(net, x) else x


def _forward_fn(net: MLP) -> Callable[..., Tensor]:
    """params tuple -> outputs (S, N) with the structure of ``net``."""

    def call(params: Sequence[Tensor], x: Tensor) -> Tensor:
        return net.with_parameters(params)(x)

    return call


def gradient_descent(
    net: MLP,
    x_train: Tensor,
    y_train: Tensor,
    *,
    lr: float,
    steps: int,
    loss: str = "half_mean",
    record_steps: Sequence[int] = (),
    eval_steps: Sequence[int] = (),
    x_eval: Tensor | None = None,
    on_record: Callable[[StepRecord], None] | None = None,
    model: str = "network",
    divergence_factor: float = 1e6,
    start_step: int = 0,
    theta0: Sequence[Tensor] | None = None,
    diverged_at: Tensor | None = None,
    should_stop: Callable[[], bool] | None = None,
    method: str | None = None,
) -> tuple[MLP, Tensor, int]:
    """Train every network of ``net`` for ``steps`` full-batch gradient steps.

    Parameters
    ----------
    net : MLP
        S networks; their parameter tensors are updated in place.
    x_train : Tensor, shape (N, n0)
    y_train : Tensor, shape (S, N) or (N,)
        Targets (per seed when label noise differs between seeds).
    lr : float
        η > 0.
    steps : int
        Total number of steps (counted from 0, including ``start_step`` already done).
    loss : {"half_mean", "mean", "half_sum"}
    record_steps, eval_steps : sequence of int
        Steps (0..steps) at which ``on_record`` is called; at ``eval_steps`` (a subset)
        the outputs on ``x_eval`` are included.
    x_eval : Tensor, shape (M, n0), optional
    on_record : callable, optional
        Receives a :class:`StepRecord`.
    model : {"network", "linearized"}
    divergence_factor : float
        A loss above this multiple of the seed's initial loss counts as divergence.
    start_step : int
        Steps already taken (resuming); ``net`` must hold the parameters at that step.
    theta0 : sequence of Tensor, optional
        Initial parameters (needed to resume a linearized run; default: ``net``'s).
    diverged_at : Tensor, optional
        Divergence steps so far (resuming).
    should_stop : callable, optional
        Polled before every step; when it returns True training stops with the
        parameters of the current step (nothing half-updated), to be resumed with
        ``start_step``.
    method : str, optional
        A key of :data:`STEP_METHODS`; default :func:`step_method`'s choice. ``arcs``
        and ``closed_form`` are refused where they do not apply.

    Returns
    -------
    net : MLP
        The trained networks (the same object, parameters updated).
    diverged_at : Tensor of int64, shape (S,)
    step : int
        The step the parameters are at (``steps`` unless stopped early).
    """
    n_steps = check_int("steps", steps, 1)
    rate = check_real("lr", lr, 0.0)
    if rate <= 0.0:
        raise parameter_error("lr", "a finite real number in the range (0, inf)", lr)
    kind = check_choice("model", model, MODELS)
    scale = loss_scale(loss, x_train.shape[0])
    records, evals = set(record_steps), set(eval_steps)
    count = len(net.seeds)
    y = y_train.expand(count, -1) if y_train.ndim == 1 else y_train
    params = net.parameters()
    forward = _forward_fn(net)
    base = [p.detach().clone() for p in (theta0 if theta0 is not None else params)]
    status = (
        torch.full((count,), -1, dtype=torch.int64, device=y.device)
        if diverged_at is None
        else diverged_at.clone()
    )
    if kind == "linearized":
        with warnings.catch_warnings():  # torch.fx chatter while tracing the JVP
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            f0_train, jvp_train = torch.func.linearize(lambda *p: forward(p, x_train), *base)
            _, vjp_train = torch.func.vjp(lambda *p: forward(p, x_train), *base)  # type: ignore[misc]
            if x_eval is not None:
                f0_eval, jvp_eval = torch.func.linearize(lambda *p: forward(p, x_eval), *base)

        def outputs(x_is_eval: bool) -> Tensor:
            delta = tuple(p - b for p, b in zip(params, base, strict=True))
            if x_is_eval:
                return f0_eval + jvp_eval(*delta)
            return f0_train + jvp_train(*delta)

    circle = ArcPoints.of(x_train) if net.layers == 2 else None  # prepared once per run
    auto = _method_for(net, circle, kind)
    if method is None:
        method = auto
    else:
        check_choice("method", method, tuple(STEP_METHODS))
        fits = {
            "arcs": auto == "arcs",
            "closed_form": kind == "network" and uses_shallow_relu(net),
            "layerwise": kind == "network",
            "linearized": kind == "linearized",
        }
        if not fits[method]:
            raise parameter_error("method", f"a step method that applies here ({auto})", method)
    arc_points = circle if method == "arcs" else None
    runs = (
        (np.zeros((count, net.width), np.int64), np.zeros((count, net.width), np.int64))
        if method == "arcs" and x_train.device.type == "cpu"
        else None
    )
    with torch.no_grad():
        if arc_points is not None:  # the initial loss as the steps compute it
            f_init = arc_gradients(net.with_parameters(base), arc_points, y, 1.0, False)[0]
        else:
            f_init = forward(base, x_train)
        initial_loss = (scale * (f_init - y) ** 2).sum(dim=1)
        threshold = divergence_factor * torch.clamp(initial_loss, min=torch.finfo(y.dtype).tiny)
    chunks = (
        _seed_chunks(net, x_train) if method in ("closed_form", "layerwise") else [slice(0, count)]
    )
    eval_points = evaluation_points(net, x_eval) if x_eval is not None and evals else None
    step = start_step
    for step in range(start_step, n_steps + 1):
        if should_stop is not None and should_stop():
            break
        last = step == n_steps
        if method == "arcs":
            assert arc_points is not None
            f, residual, arc_grads = arc_gradients(net, arc_points, y, scale, not last, runs=runs)
            grads_by_chunk = [arc_grads]
        elif kind == "network":
            gradients = layerwise_gradients if method == "layerwise" else loss_gradients
            if len(chunks) == 1:
                f, residual, chunk_grads = gradients(net, x_train, y, scale, not last)
                grads_by_chunk = [chunk_grads]
            else:
                parts = [
                    gradients(
                        net.with_parameters([p[sl] for p in params]),
                        x_train,
                        y[sl],
                        scale,
                        not last,
                    )
                    for sl in chunks
                ]
                f = torch.cat([part[0] for part in parts])
                residual = torch.cat([part[1] for part in parts])
                grads_by_chunk = [part[2] for part in parts]
        else:
            with torch.enable_grad():
                f = outputs(False)
                residual = f - y
        per_seed = scale * (residual.detach() ** 2).sum(dim=1)
        bad = ~torch.isfinite(per_seed) | (per_seed > threshold)
        newly = bad & (status < 0)
        status = torch.where(newly, torch.full_like(status, step), status)
        active = status < 0
        if step in records and on_record is not None:
            out_eval = None
            if step in evals and eval_points is not None:
                with torch.no_grad():
                    if kind == "network":
                        out_eval = evaluation_outputs(net, params, eval_points)
                    else:
                        out_eval = outputs(True)
            on_record(StepRecord(step, f.detach(), out_eval, per_seed, status.clone(), net))
        if last:
            break
        if kind == "linearized":
            grads_by_chunk = [list(vjp_train((2.0 * scale) * residual.detach()))]
        with torch.no_grad():
            for sl, grads in zip(chunks, grads_by_chunk, strict=True):
                keep = active[sl]
                everyone = keep.device.type == "cpu" and bool(keep.all())
                for p_all, g in zip(params, grads, strict=True):
                    p = p_all[sl]
                    if everyone:  # the same numbers as below, without the copy
                        p.sub_(rate * g.reshape(p.shape))
                        continue
                    shape = (keep.shape[0],) + (1,) * (p.ndim - 1)
                    p.copy_(torch.where(keep.view(shape), p - rate * g.reshape(p.shape), p))
    for p in params:
        p.requires_grad_(False)
    return net, status, step
