"""Analytic infinite-width kernels: dual activations, the NNGP/NTK recursion, the circle."""

from spectralntk.kernels.activations import DualActivation, DualPair, dual_activation
from spectralntk.kernels.circle import circle_kernel, circle_points, uniform_angles, wrap_angle
from spectralntk.kernels.recursion import Kernel, LayerInput, kernel_matrix, recursion

__all__ = [
    "DualActivation",
    "DualPair",
    "Kernel",
    "LayerInput",
    "circle_kernel",
    "circle_points",
    "dual_activation",
    "kernel_matrix",
    "recursion",
    "uniform_angles",
    "wrap_angle",
]
