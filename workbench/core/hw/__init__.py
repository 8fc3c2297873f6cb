"""Hardware facts (stdlib only at import; NVML is imported lazily, by :mod:`.nvml` only).

Which profile a device gets is not decided here: see :mod:`workbench.core.profiles.match`.
"""

from __future__ import annotations

from workbench.core.hw.detect import HardwareFacts, detect_hardware, jetpack_for_l4t, read_board

__all__ = ["HardwareFacts", "detect_hardware", "jetpack_for_l4t", "read_board"]
