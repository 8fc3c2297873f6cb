"""Import trtexec's performance summaries from a log into result entries that sit beside ours.

Layouts understood (all seen in public logs; see tests/fixtures/trtexec/):

- TensorRT 8.x–10.x: ``=== Performance summary ===`` then ``Throughput: X qps`` and lines
  ``Latency: min = …, max = …, mean = …, median = …, percentile(90%) = …, percentile(95%) = …, percentile(99%) = … ms``
  for Latency (host latency), End-to-End Host Latency (some 8.x), Enqueue Time, H2D Latency, GPU Compute Time,
  D2H Latency, then ``Total Host Walltime: X s`` and ``Total GPU Compute Time: X s``. Older 8.x print only
  percentile(99%). Tolerated: no ``[date] [I]`` prefixes, no header (a partial paste starting at Throughput), missing
  ``=`` signs and several statistics run into one line (mangled pastes), a truncated last line.
- TensorRT 7.x / 8.0 legacy: sections ``Host Latency`` / ``Enqueue Time`` / ``GPU Compute`` with lines
  ``min: X ms (end to end Y ms)`` … ``percentile: X ms at 99% (end to end Y ms at 99%)``, ``throughput: X qps``,
  ``walltime: X s``, ``total compute time: X s``. Old trtexec builds printed ``throughput: 0 qps``: recorded as
  unknown with a warning, never as 0.

A log may hold several summaries (two runs pasted together): each becomes one entry, in file order. Lines starting
with ``#`` are comments. Context found before a summary (``&&&& RUNNING … # command``, ``Selected Device:``,
``TensorRT version:`` — ``8001`` means 8.0.1 —, ``Timing trace has N queries over S s``) is attached to it; a
``&&&& PASSED … # command`` line after a summary names its command when no RUNNING line did.

Bounds (the log is a file anyone can hand us): at most :data:`MAX_LOG_BYTES` are read (a larger regular file is
refused from its size, unread); a line longer than :data:`MAX_LINE_BYTES` is skipped unread; a log with none of
trtexec's markers (:data:`MARKERS`) is refused before any pattern runs; every pattern is linear in the line.

Entry mapping: ``latency_ms`` = trtexec's "Latency" (host latency: H2D + GPU compute + D2H per query) with
``p50`` = median; trtexec's "Throughput: X qps" is already inferences per second: trtexec computes it as
``batchSize * timings.size() / walltimeMs * 1000`` (samples/common/sampleReporting.cpp ``printEpilog``), with
batchSize from ``--batch=N`` (implicit-batch engines) and 1 otherwise. So ``inferences_per_s`` = X and
``queries_per_s`` = X / batch (``batch_assumed`` says when batch was not given and 1 was taken); every other
section is kept under ``trtexec``. ``source`` = "trtexec import": measured, but by trtexec, not by us on this machine.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from workbench.core.bounded_read import read_lines
from workbench.core.errors import ResultsError
from workbench.core.results.result import (
    IMPORTED,
    TRTEXEC_SOURCE,
    BenchmarkResult,
    LatencySummary,
    ModelRef,
    Provenance,
    Throughput,
    TrtexecImport,
)

SOURCE = TRTEXEC_SOURCE

# trtexec's own logs are KBs to a few MB (a --verbose build of a large network with --dumpProfile is ~10-30 MB):
# 64 MiB is above any of them and bounds the memory an import may take.
MAX_LOG_BYTES = 64 << 20
# trtexec's longest lines (the "&&&& RUNNING" command line, --verbose tactic lines) are a few KB, a summary pasted into
# one line under 1 KB: a longer line is not trtexec output.
MAX_LINE_BYTES = 16 << 10
# Text every summary carries in one of the layouts: the run banner, the summary header, or the "Latency" lines a
# partial paste starts with (modern "Latency:", legacy "Host Latency").
MARKERS = ("&&&& RUNNING TensorRT.trtexec", "=== Performance summary ===", "Latency:", "Host Latency")

_PREFIX = re.compile(r"^\s*(?:\[\d{1,2}/\d{1,2}/\d{4}-\d{1,2}:\d{2}:\d{2}\]\s*)?(?:\[[IWEVF]\]\s?)?")
# Modern keys; the alternation is scanned leftmost-first, so "H2D Latency:" wins over the "Latency:" inside it.
_KEYS = (
    "End-to-End Host Latency", "Total GPU Compute Time", "Total Host Walltime", "GPU Compute Time", "Enqueue Time",
    "H2D Latency", "D2H Latency", "Throughput", "Latency",
)  # fmt: skip
_KEY_RE = re.compile(r"(?<![\w-])(" + "|".join(re.escape(k) for k in _KEYS) + r"):")
# "\s*(?:=\s*)?" rather than "\s*=?\s*": two adjacent \s* backtrack quadratically over a run of blanks.
_STAT_RE = re.compile(
    r"(min|max|mean|median|percentile\((\d+(?:\.\d+)?)%\))\s*(?:=\s*)?([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*ms"
)
_NUM = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
_SECTION_NAMES = {
    "Latency": "latency_ms",
    "End-to-End Host Latency": "end_to_end_ms",
    "Enqueue Time": "enqueue_ms",
    "H2D Latency": "h2d_ms",
    "GPU Compute Time": "gpu_compute_ms",
    "D2H Latency": "d2h_ms",
}
_LEGACY_SECTIONS = {"Host Latency": "latency_ms", "Enqueue Time": "enqueue_ms", "GPU Compute": "gpu_compute_ms"}


def _command_start(s: str) -> int | None:
    """Where a command line the user pasted starts in ``s`` ("trtexec --onnx=…", "/usr/src/tensorrt/bin/trtexec …",
    "$ trtexec …", "#trtexec …"): the first blank-separated word that is ``trtexec``, ends in ``/trtexec`` (the path
    is kept), or ends in ``$trtexec``/``#trtexec`` (from ``trtexec``). None when there is none. Linear in ``s``: a
    regex allowing a path before ``trtexec`` from every ``$`` of a word rescans the word from each of them."""
    if "trtexec" not in s:
        return None
    for m in re.finditer(r"\S+", s):
        word = m.group()
        if not word.endswith("trtexec"):
            continue
        if len(word) == 7 or word[-8] == "/":
            return m.start()
        if word[-8] in "$#":
            return m.end() - 7
    return None


def _pkey(pct: str) -> str:
    """``"99"`` -> ``p99``; ``"99.9"`` -> ``p99_9`` (the keys of our own latency_ms)."""
    if "." in pct:
        pct = pct.rstrip("0").rstrip(".")
    return "p" + pct.replace(".", "_")


def _stats(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in _STAT_RE.finditer(text):
        name = m.group(1)
        key = name if not name.startswith("percentile") else _pkey(m.group(2))
        out.setdefault(key, float(m.group(3)))
    return out


def _trt_version(text: str) -> str | None:
    """``8.2.1`` as is; trtexec 8.0's integer ``8001`` -> ``8.0.1``; ``v8502`` -> ``8.5.2``."""
    t = text.strip().lstrip("v")
    if re.fullmatch(r"\d+(\.\d+)+", t):
        return t
    if re.fullmatch(r"\d{4,5}", t):
        n = int(t)
        return f"{n // 1000}.{(n // 100) % 10}.{n % 100}"
    return None


