"""The empirical spectrum run behind ``spectralntk decompose --kernel empirical``.

For every depth, width and seed: the exact empirical NTK and NNGP of a
finite-width network on the N-point circle grid (:mod:`spectralntk.nn`), their
finite-width spectra (:mod:`spectralntk.spectral.gram`), the kernel profile
K(x0, x(γ)) and the relative Frobenius distance to the analytic Gram matrix;
alongside, the analytic λ_k, μ_k/N and profiles of the same architecture
(Jacot et al. 2018, Fig. 1; the seed write-up's experiment 2.1).

torch is imported when :func:`empirical_spectrum` runs, never at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spectralntk.config import NetworkConfig
from spectralntk.errors import check_int, parameter_error
from spectralntk.kernels.circle import circle_kernel, circle_points, uniform_angles
from spectralntk.kernels.recursion import Kernel
from spectralntk.limits import MAX_FREQUENCY, MAX_SEEDS, MAX_WIDTH, check_one_seed
from spectralntk.spectral.decomposition import circle_spectrum
from spectralntk.spectral.fourier import circulant_eigenvalues
from spectralntk.spectral.gram import gram_spectrum, relative_distance

__all__ = ["EmpiricalRun", "ProgressCallback", "empirical_spectrum"]

FloatArray = NDArray[np.float64]

#: Called after each batch of seeds as ``on_progress(done, total, description)``.
ProgressCallback = Callable[[int, int, str], None]

KERNELS = ("ntk", "nngp")
#: Default memory budget of one batch of seeds (parameters + activations + Grams).
DEFAULT_MEMORY_BUDGET = 1 << 30


@dataclass(frozen=True)
class EmpiricalRun:
    """Empirical kernels of finite networks next to their analytic limit.

    Arrays are indexed (depth, width, seed, ...) with D depths, W widths, S seeds,
    N grid points and F = ⌊N/2⌋ + 1 frequencies.

    Attributes
    ----------
    config : NetworkConfig
    depths, widths, seeds : tuple of int
    points : int
        N.
    dtype, device : str
        Where and in which precision the networks ran.
    analytic_eigenvalues : Kernel
        λ_k by quadrature, (D, F).
    analytic_grid_eigenvalues : Kernel
        μ_k/N of the analytic Gram on the grid, (D, F).
    analytic_profile : Kernel
        (D, N).
    rayleigh, leakage : Kernel
        (D, W, S, F).
    eigenvalues : Kernel
        Eigenvalues of K/N, descending, (D, W, S, N).
    profile : Kernel
        Row x0 of each empirical Gram, (D, W, S, N).
    distance : Kernel
        ‖K − K_analytic‖_F/‖K_analytic‖_F, (D, W, S).
    """

    config: NetworkConfig
    depths: tuple[int, ...]
    widths: tuple[int, ...]
    seeds: tuple[int, ...]
    points: int
    dtype: str
    device: str
    analytic_eigenvalues: Kernel
    analytic_grid_eigenvalues: Kernel
    analytic_profile: Kernel
    rayleigh: Kernel
    leakage: Kernel
    eigenvalues: Kernel
    profile: Kernel
    distance: Kernel

    @property
    def angles(self) -> FloatArray:
        """The grid 2πj/N."""
        return uniform_angles(self.points)

    def run_config(self) -> dict[str, Any]:
        """Everything needed to recompute the run, as plain JSON-ready data."""
        network = self.config.to_dict()
        network.pop("depth")
        network.pop("width")
        return {
            "command": "decompose",
            "kernel": "empirical",
            "network": network,
            "depths": list(self.depths),
            "widths": list(self.widths),
            "seeds": list(self.seeds),
            "points": self.points,
            "dtype": self.dtype,
            "device": self.device,
        }

    def to_dataset(self, *, history: str | None = None) -> Any:
        """The run as a CF-1.8 :class:`xarray.Dataset`.

        Dimensions depth, width, seed, frequency, angle and rank.
        """
        from spectralntk.store import schema

        data: dict[str, Any] = {}
        for name in KERNELS:
            data[f"{name}_eigenvalue"] = getattr(self.analytic_eigenvalues, name)
            data[f"{name}_grid_eigenvalue"] = getattr(self.analytic_grid_eigenvalues, name)
            data[f"{name}_profile"] = getattr(self.analytic_profile, name)
            data[f"{name}_empirical_rayleigh"] = getattr(self.rayleigh, name)
            data[f"{name}_empirical_leakage"] = getattr(self.leakage, name)
            data[f"{name}_empirical_eigenvalue"] = getattr(self.eigenvalues, name)
            data[f"{name}_empirical_profile"] = getattr(self.profile, name)
            data[f"{name}_relative_distance"] = getattr(self.distance, name)
        depths = np.asarray(self.depths, dtype=np.int32)
        return schema.make_dataset(
            schema.EMPIRICAL_SPECTRUM,
            config=self.run_config(),
            data_vars=data,
            coords={
                schema.DEPTH: depths,
                schema.JACOT_LAYERS: depths + 1,
                schema.WIDTH: np.asarray(self.widths, dtype=np.int32),
                schema.SEED: np.asarray(self.seeds, dtype=np.int32),
                schema.FREQUENCY: np.arange(self.points // 2 + 1, dtype=np.int32),
                schema.ANGLE: self.angles,
                schema.RANK: np.arange(self.points, dtype=np.int32),
            },
            title=(
                f"Empirical NNGP/NTK of finite-width {self.config.activation.value} MLPs "
                "on the circle, with their analytic limit"
            ),
            history=history,
        )


def _sorted_distinct(name: str, values: Sequence[int], low: int) -> tuple[int, ...]:
    checked = sorted(check_int(name, v, low) for v in values)
    if not checked or len(set(checked)) != len(checked):
        raise parameter_error(name, "a non-empty list of distinct ints", list(values))
    return tuple(checked)


def empirical_spectrum(
    config: NetworkConfig,
    widths: Sequence[int],
    seeds: int | Sequence[int] = 10,
    *,
    depths: Sequence[int] | None = None,
    points: int = 256,
    dtype: str = "float64",
    device: str = "cpu",
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    on_progress: ProgressCallback | None = None,
) -> EmpiricalRun:
    """Empirical NTK/NNGP spectra and profiles of finite networks on the circle grid.

    Parameters
    ----------
    config : NetworkConfig
        Architecture (``config.depth`` unless ``depths`` is given; ``width`` ignored).
    widths : sequence of int
        Hidden widths n ≥ 1.
    seeds : int or sequence of int
        Number of seeds (then 0..S−1) or the seeds themselves.
    depths : sequence of int, optional
        Numbers of hidden layers.
    points : int
        N ≥ 3 grid points 2πj/N.
    dtype : {"float32", "float64"}
        Precision of the networks; spectra are computed in float64.
    device : str
        ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto``.
    memory_budget : int
        Bytes one batch of seeds may use (parameters, activations, Grams); batches
        are sized to fit, at least one seed. It excludes the ~0.25 GB that Python,
        numpy and torch take before any network exists. Width 10000 at depth 3 needs
        about 0.8 GB per seed in float32.
    on_progress : callable, optional
        ``on_progress(done, total, description)`` after each batch.

    Returns
    -------
    EmpiricalRun
    """
    import torch

    from spectralntk.nn.device import resolve_device, resolve_dtype
    from spectralntk.nn.empirical_ntk import empirical_kernel, seed_chunk
    from spectralntk.nn.mlp import init_mlp

    n = check_int("points", points, 3)
    width_list = _sorted_distinct("width", widths, 1)
    seed_list = (
        tuple(range(check_int("seeds", seeds, 1, MAX_SEEDS)))
        if isinstance(seeds, int | np.integer) and not isinstance(seeds, bool)
        else _sorted_distinct("seed", seeds, 0)  # type: ignore[arg-type]
    )
    depth_list = _sorted_distinct("depth", (config.depth,) if depths is None else depths, 0)
    budget = check_int("memory_budget", memory_budget, 1)
    check_int("points", n, 3, 2 * MAX_FREQUENCY)
    check_int("seeds", len(seed_list), 1, MAX_SEEDS)
    check_int("width", max(width_list), 1, MAX_WIDTH)
    torch_dtype, dev = resolve_dtype(dtype), resolve_device(device)
    # Fixed arrays before any seed: the analytic N×N Grams and their index, the results.
    results = 2 * len(depth_list) * len(width_list) * len(seed_list) * (2 * (n // 2 + 1) + 2 * n)
    check_one_seed("points", n, 8.0 * (3 * n * n + results), budget)
    grid = uniform_angles(n)
    x = torch.as_tensor(circle_points(grid), dtype=torch_dtype, device=dev)
    itemsize = torch.finfo(torch_dtype).bits // 8

    d_, w_, s_ = len(depth_list), len(width_list), len(seed_list)
    freq = n // 2 + 1
    out = {
        name: {
            "rayleigh": np.empty((d_, w_, s_, freq)),
            "leakage": np.empty((d_, w_, s_, freq)),
            "eigenvalues": np.empty((d_, w_, s_, n)),
            "profile": np.empty((d_, w_, s_, n)),
            "distance": np.empty((d_, w_, s_)),
        }
        for name in KERNELS
    }
    lam, mu, prof = [], [], []
    total, done = d_ * w_ * s_, 0
    for i, depth in enumerate(depth_list):
        cfg = config.replace(depth=depth, width=None)
        row = circle_kernel(cfg, grid)
        lam.append(circle_spectrum(cfg, n // 2).eigenvalues)
        mu.append(
            Kernel(nngp=circulant_eigenvalues(row.nngp) / n, ntk=circulant_eigenvalues(row.ntk) / n)
        )
        prof.append(row)
        index = (np.arange(n)[None, :] - np.arange(n)[:, None]) % n
        analytic = {name: getattr(row, name)[index] for name in KERNELS}
        for j, width in enumerate(width_list):
            cfg_w = cfg.replace(width=width) if cfg.parameterization.value == "standard" else cfg
            chunk = seed_chunk(cfg.input_dim, width, depth, n, itemsize, budget)
            net = None
            for start in range(0, s_, chunk):
                part = seed_list[start : start + chunk]
                net = init_mlp(cfg_w, width, part, dtype=torch_dtype, device=dev, out=net)
                with torch.no_grad():
                    kern = empirical_kernel(net, x)
                for name in KERNELS:
                    gram = getattr(kern, name).to("cpu", torch.float64).numpy()
                    spec = gram_spectrum(gram)
                    sl = (i, j, slice(start, start + len(part)))
                    out[name]["rayleigh"][sl] = spec.rayleigh
                    out[name]["leakage"][sl] = spec.leakage
                    out[name]["eigenvalues"][sl] = spec.eigenvalues
                    out[name]["profile"][sl] = gram[:, 0, :]
                    out[name]["distance"][sl] = relative_distance(gram, analytic[name])
                del kern
                done += len(part)
                if on_progress is not None:
                    on_progress(done, total, f"depth {depth}, width {width}")

    def pack(field: str) -> Kernel:
        return Kernel(nngp=out["nngp"][field], ntk=out["ntk"][field])

    def stack(items: list[Kernel]) -> Kernel:
        return Kernel(nngp=np.stack([k.nngp for k in items]), ntk=np.stack([k.ntk for k in items]))

    return EmpiricalRun(
        config=config.replace(depth=depth_list[0], width=None),
        depths=depth_list,
        widths=width_list,
        seeds=seed_list,
        points=n,
        dtype=str(torch_dtype).removeprefix("torch."),
        device=str(dev),
        analytic_eigenvalues=stack(lam),
        analytic_grid_eigenvalues=stack(mu),
        analytic_profile=stack(prof),
        rayleigh=pack("rayleigh"),
        leakage=pack("leakage"),
        eigenvalues=pack("eigenvalues"),
        profile=pack("profile"),
        distance=pack("distance"),
    )
