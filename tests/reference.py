"""Independent reference implementations for the tests.

``mp_kernel`` is the textbook Jacot et al. (2018) recursion written the naive
way (correlation -> arccos) but in 50-digit arithmetic with mpmath, where the
arccos round-off that the float64 code avoids is 1e-25 instead of 1e-8. It
shares no code with spectralntk.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

mp.mp.dps = 50


def _biases(cfg, output: bool) -> tuple[mp.mpf, mp.mpf]:
    present = cfg.bias_std > 0 and (cfg.output_bias or not output)
    if not present:
        return mp.mpf(0), mp.mpf(0)
    var = mp.mpf(cfg.bias_std) ** 2
    nngp = var if cfg.bias_init.value == "normal" else mp.mpf(0)
    ntk = var if cfg.parameterization.value == "ntk" else mp.mpf(1)
    return nngp, ntk


def _dual(activation: str, q1, q2, c):
    """E[φφ], E[φ'φ'], E[φ(u)²], E[φ(v)²] for (u, v) with covariance [[q1, c], [c, q2]]."""
    if activation == "relu":
        s12 = mp.sqrt(q1 * q2)
        rho = c / s12 if s12 > 0 else mp.mpf(1)
        t = mp.acos(max(min(rho, mp.mpf(1)), mp.mpf(-1)))
        e = s12 / (2 * mp.pi) * (mp.sin(t) + (mp.pi - t) * mp.cos(t))
        return e, (mp.pi - t) / (2 * mp.pi), q1 / 2, q2 / 2
    if activation == "erf":
        a1, a2 = 1 + 2 * q1, 1 + 2 * q2
        e = 2 / mp.pi * mp.asin(2 * c / mp.sqrt(a1 * a2))
        ed = 4 / mp.pi / mp.sqrt(a1 * a2 - 4 * c * c)
        return e, ed, 2 / mp.pi * mp.asin(2 * q1 / a1), 2 / mp.pi * mp.asin(2 * q2 / a2)
    raise ValueError(activation)


def _pair(cfg, x, y) -> tuple[float, float]:
    n0 = len(x)
    s = mp.mpf(cfg.weight_std) ** 2
    dot = mp.fsum(a * b for a, b in zip(x, y, strict=True)) / n0
    m1 = mp.fsum(a * a for a in x) / n0
    m2 = mp.fsum(b * b for b in y) / n0
    b, bt = _biases(cfg, output=cfg.depth == 0)
    w_in = s if cfg.parameterization.value == "ntk" else mp.mpf(n0)
    q1, q2, c = s * m1 + b, s * m2 + b, s * dot + b
    theta = w_in * dot + bt
    w_hidden = s if cfg.parameterization.value == "ntk" else mp.mpf(cfg.width or 0)
    for layer in range(2, cfg.depth + 2):
        b, bt = _biases(cfg, output=layer == cfg.depth + 1)
        e, ed, m1, m2 = _dual(cfg.activation.value, q1, q2, c)
        theta = theta * s * ed + w_hidden * e + bt
        q1, q2, c = s * m1 + b, s * m2 + b, s * e + b
    return float(c), float(theta)


def mp_kernel_pair(cfg, x, y) -> tuple[float, float]:
    """(NNGP, NTK) of one pair of float inputs x, y, computed in 50 digits."""
    return _pair(cfg, [mp.mpf(float(v)) for v in x], [mp.mpf(float(v)) for v in y])


def mp_circle(cfg, gammas) -> tuple[np.ndarray, np.ndarray]:
    """(NNGP, NTK) profiles K(x0, x(γ)), x(γ) = (cos γ, sin γ) built in 50 digits."""
    out = []
    for g in gammas:
        gm = mp.mpf(float(g))
        out.append(_pair(cfg, [mp.mpf(1), mp.mpf(0)], [mp.cos(gm), mp.sin(gm)]))
    arr = np.array(out)
    return arr[:, 0], arr[:, 1]


def trapezoid_dual(activation: str, q: float, rho: float, h: float = 0.01, span: float = 9.5):
    """E[φ(u)φ(v)], E[φ'(u)φ'(v)] and E[φ(u)²] for u, v ~ N(0, q), corr ρ (float64).

    A brute-force 2-d trapezoid rule in (z1, z2), u = √q z1, v = √q(ρ z1 + √(1−ρ²) z2):
    geometrically convergent for these analytic integrands (error ~ exp(−2πd/h), d the
    distance of the nearest pole, π/(2√q) for tanh) and sharing no code or method with
    spectralntk's Hermite series.
    """
    from scipy.special import ndtr

    if activation == "tanh":
        f, df = np.tanh, (lambda x: 1.0 / np.cosh(x) ** 2)
    elif activation == "gelu":
        f = lambda x: x * ndtr(x)  # noqa: E731
        df = lambda x: ndtr(x) + x * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)  # noqa: E731
    else:
        raise ValueError(activation)
    z = np.arange(-round(span / h), round(span / h) + 1) * h
    w = h * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    r = np.sqrt(q)
    s = np.sqrt(max(0.0, 1.0 - rho * rho))
    u = r * z[:, None]
    v = r * (rho * z[:, None] + s * z[None, :])
    cross = w @ (f(u) * f(v)) @ w
    dcross = w @ (df(u) * df(v)) @ w
    return float(cross), float(dcross), float(w @ f(r * z) ** 2)


def trapezoid_circle(cfg, gammas) -> tuple[np.ndarray, np.ndarray]:
    """(NNGP, NTK) profiles of a tanh/gelu net on the circle by the naive recursion on
    :func:`trapezoid_dual` (NTK parameterization, normal biases; a few angles only)."""
    s, b = cfg.weight_std**2, cfg.bias_std**2
    out = []
    for g in gammas:
        q, c = s / 2 + b, s * np.cos(g) / 2 + b
        theta = c
        for layer in range(cfg.depth):
            bias = b if (layer < cfg.depth - 1 or cfg.output_bias) else 0.0
            e, ed, m = trapezoid_dual(cfg.activation.value, q, min(1.0, c / q))
            theta = theta * s * ed + s * e + bias
            q, c = s * m + bias, s * e + bias
        out.append((c, theta))
    arr = np.array(out)
    return arr[:, 0], arr[:, 1]
