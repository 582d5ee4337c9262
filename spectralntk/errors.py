"""Errors raised by spectralntk, and the one template for parameter errors.

Every check of user input goes through :func:`parameter_error` so that every
message has the same shape (after scikit-learn's parameter validation)::

    The 'depth' parameter must be an int in the range [0, inf). Got -1 instead.

The CLI turns :class:`ParameterError` and :class:`RunFileError` into a one-line
message on stderr and exit status 2.
"""

from __future__ import annotations

import math
import operator
from typing import Any

__all__ = [
    "ParameterError",
    "RunFileError",
    "SpectralNTKError",
    "check_choice",
    "check_int",
    "check_real",
    "parameter_error",
]


class SpectralNTKError(Exception):
    """Base class of every error spectralntk raises on purpose."""


class ParameterError(SpectralNTKError, ValueError):
    """A parameter has a value outside its declared constraint.

    Attributes
    ----------
    parameter : str
        Name of the offending parameter, as the user spelled it in the API.
    """

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


class RunFileError(SpectralNTKError, OSError):
    """A file cannot be read or written as a spectralntk run."""


def parameter_error(parameter: str, rule: str, value: Any) -> ParameterError:
    """Build the error for ``parameter`` that broke ``rule`` with ``value``.

    Parameters
    ----------
    parameter : str
        Parameter name.
    rule : str
        What the value must be, completing "The 'x' parameter must be ...".
    value : object
        The value seen; shown with ``repr``.
    """
    return ParameterError(
        parameter, f"The {parameter!r} parameter must be {rule}. Got {value!r} instead."
    )


def _interval(low: float | None, high: float | None) -> str:
    lo = "-inf" if low is None else repr(low)
    hi = "inf" if high is None else repr(high)
    return f"[{lo}, {hi}{']' if high is not None else ')'}".replace("[-inf", "(-inf")


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as ``int`` if it is an integer in ``[low, high]``.

    Booleans and integral floats such as ``2.0`` are rejected: they are almost
    always a mistake in a configuration file.
    """
    rule = f"an int in the range {_interval(low, high)}"
    if isinstance(value, bool):
        raise parameter_error(name, rule, value)
    try:
        ivalue = operator.index(value)  # int and numpy integers; not floats
    except TypeError:
        raise parameter_error(name, rule, value) from None
    if (low is not None and ivalue < low) or (high is not None and ivalue > high):
        raise parameter_error(name, rule, ivalue)
    return ivalue


def check_real(name: str, value: Any, low: float | None = None, high: float | None = None) -> float:
    """Return ``value`` as ``float`` if it is a finite real number in ``[low, high]``."""
    rule = f"a finite real number in the range {_interval(low, high)}"
    if isinstance(value, bool):
        raise parameter_error(name, rule, value)
    try:
        fvalue = float(value)
    except (TypeError, ValueError):
        raise parameter_error(name, rule, value) from None
    if not math.isfinite(fvalue):
        raise parameter_error(name, rule, fvalue)
    if (low is not None and fvalue < low) or (high is not None and fvalue > high):
        raise parameter_error(name, rule, fvalue)
    return fvalue


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices`` (strings or ``str`` enums)."""
    text = getattr(value, "value", value)
    if not isinstance(text, str) or text not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise parameter_error(name, f"one of {{{options}}}", value)
    return text
