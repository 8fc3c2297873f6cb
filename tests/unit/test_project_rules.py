"""Project rules checked on every run: README <-> CI, pinned constraints, Python 3.10 cleanliness, lint."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / ".ci"))
import readme_command  # noqa: E402


def test_readme_starts_with_two_setup_commands_and_ci_runs_the_second():
    cmds = readme_command.commands((REPO / "README.md").read_text())
    assert len(cmds) == 2
    assert cmds[0].startswith("./install.sh") and "workbench" in cmds[0]
    assert cmds[1] == "./install.sh --dev && .venv/bin/pytest"
    ci = (REPO / ".ci" / "run").read_text()
    assert 'readme_command.py" 2' in ci or "readme_command.py 2" in ci
    assert 'bash -c "$cmd"' in ci
    assert '"$rc" = 5' in ci  # no collected test is a failure


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_constraints_pin_every_dependency_exactly():
    import tomllib

    pins = _pins()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = list(project["dependencies"])
    for extra in ("dev", "torch", "train", "nvml"):
        names += project["optional-dependencies"][extra]
    for req in names:
        name = re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0]
        key = re.sub(r"[-_.]+", "-", name).lower()
        assert key in pins, f"{name} from pyproject.toml is not pinned in constraints.txt"
        assert re.fullmatch(r"[0-9][0-9A-Za-z.+]*", pins[key]), f"{name} pin {pins[key]!r} is not exact"
    assert pins.get("torch") == "2.13.0"


def test_install_script_uses_constraints_editable_and_pinned_torch():
    text = (REPO / "install.sh").read_text()
    assert "-c constraints.txt -e" in text
    assert '"torch==2.13.0"' in text
    assert "--system-site-packages" in text and "/etc/nv_tegra_release" in text


@pytest.mark.skipif(
    shutil.which("vermin") is None and not (Path(sys.executable).parent / "vermin").exists(),
    reason="vermin not installed",
)
def test_code_is_python_310_clean():
    vermin = shutil.which("vermin") or str(Path(sys.executable).parent / "vermin")
    res = subprocess.run(
        [vermin, "-t=3.10-", "--no-tips", "--violations", "--eval-annotations", "workbench"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff not installed")
    res = subprocess.run(
        [ruff, "check", "workbench", "tests", "benchmarks", "tools"], cwd=REPO, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_no_shell_strings_and_no_unsafe_torch_load():
    for path in (REPO / "workbench").rglob("*.py"):
        text = path.read_text()
        assert "shell=True" not in text, path
        assert "os.system(" not in text, path
        for line in text.splitlines():
            if "torch.load(" in line and "weights_only" not in line:
                pytest.fail(f"{path}: torch.load without weights_only: {line.strip()}")


def test_import_linter_contract_kept():
    """Every pyproject contract is kept: the core never imports a face or textual, the ui never imports the
    cli, the cli imports the ui only from cmd_tui, telemetry never imports backends, hw never imports
    profiles (the reasons are beside each contract in pyproject.toml)."""
    import tomllib

    exe = Path(sys.executable).parent / "lint-imports"
    if not exe.exists():
        pytest.skip("import-linter not installed")
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert len(contracts) >= 5
    res = subprocess.run([str(exe)], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{len(contracts)} kept, 0 broken" in res.stdout
