"""7. Results: history table (sortable), detail view, side-by-side compare of two runs, export CSV/JSON/MD."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import PurePath
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from workbench.core.results.result import BenchmarkResult
from workbench.core.results.summary import scenario_text
from workbench.core.textsafe import block, field
from workbench.ui.messages import BenchFinished, Compared, JobFailed, JobKind, ResultsLoaded
from workbench.ui.screens.base import WorkbenchScreen
from workbench.ui.screens.dialogs import ExportScreen

# (column key, header, getter). Sorting uses the raw value (None sorts first). The model comes second and the
# wide, less telling columns (when, profile) last, so at 80 columns what tells runs apart stays on screen; the
# model cell shows a short name unique among the listed results (model_names), the full path is in the detail.
COLUMNS: tuple[tuple[str, str, Callable[[BenchmarkResult], Any]], ...] = (
    ("id", "id", lambda r: r.id),
    ("model", "model", lambda r: str(r.model.path or "")),
    ("precision", "prec", lambda r: r.precision),
    ("scenario", "scen", lambda r: scenario_text(r, short=True)),
    ("p50", "p50 ms", lambda r: r.latency.p50_ms),
    ("p99", "p99 ms", lambda r: r.latency.p99_ms),
    ("ips", "inf/s", lambda r: r.throughput.inferences_per_s),
    ("acc", "acc", lambda r: r.accuracy.verdict if r.accuracy is not None else None),
    ("when", "when (UTC)", lambda r: (r.created_at or "")[5:16].replace("T", " ")),
    ("profile", "profile", lambda r: r.profile),
)
MODEL_WIDTH = 14  # characters of the model column


def _shorten(name: str, width: int = MODEL_WIDTH) -> str:
    """``head…tail`` when longer than ``width`` (the end of a name tells models apart as often as its start)."""
    if len(name) <= width:
        return name
    tail = (width - 1) // 2
    return name[: width - 1 - tail] + "…" + name[-tail:]


def model_names(results: Iterable[BenchmarkResult], width: int = MODEL_WIDTH) -> dict[int, str]:
    """A short model name per result id, different for different models: the file name without ``.onnx``; where
    two models share it (``model.onnx`` in two folders), ``folder/name``; where one path held two different files
    (its sha256 changed), ``@`` and the first hex digits of the sha256. Shortened to ``width`` as ``head…tail``."""
    rows = [(int(r.id or 0), str(r.model.path or "?"), r.model.sha256 or "") for r in results]

    def stem(path: str, parents: int) -> str:
        parts = PurePath(path).parts
        name = parts[-1] if parts else path
        if name.endswith(".onnx"):
            name = name[: -len(".onnx")]
        return "/".join([*parts[-1 - parents : -1], name]) if parents else name

    names = {rid: stem(path, 0) for rid, path, _ in rows}
    for parents in (1, 2):
        by_name: dict[str, set[str]] = {}
        for rid, path, _ in rows:
            by_name.setdefault(names[rid], set()).add(path)
        clash = {n for n, ps in by_name.items() if len(ps) > 1}
        if not clash:
            break
        for rid, path, _ in rows:
            if names[rid] in clash:
                names[rid] = stem(path, parents)
    shas: dict[str, set[str]] = {}
    for _rid, path, sha in rows:
        shas.setdefault(path, set()).add(sha)
    out = {}
    for rid, path, sha in rows:
        tag = f"@{sha[:4]}" if len(shas[path]) > 1 and sha else ""
        out[rid] = _shorten(names[rid], width - len(tag)) + tag
    return out


def _cell(key: str, v: Any) -> str:
    if v is None:
        return "n/a" if key not in ("acc",) else "-"
    if isinstance(v, float):
        return f"{v:.4f}" if key in ("p50", "p99") else f"{v:,.0f}"
    return str(v)


MARK_STYLE = "bold black on yellow"  # the A / B cell of a marked row
MARKED_ROW_STYLE = "bold yellow"  # the rest of a marked row: visible whichever row the cursor is on


class ResultsScreen(WorkbenchScreen):
    MODE = "results"
    BINDINGS = [
        Binding("enter", "detail", "Detail", id="results.detail"),
        Binding("space", "mark", "Mark", id="results.mark"),
        Binding("c", "compare", "Compare", id="results.compare"),
        Binding("o", "sort", "Sort", id="results.sort"),
        Binding("e", "export", "Export", id="results.export"),
        Binding("r", "refresh", "Refresh", id="results.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[int, BenchmarkResult] = {}  # by result id
        self.unreadable: tuple[str, ...] = ()
        self._compare_token = 0
        self.marked: list[int] = []
        self.sort_index = 0
        self.sort_reverse = True
        self.source: Any = None
        self.names: dict[int, str] = {}

    def compose_body(self) -> ComposeResult:
        with Vertical(id="body"):
            yield Static(id="results-head")
            yield DataTable(id="results-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="results-detail-scroll"):
                yield Static(id="results-detail")

    def on_mount(self) -> None:
        super().on_mount()
        t = self.query_one(DataTable)
        t.add_column("", key="mark", width=1)
        for key, header, _ in COLUMNS:
            t.add_column(header, key=key)
        self.load()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.load()

    def load(self) -> None:
        """Read the results in a worker (a large database must not freeze the UI); on_results_loaded shows them."""
        self.source = self.wb.results_source()
        self.wb.load_results(self.source)

    def on_results_loaded(self, msg: ResultsLoaded) -> None:
        self.entries = {int(r.id or 0): r for r in msg.results}
        self.names = model_names(self.entries.values())
        self.marked = [m for m in self.marked if m in self.entries]
        self.unreadable = tuple(msg.unreadable)
        self._head(msg.label)
        self._fill()

    def _head(self, label: str | None) -> None:
        head = Text()
        head.append(f"{len(self.entries)} result(s)", style="bold")
        if label:
            head.append("  [recorded results — not measured on this machine]", style="bold yellow")
        if self.unreadable:
            head.append(
                f"  {len(self.unreadable)} stored row(s) are not results: {field(self.unreadable[0])}", style="yellow"
            )
        col = COLUMNS[self.sort_index][1]
        head.append(f"  sorted by {col} {'↓' if self.sort_reverse else '↑'}", style="dim")
        if self.marked:
            head.append("  marked ", style="dim")
            for letter, rid in zip("AB", self.marked, strict=False):
                head.append(f" {letter} ", style=MARK_STYLE)
                head.append(f" #{rid} ", style=MARKED_ROW_STYLE)
            head.append("(c compares)" if len(self.marked) == 2 else "(mark one more)", style="dim")
        self.query_one("#results-head", Static).update(head)

    def on_job_failed(self, msg: JobFailed) -> None:
        if msg.kind == JobKind.RESULTS:
            self.query_one("#results-head", Static).update(
                Text(block(msg.message + (f"\nhint: {msg.hint}" if msg.hint else "")), style="red")
            )

    def _fill(self) -> None:
        t = self.query_one(DataTable)
        keep = t.cursor_row
        t.clear()
        key, _, get = COLUMNS[self.sort_index]

        def sort_key(e: BenchmarkResult) -> tuple:
            v = get(e)
            return (v is not None, v if v is not None else 0)

        for e in sorted(self.entries.values(), key=sort_key, reverse=self.sort_reverse):
            rid = int(e.id or 0)
            # Text cells, escaped: a str cell is parsed as markup, and model names, profiles and devices are the
            # user's (a file named "[bold]x.onnx" is shown as named).
            cells = [field(self.names.get(rid, "?") if k == "model" else _cell(k, g(e))) for k, _, g in COLUMNS]
            if rid in self.marked:
                letter = "AB"[self.marked.index(rid)]
                row = [Text(letter, style=MARK_STYLE), *(Text(c, style=MARKED_ROW_STYLE) for c in cells)]
            else:
                row = ["", *map(Text, cells)]
            t.add_row(*row, key=str(rid))
        if t.row_count:
            t.move_cursor(row=min(keep or 0, t.row_count - 1))

    def _current_id(self) -> int | None:
        t = self.query_one(DataTable)
        if not t.row_count:
            return None
        row_key, _ = t.coordinate_to_cell_key((t.cursor_row, 0))
        return int(row_key.value)

    # --- actions ---------------------------------------------------------------------------------------
    def action_refresh(self) -> None:
        self.load()

    def action_sort(self) -> None:
        if self.sort_reverse:
            self.sort_reverse = False
        else:
            self.sort_reverse = True
            self.sort_index = (self.sort_index + 1) % len(COLUMNS)
        self._head(getattr(self.source, "label", None))
        self._fill()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_detail()

    def action_detail(self) -> None:
        from workbench.core.results.summary import summary

        rid = self._current_id()
        if rid is None:
            return
        e = self.entries[rid]
        t = Text()
        t.append(f"Result {rid} · {field(e.created_at)} · scenario {field(scenario_text(e))}\n", style="bold")
        for line in summary(e).splitlines(keepends=True):
            t.append(line, style="bold yellow" if line.startswith("Provenance:") else "")
        self.query_one("#results-detail", Static).update(t)

    def action_mark(self) -> None:
        rid = self._current_id()
        if rid is None:
            return
        if rid in self.marked:
            self.marked.remove(rid)
        else:
            self.marked.append(rid)
            self.marked = self.marked[-2:]
        self._head(getattr(self.source, "label", None))
        self._fill()
        self.query_one("#results-detail", Static).update(
            Text(
                "marked: "
                + (", ".join(f"{'AB'[i]} = #{m}" for i, m in enumerate(self.marked)) or "none")
                + " (mark two, then c compares A with B)",
                style="dim",
            )
        )

    def action_compare(self) -> None:
        ids = list(self.marked)
        if len(ids) < 2:
            cur = self._current_id()
            if len(ids) == 1 and cur is not None and cur != ids[0]:
                ids.append(cur)
            else:
                self.notify("mark two runs with space (or one, and put the cursor on the other)", timeout=4)
                return
        a, b = self.entries[ids[0]], self.entries[ids[1]]
        self._compare_token += 1
        self.query_one("#results-detail", Static).update(Text("comparing…", style="dim"))
        self.wb.start_compare(
            a, b, (f"#{ids[0]}", f"#{ids[1]}"), f"Result {ids[0]} (A) vs result {ids[1]} (B)", self._compare_token
        )

    def on_compared(self, msg: Compared) -> None:
        if msg.token != self._compare_token:
            return
        from rich.console import Group

        from workbench.ui.widgets.compare import comparison_view

        self.query_one("#results-detail", Static).update(
            Group(Text(msg.heading, style="bold"), comparison_view(msg.comparison, msg.titles))
        )

    def action_export(self) -> None:
        wb = self.wb

        def chosen(value: tuple[str, str] | None) -> None:
            if not value:
                return
            fmt, path = value
            ids = self.marked or None
            wb.start_export(self.source, fmt, path, ids)

        wb.push_screen(ExportScreen(), chosen)

    def on_bench_finished(self, msg: BenchFinished) -> None:
        self.load()
