"""Which profile does this device get? Hardware facts (:mod:`workbench.core.hw.detect`) matched to profiles.

Order and sources:
1. Jetson: the device-tree model and compatible strings are matched, case-insensitively, against every
   valid profile's ``device.match`` substrings (profiles of kind "jetson", user and bundled); see
   :func:`match_jetson` for which rule wins. A Jetson no rule matches gets ``cpu-aarch64``.
2. NVIDIA GPU (asked only when no Jetson rule matched): the NVML name is mapped to a profile by family,
   then by compute capability (see :func:`profile_for_gpu`; families from NVIDIA's product lines).
3. CPU: ``cpu-<arch>``; an unknown architecture gets ``cpu-x86_64``.

The TensorRT line (8 / 10 / 11) is chosen by the installed TensorRT and the L4T / JetPack release
(:func:`workbench.core.hw.detect.detect_tensorrt_line`) and carried in ``Detection.tensorrt``.

Then the backend check (:func:`with_backend_check`): a TensorRT profile is only chosen when the
``tensorrt`` Python package is importable here (``importlib.util.find_spec``, without importing it).
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from workbench.core.hw.detect import HardwareFacts, detect_tensorrt_line, read_board, with_gpu
from workbench.core.hw.jetpack import TensorRTLine
from workbench.core.profiles.resolve import analyse_file, find_profile, list_profile_paths


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
    # Which TensorRT line (8/10/11) applies and why: by the installed TensorRT and the L4T/JetPack release, not by
    # the board alone (workbench.core.hw.jetpack). None only for Detections built without detect_device.
    tensorrt: TensorRTLine | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (the ``workbench profiles detect --json`` document); ``tensorrt`` as
        :meth:`TensorRTLine.to_dict` (with its ``headline``)."""
        d = asdict(self)
        d["tensorrt"] = self.tensorrt.to_dict() if self.tensorrt is not None else None
        return d


def _jetson_rules() -> list[tuple[str, str]]:
    """(rule, profile name) for every valid Jetson profile (user and bundled)."""
    rules = []
    for name, path in list_profile_paths():
        profile, problems = analyse_file(path)
        if problems or profile is None or profile.device.kind != "jetson":
            continue
        rules.extend((rule, name) for rule in profile.device.match if rule.strip())
    return rules


def match_jetson(model: str | None, compatible: list[str] | tuple[str, ...]) -> tuple[str, str] | None:
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


def jetson_detection(facts: HardwareFacts) -> Detection | None:
    """The Detection for a board whose device tree a Jetson profile's ``device.match`` claims, or for a
    Jetson no profile claims (``cpu-aarch64``); None for anything else (then NVML and the CPU decide)."""
    if not (facts.kind == "jetson" or facts.has_device_tree):
        return None
    model, l4t, jetpack = facts.model, facts.l4t, facts.jetpack
    hit = match_jetson(model, facts.compatible)
    if hit is not None:
        name, rule = hit
        shown = f"device-tree model '{model}'" if model else "device-tree compatible"
        where = "model" if model and rule.lower() in model.lower() else "compatible"
        reason = f"{shown} matches {name} (rule '{rule}' in the {where} string); {facts.l4t_note()}"
        return Detection("jetson", model, l4t, jetpack, None, "aarch64", name, reason)
    if facts.kind == "jetson":
        reason = (
            f"Jetson '{model or 'unknown model'}' matches no profile's device.match; "
            f"using cpu-aarch64 (ONNX Runtime on the CPU cores); {facts.l4t_note()}"
        )
        return Detection("jetson", model, l4t, jetpack, None, "aarch64", "cpu-aarch64", reason)
    return None


def host_detection(facts: HardwareFacts) -> Detection:
    """The Detection for a machine that is not a Jetson: its NVML GPU's profile (when ``facts`` has one),
    else ``cpu-<arch>``."""
    model, arch = facts.model, facts.arch
    if facts.gpu_name is not None:
        name, reason = profile_for_gpu(facts.gpu_name, facts.compute_capability)
        return Detection("gpu", model, None, None, facts.gpu_name, arch, name, reason)
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
    why = "no Jetson device tree or L4T release" + (" and no NVIDIA GPU via NVML" if facts.nvml_probed else "")
    return Detection("cpu", model, None, None, None, arch, name, f"{why}; CPU architecture {arch} -> {name}")


def _tensorrt_importable() -> bool:
    """Whether ``import tensorrt`` would find a package here (find_spec: nothing is imported)."""
    try:
        return importlib.util.find_spec("tensorrt") is not None
    except (ImportError, ValueError):
        return False


def _profile_backend(name: str) -> str | None:
    """``build.backend`` of the profile called ``name``, or None when it is missing or invalid."""
    path = find_profile(name)
    if path is None:
        return None
    profile, _ = analyse_file(path)
    return profile.build.backend if profile is not None else None


def with_backend_check(det: Detection) -> Detection:
    """``det`` when its profile's backend can run here; for a TensorRT profile in a Python that cannot
    import ``tensorrt``, the CPU profile of the architecture instead, with ``reason`` saying so (so
    ``workbench run`` works on a GPU box or a Jetson whose Python cannot see JetPack's TensorRT).
    ``hardware_profile`` keeps the match either way."""
    det = replace(det, hardware_profile=det.profile_name)
    if _profile_backend(det.profile_name) == "tensorrt" and not _tensorrt_importable():
        cpu = "cpu-aarch64" if det.arch == "aarch64" else "cpu-x86_64"
        reason = (
            f"{det.reason}; TensorRT is not importable in this Python, so using {cpu} (ONNX Runtime on the CPU); "
            f"install TensorRT or pass --profile {det.profile_name} to insist"
        )
        det = replace(det, profile_name=cpu, reason=reason)
    return det


def detect_device(
    root: Path = Path("/"), nvml: bool = True, *, machine: str | None = None, check_backend: bool = True
) -> Detection:
    """Detect the device under filesystem ``root`` and choose its profile. Never raises for missing or
    odd files. ``machine`` overrides ``platform.machine()`` (tests); ``nvml=False`` skips the NVML probe.

    NVML is asked only when no Jetson profile claims the board. With ``check_backend`` (default), see
    :func:`with_backend_check`; without it, ``hardware_profile`` is still set to the match."""
    board = read_board(Path(root), machine=machine)
    det = jetson_detection(board)
    if det is None:
        det = host_detection(with_gpu(board) if nvml else board)
    det = replace(det, tensorrt=detect_tensorrt_line(board, Path(root)))
    return with_backend_check(det) if check_backend else replace(det, hardware_profile=det.profile_name)
