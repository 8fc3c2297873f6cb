"""A real OpenSSH server for the fleet tests, and inventories pointing at it.

``sshd`` runs from a minimal config of ours (``UsePAM no``, key authentication only, root allowed by key,
``internal-sftp``) on 127.0.0.1 on a free port, with host and user keys generated per session. Host-key checking
stays ON: the inventory's ``ansible_ssh_common_args`` names a known_hosts file holding the generated host key.
Every test here skips, saying why, when sshd, the ssh client tools or Ansible (the ``fleet`` extra) are missing.

Fixtures: ``sshd_server`` (session; ``stop()`` / ``start()`` on the same port, for tests that drop connections),
``write_inventory(path, {name: vars})``, ``fleet_inventory`` (two hosts, ``nano`` and ``nx``, on the one sshd with
different ``workbench_home`` folders), ``sshd_server.host_vars(home)`` (the connection variables of a host on that sshd), ``wheelhouse`` and
``installed_fleet`` (session: two hosts set up once with `fleet setup --wheelhouse`). Helpers: ``_sshd.py``.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from _sshd import BASE_PYTHON, REPO, SshServer, free_port, ini_value, keygen, missing  # noqa: F401 (re-exported)


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory) -> SshServer:
    reason = missing()
    if reason:
        pytest.skip(reason)
    import pwd

    folder = tmp_path_factory.mktemp("sshd")
    host_key, user_key = folder / "host_ed25519", folder / "user_ed25519"
    keygen(host_key)
    keygen(user_key)
    authorized = folder / "authorized_keys"
    authorized.write_text((folder / "user_ed25519.pub").read_text())
    authorized.chmod(0o600)
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        # sshd started by root insists on its privilege-separation folder (Debian creates it in the unit file).
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    port = free_port()
    config = folder / "sshd_config"
    log = folder / "sshd.log"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"PidFile {folder / 'sshd.pid'}",
                f"AuthorizedKeysFile {authorized}",
                "UsePAM no",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                # The test folders live under /tmp (world-writable): StrictModes would refuse the key files there.
                "StrictModes no",
                "Subsystem sftp internal-sftp",
                "MaxStartups 50",
                "MaxSessions 50",
                "LogLevel ERROR",
                "",
            ]
        )
    )
    known = folder / "known_hosts"
    # The key under two names: 127.0.0.1 and localhost (a test that needs two "machines" on this one sshd: the
    # fleet benchmarks entries with one address one after another, core/fleet/run.py machine_waves).
    kind, blob = (folder / "host_ed25519.pub").read_text().split(" ")[:2]
    known.write_text("".join(f"[{name}]:{port} {kind} {blob}\n" for name in ("127.0.0.1", "localhost")))
    server = SshServer(
        folder, port, pwd.getpwuid(os.getuid()).pw_name, user_key, known, folder / "host_ed25519.pub", config, log
    )
    try:
        server.start()
    except RuntimeError as exc:
        pytest.skip(f"cannot run a test sshd here: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _control_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cp")


@pytest.fixture(autouse=True)
def _ssh_control_dir(_control_dir, monkeypatch):
    """SSH master connections (Ansible's ControlPersist) of the tests live in a folder of the session, not in the
    user's ~/.ansible/cp; a test that needs a connection of its own points this variable at its own folder."""
    monkeypatch.setenv("ANSIBLE_SSH_CONTROL_PATH_DIR", str(_control_dir))


@pytest.fixture(autouse=True)
def _sshd_running(request):
    """A test that stopped the session's sshd (to drop connections) leaves it running again for the next test."""
    yield
    if "sshd_server" in request.fixturenames:
        server = request.getfixturevalue("sshd_server")
        if server.proc is None or server.proc.poll() is not None:
            server.start()


@pytest.fixture
def write_inventory():
    """``write_inventory(path, {name: vars}, groups={group: [names]})`` writes an INI inventory and returns path."""

    def write(path: Path, hosts: dict[str, dict[str, object]], groups: dict[str, list[str]] | None = None) -> Path:
        lines = []
        for name, v in hosts.items():
            lines.append(" ".join([name, *(f"{k}={ini_value(val)}" for k, val in v.items())]))
        for group, names in (groups or {}).items():
            lines += ["", f"[{group}]", *names]
        path.write_text("\n".join(lines) + "\n")
        return path

    return write


@pytest.fixture
def fleet_inventory(sshd_server, tmp_path, write_inventory) -> Path:
    """Two hosts, ``nano`` and ``nx``, both on the test sshd, with different ``workbench_home`` folders."""
    homes = tmp_path / "remote"
    return write_inventory(
        tmp_path / "fleet.ini",
        {
            "nano": sshd_server.host_vars(homes / "nano"),
            "nx": sshd_server.host_vars(homes / "nx"),
        },
        groups={"boards": ["nano", "nx"]},
    )


def _wheelhouse_requirements() -> list[str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    # install.sh's `pip install -e .` builds in an isolated environment: setuptools and wheel must be there too.
    return [*deps, "setuptools>=69", "wheel"]


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """A folder of the wheels install.sh needs (runtime dependencies pinned by constraints.txt, no torch), for
    BASE_PYTHON, downloaded once (from this machine's configured index) and kept in ~/.cache keyed by the
    requirements, so the remote installs run offline (`fleet setup --wheelhouse`)."""
    import hashlib

    reqs = _wheelhouse_requirements()
    constraints = (REPO / "constraints.txt").read_text()
    key = hashlib.sha256("\n".join([BASE_PYTHON, constraints, *reqs]).encode()).hexdigest()[:16]
    folder = Path.home() / ".cache" / "edge-workbench-tests" / f"wheelhouse-{key}"
    if (folder / ".complete").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [BASE_PYTHON, "-m", "pip", "download", "-q", "--disable-pip-version-check", "-d", str(folder),
         "-c", str(REPO / "constraints.txt"), "--only-binary=:all:", *reqs],
        capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"cannot build the test wheelhouse with pip download: {proc.stderr.strip()[-600:]}")
    (folder / ".complete").write_text("ok\n")
    return folder


@dataclass(frozen=True)
class InstalledFleet:
    """Two hosts on the test sshd with the workbench installed by `fleet setup --wheelhouse` once per session:
    ``inventory`` (an INI file whose name has a space and a leading '-'), ``homes`` {name: workbench_home} (nx's
    has a space and a leading '-' in its last folder), ``rows`` (the setup's HostSetup rows), ``seconds`` it took."""

    inventory: Path
    homes: dict
    rows: tuple
    seconds: float


@pytest.fixture(scope="session")
def installed_fleet(sshd_server, wheelhouse, tmp_path_factory) -> InstalledFleet:
    from workbench.core.fleet.ansible import load_inventory
    from workbench.core.fleet.setup import fleet_setup

    base = tmp_path_factory.mktemp("fleet-installed")
    homes = {"nano": base / "nano", "nx": base / "-nx home"}
    inv_path = base / "-fleet inv.ini"
    lines = [" ".join([name, *(f"{k}={ini_value(v)}" for k, v in sshd_server.host_vars(home).items())])
             for name, home in homes.items()]  # fmt: skip
    inv_path.write_text("\n".join(lines) + "\n")
    t0 = time.monotonic()
    rows = fleet_setup(load_inventory(inv_path), wheelhouse=wheelhouse)
    seconds = time.monotonic() - t0
    bad = [f"{r.host}: {r.status}: {r.error}" for r in rows if r.status != "ok"]
    assert not bad, bad
    return InstalledFleet(inv_path, {k: str(v) for k, v in homes.items()}, rows, seconds)
