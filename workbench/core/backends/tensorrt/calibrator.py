"""The legacy implicit INT8 calibrator (TensorRT ≤ 10.x only), fed by the core's streamed dataset reader.

The default INT8 path is the explicit QDQ model (no calibrator at all). This one exists for users who ask for
TensorRT's own calibration (``IInt8EntropyCalibrator2`` or ``IInt8MinMaxCalibrator``). TensorRT 11 removed both;
:func:`make_calibrator` then raises CalibrationError with the reason.

Feeding: :class:`Feeder` pulls samples from ``Dataset.iter_feeds()`` (nothing holds the whole set) and stacks
them along the batch axis into batches of the calibration shape — the optimization profile's OPT shape, which
TensorRT calibrates at (the builder sets that profile with ``set_calibration_profile``; a static input's own
shape). Device buffers are sized from that shape once; each batch is copied into them and TensorRT gets the device
pointers, as ``get_batch`` requires. ``get_batch_size`` answers 1: every network here is explicit batch (ONNX), so
the batch is part of the tensor shape and TensorRT's implicit-batch size does not apply (trtexec's calibrator
answers 1 too). A dataset too small for one OPT batch, or whose samples differ from OPT in a non-batch dim, is
a CalibrationError naming both shapes.
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
    """Stacks samples from ``feeds`` into batches of the calibration shapes and copies them into device buffers;
    ``next_pointers`` → [device ptr per input] or None when no full batch is left.

    Args:
        feeds: ``{input: array}`` per sample, batch axis first (the dataset reader's batch-1 samples, or larger).
        input_names: the network's inputs, in order.
        cuda: a :class:`~workbench.core.backends.tensorrt.cuda.Cuda` (or a stand-in with malloc/free/
            memcpy_htod_async/stream_synchronize).
        opt_shapes: {input: shape TensorRT calibrates at} (the profile's OPT shape; the static shape of a static
            input). None (or an input left out): each sample is one batch as given, sized by the first.

    A trailing partial batch is dropped (counted in :meth:`summary`).
    """

    def __init__(
        self,
        feeds: Iterable[Mapping[str, Any]],
        input_names: Sequence[str],
        cuda: Any,
        opt_shapes: Mapping[str, Sequence[int]] | None = None,
    ) -> None:
        self._it: Iterator[Mapping[str, Any]] = iter(feeds)
        self.names = list(input_names)
        self.cuda = cuda
        self.opt = {k: tuple(int(d) for d in v) for k, v in (opt_shapes or {}).items()}
        self.ptrs: dict[str, int] = {}
        self.nbytes: dict[str, int] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.batches = 0
        self.samples = 0
        self.dropped = 0
        self._keep: list[Any] = []

    @property
    def batch_size(self) -> int:
        """Samples per calibration batch along the batch axis (the OPT batch); 0 before the first batch."""
        first = next(iter(self.shapes.values()), ())
        return int(first[0]) if first else (1 if self.shapes else 0)

    def _target(self, name: str, arr: Any) -> tuple[int, ...]:
        return self.opt.get(name) or self.shapes.get(name) or tuple(arr.shape)

    def _next_batch(self, names: Sequence[str]) -> dict[str, Any] | None:
        """The next batch of the calibration shapes, stacked from samples; None when the samples run out.

        Raises:
            CalibrationError: not even one batch can be filled; a sample differs from the calibration shape in a
                non-batch dim; a sample's batch overshoots what is left of the batch.
        """
        import numpy as np

        parts: dict[str, list[Any]] = {n: [] for n in names}
        filled = dict.fromkeys(names, 0)
        want: dict[str, int] = {}
        taken = 0
        while True:
            try:
                feed = next(self._it)
            except StopIteration:
                self.dropped += taken
                if self.batches == 0:
                    shapes = ", ".join(f"{n} {list(self.opt[n])}" for n in names if n in self.opt)
                    size = max(want.values(), default=0) or max((v[0] for v in self.opt.values() if v), default=0)
                    raise CalibrationError(
                        f"the calibration set has {self.samples + taken} sample(s): too few for one calibration "
                        f"batch of {size or '?'} ({shapes or 'the calibration shape'}); TensorRT calibrates at the "
                        "optimization profile's OPT shape",
                        hint="add calibration samples, or lower the OPT batch ([build.shapes.<input>] opt, or --batch)",
                    ) from None
                return None
            missing = [n for n in names if n not in feed]
            if missing:
                raise CalibrationError(
                    f"calibration sample lacks input(s) {', '.join(missing)}",
                    hint="every calibration sample must feed every model input: give .npz files with one key per input",
                )
            for n in names:
                arr = np.asarray(feed[n])
                if n not in self.opt and n in self.shapes and tuple(arr.shape) != self.shapes[n]:
                    # no calibration shape given: each sample is a batch, and the first one's shape is the shape
                    raise CalibrationError(
                        f"calibration batch {self.batches + 1}: input {n!r} has shape {list(arr.shape)}, the first "
                        f"batch had {list(self.shapes[n])}; TensorRT calibrates with one batch shape",
                        hint="give every calibration sample the same shape, or set [build.shapes.<input>] opt to the "
                        "calibration batch shape",
                    )
                target = self.opt.get(n) or self.shapes.get(n) or tuple(arr.shape)
                if arr.ndim != len(target) or tuple(arr.shape[1:]) != tuple(target[1:]):
                    raise CalibrationError(
                        f"calibration sample {self.samples + taken + 1}: input {n!r} has shape {list(arr.shape)}, "
                        f"TensorRT calibrates at {list(target)}: only the batch axis may differ",
                        hint="make the calibration samples match the optimization profile's OPT shape "
                        "([build.shapes.<input>] opt, or --shapes)",
                    )
                want[n] = int(target[0]) if target else 1
                rows = int(arr.shape[0]) if arr.ndim else 1
                if filled[n] + rows > want[n]:
                    raise CalibrationError(
                        f"calibration sample {self.samples + taken + 1}: input {n!r} brings {rows} rows where "
                        f"{want[n] - filled[n]} are left of the calibration batch of {want[n]} (shape {list(target)})",
                        hint="give samples whose batch divides the OPT batch (batch-1 samples always do)",
                    )
                parts[n].append(arr)
                filled[n] += rows
            taken += 1
            done = [filled[n] == want[n] for n in names]
            if all(done):
                self.samples += taken
                return {
                    n: np.ascontiguousarray(parts[n][0] if len(parts[n]) == 1 else np.concatenate(parts[n], axis=0))
                    for n in names
                }
            if any(done):
                raise CalibrationError(
                    f"calibration samples 1-{self.samples + taken}: the inputs' batch axes fill at different rates "
                    f"({', '.join(f'{n} {filled[n]}/{want[n]}' for n in names)})",
                    hint="give every input the same batch in each calibration sample",
                )

    def next_pointers(self, names: Sequence[str] | None = None) -> list[int] | None:
        names = list(names or self.names)
        batch = self._next_batch(names)
        if batch is None:
            return None
        out = []
        self._keep = []
        for n in names:
            arr = batch[n]
            if n not in self.ptrs:  # sized once, from the calibration (OPT) shape
                self.ptrs[n] = self.cuda.malloc(arr.nbytes)
                self.nbytes[n] = arr.nbytes
                self.shapes[n] = tuple(arr.shape)
            elif arr.nbytes != self.nbytes[n]:
                raise CalibrationError(
                    f"calibration batch {self.batches + 1}: input {n!r} has {arr.nbytes} bytes, the first batch had "
                    f"{self.nbytes[n]}; TensorRT calibrates with one batch shape",
                    hint="give every calibration sample the same shape, or set [build.shapes.<input>] opt to the "
                    "calibration batch shape",
                )
            self._keep.append(arr)  # the host array must outlive the asynchronous copy
            self.cuda.memcpy_htod_async(self.ptrs[n], arr.ctypes.data, arr.nbytes, 0)
            out.append(self.ptrs[n])
        self.cuda.stream_synchronize(0)
        self.batches += 1
        return out

    def summary(self) -> dict[str, Any]:
        """For the build report: batches fed, samples used and dropped, the batch shape per input."""
        return {
            "batches": self.batches,
            "samples": self.samples,
            "dropped_samples": self.dropped,
            "batch_shapes": {n: list(v) for n, v in self.shapes.items()},
        }

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
    *,
    opt_shapes: Mapping[str, Sequence[int]] | None = None,
) -> Any:
    """A TensorRT calibrator object (subclass of IInt8EntropyCalibrator2 or IInt8MinMaxCalibrator) feeding batches
    of ``opt_shapes`` (see :class:`Feeder`); its ``feeder`` attribute has the counts for the build report.

    Raises:
        CalibrationError: the bindings have no calibrators (TensorRT 11), unknown algorithm, bad cache.
    """
    reason = compat.legacy_calibration_reason()
    if reason:
        raise CalibrationError(reason, hint="build INT8 from the QDQ model (the default) instead")
    if algorithm not in ALGORITHMS:
        raise CalibrationError(
            f"unknown TensorRT calibrator {algorithm!r}; choose {' or '.join(ALGORITHMS)}",
            hint="omit the legacy calibrator to build INT8 from the QDQ model (the default)",
        )
    import tensorrt as trt

    if cuda is None:
        from workbench.core.backends.tensorrt.cuda import Cuda

        cuda = Cuda()
    feeder = Feeder(feeds, input_names, cuda, opt_shapes)
    version = compat.version_string
    cached = read_cache(cache_path, version)

    if compat.has("legacy_calibrator"):
        base = trt.IInt8EntropyCalibrator2 if algorithm == "entropy" else trt.IInt8MinMaxCalibrator

        class _Calibrator(base):  # type: ignore[misc, valid-type]
            def __init__(self) -> None:
                base.__init__(self)
                self.feeder = feeder

            def get_batch_size(self):
                # Explicit-batch networks (every ONNX network) carry the batch in the tensor shape; TensorRT's
                # calibration batch size is the implicit-batch notion, so 1 (as trtexec's calibrator answers).
                return 1

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
    raise CalibrationError(
        reason or "no TensorRT calibrator classes",
        hint="build INT8 from the QDQ model (the default) instead of the legacy calibrator",
    )
