"""Which device is this? Jetson (device tree + L4T release), else an NVIDIA GPU (NVML), else the CPU.

Order and sources:
1. Jetson: ``<root>/proc/device-tree/model`` (NUL-terminated; ``/sys/firmware/devicetree/base/model``
   as a fallback) and ``<root>/proc/device-tree/compatible`` (NUL-separated, holds the module part
   number such as ``nvidia,p3767-0000``). Both are matched, case-insensitively, against every profile's
   ``device.match`` substrings (kind "jetson"); see :func:`match_jetson` for which rule wins. L4T from ``<root>/etc/nv_tegra_release`` (``# R36 (release), REVISION: 3.0, ...``),
   JetPack by L4T major (issue 2: R32->4, R35->5, R36->6, R38+->7; also R28->3, R31->4, R34->5
   (5.0 developer preview), from jetson-stats' NVIDIA_JETPACK table). An unknown point release still
   maps by its major.
2. NVIDIA GPU: NVML (``pynvml`` from nvidia-ml-py), imported lazily; any failure means "no GPU". The
   first GPU's name is mapped to a profile by family (see :func:`profile_for_gpu`).
3. CPU: ``cpu-<arch>`` from ``platform.machine()`` (aarch64/arm64 -> cpu-aarch64).

The filesystem root is injectable for tests; ``nvml=False`` skips the NVML probe.
"""

from __future__ import annotations

import platform
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

_RELEASE = re.compile(r"#\s*R(\d+)\s*\(release\)\s*,\s*REVISION:\s*([0-9][0-9.]*)", re.IGNORECASE)

# L4T major -> JetPack major. Issue 2 gives 32/35/36/38+; 28, 31 and 34 come from jetson-stats'
# jtop/core/jetson_variables.py NVIDIA_JETPACK table (28.x = JetPack 3.x, 31.x = 4.0/4.1.1,
# 34.x = 5.0 developer previews).
_JETPACK_BY_L4T = {28: "3", 31: "4", 32: "4", 34: "5", 35: "5", 36: "6"}


@dataclass(frozen=True)
class Detection:
    """Result of :func:`detect_device`.

    kind: "jetson" | "gpu" | "cpu"; model: device-tree model string (Jetson) or None; l4t: e.g.
    "36.3.0" or None; jetpack: JetPack major ("6") or None; gpu_name: NVML name or None; arch:
    "x86_64" | "aarch64" (or the raw platform.machine() value when it is neither); profile_name: the
    bundled/user profile to load; reason: one human sentence saying why."""

    kind: str
    model: str | None
    l4t: str | None
    jetpack: str | None
    gpu_name: str | None
    arch: str
    profile_name: str
    reason: str
    hardware_profile: str | None = None  # the profile the hardware matched, before the backend check

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def jetpack_for_l4t(major: int) -> str | None:
    """JetPack major version for an L4T major (R38 and later are JetPack 7); None if unknown."""
    if major >= 38:
        return "7"
    return _JETPACK_BY_L4T.get(major)


def _read_text(path: Path) -> str | None:
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    return raw.decode("utf-8", errors="replace")


def read_model(root: Path) -> str | None:
    """The device-tree model string without its trailing NUL, or None."""
    for rel in ("proc/device-tree/model", "sys/firmware/devicetree/base/model"):
        text = _read_text(root / rel)
        if text is not None:
            text = text.replace("\x00", " ").strip()
            if text:
                return text
    return None


def read_compatible(root: Path) -> list[str]:
    """The device-tree compatible list (NUL-separated in the file), or []."""
    text = _read_text(root / "proc/device-tree/compatible")
    if text is None:
        text = _read_text(root / "sys/firmware/devicetree/base/compatible")
    if not text:
        return []
    return [c.strip() for c in text.split("\x00") if c.strip()]


def read_l4t(root: Path) -> tuple[str | None, str | None]:
    """``(l4t, jetpack)`` from ``<root>/etc/nv_tegra_release``, e.g. ("36.3.0", "6"); (None, None)
    when absent or unparseable."""
    text = _read_text(root / "etc/nv_tegra_release")
    if not text:
        return None, None
    m = _RELEASE.search(text)
    if not m:
        return None, None
    major = int(m.group(1))
    return f"{major}.{m.group(2).rstrip('.')}", jetpack_for_l4t(major)