class _Block:
    def __init__(self, start_line: int, layout: str, context: dict[str, Any]) -> None:
        self.line = start_line
        self.layout = layout
        self.context = dict(context)
        self.sections: dict[str, dict[str, float]] = {}
        self.values: dict[str, float] = {}
        self.warnings: list[str] = []
        self.command_after: str | None = None


def parse_trtexec_log(text: str, *, name: str = "log") -> list[dict[str, Any]]:
    """Every performance summary in ``text`` as a raw dict (see :func:`import_trtexec` for the entry).

    Raises:
        ResultsError: no summary, with the reason when recognisable (``--dumpProfile`` without
            ``--separateProfileRun``, trtexec failed, a CSV table rather than a log).
    """
    return _parse(text.splitlines(), name, ())


def _parse(raw_lines: list[str] | tuple[str, ...], name: str, long_lines: tuple[int, ...]) -> list[dict[str, Any]]:
    """:func:`parse_trtexec_log` over lines already bounded (each under :data:`MAX_LINE_BYTES`); ``long_lines``:
    the numbers of lines skipped as too long, named when no summary is found."""
    if not any(marker in line for line in raw_lines for marker in MARKERS):
        raise _no_summary(name, raw_lines, long_lines, markers=False)
    blocks: list[_Block] = []
    ctx: dict[str, Any] = {}
    cur: _Block | None = None
    legacy_section: str | None = None
    pending_cmd: str | None = None
    for lineno, raw in enumerate(raw_lines, 1):
        if raw.lstrip().startswith("#"):
            continue
        line = _PREFIX.sub("", raw).rstrip()
        s = line.strip()
        if not s:
            continue
        m = re.search(r"&&&& (RUNNING|PASSED|FAILED) TensorRT\.trtexec(?: \[TensorRT (v\d+)\])? # (.*)$", s)
        if m:
            version = _trt_version(m.group(2)) if m.group(2) else None
            if version:
                ctx["tensorrt"] = version
            if m.group(1) == "RUNNING":
                ctx["command"] = m.group(3).strip()
                cur = None
            else:  # PASSED/FAILED closes a run: its command and version belong to the summary just read
                ctx.pop("command", None)
                if cur is not None:
                    if "command" not in cur.context:
                        cur.command_after = m.group(3).strip()
                    if version and not cur.context.get("tensorrt"):
                        cur.context["tensorrt"] = version
            continue
        if pending_cmd is not None:  # continuation lines of a pasted multi-line command ("> --fp16 \\")
            pending_cmd += " " + s.lstrip(">").strip().rstrip("\\").strip()
            if not s.endswith("\\"):
                ctx["command"], pending_cmd = pending_cmd, None
            continue
        start = _command_start(s) if "&&&&" not in s else None
        if start is not None:
            cmd = s[start:].strip()
            if cmd.endswith("\\"):
                pending_cmd = cmd.rstrip("\\").strip()
            else:
                ctx["command"] = cmd
            continue
        m = re.match(r"Selected Device: (.+)$", s)
        if m:
            ctx["device"] = m.group(1).strip()
            continue
        m = re.match(r"TensorRT version: (\S+)", s)
        if m:
            ctx["tensorrt"] = _trt_version(m.group(1)) or m.group(1)
            continue
        m = re.match(rf"Timing trace has (\d+) queries over {_NUM} s", s)
        if m:
            ctx["iterations"] = int(m.group(1))
            ctx["trace_s"] = float(m.group(2))
            continue
        if s == "=== Performance summary ===":
            cur = None
            legacy_section = None
            continue
        # Legacy TRT 7 / 8.0 layout.
        if s in _LEGACY_SECTIONS:
            if s == "Host Latency" or cur is None or cur.layout != "legacy":
                cur = _Block(lineno, "legacy", ctx)
                blocks.append(cur)
                ctx = {k: v for k, v in ctx.items() if k in ("device", "tensorrt")}
            legacy_section = _LEGACY_SECTIONS[s]
            continue
        if cur is not None and cur.layout == "legacy":
            lm = re.match(rf"(min|max|mean|median): {_NUM} ms(?: \(end to end {_NUM} ms\))?", s)
            if lm and legacy_section:
                cur.sections.setdefault(legacy_section, {})[lm.group(1)] = float(lm.group(2))
                if lm.group(3) is not None:
                    cur.sections.setdefault("end_to_end_ms", {})[lm.group(1)] = float(lm.group(3))
                continue
            pm = re.match(
                rf"percentile: {_NUM} ms at (\d+(?:\.\d+)?)%(?: \(end to end {_NUM} ms at \d+(?:\.\d+)?%\))?", s
            )
            if pm and legacy_section:
                key = _pkey(pm.group(2))
                cur.sections.setdefault(legacy_section, {})[key] = float(pm.group(1))
                if pm.group(3) is not None:
                    cur.sections.setdefault("end_to_end_ms", {})[key] = float(pm.group(3))
                continue
            tm = re.match(rf"(throughput|walltime|total compute time): {_NUM} (qps|s)", s)
            if tm:
                key = {"throughput": "throughput_qps", "walltime": "walltime_s", "total compute time": "gpu_total_s"}
                cur.values[key[tm.group(1)]] = float(tm.group(2))
                continue
        # Modern layout: split the (possibly mangled) line at every known key.
        hits = list(_KEY_RE.finditer(line))
        if not hits:
            continue
        for i, h in enumerate(hits):
            key = h.group(1)
            seg = line[h.end() : hits[i + 1].start() if i + 1 < len(hits) else len(line)]
            if key == "Throughput":
                tm = re.match(rf"\s*{_NUM}\s*qps", seg)
                if tm is None and re.match(rf"\s*{_NUM}\s*\S", seg):
                    # A throughput in other units ("inferences/s": this workbench's own summary, other tools):
                    # not trtexec output, and neither is the Latency line that follows it.
                    cur = _Block(lineno, "foreign", ctx)
                    continue
                cur = _Block(lineno, "modern", ctx)
                blocks.append(cur)
                ctx = {k: v for k, v in ctx.items() if k in ("device", "tensorrt")}
                legacy_section = None
                if tm:
                    cur.values["throughput_qps"] = float(tm.group(1))
                continue
            if cur is not None and cur.layout == "foreign":
                continue
            if cur is None or cur.layout != "modern":
                if key == "Latency":  # a paste that starts at the Latency line: a block without throughput
                    cur = _Block(lineno, "modern", ctx)
                    blocks.append(cur)
                else:
                    continue
            if key in _SECTION_NAMES:
                st = _stats(seg)
                if st:
                    cur.sections.setdefault(_SECTION_NAMES[key], {}).update(st)
            else:
                tm = re.match(rf"\s*{_NUM}\s*s\b", seg)
                if tm:
                    cur.values["walltime_s" if key == "Total Host Walltime" else "gpu_total_s"] = float(tm.group(1))
    usable = [b for b in blocks if b.sections.get("latency_ms")]
    if not usable:
        raise _no_summary(name, raw_lines, long_lines)
    return [_raw(b) for b in usable]


