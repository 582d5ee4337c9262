"""Finite-width networks in PyTorch: the only package of spectralntk that imports torch.

Import it explicitly (``import spectralntk.nn``); nothing else imports it at module level.
"""

from spectralntk.nn.device import resolve_device, resolve_dtype
from spectralntk.nn.empirical_ntk import EmpiricalKernel, empirical_kernel
from spectralntk.nn.mlp import MLP, init_mlp

__all__ = [
    "MLP",
    "EmpiricalKernel",
    "empirical_kernel",
    "init_mlp",
    "resolve_device",
    "resolve_dtype",
]
