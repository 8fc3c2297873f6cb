"""``workbench doctor``: what this machine has, what the workbench can use here, and why not.

The first thing to paste into a bug report. Nothing here raises for a missing component: every probe becomes a
:class:`Check` with a status and a reason. Probes never import heavy packages to learn a version (installed
versions come from ``importlib.metadata``); the backends are constructed (that is the only honest test of "usable"),
which imports their runtime (onnxruntime; torch for the torch backend; tensorrt when present).

Sources of each fact:

- NVIDIA driver: ``/proc/driver/nvidia/version`` (kernel module) and NVML ``nvmlSystemGetDriverVersion``
  (NVML is reached through ``workbench.core.hw.nvml`` only).
- CUDA: NVML ``nvmlSystemGetCudaDriverVersion`` (driver API version, e.g. 12020 -> 12.2), the toolkit's
  ``/usr/local/cuda/version.json`` or ``version.txt``, and ``libcudart`` via ``ctypes.util.find_library``.
- TensorRT: the ``tensorrt`` Python package (metadata version) and ``libnvinfer`` via ``find_library``.
- TensorRT line (8 / 10 / 11, flags vs strongly typed) and why: ``workbench.core.hw.jetpack`` through the device
  detection — the installed TensorRT (this Python's package, ``/var/lib/dpkg/status`` records) and the L4T / JetPack
  release; printed as one line in the summary and as ``tensorrt_line`` in ``--json``.
- Jetson: ``/etc/nv_tegra_release`` and the device tree (``workbench.core.hw.detect``), JetPack from the L4T release;
  the board's profile from ``workbench.core.profiles.match``.
- jtop: the ``jetson-stats`` package and ``systemctl is-active jtop.service`` (2 s timeout).
- Telemetry: ``workbench.core.telemetry.probe_sources`` (each live source opened once).
"""

from __future__ import annotations

import ctypes.util
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.hw.nvml import NvmlUnavailable, open_session

OK, ABSENT, WARN = "ok", "absent", "warn"

PACKAGES = (
    ("numpy", "numpy"),
    ("onnx", "onnx"),
    ("onnxruntime", "onnxruntime"),
    ("onnxruntime-gpu", "onnxruntime-gpu"),
    ("torch", "torch"),
    ("onnxscript", "onnxscript"),
    ("tensorrt", "tensorrt"),
    ("nvidia-ml-py", "nvidia-ml-py"),
    ("jetson-stats", "jetson-stats"),
    ("psutil", "psutil"),
    ("pydantic", "pydantic"),
    ("textual", "textual"),
)


@dataclass(frozen=True)
class Check:
    section: str
    name: str
    status: str  # ok | absent | warn
    value: str | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"section": self.section, "name": self.name, "status": self.status, "value": self.value,
                "detail": self.detail}  # fmt: skip


