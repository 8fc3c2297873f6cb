"""Nvpmodel / JetsonClocks against fake `nvpmodel`, `sudo` and `jetson_clocks` executables on PATH
(tests/fixtures/nvpmodel/fake_*.py installed with this interpreter as their shebang)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from workbench.core.errors import PowerError
from workbench.core.power.clocks import JetsonClocks
from workbench.core.power.nvpmodel import Nvpmodel, load_conf, resolve_mode

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "nvpmodel"
CONF = FIX / "orin-nx-16gb-super-p3767-0000-jp62.conf"


def install(bin_dir: Path, name: str, script: Path) -> None:
    exe = bin_dir / name
    exe.write_text(f"#!{sys.executable}\n" + script.read_text())
    exe.chmod(0o755)


@pytest.fixture
def fake_board(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    install(bin_dir, "nvpmodel", FIX / "fake_nvpmodel.py")
    install(bin_dir, "sudo", FIX / "fake_sudo.py")
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    state = tmp_path / "state"
    state.write_text("4\n")
    monkeypatch.setenv("FAKE_NVPM_CONF", str(CONF))
    monkeypatch.setenv("FAKE_NVPM_STATE", str(state))
    monkeypatch.setenv("FAKE_NVPM_LOG", str(tmp_path / "calls.log"))
    monkeypatch.delenv("FAKE_NVPM_BEHAVIOUR", raising=False)
    monkeypatch.delenv("FAKE_SUDO", raising=False)
    return tmp_path


def test_query_and_set_via_sudo(fake_board):
    tool = Nvpmodel(sudo=True, timeout_s=10)
    q = tool.query()
    assert q.to_dict() == {"id": 4, "name": "40W", "partial": False}
    conf = load_conf(CONF)
    res = tool.set_mode(resolve_mode(conf, "max"))
    assert res.command[:2] == ("sudo", "-n") and res.command[-2:] == ("-m", "0")
    assert res.reboot_required is False
    assert tool.query().to_dict() == {"id": 0, "name": "MAXN_SUPER", "partial": False}
    assert (fake_board / "calls.log").read_text().splitlines() == ["-q", "-m 0", "-q"]


def test_dry_run_runs_nothing(fake_board):
    res = Nvpmodel(sudo=True).set_mode(resolve_mode(load_conf(CONF), "15W"), dry_run=True)
    assert res.dry_run and res.command[0] == "sudo" and res.command[-3:][1:] == ("-m", "2")
    assert not (fake_board / "calls.log").exists()


def test_sudo_would_prompt(fake_board, monkeypatch):
    monkeypatch.setenv("FAKE_SUDO", "prompt")
    with pytest.raises(PowerError, match="sudo would prompt") as ei:
        Nvpmodel(sudo=True).set_mode(resolve_mode(load_conf(CONF), "10W"))
    assert "sudo " in ei.value.hint and "-m 1" in ei.value.hint
    assert (fake_board / "state").read_text().strip() == "4"


def test_hang_past_timeout(fake_board, monkeypatch):
    monkeypatch.setenv("FAKE_NVPM_BEHAVIOUR", "hang")
    t = time.monotonic()
    with pytest.raises(PowerError, match="did not finish within 0.5 s"):
        Nvpmodel(sudo=False, timeout_s=0.5).query()
    assert time.monotonic() - t < 5


def test_reboot_prompt_does_not_hang_and_is_reported(fake_board, monkeypatch):
    monkeypatch.setenv("FAKE_NVPM_BEHAVIOUR", "reboot")
    res = Nvpmodel(sudo=False, timeout_s=5).set_mode(resolve_mode(load_conf(CONF), "25W"))
    assert res.reboot_required is True and "Reboot required" in res.output
    assert (fake_board / "state").read_text().strip() == "4"  # not forced


def test_partial_and_unset(fake_board, monkeypatch):
    monkeypatch.setenv("FAKE_NVPM_BEHAVIOUR", "partial")
    q = Nvpmodel(sudo=False).query(verbose=True)
    assert q.to_dict() == {"id": 4, "name": "40W", "partial": True}
    (fake_board / "state").unlink()
    monkeypatch.delenv("FAKE_NVPM_BEHAVIOUR")
    q = Nvpmodel(sudo=False).query()
    assert q.state == "unset" and q.id is None


def test_failures(fake_board, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_NVPM_BEHAVIOUR", "fail")
    with pytest.raises(PowerError, match="nvpmodel -q failed"):
        Nvpmodel(sudo=False).query()
    with pytest.raises(PowerError, match=r"failed \(exit 255\)"):
        Nvpmodel(sudo=False).set_mode(resolve_mode(load_conf(CONF), "10W"))
    with pytest.raises(PowerError, match="not found"):
        Nvpmodel(exe=str(tmp_path / "nope"), sudo=False).query()


def test_jetson_clocks_store_then_restore(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "jc.log"
    script = tmp_path / "jc.py"
    script.write_text(
        "import sys\n"
        f"open({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1:2] == ['--store']: open(sys.argv[2], 'w').write('saved\\n')\n"
        "if sys.argv[1:2] == ['--show']: print('GPU MinFreq=306000000 MaxFreq=918000000 CurrentFreq=306000000'); print('NV Power Mode: 25W')\n"
    )
    install(bin_dir, "jetson_clocks", script)
    store = tmp_path / "state/jc.conf"
    jc = JetsonClocks(exe=str(bin_dir / "jetson_clocks"), sudo=False, store=store, owner_uid=os.geteuid())
    dry = jc.on(dry_run=True)
    assert dry.commands == ((str(bin_dir / "jetson_clocks"), "--store", str(store)), (str(bin_dir / "jetson_clocks"),))
    assert not log.exists()
    jc.on()
    jc.on()  # the second `on` must not overwrite the saved original state
    assert log.read_text().splitlines() == [f"--store {store}", "", ""]
    assert jc.show()["NV Power Mode"] == "25W"
    jc.restore()
    assert log.read_text().splitlines()[-1] == f"--restore {store}"
    assert not store.exists()
    with pytest.raises(PowerError, match="no saved clock state"):
        jc.restore()


def test_current_power_state(fake_board, monkeypatch, tmp_path):
    from workbench.core.power.state import current_power_state

    st = current_power_state()
    assert st == {"nvpmodel_mode": "40W", "nvpmodel_id": 4, "partial": False, "jetson_clocks": "off", "reason": None}
    monkeypatch.setenv("FAKE_NVPM_BEHAVIOUR", "hang")
    st = current_power_state(timeout_s=0.3)
    assert st["nvpmodel_mode"] is None and "did not finish" in st["reason"]
    st = current_power_state(nvpmodel_exe=str(tmp_path / "nope"))
    assert st["nvpmodel_mode"] is None and "not found" in st["reason"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert current_power_state()["reason"] == "nvpmodel not found (not a Jetson)"
