r"""Compiled CPU kernels of :mod:`spectralntk.nn.arc_gradients` (Numba, one thread).

The mathematics, the accuracy bounds and the exactness of the mask are stated in
:mod:`spectralntk.nn.arc_gradients`; this module only computes them. Every kernel loops
over the seeds one after another and over the neurons and points of a seed in index
order, so a seed's numbers do not depend on its batch or on any thread count.

Angles are handled as *pseudo-angles* p ∈ [0, 4): a monotone function of the angle
γ ∈ [0, 2π) (p = |y|/(|x| + |y|) within each quadrant, shifted by the quadrant), so
that locating an arc end costs a square root and a division instead of atan2 and
arccos. dp/dγ lies in [1/2, 1], and antipodal points differ by exactly 2.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["MAX_WALK", "pseudo_angle", "run_gradients", "runs_and_outputs"]


@njit(cache=True, nogil=True, inline="always")
def pseudo_angle(x: float, y: float) -> float:  # pragma: no cover - compiled
    """The pseudo-angle in [0, 4) of the direction (x, y) (0 for the zero vector)."""
    ax, ay = abs(x), abs(y)
    total = ax + ay
    t = ay / total if total > 0.0 else 0.0
    # quadrants I..IV: t, 2 − t, 2 + t, 4 − t (selects, no unpredictable branches)
    west = x < 0.0
    south = y < 0.0
    u = t if west == south else -t
    base = 2.0 if west else (4.0 if south else 0.0)
    p = base + u
    return p - 4.0 if p >= 4.0 else p


@njit(cache=True, nogil=True, inline="always")
def _wrap(position: int, n_points: int) -> int:  # pragma: no cover - compiled
    """position mod N for positions in [−N, 3N)."""
    if position < 0:
        return position + n_points
    if position >= 2 * n_points:
        return position - 2 * n_points
    if position >= n_points:
        return position - n_points
    return position


@njit(cache=True, nogil=True, inline="always")
def _bucket(q: float, buckets: int) -> int:  # pragma: no cover - compiled
    b = math.floor(q * (buckets / 4.0))
    if b < 0:
        return 0
    if b > buckets - 1:
        return buckets - 1
    return b


@njit(cache=True, nogil=True, inline="always")
def _first_at_or_after(q: float, pseudo: np.ndarray, first: np.ndarray, buckets: int) -> int:
    """Number of sorted pseudo-angles below q, for q in [0, 4) (exact)."""  # pragma: no cover
    b = _bucket(q, buckets)
    i = first[b]
    if i < first[b + 1] and pseudo[i] < q:
        i += 1
    return i


@njit(cache=True, nogil=True, inline="always")
def _run_of(
    a0: float,
    a1: float,
    c: float,
    n_points: int,
    pseudo: np.ndarray,
    first: np.ndarray,
    buckets: int,
    widen: float,
    x1: np.ndarray,
    x2: np.ndarray,
) -> tuple[int, int]:  # pragma: no cover - compiled
    """The run [s, e) of doubled positions where z = (x1·a0 + x2·a1) + c > 0."""
    rho2 = a0 * a0 + a1 * a1
    if rho2 == 0.0:
        if c > 0.0:
            return 0, n_points
        return 0, 0
    # full: around the minimum of z, at the direction −(a0, a1); empty: around its
    # maximum, at (a0, a1); else the widened arc between the two zeros of z.
    mode = 0
    if c * c >= rho2:
        mode = 1 if c > 0.0 else 2
    if mode == 0:
        s = math.sqrt(rho2 - c * c)
        ps = pseudo_angle(-c * a0 + s * a1, -c * a1 - s * a0)
        pe = pseudo_angle(-c * a0 - s * a1, -c * a1 + s * a0)
        d = pe - ps
        if d < 0.0:
            d += 4.0
        if c < 0.0 and d > 2.0:  # a short arc wrapped by rounding
            d -= 4.0
        elif c > 0.0 and d < 2.0:  # a nearly full arc wrapped by rounding
            d += 4.0
        lo = ps - widen
        hi = ps + d + widen
        if hi - lo >= 4.0:
            mode = 1
    if mode == 1:
        start = _first_at_or_after(pseudo_angle(-a0, -a1), pseudo, first, buckets)
        end = start + n_points
    elif mode == 2:
        at = _first_at_or_after(pseudo_angle(a0, a1), pseudo, first, buckets)
        start, end = at - 1, at + 1
    else:
        shift_lo = 0
        if lo < 0.0:
            lo += 4.0
            shift_lo = -n_points
        shift_hi = 0
        while hi >= 4.0:
            hi -= 4.0
            shift_hi += n_points
        start = first[_bucket(lo, buckets)] + shift_lo
        end = first[_bucket(hi, buckets) + 1] + shift_hi
        if end > start + n_points:
            end = start + n_points
    # the exact test at both ends (positions modulo N)
    if start < end:
        m = _wrap(start, n_points)
        if x1[m] * a0 + x2[m] * a1 + c <= 0.0:
            start += 1
    if start < end:
        m = _wrap(end - 1, n_points)
        if x1[m] * a0 + x2[m] * a1 + c <= 0.0:
            end -= 1
    if start >= end:
        return 0, 0
    if start < 0:
        start += n_points
        end += n_points
    elif start >= n_points:
        start -= n_points
        end -= n_points
    return start, end


#: A run that moves by more than this many positions in one step is located afresh.
MAX_WALK = 16


@njit(cache=True, nogil=True, inline="always")
def _z(m: int, a0: float, a1: float, c: float, x1: np.ndarray, x2: np.ndarray) -> float:
    return x1[m] * a0 + x2[m] * a1 + c  # pragma: no cover - compiled


@njit(cache=True, nogil=True, inline="always")
def _walk(
    s: int, e: int, a0: float, a1: float, c: float, n_points: int, x1: np.ndarray, x2: np.ndarray
) -> tuple[int, int, bool]:  # pragma: no cover - compiled
    """Move the ends of last step's run [s, e) (0 < e − s < N) to where z changes sign.

    Returns the new run and whether it is final: a run that became empty or full, or
    moved by more than MAX_WALK, is not (its neuron is located afresh).
    """
    moves = 0
    n = n_points
    while moves <= MAX_WALK and e - s < n and _z(_wrap(s - 1, n), a0, a1, c, x1, x2) > 0.0:
        s -= 1
        moves += 1
    while moves <= MAX_WALK and s < e and _z(_wrap(s, n), a0, a1, c, x1, x2) <= 0.0:
        s += 1
        moves += 1
    while moves <= MAX_WALK and e - s < n and _z(_wrap(e, n), a0, a1, c, x1, x2) > 0.0:
        e += 1
        moves += 1
    while moves <= MAX_WALK and s < e and _z(_wrap(e - 1, n), a0, a1, c, x1, x2) <= 0.0:
        e -= 1
        moves += 1
    if moves > MAX_WALK or s >= e or e - s >= n_points:
        return s, e, False
    if s < 0:
        s += n_points
        e += n_points
    elif s >= n_points:
        s -= n_points
        e -= n_points
    return s, e, True


@njit(cache=True, nogil=True)
def runs_and_outputs(
    w1: np.ndarray,
    b1: np.ndarray,
    w2: np.ndarray,
    alpha1: float,
    beta1: float,
    alpha2: float,
    pseudo: np.ndarray,
    first: np.ndarray,
    buckets: int,
    widen: float,
    x1: np.ndarray,
    x2: np.ndarray,
    order: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    f: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Runs (S, n) of every neuron and f without the output bias (S, N), in place.

    ``starts`` and ``ends`` hold last step's runs on entry (zeros the first time): a
    proper arc (0 < e − s < N) is followed by moving its ends (:func:`_walk`), any
    other neuron is located afresh (:func:`_run_of`). Both give the one run on which
    z > 0 (module docstring of arc_gradients), so the result does not depend on what
    the arrays held.

    w1 (S, n, 2), b1 (S, n) (zeros without hidden bias), w2 (S, n); pseudo, x1, x2 (N,)
    sorted; order (N,): sorted point m is the caller's point order[m].
    """
    count, width = w1.shape[0], w1.shape[1]
    n_points = x1.shape[0]
    diff = np.zeros((3, 2 * n_points + 1))
    folded = np.zeros((3, n_points))
    for seed in range(count):
        diff[:] = 0.0
        for j in range(width):
            a0 = alpha1 * w1[seed, j, 0]
            a1 = alpha1 * w1[seed, j, 1]
            c = beta1 * b1[seed, j]
            s, e = starts[seed, j], ends[seed, j]
            final = False
            if s < e and e - s < n_points:  # last step's run, if it was a proper arc
                s, e, final = _walk(s, e, a0, a1, c, n_points, x1, x2)
            if not final:
                s, e = _run_of(a0, a1, c, n_points, pseudo, first, buckets, widen, x1, x2)
            starts[seed, j] = s
            ends[seed, j] = e
            if s < e:
                out = alpha2 * w2[seed, j]
                v0, v1, v2 = out * a0, out * a1, out * c
                diff[0, s] += v0
                diff[1, s] += v1
                diff[2, s] += v2
                diff[0, e] -= v0
                diff[1, e] -= v1
                diff[2, e] -= v2
        r0 = r1 = r2 = 0.0
        for p in range(2 * n_points):
            r0 += diff[0, p]
            r1 += diff[1, p]
            r2 += diff[2, p]
            m = p if p < n_points else p - n_points
            if p < n_points:
                folded[0, m], folded[1, m], folded[2, m] = r0, r1, r2
            else:
                folded[0, m] += r0
                folded[1, m] += r1
                folded[2, m] += r2
        for m in range(n_points):
            f[seed, order[m]] = x1[m] * folded[0, m] + x2[m] * folded[1, m] + folded[2, m]


