"""Edge Workbench: import -> precision -> INT8 calibration -> engine build -> benchmark.

Kept import-free on purpose: ``workbench --help`` must not load numpy, onnx or onnxruntime.
"""

import os as _os

# onnxruntime 1.32's Linux wheels carry Microsoft's 1DS telemetry (core/platform/telemetry_1ds.cc in the library:
# a device id and an event database under $XDG_CACHE_HOME/Microsoft/DeveloperTools/.onnxruntime/, uploads to
# mobile.events.data.microsoft.com). A benchmark on a board must not send anything or do background work beside the
# timed loop, and writes nothing outside its own folders: telemetry is off unless the user set the library's own
# switch themselves (ORT_DISABLE_TELEMETRY=0). Set here, before any onnxruntime import of this process, and inherited
# by every child (benchmark, build, job) it starts.
_os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
