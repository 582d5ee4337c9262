"""One vocabulary across commands: shared options and defaults, no inert or repeated option,
errors in the command line's words, ``--quiet``, docs inside the clone, report defaults."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import typer.core
import typer.main
from test_cli import invoke, override, stderr_of, stdout_of

from spectralntk import load
from spectralntk.cli import app
from spectralntk.cli._inert import INERT
from spectralntk.config import ARCHITECTURE_DEFAULTS, NetworkConfig
from spectralntk.settings import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = typer.main.get_command(app).commands  # type: ignore[attr-defined]
ARCHITECTURE = [
    "activation",
    "weight_std",
    "bias_std",
    "bias_init",
    "output_bias",
    "parameterization",
]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def options_of(command: str) -> dict[str, typer.core.TyperOption]:
    """Every flag of ``command`` (both spellings of a boolean pair) -> its option."""
    return {
        flag: p
        for p in COMMANDS[command].params
        if isinstance(p, typer.core.TyperOption)
        for flag in (*p.opts, *p.secondary_opts)
    }


def error_line(result) -> str:  # type: ignore[no-untyped-def]
    """The one ``Error:`` line of a failed command (exit 2, no traceback, nothing else)."""
    assert result.exit_code == 2, (result.output, result.exception)
    err = stderr_of(result)
    assert "Traceback" not in result.output + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    return lines[0]


# ---------------------------------------------------------------------------
# 1. One network per set of flags
# ---------------------------------------------------------------------------
def test_architecture_defaults_are_one_table() -> None:
    """settings, NetworkConfig and FluctuationConfig take their defaults from one table."""
    from spectralntk.runs.fluctuations import FluctuationConfig

    net = NetworkConfig()
    fields = {f.name: f.default for f in dataclasses.fields(FluctuationConfig)}
    assert set(ARCHITECTURE_DEFAULTS) == set(ARCHITECTURE)
    for name, value in ARCHITECTURE_DEFAULTS.items():
        assert DEFAULTS[name] == value, name
        assert getattr(getattr(net, name), "value", getattr(net, name)) == value, name
        assert fields[name] == value, name
    assert ARCHITECTURE_DEFAULTS["output_bias"] is True


@pytest.mark.parametrize("command", ["decompose", "train", "fluctuations"])
def test_architecture_options_are_the_same_options(command: str) -> None:
    """Same flags, and "not given" (None) as default, so the shared table decides."""
    params = {p.name: p for p in COMMANDS[command].params}
    for name in ARCHITECTURE:
        p = params[name]
        assert p.default is None, (command, name)
        flags = {*p.opts, *p.secondary_opts}
        expected = "--" + name.replace("_", "-")
        assert expected in flags, (command, name, flags)
    assert set(params["output_bias"].secondary_opts) == {"--no-output-bias"}


def test_decompose_and_train_at_depth_1_are_the_same_network(in_tmp: Path) -> None:
    from spectralntk.runs.training import TrainingConfig
    from spectralntk.spectral.decomposition import circle_spectrum
    from spectralntk.store.schema import read_config

    pytest.importorskip("torch")
    result = invoke(
        "decompose", "--depth", "1", "--max-frequency", "32", "--quiet", "--out", "d.nc"
    )
    assert result.exit_code == 0, result.output
    result = invoke(
        "train", "--depth", "1", "--width", "8", "--seeds", "1", "--steps", "2",
        "--points", "32", "--eval-points", "64", "--target", "sine", "--frequency", "2",
        "--inputs", "grid", "--quiet", "--out", "t.nc",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    decomposed = load(in_tmp / "d.nc")["ntk_eigenvalue"].sel(depth=1).values
    trained = load(in_tmp / "t.nc")
    network = TrainingConfig.from_dict(read_config(trained)).network
    assert network.output_bias is True
    lam = circle_spectrum(network, 32).eigenvalues.ntk
    np.testing.assert_array_equal(lam, decomposed)
    assert decomposed[0] == pytest.approx(0.16593145186787, rel=1e-12)
    if "analytic_eigenvalue" in trained:  # the run file's own theory, where it stores it
        stored = np.asarray(trained["analytic_eigenvalue"]).reshape(-1, trained.sizes["frequency"])
        # the same to quadrature rounding (its node count follows K: 1e-15·λ_0)
        np.testing.assert_allclose(
            stored[0], decomposed[: stored.shape[1]], rtol=0, atol=1e-15 * decomposed[0]
        )


# ---------------------------------------------------------------------------
# 2. Several depths in train; a repeated single-valued option is an error
# ---------------------------------------------------------------------------
TINY = [
    "--width", "8", "--width", "16", "--seeds", "2", "--steps", "6", "--points", "16",
    "--eval-points", "32", "--inputs", "grid", "--target", "sine", "--frequency", "2",
    "--lr", "0.5", "--quiet",
]  # fmt: skip


def test_train_with_several_depths_has_a_depth_dimension(in_tmp: Path) -> None:
    """Each depth of the stacked run is bit for bit the single-depth run; report pages it."""
    pytest.importorskip("torch")
    from spectralntk.sweeps.combine import sweep_points

    result = invoke("train", *TINY, "--depth", "1", "--depth", "2", "--out", "both.nc")
    assert result.exit_code == 0, result.output
    assert stdout_of(result).strip() == str(in_tmp / "both.nc")
    both = load(in_tmp / "both.nc")
    assert list(both["depth"].values) == [1, 2]
    assert both["residual_cos"].dims[0] == "depth"
    assert list(in_tmp.glob(".both.nc*")) == []  # parts and states are gone
    points = dict((p["depth"], one) for p, one in sweep_points(both))
    for depth in (1, 2):
        result = invoke("train", *TINY, "--depth", str(depth), "--out", f"d{depth}.nc")
        assert result.exit_code == 0, result.output
        alone = load(in_tmp / f"d{depth}.nc")
        for name in ("residual_cos", "residual_sin", "kernel_drift", "relative_error"):
            np.testing.assert_array_equal(points[depth][name].values, alone[name].values)
    result = invoke("report", "both.nc", "--no-svg", "--out", "rep")
    assert result.exit_code == 0, result.output
    readme = (in_tmp / "rep" / "README.md").read_text()
    assert "(depth=1/README.md)" in readme and "(depth=2/README.md)" in readme
    assert (in_tmp / "rep" / "depth=2" / "report.json").is_file()


def test_repeated_depth_is_refused(in_tmp: Path) -> None:
    line = error_line(invoke("train", *TINY, "--depth", "1", "--depth", "1"))
    assert "--depth" in line and "distinct" in line


def _repeat_cases() -> list[tuple[str, str]]:
    cases = []
    for command in COMMANDS:
        for p in COMMANDS[command].params:
            if isinstance(p, typer.core.TyperOption) and not p.multiple and p.opts:
                cases.append((command, p.opts[0]))
    return cases


@pytest.mark.parametrize(("command", "flag"), _repeat_cases())
def test_every_single_valued_option_given_twice_is_refused(command: str, flag: str) -> None:
    p = options_of(command)[flag]
    if p.is_flag:
        args = [flag, flag]
    else:
        args = [flag, *["1"] * max(p.nargs, 1), flag, *["1"] * max(p.nargs, 1)]
    positional = ["x.nc"] if command in ("report", "sweep") else []
    line = error_line(invoke(command, *positional, *args))
    assert flag in line and "give it once" in line


# ---------------------------------------------------------------------------
# 3. No silently ignored option (the table of src/cli/_inert.py, every rule run)
# ---------------------------------------------------------------------------
def test_every_inert_rule_names_an_option_of_its_command() -> None:
    for rule in INERT:
        names = {p.name for p in COMMANDS[rule.command].params}
        assert rule.option in names, rule
    assert {r.command for r in INERT} >= {"decompose", "train", "fluctuations", "report"}


@pytest.mark.parametrize("rule", INERT, ids=[f"{r.command} {' '.join(r.example)}" for r in INERT])
def test_an_option_without_effect_exits_2_saying_why(in_tmp: Path, rule) -> None:  # type: ignore[no-untyped-def]
    args = ["missing.nc" if a == "RUN" else a for a in rule.example]
    line = error_line(invoke(rule.command, *args))
    flags = {f for f, p in options_of(rule.command).items() if p.name == rule.option}
    assert any(f in line for f in flags), (line, flags)
    assert "has no effect" in line and rule.reason in line
    assert not any(in_tmp.iterdir())


def test_the_same_options_in_their_mode_are_accepted(in_tmp: Path) -> None:
    """The rules fire only in their mode: the options work where they have an effect."""
    result = invoke(
        "decompose", "--parameterization", "standard", "--width", "100",
        "--max-frequency", "16", "--angles", "36", "--quiet", "--out", "a.nc",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = invoke(
        "decompose", "--bias-std", "0.2", "--bias-init", "zero", "--no-output-bias",
        "--max-frequency", "16", "--quiet", "--out", "b.nc",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------------------
# 4. Errors name what the user typed
# ---------------------------------------------------------------------------
BAD = [
    ("train", ["--checkpoint-steps", "99", "--steps", "10"], "--checkpoint-steps"),
    ("train", ["--target", "sine", "--frequency", "500"], "--frequency"),
    ("train", ["--target", "sine", "--frequency", "200", "--inputs", "grid"], "--frequency"),
    ("train", ["--set", "foo=1"], "--set"),
    ("train", ["--lr", "0"], "--lr"),
    ("train", ["--width", "0"], "--width"),
    ("decompose", ["--parameterization", "standard"], "--width"),
    ("decompose", ["--weight-std", "-1"], "--weight-std"),
    ("decompose", ["--kernel", "empirical"], "--width"),
    ("fluctuations", ["--seeds", "1"], "--seeds"),
    ("fluctuations", ["--steps", "2", "--target", "sine"], "--frequency"),
    ("fluctuations", ["--depth", "0"], "--depth"),
    ("report", ["missing.nc"], "RUN"),
    ("reproduce", ["exp9"], "PRESET"),
    ("reproduce", ["exp2.1", "--set", "nonsense=1"], "--set"),
]


@pytest.mark.parametrize(("command", "args", "named"), BAD, ids=[" ".join(a) for _, a, _ in BAD])
def test_errors_name_options_of_the_command(in_tmp: Path, command: str, args, named) -> None:  # type: ignore[no-untyped-def]
    line = error_line(invoke(command, *args))
    if named.startswith("--"):
        assert f"Invalid value for {named}" in line, line
    else:
        assert named in line or "missing.nc" in line, line
    flags = set(options_of(command))
    for mentioned in re.findall(r"--[a-z][a-z-]*", line):
        assert mentioned in flags, (mentioned, line)
    for python in ("=True", "=False", "The '", "parameter must be", "overwrite=True"):
        assert python not in line, line


def test_the_nyquist_error_states_n_and_the_option_that_sets_it(in_tmp: Path) -> None:
    line = error_line(invoke("train", "--target", "sine", "--frequency", "500"))
    assert "N = 720 evaluation angles" in line and "--eval-points" in line
    line = error_line(invoke("train", "--target", "sine", "--frequency", "200", "--inputs", "grid"))
    assert "N = 256 training points" in line and "--points" in line


def test_set_lists_the_valid_keys(in_tmp: Path) -> None:
    line = error_line(invoke("train", "--set", "lrr=1"))
    assert "did you mean lr?" in line
    for key in DEFAULTS:
        assert key in line


# ---------------------------------------------------------------------------
# 5. --quiet prints the path alone
# ---------------------------------------------------------------------------
def test_quiet_prints_the_path_alone(in_tmp: Path) -> None:
    pytest.importorskip("torch")
    runs = {
        "d.nc": ["decompose", "--max-frequency", "16", "--angles", "36"],
        "t.nc": ["train", *override(TINY[:-1], "--lr", "100")],  # over the stability limit
        "f.nc": ["fluctuations", "--quick", "--depth", "2", "--width", "8", "--seeds", "2",
                 "--probes", "4", "--bootstrap", "10"],
    }  # fmt: skip
    for name, args in runs.items():
        result = invoke(*args, "--quiet", "--out", name)
        assert result.exit_code == 0, result.output
        assert stdout_of(result) == f"{in_tmp / name}\n", (args, stdout_of(result))
        err = result.stderr  # warnings only (train's η over the limit), no chatter
        assert "stability:" not in err and "writing" not in err, err
        assert all(line.startswith("warning:") for line in err.splitlines()), err
    result = invoke("report", "d.nc", "--no-svg", "--quiet", "--out", "rep")
    assert result.exit_code == 0, result.output
    assert stdout_of(result) == f"{in_tmp / 'rep'}\n" and result.stderr == ""


# ---------------------------------------------------------------------------
# 6. Docs travel with the clone
# ---------------------------------------------------------------------------
def _tracked(pattern: str) -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", pattern], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return [ROOT / line for line in out.stdout.splitlines()] if out.returncode == 0 else []


DOCS = [ROOT / "README.md", ROOT / "reports" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_relative_links_resolve_inside_the_repository(doc: Path) -> None:
    text = doc.read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links or doc.name != "README.md"
    for link in links:
        if re.match(r"[a-z]+:", link) or link.startswith("#"):
            continue
        target = (doc.parent / link.split("#")[0]).resolve()
        assert target.exists(), (doc, link)
        assert ROOT in target.parents or target == ROOT, (doc, link)
    assert "../shared" not in text


def test_conventions_and_experiments_are_in_the_repository() -> None:
    conventions = (ROOT / "docs" / "conventions.md").read_text()
    for topic in ("depth = number of hidden layers", "NTK parameterization", "Data model"):
        assert topic in conventions
    experiments = (ROOT / "docs" / "experiments.md").read_text()
    for preset in ("exp2.1", "exp2.5", "rahaman", "Hanin"):
        assert preset in experiments
    outside = "../" + "shared/"  # spelled apart so that this file does not match itself
    for path in _tracked("*.py"):
        assert outside not in path.read_text(), path


# ---------------------------------------------------------------------------
# 7. Reports never go into the committed gallery by default
# ---------------------------------------------------------------------------
def test_report_and_reproduce_default_to_runs_reports() -> None:
    defaults = {p.name: p.default for p in COMMANDS["reproduce"].params if p.name == "out"}
    assert Path(defaults["out"]) == Path("runs") / "reports"
    help_text = next(p.help for p in COMMANDS["report"].params if p.name == "out")
    assert "runs/reports/" in (help_text or "")


def test_report_default_folder_is_under_runs(in_tmp: Path) -> None:
    result = invoke("decompose", "--max-frequency", "16", "--quiet", "--out", "s.nc")
    assert result.exit_code == 0, result.output
    result = invoke("report", "s.nc", "--no-svg", "--quiet")
    assert result.exit_code == 0, result.output
    assert stdout_of(result).strip() == str((in_tmp / "runs" / "reports" / "s").absolute())
    assert not (in_tmp / "reports").exists()


# ---------------------------------------------------------------------------
# 8. Wording
# ---------------------------------------------------------------------------
def test_one_affine_layer_is_singular(in_tmp: Path) -> None:
    result = invoke("decompose", "--depth", "0", "--depth", "1", "--max-frequency", "8",
                    "--out", "s.nc")  # fmt: skip
    assert result.exit_code == 0, result.output
    text = stdout_of(result)
    assert "depth 0 (L = 1 affine layer)," in text and "depth 1 (L = 2 affine layers)," in text


def test_small_differences_are_not_printed_as_zero_percent() -> None:
    from spectralntk.reports.convergence import _percent

    assert _percent(0.0004) == "0.04 %" and _percent(0.123) == "12 %" and _percent(0) == "0 %"
    assert "0.0%" not in _percent(1e-5)


def test_an_interrupted_several_depth_run_resumes_to_the_same_file(in_tmp: Path) -> None:
    """Finished depths wait as part files, the interrupted one in its state; --resume ends
    with the run an uninterrupted train writes."""
    pytest.importorskip("torch")
    from spectralntk.runs.depths import part_path, state_path, train_depths
    from spectralntk.settings import merge_settings, training_configs

    settings = merge_settings(
        {"depth": [1, 2], "width": [8], "seeds": 1, "points": 16, "inputs": "grid",
         "eval_points": 32, "steps": 40, "target": "sine", "frequency": 2, "lr": 0.5}
    )  # fmt: skip
    configs, _, _ = training_configs(settings)
    out = in_tmp / "r.nc"
    polls = iter(range(10**6))
    stopped = train_depths(
        configs, out, history="h", flush_seconds=0.0, should_stop=lambda: next(polls) >= 60
    )
    assert stopped is None
    assert part_path(out, 1).is_file() and state_path(out, 2).is_file()
    resumed = train_depths(configs, out, history="h", resume=True)
    whole = train_depths(configs, in_tmp / "w.nc", history="h")
    for name in ("residual_cos", "kernel_drift", "loss"):
        np.testing.assert_array_equal(resumed[name].values, whole[name].values)
    assert not state_path(out, 2).exists()


@pytest.mark.parametrize(
    ("command", "name", "kind", "runs"),
    [
        ("train", "beta-sweep", "sweep", "spectralntk reproduce beta-sweep"),
        ("train", "hanin-nica", "fluctuations", "spectralntk reproduce hanin-nica"),
        ("fluctuations", "exp2.1", "train", "spectralntk train --preset exp2.1"),
        ("fluctuations", "beta-sweep", "sweep", "spectralntk reproduce beta-sweep"),
    ],
)
def test_a_preset_of_another_command_says_which_command_runs_it(
    in_tmp: Path, command: str, name: str, kind: str, runs: str
) -> None:
    line = error_line(invoke(command, "--preset", name))
    assert f"'{name}' is a {kind} preset: run it with `{runs}`" in line, line
    assert "--quick" not in line  # the preset names are values, not options


def test_a_choice_list_keeps_its_values_quoted(in_tmp: Path) -> None:
    line = error_line(invoke("fluctuations", "--preset", "nope"))
    assert "must be one of {'default', 'hanin-nica', 'quick'}. Got 'nope' instead." in line


def test_no_lock_or_staging_file_is_tracked() -> None:
    """A report or run being written leaves a lock and a staging folder (store/output.py);
    the gallery is committed only from finished folders."""
    tracked = _tracked("*")
    if not tracked:
        pytest.skip("not a git checkout")
    stray = [p for p in tracked if p.name.endswith(".lock") or ".tmp-" in str(p)]
    assert stray == [], stray
