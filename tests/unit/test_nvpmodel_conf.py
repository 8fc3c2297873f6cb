"""nvpmodel.conf and `nvpmodel -q` parsing on every shared capture (tests/fixtures/nvpmodel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.errors import PowerError
from workbench.core.power.nvpmodel import highest_power_mode, load_conf, parse_conf, parse_query, resolve_mode

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "nvpmodel"

EXPECTED = {
    "agx-orin-32gb-p3701-0004.conf": (["MAXN", "MODE_15W", "MODE_30W", "MODE_40W"], 2, "MAXN"),
    "agx-orin-p3701-0000.conf": (["MAXN", "MODE_15W", "MODE_30W", "MODE_50W"], 2, "MAXN"),
    "agx-xavier-t194.conf": (
        [
            "MAXN",
            "MODE_10W",
            "MODE_15W",
            "MODE_30W_ALL",
            "MODE_30W_6CORE",
            "MODE_30W_4CORE",
            "MODE_30W_2CORE",
            "MODE_15W_DESKTOP",
        ],
        7,
        "MAXN",
    ),
    "nano-t210-jp4-terminal-wrap-artifacts.conf": (["MAXN", "5W"], 0, "MAXN"),
    "orin-nano-4gb-p3767-0004.conf": (["10W", "7W_AI", "7W_CPU"], 0, "10W"),
    "orin-nano-8gb-p3767-0003.conf": (["15W", "7W"], 0, "15W"),
    "orin-nx-16gb-p3767-0000.conf": (["MAXN", "10W", "15W", "25W"], 2, "MAXN"),
    "orin-nx-16gb-super-p3767-0000-jp62.conf": (["MAXN_SUPER", "10W", "15W", "25W", "40W"], 4, "MAXN_SUPER"),
    "orin-nx-8gb-p3767-0001.conf": (["MAXN", "10W", "15W", "20W"], 2, "MAXN"),
    "tx2-nx-t186-p3636.conf": (["MAXN", "MAXQ", "MAXP_CORE_ALL", "MAXP_CORE_ARM"], 2, "MAXN"),
    "tx2-t186.conf": (["MAXN", "MAXQ", "MAXP_CORE_ALL", "MAXP_CORE_ARM"], 2, "MAXN"),
    "xavier-nx-t194-p3668.conf": (
        [
            "MODE_15W_2CORE",
            "MODE_15W_4CORE",
            "MODE_15W_6CORE",
            "MODE_10W_2CORE",
            "MODE_10W_4CORE",
            "MODE_10W_DESKTOP",
            "MODE_20W_2CORE",
            "MODE_20W_4CORE",
            "MODE_20W_6CORE",
        ],
        5,
        "MODE_20W_6CORE",
    ),  # fmt: skip
}


def test_every_shared_conf_is_covered():
    assert sorted(p.name for p in FIX.glob("*.conf")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_conf_ids_names_defaults_and_max(name):
    names, default, best = EXPECTED[name]
    conf = load_conf(FIX / name)
    assert [m.name for m in conf.modes] == names
    assert [m.id for m in conf.modes] == list(range(len(names)))  # every shared conf numbers 0..n-1
    assert conf.default_id == default
    assert [m.default for m in conf.modes] == [m.id == default for m in conf.modes]
    assert resolve_mode(conf, "max").name == best
    assert conf.problems == ()
    assert [m.to_dict() for m in conf.modes][default] == {"id": default, "name": names[default], "default": True}


def test_max_prefers_maxn_super_even_when_not_id_0_and_never_blindly_id_0():
    text = (FIX / "orin-nx-16gb-super-p3767-0000-jp62.conf").read_text()
    # Same file with MAXN_SUPER renumbered to 2 and 15W at 0 (MAXN_SUPER's id differs per board).
    swapped = text.replace("ID=0 NAME=MAXN_SUPER", "ID=X NAME=MAXN_SUPER").replace("ID=2 NAME=15W", "ID=0 NAME=15W")
    swapped = swapped.replace("ID=X NAME=MAXN_SUPER", "ID=2 NAME=MAXN_SUPER")
    conf = parse_conf(swapped, "swapped.conf")
    assert resolve_mode(conf, "max").id == 2
    nano4 = load_conf(FIX / "orin-nano-4gb-p3767-0004.conf")
    mode, reason = highest_power_mode(nano4)
    assert mode.name == "10W" and "10 W" in reason


def test_watts_and_cores_from_conf():
    conf = load_conf(FIX / "agx-xavier-t194.conf")
    m = resolve_mode(conf, "MODE_30W_4CORE")
    assert (m.id, m.watts, m.cores_online) == (5, 30.0, 4)
    assert resolve_mode(conf, "mode_15w_desktop").id == 7  # case-insensitive fallback
    assert resolve_mode(conf, "3").name == "MODE_30W_ALL"


def test_unknown_mode_lists_the_boards_modes():
    conf = load_conf(FIX / "orin-nano-8gb-p3767-0003.conf")
    with pytest.raises(PowerError) as ei:
        resolve_mode(conf, "MAXN_SUPER")
    assert "MAXN_SUPER" in str(ei.value) and "0=15W, 1=7W" in ei.value.hint


def test_custom_user_mode_and_quirks():
    # Constructed: a user-added mode with odd spacing, no space after '<', a trailing blank, and a FAN_CONFIG block.
    base = (FIX / "tx2-t186.conf").read_text()
    extra = "\n<POWER_MODEL ID=4 NAME=MY_12W_DENVER_OFF >  \nCPU_ONLINE CORE_1 0\nCPU_ONLINE CORE_2 0\nGPU MAX_FREQ 1000000000\n< FAN_CONFIG ID=0 NAME=quiet >\nFAN_STEP_TIME  1\n"
    conf = parse_conf(base.replace("< PM_CONFIG DEFAULT=2 >", extra + "< PM_CONFIG DEFAULT=2 >"), "user.conf")
    m = resolve_mode(conf, "MY_12W_DENVER_OFF")
    assert (m.id, m.watts, m.cores_online, m.default) == (4, 12.0, 0, False)
    assert ("GPU", "MAX_FREQ", "1000000000") in m.settings
    assert ("FAN_STEP_TIME", "1") not in [s[:2] for s in m.settings]
    assert conf.default_id == 2


def test_conf_errors(tmp_path):
    with pytest.raises(PowerError, match="does not exist"):
        load_conf(tmp_path / "nvpmodel.conf")
    bad = tmp_path / "x.conf"
    bad.write_text("# nothing here\n< PM_CONFIG DEFAULT=0 >\n")
    with pytest.raises(PowerError, match=r"x.conf: no '< POWER_MODEL"):
        load_conf(bad)
    dup = parse_conf("< POWER_MODEL ID=0 NAME=A >\n< POWER_MODEL ID=0 NAME=B >\n< PM_CONFIG DEFAULT=5 >\n", "d.conf")
    assert [m.name for m in dup.modes] == ["A"]
    assert any("d.conf:2: mode id 0 already used by A" in p for p in dup.problems)
    assert any("DEFAULT=5 names no mode" in p for p in dup.problems)


def test_load_conf_under_root(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/nvpmodel.conf").write_text((FIX / "orin-nano-8gb-p3767-0003.conf").read_text())
    assert load_conf(root=tmp_path).names() == ["15W", "7W"]


# -- nvpmodel -q ---------------------------------------------------------------------------------------
QUERIES = {
    "query-nano-jp4-maxn-verbose-fan-warn.txt": (0, "MAXN", None),
    "query-orin-nx-16gb-jp62-40w-verbose.txt": (4, "40W", None),
    "query-tx2-jp421-maxp-core-arm-verbose.txt": (3, "MAXP_CORE_ARM", None),
    "query-tx2-r3231-maxn-verbose.txt": (0, "MAXN", None),
    "query-xavier-nx-jp44-15w6core-verbose.txt": (2, "MODE_15W_6CORE", "quiet"),
}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_verbose_queries(name):
    q = parse_query((FIX / name).read_text())
    mode_id, mode_name, fan = QUERIES[name]
    assert (q.id, q.name, q.partial, q.state, q.fan_mode) == (mode_id, mode_name, False, "set", fan)
    assert q.to_dict() == {"id": mode_id, "name": mode_name, "partial": False}
    assert q.params and all(p.real and p.conf for p in q.params)


def test_query_details():
    nano = parse_query((FIX / "query-nano-jp4-maxn-verbose-fan-warn.txt").read_text())
    assert nano.warnings == ("NVPM WARN: fan mode is not set!",)
    gpu_max = next(p for p in nano.params if p.param == "GPU" and p.arg == "MAX_FREQ")
    assert (gpu_max.real, gpu_max.conf, gpu_max.conf_unlimited) == ("921600000", "2147483647", True)
    orin = parse_query((FIX / "query-orin-nx-16gb-jp62-40w-verbose.txt").read_text())
    emc = next(p for p in orin.params if p.param == "EMC")
    assert emc.conf_unlimited and emc.real == "3199000000"
    assert len(orin.params) == 37


def test_short_query_blocks():
    text = (FIX / "query-short-outputs.txt").read_text()
    import re

    blocks = [
        b for b in re.split(r"(?m)^# ---$", text) if any(ln.strip() and not ln.startswith("#") for ln in b.splitlines())
    ]
    parsed = [parse_query(b) for b in blocks]
    assert [(q.name, q.id, q.fan_mode) for q in parsed[:3]] == [
        ("MODE_30W_4CORE", 5, "cool"),
        ("MAXN", 0, "cool"),
        ("MAXN", 0, "quiet"),
    ]
    # The file's last (commented) example: jetson_release re-formats the line as "* NV Power Mode: MAXN - Type: 0".
    jr = parse_query(" * NV Power Mode: MAXN - Type: 0\n")
    assert (jr.name, jr.id) == ("MAXN", 0)


def test_query_partial_and_unset():
    q = parse_query("NVPM ERROR: Error opening /sys/devices/gpu.0/tpc_pg_mask: 13\nNV Power Mode: 15W\n0\n")
    assert (q.id, q.name, q.partial) == (0, "15W", True)
    u = parse_query("NVPM WARN: power mode is not set!\n")
    assert (u.state, u.id, u.name, u.partial) == ("unset", None, None, False)
    # the id is the first all-digit line AFTER the name line, not a number elsewhere
    q = parse_query("12\nNVPM VERB: Current mode: NV Power Mode: MAXN\nNVPM VERB: noise 7\n0\n")
    assert (q.id, q.name) == (0, "MAXN")


def test_header_variants():
    conf = parse_conf(
        "< POWER_MODEL ID = 3 NAME=My Quiet Mode >\nCPU_ONLINE CORE_0 1\n< POWER_MODEL NAME=X ID=4 >\n< PM_CONFIG DEFAULT=3 >\n",
        "v.conf",
    )
    assert [(m.id, m.name, m.default) for m in conf.modes] == [(3, "My Quiet Mode", True)]
    assert resolve_mode(conf, "my quiet mode").id == 3
    assert any("v.conf:3: unreadable POWER_MODEL header" in p for p in conf.problems)
