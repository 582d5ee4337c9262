"""Devices and dtypes: validated once, with the project's one-line errors."""

from __future__ import annotations

import torch

from spectralntk.errors import parameter_error

__all__ = ["DTYPES", "resolve_device", "resolve_dtype"]

#: Supported floating dtypes (float16/bfloat16 lose the kernel's digits).
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"`` (CUDA if available).

    Raises
    ------
    ParameterError
        If the device does not exist or is not available on this machine.
    """
    rule = "an available torch device ('cpu', 'cuda', 'cuda:N', 'mps' or 'auto')"
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise parameter_error("device", rule, name) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count():
            raise parameter_error("device", rule + "; CUDA is not available here", name)
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise parameter_error("device", rule + "; MPS is not available here", name)
    elif dev.type != "cpu":
        raise parameter_error("device", rule, name)
    return dev


def resolve_dtype(dtype: str | torch.dtype = "float64") -> torch.dtype:
    """``"float32"`` or ``"float64"`` (or the torch dtypes themselves)."""
    if isinstance(dtype, torch.dtype):
        for value in DTYPES.values():
            if dtype == value:
                return value
        name: str = str(dtype).removeprefix("torch.")
    else:
        name = str(dtype)
    if name not in DTYPES:
        raise parameter_error("dtype", "one of {'float32', 'float64'}", name)
    return DTYPES[name]
