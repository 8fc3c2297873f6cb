"""The legacy implicit INT8 calibrator (TensorRT ≤ 10.x only), fed by the core's streamed dataset reader.

The default INT8 path is the explicit QDQ model (no calibrator at all). This one exists for users who ask for
TensorRT's own calibration (``IInt8EntropyCalibrator2`` or ``IInt8MinMaxCalibrator``). TensorRT 11 removed both;
:func:`make_calibrator` then raises CalibrationError with the reason.

Feeding: :class:`Feeder` pulls one batch at a time from ``Dataset.iter_feeds()`` (nothing holds the whole set),
copies each input into a device buffer and hands TensorRT the device pointers, as ``get_batch`` requires.
Cache: TensorRT writes a text cache whose first line is ``TRT-<version>-<Algorithm>``; an existing cache is only
given back to TensorRT after :func:`workbench.core.precision.trt_cache.check_trt_cache` accepts it (same TensorRT
version), otherwise the build stops with "recalibrate".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.core.errors import CalibrationError

ALGORITHMS = {"entropy": "EntropyCalibration2", "minmax": "MinMaxCalibration"}


class Feeder:
    """Copies batches from ``feeds`` into device buffers; ``next_pointers`` → [device ptr per input] or None.

    ``cuda`` is a :class:`~workbench.core.backends.tensorrt.cuda.Cuda` (or a stand-in with malloc/free/
    memcpy_htod_async/stream_synchronize). Buffers are sized by the first batch; a later batch of another size
    is a CalibrationError (TensorRT calibrates with one batch shape).
    """

    def __init__(self, feeds: Iterable[Mapping[str, Any]], input_names: Sequence[str], cuda: Any) -> None:
        self._it: Iterator[Mapping[str, Any]] = iter(feeds)
        self.names = list(input_names)
        self.cuda = cuda
        self.ptrs: dict[str, int] = {}
        self.nbytes: dict[str, int] = {}
        self.batch_size = 0
        self.batches = 0
        self._keep: list[Any] = []

    def next_pointers(self, names: Sequence[str] | None = None) -> list[int] | None:
        import numpy as np

        try:
            feed = next(self._it)
        except StopIteration:
            return None
        names = list(names or self.names)
        missing = [n for n in names if n not in feed]
        if missing:
            raise CalibrationError(f"calibration sample lacks input(s) {', '.join(missing)}")
        out = []
        self._keep = []
        for n in names:
            arr = np.ascontiguousarray(feed[n])
            if n not in self.ptrs:
                self.ptrs[n] = self.cuda.malloc(arr.nbytes)
                self.nbytes[n] = arr.nbytes
                self.batch_size = int(arr.shape[0]) if arr.ndim else 1
            elif arr.nbytes != self.nbytes[n]:
                raise CalibrationError(
                    f"calibration batch {self.batches + 1}: input {n!r} has {arr.nbytes} bytes, the first batch had "
                    f"{self.nbytes[n]}; TensorRT calibrates with one batch shape"
                )
            self._keep.append(arr)  # the host array must outlive the asynchronous copy
            self.cuda.memcpy_htod_async(self.ptrs[n], arr.ctypes.data, arr.nbytes, 0)
            out.append(self.ptrs[n])
        self.cuda.stream_synchronize(0)
        self.batches += 1
        return out

    def close(self) -> None:
        for p in self.ptrs.values():
            self.cuda.free(p)
        self.ptrs.clear()


def read_cache(path: Path | None, trt_version: str) -> bytes | None:
    """The cache bytes if ``path`` exists and the same TensorRT wrote it; None if absent.

    Raises:
        CalibrationError: written by another TensorRT version ("recalibrate"), or not a calibration cache.
    """
    from workbench.core.precision.trt_cache import check_trt_cache

    if path is None or not Path(path).is_file():
        return None
    check_trt_cache(Path(path), trt_version)
    return Path(path).read_bytes()


def write_cache(path: Path | None, data: bytes) -> None:
    """Write TensorRT's cache atomically after checking its ``TRT-<ver>-<Algo>`` header."""
    from workbench.core.fsutil import write_bytes_atomic
    from workbench.core.precision.trt_cache import parse_trt_cache_header

    if path is None:
        return
    parse_trt_cache_header(data)
    write_bytes_atomic(Path(path), data)


def make_calibrator(
    compat: Any,
    feeds: Iterable[Mapping[str, Any]],
    input_names: Sequence[str],
    cache_path: Path | None,
    algorithm: str,
    cuda: Any = None,
) -> Any:
    """A TensorRT calibrator object (subclass of IInt8EntropyCalibrator2 or IInt8MinMaxCalibrator).

    Raises:
        CalibrationError: the bindings have no calibrators (TensorRT 11), unknown algorithm, bad cache.
    """
    reason = compat.legacy_calibration_reason()
    if reason:
        raise CalibrationError(reason, hint="build INT8 from the QDQ model (the default) instead")
    if algorithm not in ALGORITHMS:
        raise CalibrationError(f"unknown TensorRT calibrator {algorithm!r}; choose {' or '.join(ALGORITHMS)}")
    import tensorrt as trt

    if cuda is None:
        from workbench.core.backends.tensorrt.cuda import Cuda

        cuda = Cuda()
    feeder = Feeder(feeds, input_names, cuda)
    version = compat.version_string
    cached = read_cache(cache_path, version)

    if compat.has("legacy_calibrator"):
        base = trt.IInt8EntropyCalibrator2 if algorithm == "entropy" else trt.IInt8MinMaxCalibrator

        class _Calibrator(base):  # type: ignore[misc, valid-type]
            def __init__(self) -> None:
                base.__init__(self)
                self.feeder = feeder

            def get_batch_size(self):
                return max(1, feeder.batch_size)

            def get_batch(self, names):
                ptrs = feeder.next_pointers(list(names))
                if ptrs is None:
                    feeder.close()
                return ptrs

            def read_calibration_cache(self):
                return cached

            def write_calibration_cache(self, cache):
                write_cache(cache_path, bytes(memoryview(cache)))

        return _Calibrator()
    raise CalibrationError(reason or "no TensorRT calibrator classes")
