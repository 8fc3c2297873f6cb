"""The CPU's INT8 instruction-set level, read from ``<root>/proc/cpuinfo``.

ONNX Runtime's CPU kernels (MLAS) pick their 8-bit GEMM/convolution kernels by instruction set, so the INT8 recipe
that runs fastest depends on it (precision/cpu_recipes.py). One word names the level, best first:

* ``"avx512_vnni"``: x86 with the AVX-512 VNNI dot product (``avx512_vnni`` flag; Cascade Lake, Ice Lake, Sapphire
  Rapids, AMD Zen 4 …);
* ``"avx_vnni"``: x86 with the VEX-encoded VNNI dot product but no AVX-512 VNNI (``avx_vnni``; Alder Lake …);
* ``"avx512"``: x86 with AVX-512 (``avx512f`` and ``avx512bw``: the byte/word ops 8-bit kernels need) and no VNNI
  (Skylake-SP);
* ``"avx2"``: x86 with AVX2 and no VNNI (Haswell … Coffee Lake, AMD Zen 1-3);
* ``"neon_dotprod"``: Arm with the SDOT/UDOT dot product (``asimddp`` in ``Features``; Cortex-A55/A76 and later,
  Graviton 2+, Jetson Orin's Cortex-A78AE);
* ``"neon"``: Arm with Advanced SIMD only (``asimd`` on aarch64, ``neon`` on 32-bit Arm; Cortex-A57, Jetson Nano/TX2);
* ``"unknown"``: anything else, or no readable ``/proc/cpuinfo`` (macOS, Windows, a container hiding it).

The flag names are the Linux kernel's (``arch/x86/include/asm/cpufeatures.h``, ``arch/arm64/kernel/cpuinfo.c``).
Linux clears a flag when the OS has not enabled the register state it needs (XSAVE), so a listed flag is usable.
Only the first processor block is read: every core of the hosts this project targets has the same features.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

#: The levels, best first (see module doc).
ISAS = ("avx512_vnni", "avx_vnni", "avx512", "avx2", "neon_dotprod", "neon", "unknown")
CPUINFO = "proc/cpuinfo"  # relative to the filesystem root


@dataclass(frozen=True)
class CpuIsa:
    """The detected level (one of :data:`ISAS`), the CPU's name as cpuinfo gives it ("" when absent) and the flags
    that decided it (sorted), e.g. ``CpuIsa("avx2", "Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz", ("avx2",))``."""

    isa: str
    model: str = ""
    evidence: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"isa": self.isa, "model": self.model, "evidence": list(self.evidence)}


def _first_block(text: str) -> dict[str, str]:
    """``key: value`` pairs of the first processor block (later duplicates ignored; keys lower-cased)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if "flags" in out or "features" in out:
                break  # end of the first block that carried features
            continue
        key, sep, val = line.partition(":")
        if sep:
            out.setdefault(key.strip().lower(), val.strip())
    return out


def classify(text: str) -> CpuIsa:
    """The level for a ``/proc/cpuinfo`` text (x86 ``flags`` or Arm ``Features`` line); ``"unknown"`` without one."""
    block = _first_block(text)
    model = block.get("model name") or block.get("cpu model") or block.get("hardware") or ""
    if "flags" in block:  # x86
        flags = set(block["flags"].split())
        if "avx512_vnni" in flags:
            return CpuIsa("avx512_vnni", model, ("avx512_vnni",))
        if "avx_vnni" in flags:
            return CpuIsa("avx_vnni", model, ("avx_vnni",))
        if {"avx512f", "avx512bw"} <= flags:
            return CpuIsa("avx512", model, ("avx512bw", "avx512f"))
        if "avx2" in flags:
            return CpuIsa("avx2", model, ("avx2",))
        return CpuIsa("unknown", model)
    if "features" in block:  # Arm (aarch64 lists asimd/asimddp, 32-bit Arm lists neon)
        feats = set(block["features"].split())
        if "asimddp" in feats:
            return CpuIsa("neon_dotprod", model, ("asimddp",))
        for name in ("asimd", "neon"):
            if name in feats:
                return CpuIsa("neon", model, (name,))
    return CpuIsa("unknown", model)


@functools.lru_cache(maxsize=8)  # the CPU does not change under a running process; faces ask on every redraw
def detect(root: Path = Path("/")) -> CpuIsa:
    """Classify ``<root>/proc/cpuinfo`` (the root is injectable for tests); ``"unknown"`` when it cannot be read."""
    try:
        text = (Path(root) / CPUINFO).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return CpuIsa("unknown")
    return classify(text)
