"""``workbench telemetry parse|record|sources``: read tegrastats logs, save sessions, list sources.

Only stdlib at module top (``workbench --help`` must stay fast); telemetry modules are imported in handlers.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("telemetry", help="parse tegrastats logs, record telemetry sessions, list telemetry sources")
    tsub = p.add_subparsers(dest="telemetry_cmd", metavar="ACTION", required=True)

    pp = tsub.add_parser("parse", help="parse a tegrastats log (lines starting with # are ignored)")
    pp.add_argument("file", help="tegrastats log file")
    pp.add_argument("--json", action="store_true", help="print one compact JSON object per data line (JSON Lines)")
    pp.add_argument(
        "--interval-ms",
        type=int,
        default=1000,
        help="line interval used for timestamp_s when the log has no distinct timestamps (default 1000)",
    )
    pp.add_argument("--total-rule", default=None, help="total power rule: a rail name, 'sum' or 'sum:A,B'")
    pp.set_defaults(handler="workbench.cli.cmd_telemetry:run_parse")

    pr = tsub.add_parser("record", help="record a telemetry session file (replayable with --telemetry replay:FILE)")
    pr.add_argument("-o", "--output", required=True, help="session file to write (JSON Lines)")
    pr.add_argument("--duration", type=float, default=10.0, help="seconds to record (default 10; Ctrl-C stops early)")
    pr.add_argument("--source", default="auto", help="telemetry source spec (default auto)")
    pr.add_argument("--interval-ms", type=int, default=200, help="sampling interval in ms (default 200)")
    pr.set_defaults(handler="workbench.cli.cmd_telemetry:run_record")

    ps = tsub.add_parser("sources", help="show which telemetry sources work here and why others do not")
    ps.add_argument("--json", action="store_true", help="JSON output")
    ps.set_defaults(handler="workbench.cli.cmd_telemetry:run_sources")


def _fmt(v, spec: str = ".0f", unit: str = "") -> str:
    return "n/a" if v is None else f"{v:{spec}}{unit}"


def _human(s) -> str:
    online = [c for c in s.cpu if c.online]
    loads = [c.load_pct for c in online if c.load_pct is not None]
    parts = [
        s.wall_time or "-",
        f"RAM {_fmt(s.ram_mb.used if s.ram_mb else None)}/{_fmt(s.ram_mb.total if s.ram_mb else None)} MB",
        f"CPU {len(online)}/{len(s.cpu)} online avg {_fmt(sum(loads) / len(loads) if loads else None)} %",
        f"GPU {_fmt(s.gpu.load_pct if s.gpu else None)} %",
        f"power {_fmt(s.total_power_mw / 1000 if s.total_power_mw is not None else None, '.3f', ' W')}"
        + (f" ({s.total_power_rule})" if s.total_power_rule else ""),
    ]
    temps = [v for k, v in s.temps_c.items() if v is not None and k.upper() != "PMIC"]
    parts.append(f"max temp {_fmt(max(temps) if temps else None, '.1f', ' °C')}")
    if s.unparsed:
        parts.append(f"unparsed: {' '.join(s.unparsed)}")
    return "  ".join(parts)


def run_parse(args: argparse.Namespace) -> int:
    from pathlib import Path

    from workbench.core.errors import UsageError
    from workbench.core.telemetry.tegrastats import parse_file, wall_offsets

    if args.interval_ms <= 0:
        raise UsageError(
            f"--interval-ms must be > 0, got {args.interval_ms}",
            hint="pass the interval the log was recorded with, e.g. --interval-ms 1000 (tegrastats' default)",
        )
    samples = parse_file(Path(args.file), total_rule=args.total_rule)
    offsets = wall_offsets(samples, args.interval_ms / 1000.0)
    out = sys.stdout
    for s, t in zip(samples, offsets, strict=True):
        s = s.with_time(round(t, 6), s.seq)
        if args.json:
            # ensure_ascii: a C1 control or bidi override from the log arrives as \u009b, not raw on the terminal.
            out.write(json.dumps(s.to_dict(), separators=(",", ":")) + "\n")
        else:
            out.write(_human(s) + "\n")
    n_unparsed = sum(1 for s in samples if s.unparsed)
    print(f"{len(samples)} data lines; {n_unparsed} with unparsed tokens", file=sys.stderr)
    return 0


def run_record(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from workbench.core.errors import TelemetryError, UsageError
    from workbench.core.fsutil import atomic_writer
    from workbench.core.telemetry import open_source
    from workbench.core.telemetry.replay import session_header

    if args.interval_ms <= 0 or args.duration <= 0:
        raise UsageError(
            "--interval-ms and --duration must be > 0",
            hint="pass positive values, e.g. --interval-ms 100 --duration 10",
        )
    src = open_source(args.source)
    n = errors = 0
    interrupted = False
    try:
        print(
            f"recording {args.source} -> {src.name} every {args.interval_ms} ms for {args.duration:g} s",
            file=sys.stderr,
        )
        for k, v in src.unavailable.items():
            print(f"  n/a {k}: {v}", file=sys.stderr)
        header = session_header(src.name, args.interval_ms, bool(getattr(src, "measured", True)), dict(src.unavailable))
        with atomic_writer(Path(args.output)) as fh:
            fh.write((json.dumps(header, ensure_ascii=False) + "\n").encode())
            t_end = time.monotonic() + args.duration
            next_t = time.monotonic()
            try:
                while time.monotonic() < t_end:
                    try:
                        s = src.read()
                        fh.write((json.dumps(s.to_dict(), separators=(",", ":"), ensure_ascii=False) + "\n").encode())
                        n += 1
                    except TelemetryError as exc:
                        errors += 1
                        print(f"read failed: {exc}", file=sys.stderr)
                    next_t += args.interval_ms / 1000.0
                    time.sleep(max(0.0, min(next_t, t_end) - time.monotonic()))
            except KeyboardInterrupt:
                interrupted = True
    finally:
        src.close()
    print(f"wrote {n} samples to {args.output}" + (f" ({errors} failed reads)" if errors else ""), file=sys.stderr)
    return 130 if interrupted and n == 0 else 0


def run_sources(args: argparse.Namespace) -> int:
    from workbench.core.telemetry import probe_sources

    rows = probe_sources()
    if args.json:
        print(json.dumps([{"source": n, "available": ok, "detail": d} for n, ok, d in rows]))
        return 0
    for name, ok, detail in rows:
        print(f"{name:<11} {'available' if ok else 'unavailable':<12} {detail}")
    return 0
