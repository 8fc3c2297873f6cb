"""The guarded NVML module (workbench.core.hw.nvml) with fake pynvml-shaped libraries: no GPU needed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from _nvml_fake import FakeLib

from workbench.core.hw import nvml
from workbench.core.hw.nvml import NOT_INSTALLED, NvmlError, NvmlUnavailable, open_count, open_session


def test_missing_pynvml_is_unavailable_with_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    with pytest.raises(NvmlUnavailable) as err:
        open_session()
    assert err.value.stage == "import" and str(err.value) == NOT_INSTALLED


def test_init_failure_is_unavailable_and_nothing_to_shut_down():
    lib = FakeLib(init_error="Driver Not Loaded")
    with pytest.raises(NvmlUnavailable, match="Driver Not Loaded") as err:
        open_session(lib)
    assert err.value.stage == "init"
    assert open_count(lib) == 0 and lib.shutdowns == 0
    lib.init_error = None  # the driver came back: the next open initialises
    with open_session(lib):
        assert lib.inits == 1
    assert lib.shutdowns == 1


def test_no_gpu_is_a_count_of_zero():
    lib = FakeLib(count=0)
    with open_session(lib) as s:
        assert s.device_count() == 0
        with pytest.raises(NvmlError, match="Invalid Argument"):
            s.handle(0)
    from workbench.core.hw.detect import probe_nvml_gpu

    assert probe_nvml_gpu(lib) is None
    assert lib.inits == lib.shutdowns == 2


def test_names_and_versions_come_back_as_str():
    lib = FakeLib(count=2, names=(b"NVIDIA H100 80GB HBM3", "NVIDIA L4"))
    with open_session(lib) as s:
        assert [s.name(s.handle(i)) for i in range(s.device_count())] == ["NVIDIA H100 80GB HBM3", "NVIDIA L4"]
        assert s.driver_version() == "550.54.15"
        assert s.cuda_driver_version() == "12.2"
        h = s.handle(0)
        assert s.compute_capability(h) == (9, 0)
        assert (s.memory(h).used, s.memory(h).total) == (2 * 2**30, 80 * 2**30)
        assert (s.power_mw(h), s.temperature_c(h)) == (250_000, 41)
        assert (s.sm_clock_mhz(h), s.memory_clock_mhz(h)) == (1980, 2619)
        assert (s.utilisation(h).gpu, s.utilisation(h).memory, s.fan_pct(h)) == (97, 40, 30)
        assert s.has_clock_event_reasons and s.clock_event_reasons(h) == 0x4  # via the older name
        with pytest.raises(NvmlError, match="Not Supported"):
            s.energy_mj(h)


def test_a_binding_without_the_reasons_query():
    lib = FakeLib()
    lib.nvmlDeviceGetCurrentClocksThrottleReasons = None  # shadows the method: neither name usable
    with open_session(lib) as s:
        assert not s.has_clock_event_reasons
        with pytest.raises(NvmlError, match="no clocks-event reason query"):
            s.clock_event_reasons(s.handle(0))


def test_nested_users_share_one_init_and_one_shutdown():
    lib = FakeLib()
    outer = open_session(lib)
    with open_session(lib) as inner:
        assert open_count(lib) == 2
        assert inner.device_count() == 1
    assert lib.shutdowns == 0  # the inner user must not shut NVML down under the outer one
    assert outer.device_count() == 1
    outer.close()
    outer.close()  # idempotent: a second close does not count
    assert (lib.inits, lib.shutdowns, open_count(lib)) == (1, 1, 0)


def test_telemetry_source_and_detection_nested_on_one_library():
    """The real users: detection (hw.detect) runs while the NVML telemetry source is sampling."""
    from workbench.core.hw.detect import probe_nvml_gpu
    from workbench.core.telemetry.nvml import NvmlSource

    lib = FakeLib()
    src = NvmlSource(nvml=lib)
    assert probe_nvml_gpu(lib) == ("NVIDIA H100 80GB HBM3", (9, 0))
    assert lib.shutdowns == 0
    assert src.read().total_power_mw == 250_000.0  # still sampling after detection closed its session
    src.close()
    assert (lib.inits, lib.shutdowns) == (1, 1)


def test_the_real_library_is_the_default(monkeypatch):
    lib = FakeLib()
    monkeypatch.setitem(sys.modules, "pynvml", lib)
    assert nvml.load_library() is lib
    with open_session() as s:
        assert s.lib is lib
    assert lib.shutdowns == 1


def test_importing_the_core_does_not_import_pynvml():
    code = (
        "import json, sys\n"
        "import workbench.core, workbench.core.hw, workbench.core.hw.nvml, workbench.core.telemetry.nvml\n"
        "import workbench.core.doctor, workbench.core.profiles.match\n"
        "print(json.dumps('pynvml' in sys.modules))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1]) is False
