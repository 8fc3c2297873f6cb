"""Hardware detection (stdlib only at import; NVML is imported lazily)."""

from __future__ import annotations

from workbench.core.hw.detect import Detection, detect_device, jetpack_for_l4t, profile_for_gpu

__all__ = ["Detection", "detect_device", "jetpack_for_l4t", "profile_for_gpu"]
