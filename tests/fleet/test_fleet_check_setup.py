"""`workbench fleet check` and `fleet setup` against a real OpenSSH server (tests/fleet/conftest.py), and the parts of
`workbench fleet` that must work without Ansible (issue 17)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench import __version__

REPO = Path(__file__).resolve().parents[2]

# Hides ansible / ansible_runner from the import system, then runs the CLI and reports which of them got loaded.
# Hides ansible / ansible_runner (a None in sys.modules: find_spec says absent, import raises ModuleNotFoundError, as
# when the extra is not installed), runs the CLI, and reports which of them got really loaded.
NO_ANSIBLE = r"""
import json, sys
if sys.argv[1] == "hide":
    sys.modules["ansible"] = sys.modules["ansible_runner"] = None
from workbench.cli.main import main
try:
    rc = main(sys.argv[2:])
except SystemExit as e:
    rc = e.code
loaded = [m for m, mod in sys.modules.items() if mod is not None and m.split(".")[0] in ("ansible", "ansible_runner")]
print(json.dumps({"rc": rc, "loaded": sorted(loaded)}), file=sys.stderr)
"""


def _probe(mode: str, *argv: str) -> tuple[dict, str, str]:
    res = subprocess.run(
        [sys.executable, "-c", NO_ANSIBLE, mode, *argv], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    return json.loads(res.stderr.strip().splitlines()[-1]), res.stdout, res.stderr


def test_fleet_help_works_without_ansible_and_says_how_to_install():
    info, out, _ = _probe("hide", "fleet", "--help")
    assert info == {"rc": 0, "loaded": []}
    assert "check" in out and "setup" in out
    assert "'.[fleet]'" in out and "ansible-core" in out


def test_workbench_help_never_imports_ansible():
    # Ansible is installed here (the fleet tests need it): --help must still leave it unloaded.
    info, out, _ = _probe("plain", "--help")
    assert info == {"rc": 0, "loaded": []}
    assert "fleet" in out


def test_fleet_check_without_ansible_is_one_clear_error(tmp_path):
    inv = tmp_path / "inv.ini"
    inv.write_text("nano ansible_host=127.0.0.1\n")
    info, _, err = _probe("hide", "fleet", "check", "-i", str(inv))
    assert info["rc"] == 2 and info["loaded"] == []
    assert "needs Ansible" in err and "pip install -c constraints.txt -e '.[fleet]'" in err
    assert "Traceback" not in err


def _needs_ansible():
    from workbench.core.fleet.ansible import ansible_available

    if not ansible_available():
        pytest.skip("needs the fleet extra (pip install -c constraints.txt -e '.[fleet]')")


def test_inventory_yaml_groups_and_default_homes_apart(tmp_path):
    _needs_ansible()
    from workbench.core.fleet.ansible import load_inventory

    inv = tmp_path / "lab.yml"
    inv.write_text(
        "all:\n"
        "  children:\n"
        "    orin:\n"
        "      hosts:\n"
        "        nano: {ansible_host: 10.0.0.5, ansible_port: 2201}\n"
        "        nx1: {ansible_host: 10.0.0.6, workbench_home: /data/wb}\n"
        "    desktops:\n"
        "      hosts:\n"
        "        'rtx/4090': {ansible_host: 10.0.0.5}\n"
    )
    got = load_inventory(inv)
    assert [h.name for h in got.hosts] == ["nano", "nx1", "rtx/4090"]
    by = {h.name: h for h in got.hosts}
    assert by["nano"].workbench_home == "~/.local/share/edge-workbench-fleet/nano"
    assert by["rtx/4090"].workbench_home == "~/.local/share/edge-workbench-fleet/rtx_4090-16ad51d8"  # cleaned: hashed
    assert by["nx1"].workbench_home == "/data/wb"
    assert by["nano"].address == ("10.0.0.5", 2201) and by["rtx/4090"].address == ("10.0.0.5", 22)
    assert by["nano"].groups == ("orin",) and by["rtx/4090"].groups == ("desktops",)
    assert got.groups["orin"] == ("nano", "nx1")


def test_bad_inventory_is_one_config_error_naming_the_file(tmp_path, run_cli):
    _needs_ansible()
    bad = tmp_path / "broken inv.ini"
    bad.write_text("[boards\nnano ansible_port\n")
    res = run_cli("fleet", "check", "-i", str(bad))
    assert res.returncode == 3, res.stderr
    assert f"error: {bad}: not a readable Ansible inventory" in res.stderr
    assert "Traceback" not in res.stderr
    rel = tmp_path / "rel.ini"
    rel.write_text("nano workbench_home=wb\n")
    res = run_cli("fleet", "check", "-i", str(rel))
    assert res.returncode == 3 and "host nano: workbench_home = 'wb' must be an absolute path" in res.stderr
    res = run_cli("fleet", "check", "-i", str(tmp_path / "missing.ini"))
    assert res.returncode == 3 and "missing.ini: no such inventory" in res.stderr
    # Binary data (Ansible's INI parser would read a line of it as a host name): refused before any connection.
    binary = tmp_path / "model.onnx"
    binary.write_bytes(b"\x08\x07\x12\x07pytorch\x1a\x052.1.0:\x8f\x01\n\x00\xff")
    res = run_cli("fleet", "check", "-i", str(binary))
    assert res.returncode == 3 and f"error: {binary}: not an Ansible inventory (binary data at byte" in res.stderr
    assert "hint: " in res.stderr
    # A workbench_home a board's shell would expand (pip's /bin/sh launcher scripts hold the venv's path).
    shelly = tmp_path / "shelly.ini"
    shelly.write_text('ok\nevil workbench_home="/tmp/$(touch /tmp/pwned)"\ntick workbench_home="/tmp/a`id`b"\n')
    res = run_cli("fleet", "check", "-i", str(shelly))
    assert res.returncode == 3, res.stderr
    assert "host evil: workbench_home = '/tmp/$(touch /tmp/pwned)' holds '$' '(' ')'" in res.stderr
    assert "host tick: workbench_home" in res.stderr and "host ok" not in res.stderr


def _base_python_version() -> str:
    from _sshd import BASE_PYTHON

    return subprocess.run(
        [BASE_PYTHON, "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True
    ).stdout.strip()


def test_check_reports_hosts_and_a_closed_port_as_unreachable(sshd_server, tmp_path, write_inventory, run_cli):
    from _sshd import free_port

    inv = write_inventory(
        tmp_path / "three.ini",
        {
            "nano": sshd_server.host_vars(tmp_path / "nano"),
            "nx": sshd_server.host_vars(tmp_path / "nx"),
            "gone": sshd_server.host_vars(tmp_path / "gone", ansible_port=free_port()),
        },
    )
    res = run_cli("fleet", "check", "-i", str(inv), "--json", timeout=300)
    assert res.returncode == 14, res.stderr  # one host unreachable: reported, not fatal for the others
    doc = json.loads(res.stdout)
    by = {h["host"]: h for h in doc["hosts"]}
    assert list(by) == ["nano", "nx", "gone"]
    py = _base_python_version()
    for name in ("nano", "nx"):
        h = by[name]
        assert h["reachable"] is True and h["error"] is None, h
        assert h["python"] == py
        assert h["workbench"] is None  # not installed there yet
        assert h["workbench_home"] == str(tmp_path / name)
        assert h["free_disk_gib"] > 0
    assert by["gone"]["reachable"] is False
    assert "Connection refused" in by["gone"]["error"] or "port" in by["gone"]["error"]
    assert not (tmp_path / "nano").exists()  # check changes nothing on the host


def test_limit_picks_hosts_and_a_pattern_matching_none_is_a_usage_error(fleet_inventory, run_cli):
    res = run_cli("fleet", "check", "-i", str(fleet_inventory), "--limit", "nx", "--forks", "1", "--json")
    assert res.returncode == 0, res.stderr
    assert [h["host"] for h in json.loads(res.stdout)["hosts"]] == ["nx"]
    res = run_cli("fleet", "check", "-i", str(fleet_inventory), "--limit", "boards:!nano", "--json")
    assert [h["host"] for h in json.loads(res.stdout)["hosts"]] == ["nx"]
    res = run_cli("fleet", "check", "-i", str(fleet_inventory), "--limit", "orin*")
    assert res.returncode == 2 and "--limit orin*: no host of" in res.stderr, res.stderr


def test_unknown_host_key_fails_with_its_fingerprint(sshd_server, tmp_path, write_inventory, run_cli, cli_env):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    hv = sshd_server.host_vars(tmp_path / "h")
    hv["ansible_ssh_common_args"] = f"-o UserKnownHostsFile={empty} -o GlobalKnownHostsFile=/dev/null"
    inv = write_inventory(tmp_path / "strangers.ini", {"stranger": hv})
    t0 = time.monotonic()
    # A connection of its own: an SSH master connection that other tests opened (its key checked then) is not reused.
    env = dict(cli_env, ANSIBLE_SSH_CONTROL_PATH_DIR=str(tmp_path / "cp"))
    res = run_cli("fleet", "check", "-i", str(inv), timeout=300, env=env)
    assert time.monotonic() - t0 < 120  # no prompt waits for an answer
    assert res.returncode == 14
    fp = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(sshd_server.host_key_pub)], capture_output=True, text=True
    ).stdout.split()[1]
    assert fp.startswith("SHA256:")
    assert "Host key verification failed" in res.stderr
    assert fp in res.stderr and "is not known" in res.stderr
    assert f"UserKnownHostsFile={empty}" in res.stderr and "never turns host-key checking off" in res.stderr
    assert empty.read_text() == ""  # nothing accepted on the user's behalf


def test_setup_installs_under_each_home_then_check_reports_versions(installed_fleet, run_cli):
    from workbench.core.profiles.match import detect_device

    for row in installed_fleet.rows:
        assert row.status == "ok" and row.changed, row
    for name, home in installed_fleet.homes.items():
        home = Path(home)
        assert (home / "src" / ".venv" / "bin" / "workbench").is_file(), name
        assert (home / "src" / ".workbench-installed").is_file()
        assert (home / "wheelhouse").is_dir()
        assert not (home / "wheelhouse.tar").exists() and not (home / "source.tar.gz").exists()
        # torch is never installed on a host (the bundled model is ONNX; install.sh runs without --dev)
        assert not list((home / "src" / ".venv").glob("lib/python*/site-packages/torch"))
    res = run_cli("fleet", "check", "-i", str(installed_fleet.inventory), "--json", timeout=300)
    assert res.returncode == 0, res.stderr
    hosts = json.loads(res.stdout)["hosts"]
    expected_profile = detect_device().profile_name
    assert [h["host"] for h in hosts] == ["nano", "nx"]
    for h in hosts:
        assert h["reachable"] and h["error"] is None, h
        assert h["workbench"] == __version__
        assert h["profile"] == expected_profile
        assert h["python"] == _base_python_version()
        assert h["workbench_home"] == installed_fleet.homes[h["host"]]
    table = run_cli("fleet", "check", "-i", str(installed_fleet.inventory), timeout=300)
    assert table.returncode == 0
    head, *rows = table.stdout.splitlines()
    assert head.split()[:5] == ["HOST", "REACHABLE", "PYTHON", "WORKBENCH", "PROFILE"]
    assert rows[0].split()[:5] == ["nano", "yes", _base_python_version(), __version__, expected_profile]


def test_setup_again_changes_nothing(installed_fleet, wheelhouse, run_cli):
    stamps = {
        n: (Path(h) / "src" / ".workbench-installed").stat().st_mtime_ns for n, h in installed_fleet.homes.items()
    }
    t0 = time.monotonic()
    res = run_cli(
        "fleet", "setup", "-i", str(installed_fleet.inventory), "--wheelhouse", str(wheelhouse), "--json", timeout=600
    )
    took = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)["hosts"]
    assert [(r["host"], r["status"], r["changed"]) for r in rows] == [("nano", "ok", False), ("nx", "ok", False)]
    assert all(r["facts"]["workbench"] == __version__ for r in rows)
    assert took < installed_fleet.seconds  # no copy, no install.sh: quicker than the install
    after = {n: (Path(h) / "src" / ".workbench-installed").stat().st_mtime_ns for n, h in installed_fleet.homes.items()}
    assert after == stamps
    assert "changed" not in res.stderr  # no task reported a change


def test_bad_wheelhouse_is_a_usage_error(installed_fleet, tmp_path, run_cli):
    empty = tmp_path / "wh"
    empty.mkdir()
    res = run_cli("fleet", "setup", "-i", str(installed_fleet.inventory), "--wheelhouse", str(empty))
    assert res.returncode == 2 and f"--wheelhouse {empty}: no .whl file there" in res.stderr


def test_source_archive_is_reproducible(tmp_path):
    from workbench.core.fleet.source import source_archive

    a = source_archive(tmp_path / "a.tar.gz")
    b = source_archive(tmp_path / "b.tar.gz")
    assert a == b and (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    import tarfile

    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        names = tar.getnames()
    assert "install.sh" in names and "pyproject.toml" in names and "workbench/core/fleet/ansible.py" in names
    assert not any(n.startswith("tests/") or "__pycache__" in n for n in names)


def test_limit_with_a_leading_dash_and_a_missing_interpreter_is_named(sshd_server, tmp_path, write_inventory, run_cli):
    """``--limit=-odd`` is a pattern, not an option of ansible-playbook; a host whose Python is not where Ansible
    looks fails with a line saying to set ansible_python_interpreter (workbench_python: that one)."""
    inv = write_inventory(
        tmp_path / "odd.ini",
        {
            "-odd": sshd_server.host_vars(tmp_path / "odd", ansible_python_interpreter="/nonexistent/python3"),
            "even": sshd_server.host_vars(tmp_path / "even", workbench_python="/nonexistent/python3"),
        },
    )
    res = run_cli("fleet", "check", "-i", str(inv), "--limit=-odd", "--json", timeout=300)
    assert res.returncode == 14, res.stderr
    (row,) = json.loads(res.stdout)["hosts"]
    assert row["host"] == "-odd", row
    assert "ansible_python_interpreter" in row["error"], row
    res = run_cli("fleet", "check", "-i", str(inv), "--limit", "even", timeout=300)
    assert res.returncode == 14 and "set workbench_python=" in res.stderr, res.stderr