@dataclass(frozen=True)
class DoctorReport:
    checks: tuple[Check, ...]
    summary: tuple[str, ...] = field(default=())
    # TensorRTLine.to_dict() of the device (workbench.core.hw.jetpack): the line, the reason, what was installed.
    tensorrt_line: dict[str, Any] | None = None

    def get(self, section: str, name: str) -> Check | None:
        return next((c for c in self.checks if c.section == section and c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"summary": list(self.summary), "checks": [c.to_dict() for c in self.checks]}
        if self.tensorrt_line is not None:
            d["tensorrt_line"] = self.tensorrt_line
        return d


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def _nvml_facts() -> tuple[dict[str, Any] | None, str]:
    """``(facts, reason)`` from NVML (through :mod:`workbench.core.hw.nvml`); facts None when NVML is absent or
    fails, reason then says why. Facts: driver, cuda_driver ("12.2" or None on older drivers), gpus
    [(name, memory MiB)]."""
    try:
        session = open_session()
    except NvmlUnavailable as exc:
        if exc.stage == "import":
            return None, str(exc)
        return None, f"NVML cannot start: {exc} (no NVIDIA driver here)"
    with session:
        try:
            facts: dict[str, Any] = {"driver": session.driver_version()}
            try:
                facts["cuda_driver"] = session.cuda_driver_version()
            except Exception:  # noqa: BLE001 - older drivers
                facts["cuda_driver"] = None
            gpus = []
            for i in range(session.device_count()):
                h = session.handle(i)
                gpus.append((session.name(h), session.memory(h).total // (1 << 20)))
            facts["gpus"] = gpus
            return facts, ""
        except Exception as exc:  # noqa: BLE001 - NVML errors and broken bindings alike end up in the report
            return None, f"NVML error: {exc}"


def _run(cmd: list[str], timeout: float = 2.0) -> tuple[int, str] | None:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.returncode, (p.stdout or p.stderr).strip()


def run_doctor(
    root: Path = Path("/"),
    *,
    nvml: Callable[[], tuple[dict[str, Any] | None, str]] = _nvml_facts,
    which: Callable[[str], str | None] = shutil.which,
    find_library: Callable[[str], str | None] = ctypes.util.find_library,
    run: Callable[[list[str]], tuple[int, str] | None] = _run,
    backends: bool = True,
) -> DoctorReport:
    """Probe everything (see module docstring). The keyword arguments are seams for tests."""
    from workbench import __version__

    checks: list[Check] = []
    add = checks.append
    root = Path(root)

    # -- versions
    add(Check("versions", "workbench", OK, __version__))
    add(Check("versions", "python", OK, platform.python_version(), sys.executable))
    add(Check("versions", "platform", OK, f"{platform.system()} {platform.release()} {platform.machine()}"))
    for label, dist in PACKAGES:
        v = _version(dist)
        if v is None and label in ("onnxruntime-gpu",):
            continue  # only listed when installed
        add(Check("versions", label, OK if v else ABSENT, v, "" if v else "not installed"))
    try:
        import onnxruntime as ort

        provs = ort.get_available_providers()
        add(Check("versions", "onnxruntime providers", OK, ", ".join(provs)))
    except Exception as exc:  # noqa: BLE001
        add(Check("versions", "onnxruntime providers", WARN, None, f"onnxruntime does not import: {exc}"))

    # -- NVIDIA stack
    facts, nvml_reason = nvml()
    kernel = _read(root / "proc/driver/nvidia/version")
    if facts:
        gpus = ", ".join(f"{n} ({m} MiB)" for n, m in facts["gpus"]) or "no GPU"
        add(Check("nvidia", "NVML", OK, gpus, f"{len(facts['gpus'])} GPU(s)"))
        add(Check("nvidia", "driver", OK, facts["driver"], "from NVML"))
    else:
        add(Check("nvidia", "NVML", ABSENT, None, nvml_reason))
        if kernel:
            first = kernel.splitlines()[0]
            add(Check("nvidia", "driver", OK, first, f"from {root / 'proc/driver/nvidia/version'}"))
        else:
            add(Check("nvidia", "driver", ABSENT, None,
                      f"no NVIDIA kernel driver ({root / 'proc/driver/nvidia/version'} missing)"))  # fmt: skip
    cuda_bits = []
    if facts and facts.get("cuda_driver"):
        cuda_bits.append(f"driver API {facts['cuda_driver']}")
    toolkit = None
    vj = _read(root / "usr/local/cuda/version.json")
    if vj:
        try:
            toolkit = json.loads(vj).get("cuda", {}).get("version")
        except ValueError:
            toolkit = None
    if toolkit is None:
        vt = _read(root / "usr/local/cuda/version.txt")
        if vt:
            toolkit = vt.split()[-1]
    if toolkit:
        cuda_bits.append(f"toolkit {toolkit}")
    cudart = find_library("cudart")
    if cudart:
        cuda_bits.append(f"runtime {cudart}")
    if cuda_bits and not (facts or kernel):
        add(Check("nvidia", "CUDA", WARN, ", ".join(cuda_bits), "no NVIDIA driver: CUDA cannot run here"))
    elif cuda_bits:
        add(Check("nvidia", "CUDA", OK, ", ".join(cuda_bits)))
    else:
        add(Check("nvidia", "CUDA", ABSENT, None,
                  "no CUDA driver (NVML), no /usr/local/cuda, no libcudart on the library path"))  # fmt: skip
    from workbench.core.profiles.match import detect_device

    det = detect_device(root, nvml=False, check_backend=False)
    trt_py = importlib.util.find_spec("tensorrt") is not None
    trt_ver = _version("tensorrt") or _version("tensorrt-cu12") or _version("tensorrt-cu11")
    nvinfer = find_library("nvinfer")
    if trt_py:
        add(Check("nvidia", "TensorRT", OK, trt_ver or "installed", f"Python package; libnvinfer: {nvinfer or '?'}"))
    elif nvinfer:
        add(Check("nvidia", "TensorRT", WARN, None,
                  f"libnvinfer is present ({nvinfer}) but this Python cannot import tensorrt: install the wheel "
                  "matching it, or on a Jetson use the system Python / a venv with --system-site-packages"))  # fmt: skip
    else:
        add(Check("nvidia", "TensorRT", ABSENT, None,
                  "not installed (no tensorrt Python package, no libnvinfer); builds run on ONNX Runtime"))  # fmt: skip
    trt_line = det.tensorrt
    if trt_line is not None:
        status = WARN if trt_line.warning else (OK if trt_line.installed else ABSENT)
        add(Check("nvidia", "TensorRT line", status, trt_line.headline(), trt_line.reason))
        if trt_line.dla:
            add(Check("nvidia", "DLA", OK, trt_line.dla))
    from workbench.core.hw.tools import FIXED_PATHS, find_tool

    trtexec = find_tool("trtexec")
    if trtexec:
        add(Check("nvidia", "trtexec", OK, trtexec))
    else:
        add(Check("nvidia", "trtexec", ABSENT, None,
                  f"not in {' or '.join(FIXED_PATHS['trtexec'])} nor on PATH (pip wheels do not carry it)"))  # fmt: skip

    # -- Jetson
    if det.l4t:
        add(Check("jetson", "L4T", OK, f"R{det.l4t}", str(root / "etc/nv_tegra_release")))
        add(Check("jetson", "JetPack", OK if det.jetpack else WARN, det.jetpack,
                  "" if det.jetpack else "L4T release not in our JetPack table"))  # fmt: skip
    else:
        add(Check("jetson", "L4T", ABSENT, None, f"not a Jetson ({root / 'etc/nv_tegra_release'} missing)"))
        add(Check("jetson", "JetPack", ABSENT, None, "not a Jetson"))
    if det.kind == "jetson":
        add(Check("jetson", "board", OK, det.model or "?", det.reason))
    jtop_pkg = _version("jetson-stats")
    res = run(["systemctl", "is-active", "jtop.service"]) if which("systemctl") else None
    word = res[1].splitlines()[0].strip() if res and res[1] else ""
    states = ("active", "inactive", "failed", "activating", "deactivating", "reloading", "unknown")
    if res is None:
        state = "no systemctl here"
    elif word in states:
        state = word
    else:
        state = "unknown (systemd not running)" if "systemd" in word else f"unknown ({word[:60]})"
    if state == "active":
        add(Check("jetson", "jtop service", OK, state))
    elif not jtop_pkg:
        add(Check("jetson", "jtop service", ABSENT, state,
                  "jetson-stats is not installed (on a Jetson: sudo pip3 install jetson-stats)"))  # fmt: skip
    else:
        add(Check("jetson", "jtop service", WARN, state,
                  "sudo systemctl restart jtop.service; add yourself to the 'jtop' group and log in again"))  # fmt: skip

    # -- device detection and telemetry
    det_full = detect_device(root)
    add(Check("device", "profile", OK, det_full.profile_name, det_full.reason))
    from workbench.core.telemetry import probe_sources

    for name, ok, why in probe_sources(root=root):
        add(Check("telemetry", name, OK if ok else ABSENT, "usable" if ok else None, why))

    # -- backends
    if backends:
        from workbench.core.backends import BACKENDS, get_backend
        from workbench.core.errors import WorkbenchError

        for name in BACKENDS:
            try:
                b = get_backend(name)
            except WorkbenchError as exc:
                add(Check("backends", name, ABSENT, None, str(exc)))
                continue
            except Exception as exc:  # noqa: BLE001 - a broken install must not stop the report
                add(Check("backends", name, WARN, None, f"{type(exc).__name__}: {exc}"))
                continue
            support = b.precision_support()
            usable = [p for p, why in support.items() if not why]
            blocked = {p: why for p, why in support.items() if why}
            detail = "; ".join(f"{p}: {w}" for p, w in blocked.items())
            add(Check("backends", name, OK if usable else WARN, "precisions " + (", ".join(usable) or "none"), detail))

    summary = _summary(checks)
    if trt_line is not None:
        summary.insert(0, f"TensorRT line: {trt_line.one_line()}")
    return DoctorReport(tuple(checks), tuple(summary), trt_line.to_dict() if trt_line is not None else None)


def _summary(checks: list[Check]) -> list[str]:
    def st(section: str, name: str) -> str | None:
        c = next((c for c in checks if c.section == section and c.name == name), None)
        return c.status if c else None

    out = []
    if st("nvidia", "TensorRT") != OK:
        out.append("TensorRT: absent — TensorRT profiles cannot build here; ONNX Runtime (CPU) is used")
    if st("nvidia", "NVML") != OK:
        out.append("NVML: absent — no NVIDIA GPU telemetry (power, clocks, temperature) from NVML")
    jet = [c.name for c in checks if c.section == "telemetry" and c.name in ("sysfs", "tegrastats", "jtop")
           and c.status != OK]  # fmt: skip
    if st("jetson", "L4T") != OK:
        out.append(
            f"Jetson: not a Jetson — Jetson telemetry sources absent ({', '.join(jet)}); no nvpmodel/jetson_clocks"
        )
    elif jet:
        out.append(f"Jetson telemetry sources not usable: {', '.join(jet)} (see below)")
    usable = [c.name for c in checks if c.section == "telemetry" and c.status == OK]
    out.append("telemetry usable: " + (", ".join(usable) or "none"))
    be = [c.name for c in checks if c.section == "backends" and c.status == OK]
    if any(c.section == "backends" for c in checks):
        out.append("backends usable: " + (", ".join(be) or "none"))
    return out


def render(report: DoctorReport) -> str:
    """Plain text: a summary, then one line per check, grouped by section."""
    mark = {OK: "ok", ABSENT: "--", WARN: "!!"}
    lines = ["Summary"] + [f"  {s}" for s in report.summary]
    section = None
    titles = {"versions": "Versions", "nvidia": "NVIDIA stack", "jetson": "Jetson", "device": "Device",
              "telemetry": "Telemetry sources", "backends": "Backends"}  # fmt: skip
    width = max((len(c.name) for c in report.checks), default=10)
    for c in report.checks:
        if c.section != section:
            section = c.section
            lines.append("")
            lines.append(titles.get(section, section))
        value = c.value if c.value is not None else ("absent" if c.status == ABSENT else "-")
        detail = f"  ({c.detail})" if c.detail else ""
        lines.append(f"  [{mark[c.status]}] {c.name.ljust(width)}  {value}{detail}")
    return "\n".join(lines)


def environment_for_report() -> dict[str, str]:
    """Environment variables that change the workbench's behaviour (for the JSON report)."""
    keys = ("WORKBENCH_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "CUDA_VISIBLE_DEVICES",
            "LD_LIBRARY_PATH")  # fmt: skip
    return {k: os.environ[k] for k in keys if k in os.environ}
