"""``workbench results list | show ID | export``: the stored benchmark results (SQLite in the XDG data dir).

Module top imports stdlib only.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.cli.common import positive_int
from workbench.cli.tables import table


def _ids(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(int(part))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not a result id (use e.g. --ids 1,2,5)") from None
    if not out:
        raise argparse.ArgumentTypeError("no result id given")
    return out


def _id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a result id (see `workbench results list`)") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "results",
        help="list, show and export stored results",
        description="Benchmark results are stored in a SQLite database (WAL) in the XDG data folder.",
    )
    rs = p.add_subparsers(dest="results_command", metavar="SUBCOMMAND")
    rs.required = True

    lp = rs.add_parser("list", help="newest results first")
    lp.add_argument("--limit", type=positive_int, default=50, metavar="N", help="at most N rows (default 50)")
    lp.add_argument("--model", metavar="NAME", help="only results whose model name contains NAME")
    lp.add_argument("--json", action="store_true", help="print one JSON document (a list of summary rows)")
    lp.set_defaults(handler="workbench.cli.cmd_results:run_list")

    sp = rs.add_parser("show", help="one result in full")
    sp.add_argument("id", type=_id, help="result id (from `results list`)")
    sp.add_argument("--json", action="store_true", help="print the full stored entry as JSON")
    sp.add_argument(
        "--layers",
        action="store_true",
        help="only the per-layer profile (bench --profile-layers); with --json its JSON, with --csv one row per layer",
    )
    sp.add_argument(
        "--top", type=positive_int, default=10, metavar="N", help="with --layers: show the N slowest (default 10)"
    )
    sp.add_argument("--csv", action="store_true", help="with --layers: every stored layer as CSV")
    sp.set_defaults(handler="workbench.cli.cmd_results:run_show")

    ip = rs.add_parser(
        "import-trtexec",
        help="import trtexec performance summaries from a log (stored with source 'trtexec import')",
        description=(
            "Parses every '=== Performance summary ===' block of a trtexec log (TensorRT 7/8.0 multi-line, 8.x, "
            "8.6/10 with p90/p95/p99, pastes without [I] prefixes) into results beside ours. A log without a "
            "summary (e.g. --dumpProfile) is an error that says why."
        ),
    )
    ip.add_argument("log", help="trtexec output saved to a file")
    ip.add_argument("--label", help="a label shown with the imported results (e.g. 'Orin NX 25W, JetPack 6.2')")
    ip.add_argument("--json", action="store_true", help="print the stored entries as JSON")
    ip.set_defaults(handler="workbench.cli.cmd_results:run_import_trtexec")

    cp = rs.add_parser(
        "compare",
        help="results side by side; for two, the ratio of medians with a 95 %% interval and a verdict",
        description=(
            "Latency percentiles, throughput, power/energy, accuracy and every setting that differs. For two "
            "results: median(B)/median(A) with a bootstrap 95 % interval over the stored per-iteration "
            "latencies (or, without them, an approximation from std and iterations), and 'no significant "
            "difference' when the interval contains 1."
        ),
    )
    cp.add_argument("ids", type=_id, nargs="+", metavar="ID", help="two or more result ids (the first is A)")
    cp.add_argument("--format", choices=("text", "md", "json"), default="text", help="output format")
    cp.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    cp.set_defaults(handler="workbench.cli.cmd_results:run_compare")

    ep = rs.add_parser("export", help="export results as csv, json or a Markdown table")
    ep.add_argument("--format", choices=("csv", "json", "md"), required=True, help="output format")
    ep.add_argument("--ids", type=_ids, metavar="1,2,...", help="only these results (default: all)")
    ep.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of stdout")
    ep.set_defaults(handler="workbench.cli.cmd_results:run_export")


def _store():
    from workbench.core.results.store import ResultStore

    return ResultStore()


def run_list(args: argparse.Namespace) -> int:
    import json

    from workbench.core.results.format import fmt_num

    with _store() as store:
        rows = store.list(limit=args.limit, model=args.model)
        path = store.path
    if args.json:
        json.dump([r.to_dict() for r in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not rows:
        what = f" for model {args.model!r}" if args.model else ""
        print(f"no results{what} in {path}", file=sys.stderr)
        return 0
    body = [
        [
            str(r.id),
            (r.created_at or "")[:19].replace("T", " "),
            _short(r.model),
            r.precision or "-",
            r.backend or "-",
            r.profile or "-",
            fmt_num(r.p50_ms),
            fmt_num(r.p99_ms),
            fmt_num(r.throughput_ips),
            r.accuracy_verdict or "-",
            _source_cell(r),
        ]
        for r in rows
    ]
    header = ["id", "created (UTC)", "model", "precision", "backend", "profile", "p50 ms", "p99 ms", "inf/s",
              "accuracy", "source"]  # fmt: skip
    if any(r.host for r in rows):  # fleet results (`workbench fleet run`): which inventory host measured each
        header.insert(3, "host")
        for cells, r in zip(body, rows, strict=True):
            cells.insert(3, r.host or "-")
        right = {0, 7, 8, 9}
    else:
        right = {0, 6, 7, 8}
    for line in table(header, body, right=right):
        print(line)
    return 0


def _source_cell(row: Any) -> str:
    """Blank for our own measured runs; "replay" for replayed telemetry; the import label otherwise."""
    if row.source and row.source != "workbench":
        return str(row.source)
    return "" if row.measured else "replay"


def _short(model: Any) -> str:
    if not model:
        return "-"
    s = str(model)
    return s.rsplit("/", 1)[-1]


def run_show(args: argparse.Namespace) -> int:
    import json

    from workbench.core.errors import ResultsError
    from workbench.core.results.summary import show_text

    with _store() as store:
        try:
            result = store.get(args.id)
        except ResultsError:
            if not args.json or getattr(args, "layers", False):
                raise
            # A row this version cannot read as a result is still printed as it is stored: nothing is lost.
            json.dump(store.get_raw(args.id), sys.stdout, indent=2, sort_keys=True)
            sys.stdout.write("\n")
            return 0
    if getattr(args, "layers", False):
        return _show_layers(result, args)
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
        return 0
    print(show_text(result))
    return 0


def _show_layers(result: Any, args: argparse.Namespace) -> int:
    import json

    from workbench.core.errors import ResultsError

    rep = result.layers
    if rep is None:
        raise ResultsError(
            f"result {result.id} has no per-layer profile",
            hint="benchmark with `workbench bench MODEL --profile-layers` to record one",
        )
    if args.json:
        json.dump(rep.to_dict(), sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    elif args.csv:
        import csv

        w = csv.writer(sys.stdout, lineterminator="\n")
        cols = ("name", "op", "provider", "calls", "mean_ms", "share_pct")
        w.writerow(("rank", *cols))
        for i, row in enumerate(rep.layers, 1):
            w.writerow((i, *(repr(v) if isinstance(v, float) else v for v in (getattr(row, c) for c in cols))))
    else:
        from workbench.core.results.summary import layer_table

        print("\n".join(layer_table(rep, args.top)))
    return 0


def run_import_trtexec(args: argparse.Namespace) -> int:
    import json

    from workbench.core.results.format import fmt_num
    from workbench.core.results.trtexec_import import import_trtexec

    results = import_trtexec(args.log, label=args.label)
    with _store() as store:
        results = [store.get(store.add(r)) for r in results]
    if args.json:
        json.dump([r.to_dict() for r in results], sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
        return 0
    for r in results:
        i = r.imported
        print(
            f"stored result {r.id}: trtexec summary {i.block}/{i.blocks_in_file} (line {i.log_line}), "
            f"{r.precision}, median {fmt_num(r.latency.median_ms)} ms, p99 {fmt_num(r.latency.p99_ms)} ms, "
            f"throughput {fmt_num(r.throughput.queries_per_s)} qps"
            + (f" x batch {r.throughput.batch}" if not i.batch_assumed else "")
        )
        for w in r.warnings:
            print(f"  [W] {w}", file=sys.stderr)
    return 0


def run_compare(args: argparse.Namespace) -> int:
    import json

    from workbench.core.results.compare import compare, render

    with _store() as store:
        results = store.get_many(args.ids)
    doc = compare(results, seed=args.seed)
    if args.format == "json":
        json.dump(doc.to_dict(), sys.stdout, indent=2, sort_keys=True, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(doc, args.format))
    return 0


def run_export(args: argparse.Namespace) -> int:
    with _store() as store:
        if args.output:
            out = store.export_to_file(args.format, args.output, ids=args.ids)
            n = out.count
            print(f"wrote {n} result{'s' if n != 1 else ''} as {args.format} to {args.output}", file=sys.stderr)
        else:
            out = store.export(args.format, ids=args.ids)
            sys.stdout.write(out.text)
    for note in out.left_out:
        print(f"warning: {note}", file=sys.stderr)
    return 0