def normalise_arch(machine: str) -> str:
    m = machine.lower()
    if m in ("x86_64", "amd64", "x64"):
        return "x86_64"
    if m in ("aarch64", "arm64", "armv8l"):
        return "aarch64"
    return machine


def _jetson_rules() -> list[tuple[str, str]]:
    """(rule, profile name) for every valid Jetson profile (user and bundled)."""
    from workbench.core.profiles.loader import analyse_file, list_profile_paths

    rules = []
    for name, path in list_profile_paths():
        profile, problems = analyse_file(path)
        if problems or profile is None or profile.device.kind != "jetson":
            continue
        rules.extend((rule, name) for rule in profile.device.match if rule.strip())
    return rules


def match_jetson(model: str | None, compatible: list[str]) -> tuple[str, str] | None:
    """``(profile_name, rule)`` of the best ``device.match`` rule, or None. Rules are case-insensitive
    substrings; a rule found in the model string beats one found only in the compatible list (the model
    is what users recognise), then the longer (more specific) rule wins, then the profile name."""
    model_l = (model or "").lower()
    compat_l = " | ".join(compatible).lower()
    best: tuple[bool, int, str, str] | None = None
    for rule, name in _jetson_rules():
        r = rule.lower()
        in_model = r in model_l
        if not in_model and r not in compat_l:
            continue
        cand = (in_model, len(rule), name, rule)
        if best is None or cand[:2] > best[:2] or (cand[:2] == best[:2] and cand[2] < best[2]):
            best = cand
    return (best[2], best[3]) if best else None


# NVML name -> profile. Families from NVIDIA's product lines: Ampere = RTX 30xx, RTX Axxxx, A100/A30/
# A40/A10/A16/A2; Ada = RTX 40xx, "RTX xxxx Ada", L4/L40/L40S; Hopper = H100/H200/H800/H20/GH200.
_GPU_RULES: tuple[tuple[str, str, str], ...] = (
    (r"\b(GH200|H100|H200|H800|H20)\b", "datacenter-hopper", "Hopper"),
    (r"\bRTX\s*40\d\d|\bAda\b|\bL40S?\b|\bL4\b|\bL20\b", "desktop-ada", "Ada Lovelace"),
    (r"\bRTX\s*30\d\d|\bRTX\s*A\d{3,4}\b|\bA(100|30|40|10|16|2|800)\b", "desktop-ampere", "Ampere"),
)
# Compute capability -> profile, for names the rules above do not know (e.g. a new SKU).
_GPU_BY_CC = {(8, 0): "desktop-ampere", (8, 6): "desktop-ampere", (8, 9): "desktop-ada", (9, 0): "datacenter-hopper"}


def profile_for_gpu(name: str, cc: tuple[int, int] | None = None) -> tuple[str, str]:
    """``(profile_name, reason)`` for an NVIDIA GPU name (and optional compute capability)."""
    for pattern, profile, family in _GPU_RULES:
        if re.search(pattern, name, re.IGNORECASE):
            return profile, f"NVML GPU '{name}' is {family}: {profile}"
    if cc in _GPU_BY_CC:
        profile = _GPU_BY_CC[cc]
        return profile, f"NVML GPU '{name}' (compute capability {cc[0]}.{cc[1]}) maps to {profile}"
    # Unknown: newer datacenter parts (Blackwell B100/B200/GB200, compute capability >= 10) are closest to
    # Hopper; newer desktop parts (RTX 50xx, RTX PRO Blackwell) to Ada; anything older to Ampere.
    if re.search(r"\b(GB|B)\d{3}\b", name) or (cc is not None and cc[0] >= 10 and "RTX" not in name.upper()):
        profile = "datacenter-hopper"
    elif re.search(r"RTX\s*50\d\d|Blackwell", name, re.IGNORECASE) or (cc is not None and cc >= (10, 0)):
        profile = "desktop-ada"
    else:
        profile = "desktop-ampere"
    return profile, f"NVML GPU '{name}' has no profile of its own; using the closest, {profile}"


def _nvml_gpu() -> tuple[str, tuple[int, int] | None] | None:
    """(name, compute capability) of GPU 0 via NVML, or None when NVML is missing or fails."""
    try:
        import pynvml  # nvidia-ml-py

        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - no library, no driver, no GPU: all mean "no GPU"
        return None
    try:
        if pynvml.nvmlDeviceGetCount() < 1:
            return None
        h = pynvml.nvmlDeviceGetHandleByIndex(0)
        name = pynvml.nvmlDeviceGetName(h)
        if isinstance(name, bytes):
            name = name.decode("utf-8", errors="replace")
        try:
            cc = tuple(pynvml.nvmlDeviceGetCudaComputeCapability(h))
        except Exception:  # noqa: BLE001 - older drivers lack it; the name is enough
            cc = None
        return str(name), cc  # type: ignore[return-value]
    except Exception:  # noqa: BLE001
        return None
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass


