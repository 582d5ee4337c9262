r"""Target functions on the circle S¹ for the training experiments.

Every target is a finite sine series in the angle γ of x(γ) = (cos γ, sin γ)::

    y(γ) = Σ_k a_k sin(k γ + φ_k).

Three families (docs/experiments.md):

``product``
    y = x1·x2 = cos γ sin γ = ½ sin 2γ (Jacot et al. 2018, Fig. 1; the seed
    write-up's experiment 2.2). Frequencies (2,), amplitudes (0.5,), phases (0,).
``fourier-mixture``
    The seed write-up's seven harmonics (experiments 2.3–2.5): k = 2, 4, 7, 11,
    16, 23, 32; a = 0.9, 0.7, 0.55, 0.45, 0.35, 0.28, 0.22; φ = 0, 1.57079632679,
    1.2, 2.0, 0.942, 4.5, 5.8. Users may give their own frequencies, amplitudes
    and phases.
``sine``
    One harmonic sin(kγ) (amplitude 1, phase 0 unless given).

The real Fourier coefficients of a target follow the residual convention of
:mod:`spectralntk.dynamics.modes`, r(γ) = a_0 + Σ_{k≥1} (a_k cos kγ + b_k sin kγ):
a sin(kγ + φ) = (a sin φ) cos kγ + (a cos φ) sin kγ.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from spectralntk.errors import check_choice, check_int, check_real, parameter_error

__all__ = [
    "MIXTURE_AMPLITUDES",
    "MIXTURE_FREQUENCIES",
    "MIXTURE_PHASES",
    "TARGETS",
    "Target",
    "make_target",
    "product_xy",
]

FloatArray = NDArray[np.float64]

#: Names of the target families.
TARGETS: tuple[str, ...] = ("product", "fourier-mixture", "sine")

#: Default Fourier mixture of the seed write-up (docs/experiments.md, experiments 2.3–2.5).
MIXTURE_FREQUENCIES: tuple[int, ...] = (2, 4, 7, 11, 16, 23, 32)
MIXTURE_AMPLITUDES: tuple[float, ...] = (0.9, 0.7, 0.55, 0.45, 0.35, 0.28, 0.22)
MIXTURE_PHASES: tuple[float, ...] = (0.0, 1.57079632679, 1.2, 2.0, 0.942, 4.5, 5.8)


def _sequence(name: str, value: Any) -> tuple[Any, ...]:
    """``value`` as a non-empty tuple (lists, tuples, 1-d arrays; not strings or scalars)."""
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise parameter_error(name, "a non-empty 1-d sequence", value.tolist())
        value = value.tolist()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) == 0:
        raise parameter_error(name, "a non-empty sequence", value)
    return tuple(value)


@dataclass(frozen=True)
class Target:
    """A sine series y(γ) = Σ a_k sin(kγ + φ_k) on the circle.

    Build one with :func:`make_target`; the constructor validates and
    normalises its fields as well (so :meth:`from_dict` round trips).

    Attributes
    ----------
    name : str
        ``"product"``, ``"fourier-mixture"`` or ``"sine"``.
    frequencies : tuple of int
        Distinct frequencies k ≥ 1 (cycles per 2π).
    amplitudes : tuple of float
        a_k, finite, one per frequency.
    phases : tuple of float
        φ_k in radians, finite, one per frequency.
    """

    name: str
    frequencies: tuple[int, ...]
    amplitudes: tuple[float, ...]
    phases: tuple[float, ...]

    def __post_init__(self) -> None:
        name = check_choice("target", self.name, TARGETS)
        freqs = tuple(
            check_int("frequencies", k, 1) for k in _sequence("frequencies", self.frequencies)
        )
        if len(set(freqs)) != len(freqs):
            raise parameter_error("frequencies", "a sequence of distinct ints", freqs)
        amps = tuple(check_real("amplitudes", a) for a in _sequence("amplitudes", self.amplitudes))
        phases = tuple(check_real("phases", p) for p in _sequence("phases", self.phases))
        if name == "sine" and len(freqs) != 1:
            raise parameter_error("frequencies", "one frequency for the 'sine' target", freqs)
        for field, values in (("amplitudes", amps), ("phases", phases)):
            if len(values) != len(freqs):
                raise parameter_error(
                    field, f"a sequence of {len(freqs)} numbers, one per frequency", values
                )
        if name == "product" and (freqs, amps, phases) != ((2,), (0.5,), (0.0,)):
            raise parameter_error(
                "frequencies", "(2,) with amplitude 0.5 and phase 0 for 'product'", freqs
            )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "frequencies", freqs)
        object.__setattr__(self, "amplitudes", amps)
        object.__setattr__(self, "phases", phases)

    @property
    def max_frequency(self) -> int:
        """The largest frequency of the series."""
        return max(self.frequencies)

    def __call__(self, gamma: ArrayLike) -> FloatArray:
        """Evaluate y(γ) = Σ a_k sin(kγ + φ_k).

        Parameters
        ----------
        gamma : array_like, any shape
            Angles in radians.

        Returns
        -------
        ndarray, shape of ``gamma``
        """
        g = np.asarray(gamma, dtype=np.float64)
        out = np.zeros_like(g)
        for k, a, p in zip(self.frequencies, self.amplitudes, self.phases, strict=True):
            out += a * np.sin(k * g + p)
        return out

    def on_points(self, points: ArrayLike) -> FloatArray:
        """Evaluate the target at arbitrary points of R².

        ``product`` returns x1·x2 exactly (so off the circle it is the product,
        Jacot et al. 2018 Fig. 1 with Gaussian inputs); every other target is
        evaluated at the angle atan2(x2, x1) of the point, ignoring its radius.

        Parameters
        ----------
        points : array_like, shape (..., 2)

        Returns
        -------
        ndarray, shape (...)
        """
        x = _points(points)
        if self.name == "product":
            return x[..., 0] * x[..., 1]
        return self(np.arctan2(x[..., 1], x[..., 0]))

    def fourier_coefficients(self, max_frequency: int) -> tuple[FloatArray, FloatArray]:
        """Real Fourier coefficients (a_k, b_k), k = 0..K, of the target.

        With the convention y(γ) = a_0 + Σ_{k≥1} (a_k cos kγ + b_k sin kγ) of
        :func:`spectralntk.dynamics.fourier_modes`: a sin(kγ + φ) contributes
        a_k = a sin φ and b_k = a cos φ. Frequencies above K are left out.

        Returns
        -------
        a, b : ndarray, shape (K + 1,)
        """
        kmax = check_int("max_frequency", max_frequency, 0)
        a, b = np.zeros(kmax + 1), np.zeros(kmax + 1)
        for k, amp, phase in zip(self.frequencies, self.amplitudes, self.phases, strict=True):
            if k <= kmax:
                a[k] += amp * math.sin(phase)
                b[k] += amp * math.cos(phase)
        return a, b

    def check_resolvable(
        self, n_points: int, *, grid: str = "training points", set_by: str = "points"
    ) -> None:
        """Raise unless every frequency lies below the Nyquist limit of N points.

        A frequency k ≥ N/2 cannot be represented on an N-point grid (at k = N/2
        sin kγ vanishes on the grid, above it aliases onto a lower frequency), so
        k < N/2 is required.

        Parameters
        ----------
        n_points : int
            N.
        grid : str
            What the N points are (``"training points"``, ``"evaluation angles"``).
        set_by : str
            The parameter that sets N (``points``, ``eval_points``), named in the error.

        Raises
        ------
        ParameterError
            ``'frequency'`` (sine) or ``'frequencies'``, stating N, what sets it and the
            limit.
        """
        n = check_int("n_points", n_points, 1)
        bad = tuple(k for k in self.frequencies if 2 * k >= n)
        if bad:
            raise parameter_error(
                "frequency" if self.name == "sine" else "frequencies",
                f"below the Nyquist limit N/2 = {n / 2:g} of the N = {n} {grid} "
                f"(N is set by {set_by})",
                bad if len(bad) > 1 else bad[0],
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary: name, frequencies, amplitudes, phases (lists)."""
        return {
            "name": self.name,
            "frequencies": list(self.frequencies),
            "amplitudes": list(self.amplitudes),
            "phases": list(self.phases),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Target:
        """Inverse of :meth:`to_dict` (validated)."""
        keys = ("name", "frequencies", "amplitudes", "phases")
        if not isinstance(data, Mapping) or set(data) != set(keys):
            shown = sorted(data) if isinstance(data, Mapping) else data
            raise parameter_error("target", f"a mapping with the keys {keys}", shown)
        return cls(*(data[key] for key in keys))


def _points(points: ArrayLike) -> FloatArray:
    x = np.asarray(points, dtype=np.float64)
    if x.ndim == 0 or x.shape[-1] != 2:
        raise parameter_error("points", "an array of shape (..., 2)", x.shape)
    return x


def product_xy(points: ArrayLike) -> FloatArray:
    """The product target x1·x2 at arbitrary points (Jacot et al. 2018, Fig. 1).

    Parameters
    ----------
    points : array_like, shape (..., 2)
        Inputs, e.g. Gaussian x ~ N(0, I₂).

    Returns
    -------
    ndarray, shape (...)
    """
    x = _points(points)
    return x[..., 0] * x[..., 1]


def make_target(
    name: str,
    *,
    frequencies: Sequence[int] | None = None,
    amplitudes: Sequence[float] | None = None,
    phases: Sequence[float] | None = None,
    frequency: int | None = None,
) -> Target:
    """Build and validate a target.

    Parameters
    ----------
    name : {"product", "fourier-mixture", "sine"}
        The family (parameter name ``'target'`` in errors).
    frequencies, amplitudes, phases : sequence, optional
        ``fourier-mixture``: default the seed write-up's mixture; with
        ``frequencies`` given, amplitudes default to 1 and phases to 0. ``sine``:
        ``frequencies`` may give the one frequency instead of ``frequency``, and
        ``amplitudes``/``phases`` one number each. ``product`` accepts none.
    frequency : int, optional
        The frequency k ≥ 1 of ``sine`` (required for it, unless ``frequencies``
        has it); not accepted by the other targets.

    Returns
    -------
    Target

    Raises
    ------
    ParameterError
        Unknown name, a parameter the family does not take, lengths that do
        not match, frequencies that are not distinct ints ≥ 1, non-finite
        amplitudes or phases. The message names the parameter.
    """
    family = check_choice("target", name, TARGETS)
    if family == "product":
        for field, value in (
            ("frequencies", frequencies),
            ("amplitudes", amplitudes),
            ("phases", phases),
            ("frequency", frequency),
        ):
            if value is not None:
                raise parameter_error(field, "left unset for the 'product' target", value)
        return Target("product", (2,), (0.5,), (0.0,))
    if family == "fourier-mixture":
        if frequency is not None:
            raise parameter_error(
                "frequency", "left unset for 'fourier-mixture' (use 'frequencies')", frequency
            )
        if frequencies is None:
            freqs: tuple[Any, ...] = MIXTURE_FREQUENCIES
            default_amps, default_phases = MIXTURE_AMPLITUDES, MIXTURE_PHASES
        else:
            freqs = _sequence("frequencies", frequencies)
            default_amps, default_phases = (1.0,) * len(freqs), (0.0,) * len(freqs)
    else:  # sine
        if frequency is None and frequencies is None:
            raise parameter_error("frequency", "an int in the range [1, inf)", None)
        if frequency is not None:
            k = check_int("frequency", frequency, 1)
            if frequencies is not None and _sequence("frequencies", frequencies) != (k,):
                raise parameter_error(
                    "frequencies", f"unset or ({k},) to agree with 'frequency'", frequencies
                )
            freqs = (k,)
        else:
            freqs = _sequence("frequencies", frequencies)
        default_amps, default_phases = (1.0,), (0.0,)
    amps = default_amps if amplitudes is None else _sequence("amplitudes", amplitudes)
    phis = default_phases if phases is None else _sequence("phases", phases)
    return Target(family, tuple(freqs), tuple(amps), tuple(phis))
