"""Recognise TensorRT text calibration caches and refuse one written by another TensorRT version.

A TensorRT calibration cache (written by ``IInt8Calibrator::writeCalibrationCache``) is text whose
first line is ``TRT-<version>-<Algorithm>``, e.g. ``TRT-8601-EntropyCalibration2``, followed by
``tensor: <hex scale>`` lines. ``<version>`` is TensorRT's ``NV_TENSORRT_VERSION`` number:

* before TensorRT 10: ``M*1000 + m*100 + p`` (``8601`` = 8.6.1, ``8503`` = 8.5.3);
* from TensorRT 10 on: ``M*10000 + m*100 + p`` (``100300`` = 10.3.0).

A number >= 100000 therefore uses the TensorRT 10 scheme (the old scheme tops out at 9999 for
9.9.99). Algorithms are the ``CalibrationAlgoType`` names: ``LegacyCalibration``,
``EntropyCalibration``, ``EntropyCalibration2``, ``MinMaxCalibration``.

Rule (ours, conservative): a cache is accepted only for the exact TensorRT major.minor.patch that
wrote it (a 4th build component is ignored). TensorRT's documentation says a calibration cache is
the application's to invalidate when the network or data change, and gives no cross-version
guarantee; a builder handed another version's cache silently recalibrates or drops it, which on
TensorRT 10.x (implicit calibration deprecated) and 11 (removed) means a wrong or failed engine.
Refusing with "recalibrate" makes that visible. Explicit QDQ models (what workbench builds) need no
cache at all.
"""

from __future__ import annotations

import re
from pathlib import Path

from workbench.core.errors import CalibrationError

ALGORITHMS = ("LegacyCalibration", "EntropyCalibration", "EntropyCalibration2", "MinMaxCalibration")
_HEADER = re.compile(r"^TRT-(\d+)-([A-Za-z0-9]+)$")


def decode_trt_version(number: int) -> tuple[int, int, int]:
    """``8601`` → (8, 6, 1); ``100300`` → (10, 3, 0). See the module doc for both schemes."""
    if number < 0:
        raise ValueError(f"negative TensorRT version number {number}")
    if number >= 100000:
        return number // 10000, (number % 10000) // 100, number % 100
    return number // 1000, (number % 1000) // 100, number % 100


def encode_trt_version(version: tuple[int, int, int]) -> int:
    """Inverse of :func:`decode_trt_version`: (8, 6, 1) → 8601, (10, 3, 0) → 100300."""
    major, minor, patch = version
    return major * 10000 + minor * 100 + patch if major >= 10 else major * 1000 + minor * 100 + patch


def parse_version_string(text: str) -> tuple[int, int, int]:
    """``"10.3.0"`` or ``"10.3.0.26"`` or ``"8.6"`` → (M, m, p); raises ValueError on anything else."""
    parts = text.strip().split(".")
    if not 2 <= len(parts) <= 4 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a TensorRT version: {text!r}")
    nums = [int(p) for p in parts[:3]] + [0] * (3 - min(3, len(parts)))
    return nums[0], nums[1], nums[2]


def parse_trt_cache_header(data: str | bytes) -> tuple[tuple[int, int, int], str]:
    """Parse the first line of a TensorRT calibration cache.

    Returns:
        ((major, minor, patch), algorithm)

    Raises:
        CalibrationError: the first line is not ``TRT-<number>-<Algorithm>`` with a known algorithm.
    """
    if isinstance(data, bytes):
        data = data[:256].decode("ascii", errors="replace")
    first = data.splitlines()[0].strip() if data.strip() else ""
    m = _HEADER.match(first)
    if not m:
        raise CalibrationError(
            f"not a TensorRT calibration cache: first line is {first[:60]!r}, expected 'TRT-<version>-<Algorithm>'",
            hint="give a calibration cache written by TensorRT (writeCalibrationCache), or delete it to calibrate "
            "again",
        )
    algo = m.group(2)
    if algo not in ALGORITHMS:
        raise CalibrationError(
            f"TensorRT calibration cache with unknown algorithm {algo!r} (known: {', '.join(ALGORITHMS)})",
            hint="recalibrate to write a new cache, or use a cache made with an entropy/minmax calibrator",
        )
    return decode_trt_version(int(m.group(1))), algo


def check_trt_cache(path: Path, trt_version: str) -> tuple[tuple[int, int, int], str]:
    """Accept ``path`` only if TensorRT ``trt_version`` (e.g. ``"10.3.0"``) wrote it.

    Returns:
        (version tuple, algorithm) of the cache.

    Raises:
        CalibrationError: unreadable file, bad header, or another TensorRT version ("recalibrate").
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
    except OSError as exc:
        raise CalibrationError(
            f"{path}: cannot read the calibration cache ({exc.strerror or exc})",
            hint="check the path and permissions of the calibration cache, or delete it to calibrate again",
        ) from None
    try:
        cache_version, algo = parse_trt_cache_header(head)
    except CalibrationError as exc:
        raise CalibrationError(
            f"{path}: {exc}",
            hint="give a calibration cache written by TensorRT (writeCalibrationCache), or delete it to calibrate "
            "again",
        ) from None
    try:
        want = parse_version_string(trt_version)
    except ValueError as exc:
        raise CalibrationError(
            str(exc),
            hint="give the TensorRT version as numbers, e.g. 8.6.1 or 10.3 (`workbench doctor` shows the installed "
            "one)",
        ) from None
    if cache_version != want:
        have = ".".join(map(str, cache_version))
        raise CalibrationError(
            f"{path}: calibration cache was written by TensorRT {have} ({algo}); this is TensorRT "
            f"{'.'.join(map(str, want))} — recalibrate",
            hint="delete the cache and recalibrate, or build from the explicit INT8 (QDQ) model, which needs no cache",
        )
    return cache_version, algo
