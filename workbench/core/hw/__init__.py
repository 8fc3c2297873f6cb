"""Hardware facts (stdlib only at import; NVML is imported lazily, by :mod:`.nvml` only).

Which profile a device gets is not decided here: see :mod:`workbench.core.profiles.match`. This package's
``__init__`` imports none of its modules on purpose: two threads importing ``hw.detect`` and ``hw.nvml`` at the same
moment (the TUI's prepare and telemetry workers) deadlock on the import locks when the package itself imports them.
"""
