"""workbench doctor (issue 3, "What it must show" 5): runs here and says plainly what is absent."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.core.doctor import ABSENT, OK, WARN, render, run_doctor

ORIN_TREE = Path(__file__).resolve().parents[1] / "fixtures" / "sysfs" / "trees" / "agx-orin-jp5-hwmon"


def test_doctor_on_this_cpu_machine(run_cli):
    res = run_cli("doctor")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    summary = out.split("\n\n")[0]
    assert "TensorRT: absent — TensorRT profiles cannot build here" in summary
    assert "NVML: absent — no NVIDIA GPU telemetry" in summary
    assert "Jetson: not a Jetson — Jetson telemetry sources absent (jtop, sysfs, tegrastats)" in summary
    assert "telemetry usable: host" in summary
    assert "backends usable: onnxruntime" in summary
    assert "[--] tensorrt" in out and "TensorRT is not available here" in out
    doc = json.loads(run_cli("doctor", "--json", "--no-backends").stdout)
    by = {(c["section"], c["name"]): c for c in doc["checks"]}
    assert by[("nvidia", "TensorRT")]["status"] == ABSENT
    assert by[("nvidia", "NVML")]["status"] == ABSENT and "NVML" in by[("nvidia", "NVML")]["detail"]
    assert by[("jetson", "L4T")]["status"] == ABSENT
    for src in ("jtop", "sysfs", "tegrastats", "nvml", "nvidia-smi"):
        assert by[("telemetry", src)]["status"] == ABSENT, src
    assert by[("telemetry", "host")]["status"] == OK
    assert by[("versions", "onnxruntime")]["value"]
    assert not any(c["section"] == "backends" for c in doc["checks"])  # --no-backends
    assert doc["environment"]["WORKBENCH_HOME"]


def test_doctor_on_a_jetson_tree_with_fake_nvidia_stack():
    rep = run_doctor(
        ORIN_TREE,
        nvml=lambda: ({"driver": "540.4.0", "cuda_driver": "12.2", "gpus": [("Orin (nvgpu)", 30000)]}, ""),
        find_library=lambda n: {"cudart": "libcudart.so.12", "nvinfer": "libnvinfer.so.10"}.get(n),
        which=lambda n: f"/usr/bin/{n}",
        run=lambda cmd: (0, "active") if cmd[-1] == "jtop.service" else None,
        backends=False,
    )
    assert rep.get("jetson", "L4T").value == "R35.2.1" and rep.get("jetson", "JetPack").value == "5"
    assert rep.get("nvidia", "driver").value == "540.4.0"
    assert rep.get("nvidia", "CUDA").value == "driver API 12.2, runtime libcudart.so.12"
    trt = rep.get("nvidia", "TensorRT")
    assert trt.status == WARN and "libnvinfer is present (libnvinfer.so.10) but this Python cannot import" in trt.detail
    assert rep.get("jetson", "jtop service").status == OK
    assert rep.get("telemetry", "sysfs").status == OK  # the INA3221 hwmon tree
    assert "Jetson: not a Jetson" not in "\n".join(rep.summary)
    assert "[ok] L4T" in render(rep)


def test_jtop_service_states():
    def doctor(out, pkg_installed=False):
        import workbench.core.doctor as d

        real = d._version
        d._version = lambda dist: "4.2.0" if (dist == "jetson-stats" and pkg_installed) else real(dist)
        try:
            return run_doctor(ORIN_TREE, nvml=lambda: (None, "no NVML"), which=lambda n: "/bin/x",
                              run=lambda cmd: out, backends=False).get("jetson", "jtop service")  # fmt: skip
        finally:
            d._version = real

    c = doctor((3, "inactive"), pkg_installed=True)
    assert (c.status, c.value) == (WARN, "inactive") and "systemctl restart jtop.service" in c.detail
    c = doctor((1, "System has not been booted with systemd as init system (PID 1). Can't operate."))
    assert (c.status, c.value) == (ABSENT, "unknown (systemd not running)")
    assert "jetson-stats is not installed" in c.detail


def test_nvml_facts_through_the_guarded_module(monkeypatch):
    import sys

    from _nvml_fake import FakeLib

    from workbench.core.doctor import _nvml_facts

    lib = FakeLib(count=2, names=(b"NVIDIA H100 80GB HBM3", "NVIDIA L4"))
    gpus = [("NVIDIA H100 80GB HBM3", 81920), ("NVIDIA L4", 81920)]
    monkeypatch.setitem(sys.modules, "pynvml", lib)
    facts, reason = _nvml_facts()
    assert reason == "" and facts == {"driver": "550.54.15", "cuda_driver": "12.2", "gpus": gpus}
    assert (lib.inits, lib.shutdowns) == (1, 1)
    lib.init_error = "Driver Not Loaded"
    assert _nvml_facts() == (None, "NVML cannot start: Driver Not Loaded (no NVIDIA driver here)")
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert _nvml_facts() == (None, "nvidia-ml-py is not installed (pip extra 'nvml')")