@njit(cache=True, nogil=True)
def run_gradients(
    g: np.ndarray,
    w1: np.ndarray,
    b1: np.ndarray,
    w2: np.ndarray,
    alpha1: float,
    beta1: float,
    alpha2: float,
    x1: np.ndarray,
    x2: np.ndarray,
    order: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    grad_w1: np.ndarray,
    grad_w2: np.ndarray,
    grad_b1: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """∂L/∂W (S, n, 2), ∂L/∂w (S, n), ∂L/∂b₁ (S, n) in place from g = ∂L/∂f (S, N)."""
    count, width = w1.shape[0], w1.shape[1]
    n_points = x1.shape[0]
    prefix = np.zeros((3, 2 * n_points + 1))
    for seed in range(count):
        p0 = p1 = p2 = 0.0
        for p in range(2 * n_points):
            m = p if p < n_points else p - n_points
            gm = g[seed, order[m]]
            p0 += gm * x1[m]
            p1 += gm * x2[m]
            p2 += gm
            prefix[0, p + 1], prefix[1, p + 1], prefix[2, p + 1] = p0, p1, p2
        for j in range(width):
            s, e = starts[seed, j], ends[seed, j]
            q0 = prefix[0, e] - prefix[0, s]
            q1 = prefix[1, e] - prefix[1, s]
            q2 = prefix[2, e] - prefix[2, s]
            a0 = alpha1 * w1[seed, j, 0]
            a1 = alpha1 * w1[seed, j, 1]
            c = beta1 * b1[seed, j]
            out = alpha2 * w2[seed, j]
            grad_w2[seed, j] = alpha2 * (a0 * q0 + a1 * q1 + c * q2)
            grad_w1[seed, j, 0] = alpha1 * (out * q0)
            grad_w1[seed, j, 1] = alpha1 * (out * q1)
            grad_b1[seed, j] = beta1 * (out * q2)


@njit(cache=True, nogil=True, inline="always")
def _intervals(s: int, e: int, n_points: int) -> tuple[int, int, int, int]:  # pragma: no cover
    """A run [s, e) of doubled positions as two intervals of [0, N) (the second may be empty)."""
    if e <= n_points:
        return s, e, 0, 0
    return s, n_points, 0, e - n_points


@njit(cache=True, nogil=True)
def run_kernel(
    w1: np.ndarray,
    b1: np.ndarray,
    w2: np.ndarray,
    alpha1: float,
    beta1: float,
    alpha2: float,
    bias_term: float,
    output_bias: float,
    x1a: np.ndarray,
    x2a: np.ndarray,
    order_a: np.ndarray,
    starts_a: np.ndarray,
    ends_a: np.ndarray,
    x1b: np.ndarray,
    x2b: np.ndarray,
    order_b: np.ndarray,
    starts_b: np.ndarray,
    ends_b: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """The empirical NTK Θ(x_a, x_b) (S, A, B) of depth-1 ReLU networks, in place.

    Θ_ab = x̃_aᵀ [Σ_j M_aj M_bj B_j] x̃_b + β₂², B_j = α₂²(A_j A_jᵀ + w_j² diag(α₁², α₁²,
    bias_term)) with bias_term = β₁² where the hidden layer has a bias: each neuron adds
    the constant B_j on the rectangle (its run on the a points) × (its run on the b
    points), placed in a 2-D difference array and summed by 2-D prefix sums.
    """
    count, width = w1.shape[0], w1.shape[1]
    na, nb = x1a.shape[0], x1b.shape[0]
    diff = np.zeros((6, na + 1, nb + 1))
    a2 = alpha2 * alpha2
    d0 = alpha1 * alpha1
    for seed in range(count):
        diff[:] = 0.0
        for j in range(width):
            sa, ea = starts_a[seed, j], ends_a[seed, j]
            sb, eb = starts_b[seed, j], ends_b[seed, j]
            if sa >= ea or sb >= eb:
                continue
            a0 = alpha1 * w1[seed, j, 0]
            a1 = alpha1 * w1[seed, j, 1]
            c = beta1 * b1[seed, j]
            ww = w2[seed, j] * w2[seed, j]
            terms = (
                a2 * (a0 * a0 + ww * d0),
                a2 * (a0 * a1),
                a2 * (a0 * c),
                a2 * (a1 * a1 + ww * d0),
                a2 * (a1 * c),
                a2 * (c * c + ww * bias_term),
            )
            ia0, ia1, ia2, ia3 = _intervals(sa, ea, na)
            ib0, ib1, ib2, ib3 = _intervals(sb, eb, nb)
            for lo_a, hi_a in ((ia0, ia1), (ia2, ia3)):
                if lo_a >= hi_a:
                    continue
                for lo_b, hi_b in ((ib0, ib1), (ib2, ib3)):
                    if lo_b >= hi_b:
                        continue
                    for k in range(6):
                        t = terms[k]
                        diff[k, lo_a, lo_b] += t
                        diff[k, lo_a, hi_b] -= t
                        diff[k, hi_a, lo_b] -= t
                        diff[k, hi_a, hi_b] += t
        for k in range(6):  # 2-D prefix sums: along b, then along a
            for p in range(na):
                run = 0.0
                for q in range(nb):
                    run += diff[k, p, q]
                    diff[k, p, q] = run
            for p in range(1, na):
                for q in range(nb):
                    diff[k, p, q] += diff[k, p - 1, q]
        for p in range(na):
            xa0, xa1 = x1a[p], x2a[p]
            for q in range(nb):
                xb0, xb1 = x1b[q], x2b[q]
                value = (
                    xa0 * xb0 * diff[0, p, q]
                    + (xa0 * xb1 + xa1 * xb0) * diff[1, p, q]
                    + (xa0 + xb0) * diff[2, p, q]
                    + xa1 * xb1 * diff[3, p, q]
                    + (xa1 + xb1) * diff[4, p, q]
                    + diff[5, p, q]
                )
                out[seed, order_a[p], order_b[q]] = value + output_bias