def _no_summary(
    name: str, lines: list[str] | tuple[str, ...], long_lines: tuple[int, ...] = (), *, markers: bool = True
) -> ResultsError:
    text = "\n".join(lines)
    why = ""
    hint = "run trtexec without --dumpProfile (or with --separateProfileRun) and import the whole log"
    if re.search(r"^=== \S+ — \S+ — profile ", text, re.M) or re.search(r"Throughput: [\d.]+ inferences/s", text):
        why = ": this is an Edge Workbench summary (`workbench bench`/`run` output), not trtexec output"
        hint = "its result is already in the results database (`workbench results list`); import trtexec's own log"
    elif "e2e network timing is not reported" in text or "--dumpProfile" in text:
        why = (
            ": trtexec ran with --dumpProfile, which prints a per-layer table instead of the summary "
            "(e2e timing is not reported while the profiler is on)"
        )
        hint = "re-run trtexec with --dumpProfile --separateProfileRun, or without --dumpProfile"
    elif "LLVM ERROR" in text or "&&&& FAILED" in text:
        why = ": trtexec failed before measuring (see the errors in the log)"
        hint = "fix the failure (e.g. out of memory while loading plugins) and run trtexec again"
    else:
        rows = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        commas = {ln.count(",") for ln in rows[:20]}
        if rows and min(commas) >= 1 and len(commas) <= 2 and not any(r.lstrip()[:1] in "-*" for r in rows[:20]):
            why = ": it looks like a CSV table, not a trtexec log"
            hint = "import the trtexec output itself (the lines after '=== Performance summary ===')"
    if not why and not markers:
        why = ": none of trtexec's markers (" + ", ".join(repr(m) for m in MARKERS) + ") is in it"
    if long_lines:
        first = ", ".join(str(n) for n in long_lines[:3]) + (" …" if len(long_lines) > 3 else "")
        why += f" ({len(long_lines)} line(s) longer than {MAX_LINE_BYTES // 1024} KiB skipped: line {first})"
    return ResultsError(f"{name}: no performance summary found{why}", hint=hint)


