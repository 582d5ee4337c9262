"""Upper bounds of every size option, and the memory check against ``--memory-budget``.

Each size a user can type (depth, width, seeds, points, angles, bootstrap resamples,
max-frequency) has either a hard upper bound here, far above any meaningful run, or an
estimate of the memory it needs that is checked against the command's memory budget
before any work starts, so that a typo such as ``--depth 2147483648`` is an error on the
spot instead of a hang or an out-of-memory kill.
"""

from __future__ import annotations

from spectralntk.errors import parameter_error

__all__ = [
    "MAX_BOOTSTRAP",
    "MAX_DEPTH",
    "MAX_FREQUENCY",
    "MAX_GRID",
    "MAX_SEEDS",
    "MAX_STEPS",
    "MAX_WIDTH",
    "check_memory",
    "check_one_seed",
]

#: Hidden layers. Deeper kernels have long converged to their fixed point (or overflowed).
MAX_DEPTH = 4096
#: Hidden width (a width-2²⁴ layer has 2⁴⁸ weights).
MAX_WIDTH = 1 << 24
#: Networks per width.
MAX_SEEDS = 100_000
#: Gradient steps: the run file's ``step`` coordinate is int32.
MAX_STEPS = (1 << 31) - 1
#: Points of a grid on the circle that a run evaluates or probes at (``train
#: --eval-points``, ``fluctuations --probes``): every network is evaluated on all of them at
#: every recorded step, so 2¹⁶ angles (a 10⁻⁴ rad spacing) is far above a meaningful run.
MAX_GRID = 1 << 16
#: Bootstrap resamples.
MAX_BOOTSTRAP = 1_000_000
#: Largest frequency K of the analytic spectrum. Building the Gauss–Legendre rule is
#: O(K²) (about 10 s at K = 16384 and 41 s at 32768 on one 2-core machine).
MAX_FREQUENCY = 1 << 14


#: A budget smaller than one seed's needs batches one seed at a time (how the tests force
#: seed-by-seed batches); one seed is refused only beyond the larger of the budget and this.
ONE_SEED_FLOOR = 1 << 28


def check_one_seed(parameter: str, value: object, per_seed: float, budget: float) -> None:
    """Refuse a configuration of which a single seed needs more than
    max(``budget``, :data:`ONE_SEED_FLOOR`) bytes (see :func:`check_memory`)."""
    check_memory(parameter, value, per_seed, max(budget, ONE_SEED_FLOOR))


def check_memory(parameter: str, value: object, needed: float, budget: float) -> None:
    """Refuse a size whose estimated memory ``needed`` (bytes) exceeds ``budget`` (bytes).

    The message names ``parameter`` and shows the estimate, e.g. "The 'points' parameter
    must be small enough for one seed to fit in --memory-budget (needs 12.3 GiB, budget
    1 GiB). Got 20000 instead."
    """
    if needed <= budget:
        return
    gib = 2.0**30
    raise parameter_error(
        parameter,
        f"small enough to fit in --memory-budget (needs an estimated {needed / gib:.3g} GiB, "
        f"budget {budget / gib:.3g} GiB)",
        value,
    )
