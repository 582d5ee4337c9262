"""Estimated cost of the parts of a training run, for progress bars and time estimates.

A run's time goes into gradient steps, passes over the evaluation grid, empirical-NTK
snapshots at checkpoints and, once per (width, seed batch), the initial kernels. The
model below counts the arithmetic of each (multiply-adds per seed) and converts it with
rates measured on a 2-core machine (one thread, float64, benchmarks/bench_training.py):
it is meant to be right within a factor of two, which is what an ETA needs (its
relative weights across widths matter, not its absolute scale), not to replace a
measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UnitCost", "unit_cost"]

#: Seconds per multiply-add of a dense pass (BLAS-bound, float64, one thread).
DENSE_RATE = 1.5e-9
#: Seconds per (neuron + point) of an arc-by-arc step (compiled, one thread).
ARC_RATE = 3.5e-8
#: Fixed seconds per step (Python, dispatch and recording overhead).
STEP_OVERHEAD = 4e-4
#: Seconds of one seed's dense linear algebra on N = 256 points (an eigh of its kernel and
#: its predictions on the grid), scaled by (N/256)³; and of the analytic theory, once.
SEED_ALGEBRA = 0.12
THEORY = 1.0


@dataclass(frozen=True)
class UnitCost:
    """Estimated seconds of one (width, seed batch) unit of a training run.

    Attributes
    ----------
    setup : float
        Initial empirical kernels and per-seed theory.
    step : float
        One gradient step of all the unit's seeds.
    evaluation : float
        One pass over the evaluation grid.
    checkpoint : float
        One empirical-NTK snapshot (Gram, spectrum, profile).
    """

    setup: float
    step: float
    evaluation: float
    checkpoint: float

    def total(self, steps: int, evaluations: int, checkpoints: int) -> float:
        """The unit's estimated seconds for a run of these counts."""
        return (
            self.setup
            + steps * self.step
            + evaluations * self.evaluation
            + checkpoints * self.checkpoint
        )


def unit_cost(
    method: str,
    *,
    seeds: int,
    width: int,
    depth: int,
    points: int,
    eval_points: int,
    theory: bool = False,
) -> UnitCost:
    """Estimated costs of one unit trained with ``method`` (a key of
    :data:`spectralntk.nn.training.STEP_METHODS`).

    Parameters
    ----------
    method : str
    seeds : int
        Seeds trained together.
    width, depth : int
        Hidden width n and number of hidden layers.
    points, eval_points : int
        N training points and M evaluation points.
    theory : bool
        Whether this unit also computes its architecture's analytic theory.
    """
    n, big_n, m = width, points, eval_points
    # multiply-adds of one forward pass per point: input layer, hidden layers, output
    forward = 3 * n + max(depth - 1, 0) * n * n + n
    if method == "arcs":
        step = STEP_OVERHEAD + ARC_RATE * seeds * (n + big_n)
        evaluation = ARC_RATE * seeds * (n + m)
    else:
        factor = 2.0 if method == "closed_form" else 3.0 if method == "layerwise" else 6.0
        step = STEP_OVERHEAD + DENSE_RATE * factor * seeds * big_n * forward
        evaluation = DENSE_RATE * seeds * m * forward
    algebra = (big_n / 256.0) ** 3
    if method == "arcs":  # arc-by-arc kernels: O(n + N²) (nn/arc_ntk.py)
        gram = ARC_RATE * seeds * (n + 2 * big_n * big_n)
        cross = ARC_RATE * seeds * (n + 2 * m * big_n)
    else:  # per-layer Grams of (N × width) features
        gram = DENSE_RATE * seeds * (big_n * big_n * n * max(depth, 1) * 2 + big_n * forward * 3)
        cross = gram * m / max(big_n, 1)
    # a snapshot: the Gram, its spectrum and the profile on the grid
    checkpoint = gram + seeds * SEED_ALGEBRA * algebra / 10 + cross / max(big_n, 1)
    setup = gram + cross + seeds * SEED_ALGEBRA * algebra + (THEORY * algebra if theory else 0.0)
    return UnitCost(setup, step, evaluation, checkpoint)