def _raw(b: _Block) -> dict[str, Any]:
    cmd = b.context.get("command") or b.command_after
    d: dict[str, Any] = {
        "line": b.line,
        "layout": b.layout,
        "sections": b.sections,
        "values": b.values,
        "command": cmd,
        "device": b.context.get("device"),
        "tensorrt": b.context.get("tensorrt"),
        "iterations": b.context.get("iterations"),
    }
    return d


def _flag(cmd: str | None, name: str) -> str | None:
    if not cmd:
        return None
    m = re.search(rf"(?:^|\s)--{re.escape(name)}(?:=|\s+)(\S+)", cmd)
    return m.group(1).strip("'\"") if m else None


def _has(cmd: str | None, name: str) -> bool:
    return bool(cmd) and re.search(rf"(?:^|\s)--{re.escape(name)}(?:\s|$)", cmd or "") is not None


def _entry(raw: dict[str, Any], path: Path, index: int, count: int, label: str | None) -> BenchmarkResult:
    sec = raw["sections"]
    lat = dict(sec["latency_ms"])
    if "median" in lat:
        lat["p50"] = lat["median"]
    cmd = raw["command"]
    warnings: list[str] = []
    qps = raw["values"].get("throughput_qps")
    if qps is not None and qps <= 0:
        warnings.append("trtexec printed 'throughput: 0 qps' (a bug of old trtexec builds); throughput unknown")
        qps = None
    batch_flag = _flag(cmd, "batch")
    try:
        batch = int(batch_flag) if batch_flag else 1
    except ValueError:
        batch = 1
    assumed = batch_flag is None
    if cmd is None:
        precision = "unknown"
    elif _has(cmd, "int8"):
        precision = "int8"
    elif _has(cmd, "best"):
        precision = "best"
    elif _has(cmd, "fp16"):
        precision = "fp16"
    else:
        precision = "fp32"
    model = _flag(cmd, "onnx") or _flag(cmd, "loadEngine") or path.name
    for k in ("p90", "p95", "p99"):
        if k == "p99" and k not in lat:
            warnings.append("the summary has no p99")
    extra = {k: v for k, v in sec.items() if k != "latency_ms"}
    return BenchmarkResult(
        precision=precision,
        latency=LatencySummary.from_dicts(lat, {}, {}),
        throughput=Throughput(
            # trtexec's "qps" already counts batchSize inferences per query (module doc): not multiplied again
            inferences_per_s=qps,
            queries_per_s=qps / batch if qps is not None else None,
            iterations=raw["iterations"],
            batch=batch,
            wall_s=raw["values"].get("walltime_s"),
        ),
        provenance=Provenance(IMPORTED, label, SOURCE),
        model=ModelRef(model),
        backend="tensorrt",
        profile=None,
        device=raw["device"],
        versions={"tensorrt": raw["tensorrt"]} if raw["tensorrt"] else {},
        imported=TrtexecImport(
            imported_from=str(path),
            block=index + 1,
            blocks_in_file=count,
            log_line=raw["line"],
            layout=raw["layout"],
            command=cmd,
            batch_assumed=assumed,
            sections={**extra, **{k: v for k, v in raw["values"].items() if k != "throughput_qps"}},
        ),
        warnings=tuple(warnings),
    )


def import_trtexec(path: str | os.PathLike[str], *, label: str | None = None) -> list[BenchmarkResult]:
    """Results (provenance "imported", ready for ``ResultStore.add``) for every performance summary in the log.

    Raises:
        ResultsError: unreadable file; a file over :data:`MAX_LOG_BYTES` (refused from its size, unread); no summary
            (message says why when it can tell, and names lines skipped for being over :data:`MAX_LINE_BYTES`).
    """
    p = Path(path)
    got = read_lines(p, max_bytes=MAX_LOG_BYTES, max_line=MAX_LINE_BYTES, what="trtexec log", error=ResultsError)
    raws = _parse(got.lines, str(p), got.long_lines)
    return [_entry(r, p, i, len(raws), label) for i, r in enumerate(raws)]
