"""Image preprocessing declared by a dataset's ``preprocess.toml``, and image-mode conversion.

File format (every key optional except as noted; unknown keys are errors)::

    [preprocess]
    resize = [8, 8]        # [H, W]; default: the model input's static H, W
    crop = []              # [H, W] centre crop after resize; [] = none
    color = "L"            # "L" (grayscale), "RGB" or "BGR"
    layout = "NCHW"        # or "NHWC"
    scale = 0.00392156862745098   # multiply 0..255 pixels by this first
    mean = [0.0]           # per channel, subtracted after scale (1 value = all channels)
    std = [1.0]            # per channel, divided after mean
    dtype = "float32"      # "float32", "float16" or "uint8"
    interpolation = "bilinear"    # "nearest", "bilinear", "bicubic" (Pillow resampling filter)

Order: convert mode → resize → centre crop → ``(x * scale - mean) / std`` → layout → dtype.

Mode conversion (Pillow modes, https://pillow.readthedocs.io/en/stable/handbook/concepts.html#modes):
16-bit modes (``I;16``, ``I;16B``, ``I;16L``, ``I``) are mapped to 8 bits by ``round(v / 257)``
(65535 / 255 = 257 exactly, so 0 → 0, 65535 → 255); float ``F`` is clipped to 0..255.
Alpha (RGBA, LA, PA) is dropped, keeping the colour channels as stored, as Pillow's
``convert("RGB")`` does; palette, CMYK, YCbCr and the rest go through ``convert("RGB")``.
Grayscale from colour uses Pillow's ITU-R 601-2 luma (``L = R*299/1000 + G*587/1000 + B*114/1000``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.errors import ConfigError, DatasetError
from workbench.core.precision._toml import read_toml, unknown_key, where

_KEYS = ["resize", "crop", "color", "layout", "scale", "mean", "std", "dtype", "interpolation"]
_COLORS = ("L", "RGB", "BGR")
_LAYOUTS = ("NCHW", "NHWC")
_DTYPES = ("float32", "float16", "uint8")
_INTERP = ("nearest", "bilinear", "bicubic")
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


@dataclass(frozen=True)
class Preprocess:
    """Declared preprocessing. ``resize``/``crop`` are (H, W) in pixels, or None."""

    resize: tuple[int, int] | None = None
    crop: tuple[int, int] | None = None
    color: str = "RGB"
    layout: str = "NCHW"
    scale: float = 1.0 / 255.0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    dtype: str = "float32"
    interpolation: str = "bilinear"
    source: Path | None = field(default=None, compare=False)
    text_sha256: str = ""

    @property
    def channels(self) -> int:
        return 1 if self.color == "L" else 3

    def to_dict(self) -> dict[str, Any]:
        return {
            "resize": list(self.resize) if self.resize else None,
            "crop": list(self.crop) if self.crop else None,
            "color": self.color,
            "layout": self.layout,
            "scale": self.scale,
            "mean": list(self.mean),
            "std": list(self.std),
            "dtype": self.dtype,
            "interpolation": self.interpolation,
        }


def load_preprocess(path: Path, overrides: dict[str, Any] | None = None) -> Preprocess:
    """Read ``preprocess.toml`` strictly; ``overrides`` (a model spec's ``[preprocess]``) win over its keys.

    Raises:
        ConfigError: TOML syntax error, unknown key (with "did you mean"), wrong type or value;
            ``problems`` lists every problem as ``FILE:LINE: message``.
    """
    path = Path(path)
    data, lines = read_toml(path)
    problems: list[str] = []
    for top in data:
        if top != "preprocess":
            problems.append(unknown_key(path, lines, top, ["preprocess"]))
    sec = data.get("preprocess", {})
    if not isinstance(sec, dict):
        problems.append(f"{where(path, lines, 'preprocess')}: 'preprocess' must be a table")
        sec = {}
    pp = parse_preprocess_section({**sec, **(overrides or {})}, path, lines, problems)
    if problems:
        raise ConfigError(
            problems[0] if len(problems) == 1 else f"{path}: {len(problems)} problems",
            problems=problems,
            hint="fix each listed line of the preprocess TOML (its keys live under [preprocess])",
        )
    import dataclasses

    return dataclasses.replace(pp, source=path, text_sha256=hashlib.sha256(path.read_bytes()).hexdigest())


def parse_preprocess_section(sec: dict[str, Any], path: Path, lines: dict[str, int], problems: list[str]) -> Preprocess:
    """Validate a ``[preprocess]`` table; appends ``FILE:LINE: message`` problems, returns the values."""
    for key in sec:
        if key not in _KEYS:
            problems.append(unknown_key(path, lines, f"preprocess.{key}", _KEYS))

    def bad(key: str, msg: str) -> None:
        problems.append(f"{where(path, lines, 'preprocess.' + key)}: preprocess.{key} {msg}")

    def hw(key: str) -> tuple[int, int] | None:
        v = sec.get(key, [])
        ok = isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in v)
        if not ok or len(v) not in (0, 2):
            bad(key, f"must be [] or [H, W] with positive integers, got {v!r}")
            return None
        return (v[0], v[1]) if v else None

    def choice(key: str, options: tuple[str, ...], default: str) -> str:
        v = sec.get(key, default)
        if v not in options:
            bad(key, f"must be one of {', '.join(repr(o) for o in options)}, got {v!r}")
            return default
        return v

    def floats(key: str, default: tuple[float, ...]) -> tuple[float, ...]:
        v = sec.get(key, list(default))
        nums = isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
        if not nums or not v:
            bad(key, f"must be a non-empty list of numbers, got {v!r}")
            return default
        return tuple(float(x) for x in v)

    resize, crop = hw("resize"), hw("crop")
    color = choice("color", _COLORS, "RGB")
    layout = choice("layout", _LAYOUTS, "NCHW")
    dtype = choice("dtype", _DTYPES, "float32")
    interp = choice("interpolation", _INTERP, "bilinear")
    scale = sec.get("scale", 1.0 / 255.0)
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale <= 0:
        bad("scale", f"must be a positive number, got {scale!r}")
        scale = 1.0 / 255.0
    mean, std = floats("mean", (0.0,)), floats("std", (1.0,))
    channels = 1 if color == "L" else 3
    for key, vals in (("mean", mean), ("std", std)):
        if len(vals) not in (1, channels):
            bad(key, f"has {len(vals)} values; color {color!r} has {channels} channel(s) (give 1 or {channels})")
    if any(s == 0 for s in std):
        bad("std", "must not contain 0")
    if crop and resize and (crop[0] > resize[0] or crop[1] > resize[1]):
        bad("crop", f"{list(crop)} is larger than resize {list(resize)}")
    return Preprocess(
        resize=resize,
        crop=crop,
        color=color,
        layout=layout,
        scale=float(scale),
        mean=mean,
        std=std,
        dtype=dtype,
        interpolation=interp,
    )


def to_8bit_color(img: Any, color: str, *, name: str = "image") -> Any:
    """Return a uint8 numpy array HxW (``L``) or HxWx3 (``RGB``/``BGR``) from any Pillow image.

    Raises:
        DatasetError: a mode we cannot convert (names the file via ``name``).
    """
    import numpy as np
    from PIL import Image

    mode = img.mode
    if mode in _SIXTEEN_BIT or mode == "F":
        arr = np.asarray(img)
        if mode == "F":
            arr8 = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        else:
            # 65535 / 255 = 257: v / 257 maps the 16-bit range exactly onto 0..255.
            arr8 = np.clip(np.rint(arr.astype(np.float64) / 257.0), 0, 255).astype(np.uint8)
        img = Image.fromarray(arr8, mode="L")
        mode = "L"
    if mode == "1":
        img = img.convert("L")
        mode = "L"
    try:
        if color == "L":
            if mode != "L":
                # LA/RGBA/P/CMYK: go through RGB so alpha is dropped the same way everywhere.
                img = img.convert("RGB") if mode not in ("LA",) else img.convert("L")
                img = img.convert("L")
            out = np.asarray(img, dtype=np.uint8)
        else:
            if mode != "RGB":
                img = img.convert("RGB")
            out = np.asarray(img, dtype=np.uint8)
            if color == "BGR":
                out = out[:, :, ::-1]
    except (ValueError, OSError) as exc:
        raise DatasetError(
            f"{name}: cannot convert image mode {mode!r} to {color!r}: {exc}",
            hint="convert the image to RGB or grayscale (e.g. with PIL: Image.open(f).convert('RGB').save(...)), or "
            "remove it from the folder",
        ) from None
    return np.ascontiguousarray(out)


def apply_preprocess(img: Any, pp: Preprocess, *, name: str = "image") -> Any:
    """Pillow image → numpy array with batch dim: NCHW ``(1, C, H, W)`` or NHWC ``(1, H, W, C)``, ``pp.dtype``.

    Raises:
        DatasetError: conversion failure (names the file via ``name``).
    """
    import numpy as np
    from PIL import Image

    arr8 = to_8bit_color(img, pp.color, name=name)
    if pp.resize and arr8.shape[:2] != pp.resize:
        filt = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}[pp.interpolation]
        pil = Image.fromarray(arr8)
        arr8 = np.asarray(pil.resize((pp.resize[1], pp.resize[0]), resample=filt), dtype=np.uint8)
    if pp.crop:
        h, w = arr8.shape[:2]
        ch, cw = pp.crop
        if ch > h or cw > w:
            raise DatasetError(
                f"{name}: image is {h}x{w}, smaller than the crop {ch}x{cw}",
                hint="set [preprocess] resize at least as large as crop, or remove the small image from the folder",
            )
        top, left = (h - ch) // 2, (w - cw) // 2
        arr8 = arr8[top : top + ch, left : left + cw]
    if arr8.ndim == 2:
        arr8 = arr8[:, :, None]
    if pp.dtype == "uint8":
        x = arr8.astype(np.uint8)
    else:
        x = arr8.astype(np.float32) * np.float32(pp.scale)
        x = (x - np.asarray(pp.mean, dtype=np.float32)) / np.asarray(pp.std, dtype=np.float32)
    if pp.layout == "NCHW":
        x = np.transpose(x, (2, 0, 1))
    return np.ascontiguousarray(x[None, ...].astype(pp.dtype))
