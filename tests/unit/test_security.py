"""Security rules (issue 7, item 5), checked on the code (AST, not text) and on behaviour.

- untrusted pickles are refused by default, before torch is imported, and their payload never runs;
- no subprocess goes through a shell: no ``shell=`` other than ``False``, no ``os.system``/``os.popen``/
  ``os.spawn*``, no ``subprocess.getoutput``/``getstatusoutput``, no ``asyncio.create_subprocess_shell``;
- ``torch.load`` always states ``weights_only``; ``weights_only=False`` only in the trusted-pickle branch;
- privilege escalation is ``sudo -n`` only (never prompts, never reads a password from stdin: no ``-S``/``-A``),
  with stdin closed;
- files written atomically keep the user's umask (``mkstemp`` creates 0600; fsutil chmods ``0o666 & ~umask``).
"""

from __future__ import annotations

import ast
import os
import pickle
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "workbench"


def _modules() -> list[tuple[Path, ast.AST]]:
    out = [(p, ast.parse(p.read_text(), str(p))) for p in sorted(PACKAGE.rglob("*.py"))]
    assert len(out) > 50
    return out


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


SHELL_CALLS = {
    "os.system",
    "os.popen",
    "os.spawnl",
    "os.spawnle",
    "os.spawnlp",
    "os.spawnlpe",
    "os.spawnv",
    "os.spawnve",
    "os.spawnvp",
    "os.spawnvpe",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
    "asyncio.create_subprocess_shell",
    "system",
    "popen",
    "getoutput",
    "getstatusoutput",
    "create_subprocess_shell",
}


def shell_violations(tree: ast.AST) -> list[str]:
    """Calls that run a command through a shell (or could), as 'line: text'."""
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in SHELL_CALLS:
                bad.append(f"{node.lineno}: {name}()")
            for kw in node.keywords:
                if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    bad.append(f"{node.lineno}: shell={ast.unparse(kw.value)}")
        elif isinstance(node, ast.ImportFrom) and node.module in ("os", "subprocess", "asyncio"):
            for alias in node.names:
                if alias.name in SHELL_CALLS:
                    bad.append(f"{node.lineno}: from {node.module} import {alias.name}")
    return bad


def torch_load_violations(tree: ast.AST, path: Path) -> list[str]:
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _dotted(node.func).endswith("torch.load"):
            kw = {k.arg: k.value for k in node.keywords}
            value = kw.get("weights_only")
            if value is None:
                bad.append(f"{node.lineno}: torch.load without weights_only")
            elif not (isinstance(value, ast.Constant) and value.value is True):
                if path.name != "torch_export.py":  # the one trusted-pickle branch (tested below)
                    bad.append(f"{node.lineno}: torch.load(weights_only={ast.unparse(value)})")
    return bad


