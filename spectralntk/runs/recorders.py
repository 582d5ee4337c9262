"""Recorders of a training run: what is kept at recorded steps and at checkpoints.

- :class:`StepRecorder`: at every recorded step, the loss, the residual on the
  training points and its real Fourier modes, and at evaluation steps the modes of
  the residual on the evaluation grid, buffered on the device and copied to the run's
  arrays in blocks.
- :class:`CheckpointRecorder`: at checkpoint steps, the predictions on the
  evaluation grid and RelErr against the NTK predictors, and the empirical NTK on the
  training points: its drift ‖K_t − K_0‖_F/‖K_0‖_F, spectrum, per-frequency Rayleigh
  quotients and profile Θ(x0, x(γ)).

Both write into the run's arrays (a dict of numpy arrays with a leading width axis and
a seed axis), for one (width, seed batch) unit at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "RECORD_BUFFER",
    "CheckpointRecorder",
    "EmpiricalKernels",
    "Projections",
    "StepRecorder",
    "fourier_rayleigh",
    "unit_fourier_vectors",
]

FloatArray = NDArray[np.float64]


def unit_fourier_vectors(gamma: FloatArray, k_max: int) -> FloatArray:
    """cos kγ_j and sin kγ_j sampled at the training angles, unit norm: (2, K + 1, N).

    sin 0γ (and sin kγ where it vanishes on the points) is left at zero.
    """
    k = np.arange(k_max + 1)[:, None]
    waves = np.stack([np.cos(k * gamma[None, :]), np.sin(k * gamma[None, :])])
    norm = np.linalg.norm(waves, axis=-1, keepdims=True)
    return np.divide(waves, norm, out=np.zeros_like(waves), where=norm > 1e-8)


def fourier_rayleigh(grams: FloatArray, waves: FloatArray) -> FloatArray:
    """Per-frequency Rayleigh quotient of K/N, cos and sin averaged: (S, K + 1).

    On a uniform grid these are exactly the quotients in the orthonormal real Fourier
    basis (:func:`spectralntk.spectral.gram.gram_spectrum`); on other inputs they
    summarise K per frequency with the sampled (non-orthogonal) waves.
    """
    quad = np.einsum("wkn,snm,wkm->swk", waves, grams, waves)  # (S, 2, K + 1)
    present = (np.abs(waves).sum(axis=-1) > 0).sum(axis=0)  # cos and/or sin per k
    return quad.sum(axis=1) / np.maximum(present, 1) / grams.shape[-1]


def relative_error(outputs: FloatArray, reference: FloatArray) -> FloatArray:
    """‖f − f_ref‖/‖f_ref‖ per row of ``outputs`` (NaN when f_ref = 0, e.g. at t = 0)."""
    norm = float(np.linalg.norm(reference))
    diff = np.linalg.norm(outputs - reference[None, :], axis=1)
    return diff / norm if norm > 0 else np.full(diff.shape, np.nan)


#: Records kept on the device before they are copied to the run's arrays.
RECORD_BUFFER = 256


@dataclass(frozen=True)
class Projections:
    """Targets and mode maps as float64 tensors on the training device."""

    y_train: Any  # (N,)
    y_eval: Any  # (M,)
    train_modes: Any  # (2(K + 1), N'): rows cos_k then sin_k, zero-padded (_project)
    eval_modes: Any  # (2(K + 1), M')

    @classmethod
    def build(
        cls, train: Any, evaluation: Any, y: FloatArray, y_eval: FloatArray, device: Any
    ) -> Projections:
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


class StepRecorder:
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
        proj: Projections,
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


class EmpiricalKernels:
    """The empirical NTK of a unit's networks on the run's points, by the fastest route.

    Depth-1 ReLU networks on the CPU with every point on the unit circle take the
    arc-by-arc kernel (:func:`spectralntk.nn.arc_ntk.arc_ntk`, O(n + N²) per seed);
    all others the layerwise Gram (:func:`spectralntk.nn.empirical_ntk.empirical_kernel`).
    Both return float64 (S, ·, ·) tensors on the CPU.

    Parameters
    ----------
    x_train, x_eval : Tensor, shapes (N, n0), (M, n0)
        Training points and evaluation grid (x0 = x_eval[0] anchors the profile).
    arcs : bool
        Whether the arc route may be used (the unit's step method is ``arcs``).
    """

    def __init__(self, x_train: Any, x_eval: Any, arcs: bool) -> None:
        from spectralntk.nn.arc_gradients import ArcPoints

        self.xt, self.xe = x_train, x_eval
        self.arcs: list[ArcPoints] | None = None
        if arcs and x_train.device.type == "cpu":
            points = [ArcPoints.of(x_train), ArcPoints.of(x_eval), ArcPoints.of(x_eval[:1])]
            if all(p is not None for p in points):
                self.arcs = [p for p in points if p is not None]

    def _kernel(self, net: Any, which: int, other: int, a: Any, b: Any) -> Any:
        from spectralntk.nn.arc_ntk import arc_ntk, arc_ntk_applies
        from spectralntk.nn.empirical_ntk import empirical_kernel

        if self.arcs is not None and arc_ntk_applies(net, self.arcs[which], self.arcs[other]):
            return arc_ntk(net, self.arcs[which], self.arcs[other])
        if b is None:
            return empirical_kernel(net, a).ntk.double().cpu()
        return empirical_kernel(net, a, b).ntk.double().cpu()

    def gram(self, net: Any) -> Any:
        """Θ̂(X, X), shape (S, N, N)."""
        return self._kernel(net, 0, 0, self.xt, None)

    def cross(self, net: Any) -> Any:
        """Θ̂(x_eval, X), shape (S, M, N)."""
        return self._kernel(net, 1, 0, self.xe, self.xt)

    def profile(self, net: Any) -> Any:
        """Θ̂(x0, x_eval), shape (S, M) (Jacot et al. 2018, Fig. 1)."""
        return self._kernel(net, 2, 1, self.xe[:1], self.xe)[:, 0]


class CheckpointRecorder:
    """Predictions and empirical-NTK snapshots of one unit at its checkpoint steps.

    Parameters
    ----------
    arrays : dict
        The run's arrays.
    width_index : int
    seeds : slice
        The unit's seeds on the run's seed axis.
    checkpoint_index : dict of int to int
        Step → index on the checkpoint axis.
    k0 : ndarray, shape (S, N, N)
        The unit's empirical NTK at step 0 (for the drift).
    ntk_prediction : ndarray, shape (C, M)
    ntk_prediction_limit : ndarray, shape (M,)
        The infinite-width predictors (:class:`~spectralntk.runs.kernel_theory.ArchitectureTheory`).
    x_train, x_eval : Tensor, shapes (N, n0), (M, n0)
        Training points and evaluation grid on the training device.
    waves : ndarray, shape (2, K + 1, N)
        :func:`unit_fourier_vectors` of the training angles.
    kernels : EmpiricalKernels
        How the snapshots are computed.
    """

    def __init__(
        self,
        arrays: dict[str, Any],
        width_index: int,
        seeds: slice,
        checkpoint_index: dict[int, int],
        k0: FloatArray,
        ntk_prediction: FloatArray,
        ntk_prediction_limit: FloatArray,
        x_train: Any,
        x_eval: Any,
        waves: FloatArray,
        kernels: EmpiricalKernels,
    ) -> None:
        self.kernels = kernels
        self.arrays, self.j, self.seeds = arrays, width_index, seeds
        self.index, self.k0 = checkpoint_index, k0
        self.ntk_t, self.ntk_limit = ntk_prediction, ntk_prediction_limit
        self.xt, self.xe, self.waves = x_train, x_eval, waves

    def wants(self, rec: Any) -> bool:
        """Whether ``rec`` (a StepRecord) is a checkpoint with the evaluation grid."""
        return rec.eval_output is not None and rec.step in self.index

    def add(self, rec: Any) -> None:
        """Record the checkpoint ``rec`` (a StepRecord with ``eval_output``)."""
        import torch

        from spectralntk.spectral.gram import relative_distance

        arrays, j, sl, ci = self.arrays, self.j, self.seeds, self.index[rec.step]
        n = self.xt.shape[0]
        fe = rec.eval_output.double().cpu().numpy()
        arrays["eval_prediction"][j, sl, ci] = fe
        arrays["relative_error"][j, sl, ci] = relative_error(fe, self.ntk_t[ci])
        arrays["relative_error_limit"][j, sl, ci] = relative_error(fe, self.ntk_limit)
        with torch.no_grad():
            kt = self.kernels.gram(rec.net)
            # A diverged seed (flagged in `diverged`) has a non-finite kernel: NaN
            # eigenvalues for it, instead of a LinAlgError for the whole run.
            finite = torch.isfinite(kt).flatten(1).all(dim=1)
            eigen = np.full(kt.shape[:2], np.nan)
            if bool(finite.any()):
                eigen[finite.numpy()] = torch.linalg.eigvalsh(kt[finite]).flip(-1).numpy()
        kt_np = kt.numpy()
        arrays["kernel_drift"][j, sl, ci] = relative_distance(kt_np, self.k0)
        arrays["empirical_ntk_eigenvalue"][j, sl, ci] = eigen / n
        arrays["empirical_ntk_rayleigh"][j, sl, ci] = fourier_rayleigh(kt_np, self.waves)
        with torch.no_grad():  # Jacot et al. 2018, Fig. 1: K(x0, x(γ)), x0 = (1, 0)
            row = self.kernels.profile(rec.net)
        arrays["empirical_ntk_profile"][j, sl, ci] = row.numpy()
