"""What the README promises is what CI runs, and installs never pull a CUDA torch."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _first_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README must start with a bash block of commands"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_readme_starts_with_setup_and_main_job_then_tests() -> None:
    main_job, tests = _first_commands()[:2]
    assert "spectralntk decompose --kernel analytic --depth 4" in main_job
    assert "pytest" in tests
    for command in (main_job, tests):
        assert "-c constraints-cpu.txt" in command


def test_ci_runs_the_readme_test_command() -> None:
    tests = _first_commands()[1]
    assert tests in (ROOT / ".ci" / "run").read_text().splitlines()


def test_torch_is_pinned_for_cpu_and_unpinned_for_users() -> None:
    assert "torch==2.13.0" in (ROOT / "constraints-cpu.txt").read_text().splitlines()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^\s*"torch>=2\.3",$', pyproject, re.M)