def sudo_violations(tree: ast.AST) -> list[str]:
    """Every literal command starting with "sudo" continues with "-n"; no -S/-A/--stdin/--askpass anywhere."""
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
            for i, item in enumerate(items):
                if item == "sudo" and (i + 1 >= len(items) or items[i + 1] != "-n"):
                    bad.append(f"{node.lineno}: sudo without -n: {ast.unparse(node)}")
                if item == "sudo" and any(x in ("-S", "--stdin", "-A", "--askpass") for x in items):
                    bad.append(f"{node.lineno}: sudo reading a password: {ast.unparse(node)}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            for flag in ("sudo -S", "sudo --stdin", "sudo -A", "sudo --askpass"):
                if flag in text:
                    bad.append(f"{node.lineno}: {flag!r} in a string")
    return bad


# ---------------------------------------------------------------------------------------------- the scanners work


def test_scanners_catch_what_they_look_for():
    sample = ast.parse(
        "import os, subprocess\n"
        "from subprocess import getoutput\n"
        "os.system('ls')\n"
        "subprocess.run('ls', shell=True)\n"
        "subprocess.run(['ls'], shell=flag)\n"
        "subprocess.run(['ls'], shell=False)\n"
        "os.popen('ls')\n"
        "torch.load(p)\n"
        "torch.load(p, weights_only=False)\n"
        "torch.load(p, weights_only=True)\n"
        "cmd = ['sudo', 'nvpmodel', '-m', '0']\n"
        "ok = ('sudo', '-n', 'nvpmodel')\n"
        "pw = ['sudo', '-n', '-S', 'x']\n"
        "s = 'echo pw | sudo -S nvpmodel'\n"
    )
    assert [v.split(":")[0] for v in shell_violations(sample)] == ["2", "3", "4", "5", "7"]
    assert [v.split(":")[0] for v in torch_load_violations(sample, Path("x.py"))] == ["8", "9"]
    assert [v.split(":")[0] for v in sudo_violations(sample)] == ["11", "13", "14"]


# ---------------------------------------------------------------------------------------------- the package


def test_no_subprocess_through_a_shell():
    bad = [f"{p.relative_to(REPO)}:{v}" for p, tree in _modules() for v in shell_violations(tree)]
    assert bad == []


def test_torch_load_always_states_weights_only():
    bad = [f"{p.relative_to(REPO)}:{v}" for p, tree in _modules() for v in torch_load_violations(tree, p)]
    assert bad == []


def test_sudo_is_always_non_interactive():
    bad = [f"{p.relative_to(REPO)}:{v}" for p, tree in _modules() for v in sudo_violations(tree)]
    assert bad == []


def test_power_tools_use_sudo_n_and_closed_stdin(tmp_path):
    from workbench.core.power.clocks import JetsonClocks
    from workbench.core.power.nvpmodel import Nvpmodel, run_tool

    assert Nvpmodel(exe="nvpmodel", sudo=True).command(["-m", "2"], privileged=True) == [
        "sudo",
        "-n",
        "nvpmodel",
        "-m",
        "2",
    ]
    assert Nvpmodel(exe="nvpmodel", sudo=True).command(["-q"], privileged=False) == ["nvpmodel", "-q"]
    assert JetsonClocks(exe="jetson_clocks", sudo=True, store=tmp_path / "s").command("--show") == (
        "sudo",
        "-n",
        "jetson_clocks",
        "--show",
    )
    # stdin is /dev/null: a tool that would wait for a password (or a y/N) reads EOF at once.
    probe = tmp_path / "probe.py"
    probe.write_text("import sys\nprint(repr(sys.stdin.read()))\n")
    proc = run_tool([sys.executable, str(probe)], 10, hint_missing="-")
    assert proc.stdout.strip() == "''"


def test_sudo_that_would_prompt_is_a_clear_power_error(tmp_path):
    from workbench.core.errors import PowerError
    from workbench.core.power.nvpmodel import Nvpmodel, load_conf, resolve_mode

    fix = REPO / "tests" / "fixtures" / "nvpmodel"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, script in (("nvpmodel", "fake_nvpmodel.py"), ("sudo", "fake_sudo.py")):
        exe = bin_dir / name
        exe.write_text(f"#!{sys.executable}\n" + (fix / script).read_text())
        exe.chmod(0o755)
    conf = fix / "orin-nx-16gb-p3767-0000.conf"
    state = tmp_path / "state"
    state.write_text("1\n")
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_NVPM_CONF": str(conf), "FAKE_NVPM_STATE": str(state)}
    old = {k: os.environ.get(k) for k in (*env, "FAKE_SUDO")}
    os.environ.update(env, FAKE_SUDO="prompt")
    try:
        tool = Nvpmodel(exe=str(bin_dir / "nvpmodel"), sudo=True)
        with pytest.raises(PowerError, match="sudo would prompt for a password") as info:
            tool.set_mode(resolve_mode(load_conf(conf), "0"))
        assert "sudoers" in (info.value.hint or "")
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert state.read_text().strip() == "1"  # nothing switched


# ---------------------------------------------------------------------------------------------- pickles


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _pickles(tmp_path: Path) -> list[Path]:
    marker = str(tmp_path / "PWNED")
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    legacy5 = tmp_path / "proto5.pkl"
    legacy5.write_bytes(pickle.dumps(_Payload(marker), protocol=5))
    zipped = tmp_path / "zipped.pt"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("zipped/data.pkl", pickle.dumps(_Payload(marker), protocol=2))
        z.writestr("zipped/version", "3\n")
    return [raw, legacy5, zipped]


def test_untrusted_pickles_are_refused_before_torch_is_imported(tmp_path):
    files = _pickles(tmp_path)
    code = (
        "import sys\n"
        "from workbench.core.errors import ModelError\n"
        "from workbench.core.models.load import ensure_onnx\n"
        "for p in sys.argv[1:]:\n"
        "    try:\n"
        "        ensure_onnx(p)\n"
        "        print('LOADED', p)\n"
        "    except ModelError as exc:\n"
        "        assert '--trust-model' in str(exc), exc\n"
        "        print('refused', p)\n"
        "print('torch imported' if 'torch' in sys.modules else 'no torch')\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, *map(str, files)], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [f"refused {p}" for p in files] + ["no torch"]
    assert not (tmp_path / "PWNED").exists()


def test_sniff_calls_every_full_pickle_a_pickle(tmp_path):
    from workbench.core.models.sniff import FileKind, sniff

    assert [sniff(p) for p in _pickles(tmp_path)] == [FileKind.TORCH_PICKLE] * 3


# ---------------------------------------------------------------------------------------------- umask


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_keep_the_umask(tmp_path, umask, mode):
    from workbench.core.fsutil import write_bytes_atomic, write_text_atomic

    old = os.umask(umask)
    try:
        write_text_atomic(tmp_path / "new.txt", "x")
        existing = tmp_path / "old.bin"
        existing.write_bytes(b"old")
        existing.chmod(0o600 if mode != 0o600 else 0o644)
        write_bytes_atomic(existing, b"new")  # replaced: the new file follows the umask, like `>` in a shell
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == mode
    assert stat.S_IMODE(existing.stat().st_mode) == mode
    assert existing.read_bytes() == b"new"
    assert not list(tmp_path.glob(".*"))  # no temp file left


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_cli_output_keeps_the_umask(tmp_path, cli_env, umask, mode):
    fix = REPO / "tests" / "fixtures" / "trtexec" / "xavier-nx-trt85-e2e-host-latency-oe4t-pr1124.log"
    run = [sys.executable, "-m", "workbench", "results"]
    subprocess.run([*run, "import-trtexec", str(fix)], env=cli_env, check=True, capture_output=True, timeout=60)
    out = tmp_path / "r.csv"
    res = subprocess.run(
        [*run, "export", "--format", "csv", "-o", str(out)],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: os.umask(umask),
    )
    assert res.returncode == 0, res.stderr
    assert stat.S_IMODE(out.stat().st_mode) == mode