def detect_device(
    root: Path = Path("/"), nvml: bool = True, *, machine: str | None = None, check_backend: bool = True
) -> Detection:
    """Detect the device under filesystem ``root`` and choose its profile. Never raises for missing or
    odd files. ``machine`` overrides ``platform.machine()`` (tests).

    With ``check_backend`` (default), a TensorRT profile is only chosen when the ``tensorrt`` Python
    package is importable here (checked with importlib.util.find_spec, without importing it); otherwise
    the CPU profile for the architecture is used and ``reason`` says so, so ``workbench run`` works on a
    GPU box or a Jetson whose Python cannot see JetPack's TensorRT. ``hardware_profile`` keeps the match."""
    det = _detect_hardware(Path(root), nvml, machine)
    det = replace(det, hardware_profile=det.profile_name)
    if check_backend and _profile_backend(det.profile_name) == "tensorrt" and not _tensorrt_importable():
        cpu = "cpu-aarch64" if det.arch == "aarch64" else "cpu-x86_64"
        reason = (
            f"{det.reason}; TensorRT is not importable in this Python, so using {cpu} (ONNX Runtime on the CPU); "
            f"install TensorRT or pass --profile {det.profile_name} to insist"
        )
        det = replace(det, profile_name=cpu, reason=reason)
    return det


def _tensorrt_importable() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("tensorrt") is not None
    except (ImportError, ValueError):
        return False


def _profile_backend(name: str) -> str | None:
    from workbench.core.profiles.loader import analyse_file, find_profile

    path = find_profile(name)
    if path is None:
        return None
    profile, _ = analyse_file(path)
    return profile.build.backend if profile is not None else None


def _detect_hardware(root: Path, nvml: bool, machine: str | None) -> Detection:
    model = read_model(root)
    compatible = read_compatible(root)
    l4t, jetpack = read_l4t(root)
    is_jetson = l4t is not None or (model is not None and "jetson" in model.lower())
    if is_jetson or model or compatible:
        hit = match_jetson(model, compatible)
        if hit is not None:
            name, rule = hit
            shown = f"device-tree model '{model}'" if model else "device-tree compatible"
            where = "model" if model and rule.lower() in model.lower() else "compatible"
            reason = f"{shown} matches {name} (rule '{rule}' in the {where} string)"
            reason += _l4t_note(l4t, jetpack, root)
            return Detection("jetson", model, l4t, jetpack, None, "aarch64", name, reason)
        if is_jetson:
            reason = (
                f"Jetson '{model or 'unknown model'}' matches no profile's device.match; "
                "using cpu-aarch64 (ONNX Runtime on the CPU cores)" + _l4t_note(l4t, jetpack, root)
            )
            return Detection("jetson", model, l4t, jetpack, None, "aarch64", "cpu-aarch64", reason)
    arch = normalise_arch(machine or platform.machine())
    if nvml:
        gpu = _nvml_gpu()
        if gpu is not None:
            name, reason = profile_for_gpu(*gpu)
            return Detection("gpu", model, None, None, gpu[0], arch, name, reason)
    if arch == "aarch64":
        name = "cpu-aarch64"
    elif arch == "x86_64":
        name = "cpu-x86_64"
    else:
        name = "cpu-x86_64"
        return Detection(
            "cpu", model, None, None, None, arch, name,
            f"no profile for CPU architecture '{arch}'; using cpu-x86_64 (generic ONNX Runtime CPU settings)",
        )  # fmt: skip
    why = "no Jetson device tree or L4T release" + (" and no NVIDIA GPU via NVML" if nvml else "")
    return Detection("cpu", model, None, None, None, arch, name, f"{why}; CPU architecture {arch} -> {name}")


def _l4t_note(l4t: str | None, jetpack: str | None, root: Path) -> str:
    if l4t is None:
        return f"; no L4T release in {root / 'etc/nv_tegra_release'}"
    if jetpack is None:
        return f"; L4T R{l4t} (JetPack unknown for this release)"
    return f"; L4T R{l4t} -> JetPack {jetpack}"
