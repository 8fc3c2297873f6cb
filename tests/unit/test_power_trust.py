"""Power tools on shared boards (issue 18): jetson_clocks' saved state lives where only root writes and is refused
when anyone else could have written it; nvpmodel, jetson_clocks, tegrastats and nvidia-smi come from their fixed
install paths before PATH. Fake tools (python scripts) stand in for the real ones."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from workbench.core.errors import PowerError, TelemetryError
from workbench.core.hw import tools
from workbench.core.power.clocks import STORE_DIR, JetsonClocks, default_store_path

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "nvpmodel"
ME = os.geteuid()


def _script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return path


def _fake_jetson_clocks(bin_dir: Path, log: Path) -> Path:
    return _script(
        bin_dir / "jetson_clocks",
        "import sys\n"
        f"open({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1:2] == ['--store']: open(sys.argv[2], 'w').write('/sys/fake/min_freq:1\\n')\n",
    )


@pytest.fixture
def board(tmp_path, monkeypatch):
    """A fake jetson_clocks and a fake sudo on PATH; a store folder owned by this user, mode 0755."""
    bin_dir = tmp_path / "bin"
    jc = _fake_jetson_clocks(bin_dir, tmp_path / "jc.log")
    _script(bin_dir / "sudo", (FIX / "fake_sudo.py").read_text())
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SUDO_LOG", str(tmp_path / "sudo.log"))
    monkeypatch.delenv("FAKE_SUDO", raising=False)
    store_dir = tmp_path / "var-lib-edge-workbench"
    store_dir.mkdir(mode=0o755)
    os.chmod(store_dir, 0o755)
    return tmp_path, str(jc), store_dir / "jetson_clocks.conf"


def test_the_saved_state_lives_outside_the_users_data_folder(workbench_home):
    assert (
        default_store_path() == Path("/var/lib/edge-workbench/jetson_clocks.conf") == STORE_DIR / "jetson_clocks.conf"
    )
    assert workbench_home not in default_store_path().parents


def test_store_and_restore_through_sudo_n_then_the_state_is_removed(board):
    tmp, jc, store = board
    clocks = JetsonClocks(exe=jc, sudo=True, store=store, owner_uid=ME)
    clocks.on()
    assert store.read_text() == "/sys/fake/min_freq:1\n"
    clocks.restore()
    assert not store.exists()
    assert (tmp / "jc.log").read_text().splitlines() == [f"--store {store}", "", f"--restore {store}"]
    # every privileged call went through `sudo -n`, the removal too (root's folder: the user cannot unlink there)
    assert (tmp / "sudo.log").read_text().splitlines() == [
        f"-n {jc} --store {store}",
        f"-n {jc}",
        f"-n {jc} --restore {store}",
        f"-n {tools.find_tool('rm')} -f {store}",
    ]


@pytest.mark.parametrize("mode", [0o666, 0o646])
def test_restore_refuses_a_state_writable_by_others(board, mode):
    tmp, jc, store = board
    store.write_text("/etc/shadow:owned\n")
    store.chmod(mode)
    with pytest.raises(PowerError, match=rf"{store} is writable by others \(mode 0{mode:o}\): refusing") as ei:
        JetsonClocks(exe=jc, sudo=False, store=store, owner_uid=ME).restore()
    assert "/var/lib/edge-workbench" in ei.value.hint
    assert not (tmp / "jc.log").exists() and store.exists()  # nothing replayed, nothing removed


def test_restore_refuses_a_state_another_user_owns(board):
    if ME != 0:
        pytest.skip("needs root to give the file to another uid")
    tmp, jc, store = board
    store.write_text("/etc/shadow:owned\n")
    os.chown(store, 65534, 65534)
    with pytest.raises(PowerError, match=rf"{store} is owned by uid 65534, not root"):
        JetsonClocks(exe=jc, sudo=False, store=store).restore()
    assert not (tmp / "jc.log").exists()


def test_restore_refuses_a_symlink_and_a_folder_others_write(board, tmp_path):
    tmp, jc, store = board
    target = tmp_path / "elsewhere.conf"
    target.write_text("/etc/shadow:owned\n")
    store.symlink_to(target)
    with pytest.raises(PowerError, match=r"is not a regular file \(a symlink\)"):
        JetsonClocks(exe=jc, sudo=False, store=store, owner_uid=ME).restore()
    store.unlink()
    store.write_text("/sys/fake/min_freq:1\n")
    store.parent.chmod(0o777)
    with pytest.raises(PowerError, match=rf"{store.parent} is writable by others \(mode 0777\)"):
        JetsonClocks(exe=jc, sudo=False, store=store, owner_uid=ME).restore()
    with pytest.raises(PowerError, match=rf"{store.parent} is writable by others"):
        store.unlink()
        JetsonClocks(exe=jc, sudo=False, store=store, owner_uid=ME).on()
    assert not (tmp / "jc.log").exists()


def test_a_missing_store_folder_names_the_one_time_setup_and_runs_nothing(board, tmp_path):
    tmp, jc, _ = board
    store = tmp_path / "absent" / "jetson_clocks.conf"
    with pytest.raises(PowerError, match=r"absent does not exist: the saved clock state is kept where only root") as ei:
        JetsonClocks(exe=jc, sudo=True, store=store, owner_uid=ME).on()
    assert ei.value.hint == "create it once: sudo install -d -m 0755 -o root -g root /var/lib/edge-workbench"
    assert not (tmp / "jc.log").exists() and not (tmp / "sudo.log").exists()


def test_sudo_that_prompts_or_denies_is_a_clear_error(board, monkeypatch):
    tmp, jc, store = board
    monkeypatch.setenv("FAKE_SUDO", "prompt")
    with pytest.raises(PowerError, match=rf"sudo would prompt for a password to run `{jc} --store {store}`"):
        JetsonClocks(exe=jc, sudo=True, store=store, owner_uid=ME).on()
    monkeypatch.setenv("FAKE_SUDO", "deny")
    with pytest.raises(PowerError, match=rf"sudo does not allow this user to run `{jc} --store {store}`") as ei:
        JetsonClocks(exe=jc, sudo=True, store=store, owner_uid=ME).on()
    assert "sudoers" in ei.value.hint
    assert not (tmp / "jc.log").exists()


# ---------------------------------------------------------------------------------------------- fixed paths


@pytest.fixture
def fixed_root(tmp_path, monkeypatch):
    """A tmp "root" holding the fixed-path tools, and a PATH folder (first on PATH) with impostors of each."""
    root = tmp_path / "root"
    root.mkdir()
    monkeypatch.setenv(tools.ROOT_ENV, str(root))
    impostors = tmp_path / "impostors"
    impostors.mkdir()
    monkeypatch.setenv("PATH", f"{impostors}:{os.environ['PATH']}")
    return root, impostors


def _nvpmodel(path: Path, name: str, mode_id: int) -> None:
    _script(path, f"print('NV Power Mode: {name}')\nprint({mode_id})\n")


def test_nvpmodel_comes_from_usr_sbin_even_with_another_first_on_path(fixed_root):
    from workbench.core.power.nvpmodel import Nvpmodel
    from workbench.core.power.state import current_power_state

    root, impostors = fixed_root
    _nvpmodel(impostors / "nvpmodel", "IMPOSTOR", 9)
    _nvpmodel(root / "usr/sbin/nvpmodel", "MAXN", 0)
    assert tools.find_tool("nvpmodel") == str(root / "usr/sbin/nvpmodel")
    assert Nvpmodel(sudo=False).query().to_dict() == {"id": 0, "name": "MAXN", "partial": False}
    assert current_power_state()["nvpmodel_mode"] == "MAXN"
    (root / "usr/sbin/nvpmodel").unlink()  # not an L4T install: PATH decides
    assert Nvpmodel(sudo=False).query().name == "IMPOSTOR"


def test_every_site_prefers_the_fixed_path(fixed_root):
    from workbench.core.telemetry.nvidia_smi import NvidiaSmiSource
    from workbench.core.telemetry.tegrastats import TegrastatsSource

    root, impostors = fixed_root
    for name in ("jetson_clocks", "tegrastats", "nvidia-smi"):
        _script(impostors / name, "import sys\nsys.exit(3)\n")
    _script(root / "usr/bin/jetson_clocks", "")
    assert JetsonClocks(sudo=False).exe == str(root / "usr/bin/jetson_clocks")
    _script(
        root / "usr/bin/tegrastats",
        "import sys, time\nwhile True:\n    print('RAM 100/200MB VDD_IN 4321mW/4321mW', flush=True)\n    time.sleep(0.2)\n",
    )
    src = TegrastatsSource(interval_ms=200, first_line_timeout_s=30)
    try:
        assert src.read().rails_mw["VDD_IN"].now_mw == 4321.0
    finally:
        src.close()
    log = root / "smi.log"
    _script(root / "usr/bin/nvidia-smi", f"import sys\nopen({str(log)!r}, 'a').write('ran\\n')\nsys.exit(9)\n")
    with pytest.raises(TelemetryError, match="nvidia-smi --query-gpu failed"):
        NvidiaSmiSource()
    assert log.read_text().startswith("ran")  # the fixed-path one ran, not the impostor


def test_sudo_comes_from_its_fixed_path(fixed_root):
    # a `sudo` earlier on PATH would see the privileged command (and a typed password, were one ever asked)
    from workbench.core.power.nvpmodel import Nvpmodel

    root, impostors = fixed_root
    _script(impostors / "sudo", "import sys\nsys.exit(3)\n")
    _script(root / "usr/bin/sudo", "")
    _script(root / "usr/sbin/nvpmodel", "")
    assert JetsonClocks(sudo=True).command("--show")[:2] == (str(root / "usr/bin/sudo"), "-n")
    assert Nvpmodel(sudo=True).command(["-m", "0"], privileged=True)[:2] == [str(root / "usr/bin/sudo"), "-n"]
