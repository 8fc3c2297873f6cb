"""TensorRT calibration cache headers: both version schemes, and refusal across versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.errors import CalibrationError
from workbench.core.precision.trt_cache import (
    check_trt_cache,
    decode_trt_version,
    encode_trt_version,
    parse_trt_cache_header,
)


def _cache(tmp_path: Path, header: str) -> Path:
    p = tmp_path / "calib.cache"
    p.write_text(f"{header}\ninput: 3c010a14\nconv1: 3d8a1b2c\n")
    return p


def test_decode_both_schemes() -> None:
    assert decode_trt_version(8601) == (8, 6, 1)
    assert decode_trt_version(8503) == (8, 5, 3)
    assert decode_trt_version(7203) == (7, 2, 3)
    assert decode_trt_version(100300) == (10, 3, 0)
    assert decode_trt_version(101300) == (10, 13, 0)
    assert decode_trt_version(110000) == (11, 0, 0)
    assert encode_trt_version((8, 6, 1)) == 8601
    assert encode_trt_version((10, 3, 0)) == 100300


def test_parse_header_text_and_bytes() -> None:
    assert parse_trt_cache_header("TRT-8601-EntropyCalibration2\nx: 1\n") == ((8, 6, 1), "EntropyCalibration2")
    assert parse_trt_cache_header(b"TRT-100300-MinMaxCalibration\n") == ((10, 3, 0), "MinMaxCalibration")


@pytest.mark.parametrize("bad", ["", "hello\n", "TRT-86O1-EntropyCalibration2", "TRT-8601-Magic"])
def test_parse_header_rejects_garbage(bad: str) -> None:
    with pytest.raises(CalibrationError):
        parse_trt_cache_header(bad)


def test_8601_cache_refused_for_10_3_0(tmp_path: Path) -> None:
    p = _cache(tmp_path, "TRT-8601-EntropyCalibration2")
    with pytest.raises(CalibrationError) as exc:
        check_trt_cache(p, "10.3.0")
    assert "recalibrate" in str(exc.value)
    assert "8.6.1" in str(exc.value) and "10.3.0" in str(exc.value) and str(p) in str(exc.value)


def test_100300_cache_accepted_for_10_3_0(tmp_path: Path) -> None:
    p = _cache(tmp_path, "TRT-100300-EntropyCalibration2")
    assert check_trt_cache(p, "10.3.0") == ((10, 3, 0), "EntropyCalibration2")
    assert check_trt_cache(p, "10.3.0.26") == ((10, 3, 0), "EntropyCalibration2")  # build number ignored


def test_other_patch_release_refused(tmp_path: Path) -> None:
    p = _cache(tmp_path, "TRT-100300-EntropyCalibration2")
    with pytest.raises(CalibrationError, match="recalibrate"):
        check_trt_cache(p, "10.3.1")


def test_missing_cache_file_named(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="nope.cache"):
        check_trt_cache(tmp_path / "nope.cache", "10.3.0")
