"""Per-slice figures of one output and the "collapsed" check: an output cut along its channel axis.

Why. A detector's output concatenates box coordinates (0 … input size) and class scores (0 … 1) on one axis;
when INT8 rounds every score to 0, the cosine over the whole output still reads 0.999 because the boxes dominate
its norm. Cutting the output along the channel axis and looking at each slice on its own shows it.

Channel axis (``channel_axis`` in the model spec's ``[outputs.<name>]`` overrides it):

* rank ≥ 4: axis 1 (ONNX's NCHW layout);
* rank 3: the shorter of axes 1 and 2 — detection heads come as ``[N, 4+classes, anchors]`` (YOLOv8) or
  ``[N, anchors, 5+classes]`` (YOLOv5), with far fewer channels than anchors;
* rank 2 ``[N, C]``: axis 1 (each class logit is a channel; its values across the eval items form the slice);
* rank ≤ 1: the whole output is one slice;
* the output of a declared ``sequence`` task (``[task] kind``), rank ≥ 3: the last axis, the vocabulary of
  ``[N, T, V]`` (core/accuracy.py ``_axis_for``).

Per channel, over every eval item (dtype float64): dot product and squared norms (→ cosine of the slice's values
across the whole eval set: 1.0 when both are all zero, 0.0 when only one is, like the whole-output cosine), sum and
max of ``|a - b|`` (→ mean-abs, max-abs), min and max of each model, and whether each model took more than two
distinct values (exact: a value set of ≤ 2 elements is {min, max}).

Collapsed (fails the verdict; the rule of the issue "Numbers you can trust"): a channel with at least
:data:`MIN_VALUES` values over the eval set whose FP32 values take ≥ 3 distinct values and either (a) whose
other-precision values take ≤ 2 distinct values, or (b) whose other-precision range (max − min) is less than half of
FP32's. Only channels that vary enough to judge count:

* with parts declared in the spec, a channel counts when its FP32 range is ≥ 1/32 of the widest channel of its
  part: under one INT8 scale for the part such a channel keeps ≥ 255/32 ≈ 8 levels, so ≤ 2 values or a halved
  range cannot come from rounding alone (a class that never fires on the eval set has a near-flat score and is
  left out instead of failing a healthy model);
* without parts, a channel counts when its FP32 range is ≥ 1/4096 of the widest channel of the output (1/16 of
  one INT8 step of a single scale over the whole output): low enough that sigmoid scores beside 0 … 640 pixel
  boxes still count (1/640), high enough to leave out channels that are flat at any scale.

Contiguous collapsed channels with the same cause are reported as one slice (``4:84``).
Slices reported in ``per_slice``: the declared parts; else every channel when there are at most
:data:`MAX_EACH` of them; else the :data:`WORST` channels with the lowest cosine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Without declared parts, outputs with at most this many channels report every channel.
MAX_EACH = 8
#: Otherwise the report lists this many worst channels (lowest cosine).
WORST = 3
#: A channel is judged only when its FP32 range is at least this share of its part's widest channel ...
PART_FLOOR = 1.0 / 32.0
#: ... or, without declared parts, of the output's widest channel (see module doc for both numbers).
OUTPUT_FLOOR = 1.0 / 4096.0
#: Range criterion: the other precision's range below this share of FP32's range is a collapse.
RANGE_SHRINK = 0.5
#: Channels with fewer values than this over the eval set are not judged (a [N, C] output over 3 items: two of
#: three values landing on one INT8 level is chance, not a collapse).
MIN_VALUES = 8


def default_channel_axis(shape: Sequence[int]) -> int | None:
    """The channel axis of an output of this shape (module doc), or None for rank ≤ 1."""
    rank = len(shape)
    if rank < 2:
        return None
    if rank == 3:
        return 1 if shape[1] <= shape[2] else 2
    return 1


def fmt_channels(start: int, stop: int) -> str:
    """``start:stop`` (Python slice notation, stop exclusive)."""
    return f"{start}:{stop}"


@dataclass(frozen=True)
class SliceStats:
    """Figures of one slice (channels ``start:stop`` on ``axis``) against FP32, over the whole eval set.

    ``cosine`` unitless; ``max_abs``/``mean_abs`` in the output's units; ``fp32_range``/``other_range`` are
    (min, max); ``distinct`` is how many distinct values the other precision took, capped at 3 ("3 or more").
    """

    name: str
    start: int
    stop: int
    cosine: float
    max_abs: float
    mean_abs: float
    fp32_range: tuple[float, float]
    other_range: tuple[float, float]
    distinct: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "channels": fmt_channels(self.start, self.stop),
            "cosine": self.cosine,
            "max_abs": self.max_abs,
            "mean_abs": self.mean_abs,
            "fp32_range": list(self.fp32_range),
            "range": list(self.other_range),
            "distinct": self.distinct,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SliceStats:
        start, _, stop = str(d.get("channels", "0:0")).partition(":")
        fr = d.get("fp32_range") or [float("nan")] * 2
        rr = d.get("range") or [float("nan")] * 2
        return cls(
            str(d.get("name", "")),
            int(start or 0),
            int(stop or 0),
            float(d.get("cosine", float("nan"))),
            float(d.get("max_abs", float("nan"))),
            float(d.get("mean_abs", float("nan"))),
            (float(fr[0]), float(fr[1])),
            (float(rr[0]), float(rr[1])),
            int(d.get("distinct", 0)),
        )


@dataclass(frozen=True)
class OutputSlices:
    """The slices reported for one output: ``selection`` is "parts" (declared in the spec), "each" (every channel)
    or "worst" (the :data:`WORST` lowest-cosine channels of ``channels``)."""

    axis: int | None
    channels: int
    selection: str
    slices: tuple[SliceStats, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "axis": self.axis,
            "channels": self.channels,
            "selection": self.selection,
            "slices": [s.to_dict() for s in self.slices],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OutputSlices:
        axis = d.get("axis")
        return cls(
            int(axis) if axis is not None else None,
            int(d.get("channels") or 0),
            str(d.get("selection", "")),
            tuple(SliceStats.from_dict(s) for s in d.get("slices") or ()),
        )


@dataclass(frozen=True)
class CollapsedSlice:
    """Channels ``start:stop`` of ``output`` (on ``axis``) that collapsed in the other precision; ``part`` is the
    declared part they belong to (or None) and ``reason`` says how (one line)."""

    output: str
    axis: int | None
    start: int
    stop: int
    part: str | None
    reason: str

    def describe(self) -> str:
        part = f" ({self.part})" if self.part else ""
        return f"output '{self.output}' channels {fmt_channels(self.start, self.stop)}{part}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "axis": self.axis,
            "channels": fmt_channels(self.start, self.stop),
            "part": self.part,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CollapsedSlice:
        start, _, stop = str(d.get("channels", "0:0")).partition(":")
        axis = d.get("axis")
        part = d.get("part")
        return cls(
            str(d.get("output", "")),
            int(axis) if axis is not None else None,
            int(start or 0),
            int(stop or 0),
            str(part) if part is not None else None,
            str(d.get("reason", "")),
        )


class ChannelStats:
    """Accumulates the per-channel figures of one output over the eval set (module doc)."""

    def __init__(self, name: str, axis: int | None) -> None:
        self.name = name
        self.axis = axis
        self.channels = 0
        self._init = False

    def _start(self, c: int) -> None:
        import numpy as np

        self.channels = c
        z = np.zeros(c)
        self.dot, self.na2, self.nb2, self.abs_sum, self.count = z.copy(), z.copy(), z.copy(), z.copy(), z.copy()
        self.max_abs = z.copy()
        self.fmin, self.fmax = np.full(c, np.inf), np.full(c, -np.inf)
        self.omin, self.omax = np.full(c, np.inf), np.full(c, -np.inf)
        self.fmany = np.zeros(c, bool)
        self.omany = np.zeros(c, bool)
        self._init = True

    def _rows(self, a: Any) -> Any:
        import numpy as np

        x = np.asarray(a, dtype=np.float64)
        if self.axis is None or x.ndim < 2:
            return x.reshape(1, -1)
        return np.moveaxis(x, self.axis, 0).reshape(x.shape[self.axis], -1)

    def update(self, a: Any, b: Any) -> None:
        """Add one eval item's outputs (same shape; the caller checked)."""
        import numpy as np

        ra, rb = self._rows(a), self._rows(b)
        if not self._init:
            self._start(ra.shape[0])
        if ra.shape[0] != self.channels or ra.shape[1] == 0:
            return  # an item whose channel count differs (dynamic axis): not comparable channel by channel
        with np.errstate(invalid="ignore", over="ignore"):
            self.dot += np.sum(ra * rb, axis=1)
            self.na2 += np.sum(ra * ra, axis=1)
            self.nb2 += np.sum(rb * rb, axis=1)
            d = np.abs(ra - rb)
            self.abs_sum += np.sum(d, axis=1)
            self.max_abs = np.fmax(self.max_abs, np.max(d, axis=1))
        self.count += ra.shape[1]
        self.fmin, self.fmax, self.fmany = _merge(ra, self.fmin, self.fmax, self.fmany)
        self.omin, self.omax, self.omany = _merge(rb, self.omin, self.omax, self.omany)

    # --- results ---------------------------------------------------------------------------------------
    def cosines(self) -> Any:
        import numpy as np

        with np.errstate(invalid="ignore", divide="ignore"):
            both0 = (self.na2 == 0) & (self.nb2 == 0)
            one0 = (self.na2 == 0) | (self.nb2 == 0)
            cos = np.where(both0, 1.0, np.where(one0, 0.0, self.dot / np.sqrt(self.na2 * self.nb2)))
        return np.nan_to_num(cos, nan=0.0)

    def slice_stats(self, name: str, start: int, stop: int) -> SliceStats:
        """Figures of channels ``start:stop`` taken together."""
        import numpy as np

        s = slice(start, stop)
        na2, nb2, dot = float(np.sum(self.na2[s])), float(np.sum(self.nb2[s])), float(np.sum(self.dot[s]))
        if na2 == 0 and nb2 == 0:
            cos = 1.0
        elif na2 == 0 or nb2 == 0:
            cos = 0.0
        else:
            cos = dot / float(np.sqrt(na2 * nb2))
            cos = cos if np.isfinite(cos) else 0.0
        n = float(np.sum(self.count[s]))
        if bool(np.any(self.omany[s])):
            distinct = 3
        else:
            distinct = min(3, int(np.unique(np.concatenate([self.omin[s], self.omax[s]])).size))
        return SliceStats(
            name,
            start,
            stop,
            cos,
            float(np.max(self.max_abs[s])) if stop > start else 0.0,
            float(np.sum(self.abs_sum[s]) / n) if n else 0.0,
            (float(np.min(self.fmin[s])), float(np.max(self.fmax[s]))),
            (float(np.min(self.omin[s])), float(np.max(self.omax[s]))),
            distinct,
        )

    def report(self, parts: Sequence[tuple[str, int, int]] = ()) -> OutputSlices | None:
        """The slices to report (module doc); None when no item was accumulated."""
        import numpy as np

        if not self._init:
            return None
        c = self.channels
        if parts:
            chosen = [self.slice_stats(n, a, b) for n, a, b in parts]
            return OutputSlices(self.axis, c, "parts", tuple(chosen))
        if c <= MAX_EACH:
            return OutputSlices(self.axis, c, "each", tuple(self.slice_stats(str(i), i, i + 1) for i in range(c)))
        worst = np.argsort(self.cosines(), kind="stable")[:WORST]
        return OutputSlices(self.axis, c, "worst", tuple(self.slice_stats(str(i), int(i), int(i) + 1) for i in worst))

    def collapsed(self, parts: Sequence[tuple[str, int, int]] = ()) -> list[CollapsedSlice]:
        """Collapsed channels (module doc), grouped into contiguous runs with the same cause."""
        import numpy as np

        if not self._init:
            return []
        width_f = self.fmax - self.fmin
        width_o = self.omax - self.omin
        floor = np.full(self.channels, (np.max(width_f) if self.channels else 0.0) * OUTPUT_FLOOR)
        part_of: list[str | None] = [None] * self.channels
        for name, a, b in parts:
            floor[a:b] = np.max(width_f[a:b]) * PART_FLOOR if b > a else 0.0
            for i in range(a, b):
                part_of[i] = name
        judged = self.fmany & (self.count >= MIN_VALUES) & (width_f > 0) & (width_f >= floor) & np.isfinite(width_f)
        few = judged & ~self.omany
        with np.errstate(invalid="ignore", divide="ignore"):
            shrunk = judged & self.omany & (width_o < RANGE_SHRINK * width_f)
        cause = np.where(few, 1, np.where(shrunk, 2, 0))
        out: list[CollapsedSlice] = []
        i = 0
        while i < self.channels:
            if not cause[i]:
                i += 1
                continue
            j = i + 1
            while j < self.channels and cause[j] == cause[i] and part_of[j] == part_of[i]:
                j += 1
            out.append(CollapsedSlice(self.name, self.axis, i, j, part_of[i], self._why(int(cause[i]), i, j)))
            i = j
        return out

    def _why(self, cause: int, i: int, j: int) -> str:
        import numpy as np

        flo, fhi = float(np.min(self.fmin[i:j])), float(np.max(self.fmax[i:j]))
        if cause == 1:
            vals = sorted({float(v) for v in (*self.omin[i:j], *self.omax[i:j])})
            shown = ", ".join(f"{v:.4g}" for v in vals[:3]) + (", …" if len(vals) > 3 else "")
            per = " per channel" if j - i > 1 else ""
            return f"at most 2 distinct values{per} ({shown}) where FP32 spans [{flo:.4g}, {fhi:.4g}]"
        share = float(np.max((self.omax[i:j] - self.omin[i:j]) / (self.fmax[i:j] - self.fmin[i:j])))
        return f"range shrank to {share * 100:.0f} % of FP32's [{flo:.4g}, {fhi:.4g}]"


def _merge(x: Any, gmin: Any, gmax: Any, many: Any) -> tuple[Any, Any, Any]:
    """Fold rows ``x`` [C, M] into running per-channel min, max and "more than two distinct values" flags.

    A set of at most two values is exactly {min, max}; so the set stays ≤ 2 only if every new value and both old
    extremes lie in {new min, new max}.
    """
    import numpy as np

    mn = np.min(x, axis=1)
    mx = np.max(x, axis=1)
    two = np.all((x == mn[:, None]) | (x == mx[:, None]), axis=1)
    nmin, nmax = np.fmin(gmin, mn), np.fmax(gmax, mx)
    seen = np.isfinite(gmin)

    def inside(v: Any) -> Any:
        return (v == nmin) | (v == nmax)

    keeps = inside(mn) & inside(mx) & (~seen | (inside(gmin) & inside(gmax)))
    return nmin, nmax, many | ~two | ~keeps
