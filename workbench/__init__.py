"""Edge Workbench: import -> precision -> INT8 calibration -> engine build -> benchmark.

Kept import-free on purpose: ``workbench --help`` must not load numpy, onnx or onnxruntime.
"""

__version__ = "0.1.0"
