"""The arc-by-arc empirical NTK of depth-1 ReLU networks equals the layerwise Gram."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from spectralntk import NetworkConfig  # noqa: E402
from spectralntk.kernels import circle_points, uniform_angles  # noqa: E402
from spectralntk.nn import init_mlp  # noqa: E402
from spectralntk.nn.arc_gradients import ArcPoints  # noqa: E402
from spectralntk.nn.arc_ntk import arc_ntk, arc_ntk_applies  # noqa: E402
from spectralntk.nn.empirical_ntk import empirical_kernel  # noqa: E402

EPS = float(np.finfo(np.float64).eps)


def shuffled_subset(n: int, m: int = 720, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    gamma = rng.permutation(2 * np.pi * np.sort(rng.choice(m, size=n, replace=False)) / m)
    return torch.as_tensor(circle_points(gamma))


CONFIGS = [
    NetworkConfig(depth=1, output_bias=False),
    NetworkConfig(depth=1, output_bias=True, bias_std=0.7),
    NetworkConfig(depth=1, bias_std=0.0),
    NetworkConfig(depth=1, bias_init="zero"),
    NetworkConfig(depth=1, parameterization="standard", width=300, weight_std=1.4),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.parameterization}-{c.bias_std}")
@pytest.mark.parametrize("width", [1, 5, 300])
def test_arc_ntk_equals_the_layerwise_gram(cfg: NetworkConfig, width: int) -> None:
    if cfg.width is not None and cfg.width != width:
        cfg = cfg.replace(width=width)
    net = init_mlp(cfg, width, [0, 3, 8])
    x = shuffled_subset(200)
    grid = torch.as_tensor(circle_points(uniform_angles(360)))
    px, pg, p0 = ArcPoints.of(x), ArcPoints.of(grid), ArcPoints.of(grid[:1])
    assert px is not None and pg is not None and p0 is not None
    assert arc_ntk_applies(net, px, pg)
    for ours, theirs in (
        (arc_ntk(net, px), empirical_kernel(net, x).ntk),
        (arc_ntk(net, pg, px), empirical_kernel(net, grid, x).ntk),
        (arc_ntk(net, p0, pg), empirical_kernel(net, grid[:1], grid).ntk),
    ):
        assert ours.shape == theirs.shape
        # prefix sums over A + B positions: (A + B)·ε relative to the kernel's scale
        scale = theirs.abs().amax(dim=(1, 2), keepdim=True)
        bound = 8 * (ours.shape[1] + ours.shape[2] + width) * EPS * scale
        assert torch.all((ours - theirs).abs() <= bound)
    gram = arc_ntk(net, px)
    assert torch.equal(gram, gram.transpose(1, 2))  # symmetric by construction
    assert float(torch.linalg.eigvalsh(gram).min()) >= -1e-12 * float(gram.abs().max())


def test_arc_ntk_refuses_what_it_cannot_compute() -> None:
    deep = init_mlp(NetworkConfig(depth=2), 4, [0])
    points = ArcPoints.of(shuffled_subset(16))
    assert points is not None
    assert not arc_ntk_applies(deep, points)
    with pytest.raises(ValueError, match="depth-1"):
        arc_ntk(deep, points)
