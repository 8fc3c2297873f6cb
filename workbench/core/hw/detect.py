"""Hardware facts: is this a Jetson (device tree + L4T release), does NVML see an NVIDIA GPU, which CPU
architecture. Facts only: which profile the device gets is decided by :mod:`workbench.core.profiles.match`.

Sources:
1. Jetson: ``<root>/proc/device-tree/model`` (NUL-terminated; ``/sys/firmware/devicetree/base/model``
   as a fallback) and ``<root>/proc/device-tree/compatible`` (NUL-separated, holds the module part
   number such as ``nvidia,p3767-0000``). L4T from ``<root>/etc/nv_tegra_release`` (``# R36 (release),
   REVISION: 3.0, ...``), JetPack by L4T major (issue 2: R32->4, R35->5, R36->6, R38+->7; also R28->3,
   R31->4, R34->5 (5.0 developer preview), from jetson-stats' NVIDIA_JETPACK table). An unknown point
   release still maps by its major. A device with an L4T release, or "jetson" in its model string, is a
   Jetson.
2. NVIDIA GPU: NVML through :mod:`workbench.core.hw.nvml` (``pynvml`` imported lazily); any failure means
   "no GPU". The first GPU's name and compute capability are the facts.
3. CPU: the architecture from ``platform.machine()`` (aarch64/arm64 -> aarch64, amd64 -> x86_64).
4. TensorRT line (:func:`detect_tensorrt_line`): 8 / 10 / 11 from the installed TensorRT and the L4T / JetPack
   release (package records under the root, this Python's ``tensorrt`` package), never from the board alone;
   the rules and their sources are in :mod:`workbench.core.hw.jetpack`.

The filesystem root is injectable for tests; ``nvml=False`` skips the NVML probe.
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from workbench.core.hw.jetpack import TensorRTLine, jetpack_for_l4t, tensorrt_line
from workbench.core.hw.nvml import NvmlUnavailable, open_session

_RELEASE = re.compile(r"#\s*R(\d+)\s*\(release\)\s*,\s*REVISION:\s*([0-9][0-9.]*)", re.IGNORECASE)

RELEASE_FILE = "etc/nv_tegra_release"  # relative to the filesystem root


@dataclass(frozen=True)
class HardwareFacts:
    """What :func:`read_board` / :func:`detect_hardware` found.

    kind: "jetson" | "gpu" | "cpu"; arch: "x86_64" | "aarch64" (a Jetson is always "aarch64", whatever the
    host reading a fake root runs on), or the raw ``platform.machine()`` value when it is neither; model:
    device-tree model string or None; compatible: the device-tree compatible entries; l4t: e.g. "36.3.0" or
    None; jetpack: JetPack major ("6") or None; gpu_name / compute_capability: NVML's GPU 0, or None;
    nvml_probed: whether NVML was asked; release_file: where the L4T release was looked for."""

    kind: str
    arch: str
    model: str | None = None
    compatible: tuple[str, ...] = ()
    l4t: str | None = None
    jetpack: str | None = None
    gpu_name: str | None = None
    compute_capability: tuple[int, int] | None = None
    nvml_probed: bool = False
    release_file: Path = Path("/") / RELEASE_FILE

    @property
    def has_device_tree(self) -> bool:
        """Whether the device tree gave a model or compatible string (any board, not only a Jetson)."""
        return bool(self.model or self.compatible)

    def l4t_note(self) -> str:
        """The L4T/JetPack facts as a clause for a reason sentence, e.g. "L4T R36.4.4 -> JetPack 6"."""
        if self.l4t is None:
            return f"no L4T release in {self.release_file}"
        if self.jetpack is None:
            return f"L4T R{self.l4t} (JetPack unknown for this release)"
        return f"L4T R{self.l4t} -> JetPack {self.jetpack}"


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
    text = _read_text(root / RELEASE_FILE)
    if not text:
        return None, None
    m = _RELEASE.search(text)
    if not m:
        return None, None
    major = int(m.group(1))
    return f"{major}.{m.group(2).rstrip('.')}", jetpack_for_l4t(major)


def normalise_arch(machine: str) -> str:
    """The architecture name ("x86_64" or "aarch64") for the spellings ``platform.machine()`` uses; any
    other value is returned unchanged."""
    m = machine.lower()
    if m in ("x86_64", "amd64", "x64"):
        return "x86_64"
    if m in ("aarch64", "arm64", "armv8l"):
        return "aarch64"
    return machine


def read_board(root: Path = Path("/"), *, machine: str | None = None) -> HardwareFacts:
    """The facts that need no driver: device tree, L4T release and CPU architecture under ``root``
    (``machine`` overrides ``platform.machine()``, for tests). ``kind`` is "jetson" or "cpu"; NVML is not
    asked (see :func:`with_gpu`). Never raises for missing or odd files."""
    root = Path(root)
    model = read_model(root)
    l4t, jetpack = read_l4t(root)
    is_jetson = l4t is not None or (model is not None and "jetson" in model.lower())
    return HardwareFacts(
        kind="jetson" if is_jetson else "cpu",
        arch="aarch64" if is_jetson else normalise_arch(machine or platform.machine()),
        model=model,
        compatible=tuple(read_compatible(root)),
        l4t=l4t,
        jetpack=jetpack,
        release_file=root / RELEASE_FILE,
    )


def probe_nvml_gpu(lib: Any = None) -> tuple[str, tuple[int, int] | None] | None:
    """``(name, compute capability)`` of GPU 0 via NVML (``lib``: a pynvml-shaped object for tests), the
    capability None when the driver cannot tell; None when NVML is missing, fails or sees no GPU."""
    try:
        session = open_session(lib)
    except NvmlUnavailable:
        return None
    with session:
        try:
            if session.device_count() < 1:
                return None
            handle = session.handle(0)
            name = session.name(handle)
        except Exception:  # noqa: BLE001 - an NVML error or a broken binding: both mean "no GPU"
            return None
        try:
            cc: tuple[int, int] | None = session.compute_capability(handle)
        except Exception:  # noqa: BLE001 - older drivers lack it; the name is enough
            cc = None
        return name, cc


def with_gpu(facts: HardwareFacts) -> HardwareFacts:
    """``facts`` after asking NVML: kind "gpu" (unless a Jetson) with the GPU's name and compute capability
    when NVML sees one, else unchanged apart from ``nvml_probed``."""
    gpu = probe_nvml_gpu()
    if gpu is None:
        return replace(facts, nvml_probed=True)
    kind = facts.kind if facts.kind == "jetson" else "gpu"
    return replace(facts, kind=kind, gpu_name=gpu[0], compute_capability=gpu[1], nvml_probed=True)


def detect_hardware(root: Path = Path("/"), nvml: bool = True, *, machine: str | None = None) -> HardwareFacts:
    """Every fact about the device under ``root``: :func:`read_board`, then (unless it is a Jetson, whose
    integrated GPU is described by its device tree, or ``nvml`` is False) the NVML GPU."""
    facts = read_board(root, machine=machine)
    if facts.kind == "jetson" or not nvml:
        return facts
    return with_gpu(facts)


def detect_tensorrt_line(facts: HardwareFacts, root: Path = Path("/"), *, python: Any = None) -> TensorRTLine:
    """Which TensorRT line (8 / 10 / 11) applies to the device ``facts`` describes, and why: its board, L4T /
    JetPack release and the TensorRT installed under ``root`` (package records; this Python's ``tensorrt`` package
    when ``root`` is ``/``, or ``python`` — a ``() -> (version, source) | None`` seam — says otherwise). See
    :mod:`workbench.core.hw.jetpack`. Reads files only: nothing is imported, ``trtexec`` is not run."""
    return tensorrt_line(
        root,
        model=facts.model,
        compatible=facts.compatible,
        l4t=facts.l4t,
        jetpack_major=facts.jetpack,
        jetson=facts.kind == "jetson",
        python=python,
    )
