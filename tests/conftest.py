"""Shared test configuration: hypothesis profiles, the ``slow`` marker, one thread.

Profiles: ``dev`` (default, quick), ``ci`` (loaded when the CI variable is set:
more examples, derandomized so that CI is reproducible). Slow properties are
marked ``@pytest.mark.slow`` and run with ``--runslow`` or SPECTRALNTK_SLOW=1.
"""

from __future__ import annotations

import os
import shutil

# One compute thread per test process: the suite runs in two xdist workers on two
# cores, and torch's default of one thread per core makes each small step wait for a
# descheduled thread (issue 15). Tests that need other counts set them themselves.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow") or os.environ.get("SPECTRALNTK_SLOW"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow or SPECTRALNTK_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def ncdump() -> str:
    """The ``ncdump`` command; the test skips without it (Debian's netcdf-bin), and fails
    instead where CI sets SPECTRALNTK_REQUIRE_NCDUMP. List it first: it is set up before
    the test's expensive fixtures."""
    path = shutil.which("ncdump")
    if path is None:
        if os.environ.get("SPECTRALNTK_REQUIRE_NCDUMP"):
            pytest.fail("ncdump not installed but SPECTRALNTK_REQUIRE_NCDUMP is set")
        pytest.skip("ncdump not installed (Debian package netcdf-bin)")
    return path
