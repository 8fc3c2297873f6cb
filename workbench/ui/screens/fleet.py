"""0. Fleet: the loaded model benchmarked on every host of an Ansible inventory (`workbench fleet run`), side by side.

``i`` sets the inventory (an INI or YAML file, or an inventory folder; remembered in the app state for the session),
``l`` an Ansible host pattern (``--limit``), ``n`` the forks, ``f`` toggles ``--force`` (run again even where a
finished remote job could be collected). ``s`` starts ``workbench fleet run -i INV [MODEL] [--limit P] [--forks N]
[--force]`` as a detached job; its events feed the screen: ``FleetHostState`` gives each host's state (pending,
copying, starting, running, fetching, ok, failed, unreachable) with its line of detail, ``FleetHostDone`` a host's
row as it ends; the job's outcome (``{"command": "fleet run", "fleet": FleetRun.to_dict()}``) gives the comparison
table across hosts: p50 and p99 (ms) each with its 95 % interval under it, inferences/s, mean W, mJ/inference and
the accuracy verdict (``HostRun.summary``), and one line per failed or unreachable host with its error. ``c`` runs
``workbench fleet check -i INV --json`` as a job and shows its facts per host (reachable, Python, workbench version,
profile, JetPack, TensorRT, free disk). ``x`` cancels (the app's cancel: SIGINT to the job).

A recorded run / check injected through ``make_app(recorded=Recorded(fleet=..., fleet_facts=...))`` is shown
labelled "recorded — not measured on this machine".
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from workbench.core.textsafe import block, field
from workbench.ui.keymap import key_label
from workbench.ui.messages import (
    Attached,
    Change,
    FleetChecked,
    FleetFinished,
    FleetHostChanged,
    FleetHostFinished,
    JobFailed,
    JobKind,
)
from workbench.ui.screens.base import WorkbenchScreen

RECORDED_LABEL = "[recorded — not measured on this machine]"
FINAL = ("ok", "failed", "unreachable")  # core/fleet/types.py FINAL_STATUSES
STATE_STYLE = {
    "pending": "dim",
    "copying": "cyan",
    "starting": "cyan",
    "running": "bold yellow",
    "fetching": "cyan",
    "ok": "green",
    "failed": "red",
    "unreachable": "red",
}
# While the run goes on: each host's state and what it does; at the end, the comparison (78 columns with the
# example's figures, so it fits 80 without cutting the verdict).
PROGRESS_COLUMNS: tuple[tuple[str, str], ...] = (("host", "host"), ("state", "state"), ("detail", "detail"))
COMPARISON_COLUMNS: tuple[tuple[str, str], ...] = (
    ("host", "host"),
    ("status", "status"),
    ("p50", "p50 ms"),
    ("p99", "p99 ms"),
    ("ips", "inf/s"),
    ("watts", "W"),
    ("mj", "mJ/inf"),
    ("acc", "acc."),
)
FACTS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("host", "host"),
    ("up", "up"),
    ("python", "Python"),
    ("workbench", "workbench"),
    ("profile", "profile"),
    ("jetpack", "JetPack"),
    ("tensorrt", "TensorRT"),
    ("free", "free GiB"),
)
# Under WorkbenchScreen.NARROW_BELOW columns the facts table takes the short headers, so it fits 80 columns whole.
FACTS_SHORT = {"jetpack": "JP", "tensorrt": "TRT"}
HOST_WIDTH = 16  # characters of a host name shown in the tables (the error lines below give it whole)


@dataclass(frozen=True)
class FleetSettings:
    """This screen's options of `workbench fleet run`: ``limit`` (an Ansible host pattern, ``--limit``; None = every
    host), ``forks`` (hosts worked on at once, ``--forks``; None = the command's default), ``force`` (``--force``: run
    again even where a finished remote job could be collected)."""

    limit: str | None = None
    forks: int | None = None
    force: bool = False


def _path_arg(path: str) -> str:
    """A path as one argv element that no parser takes for an option: "-x.ini" -> "./-x.ini" (as jobs.argv_for
    does for the model)."""
    return "./" + path if path.startswith("-") else path


def fleet_run_argv(inventory: str, model: str | None, s: FleetSettings) -> tuple[str, ...]:
    """The argv of ``workbench fleet run`` on ``inventory`` (``~`` expanded: the prompt is not a shell) for ``model``
    (None: the bundled one, as elsewhere) with the settings ``s``. One argv element per value, never a shell string:
    names with spaces stay whole; a path starting with "-" gets "./", a pattern starting with "-" is joined to its
    option (``--limit=-x``)."""
    argv = ["fleet", "run", "-i", _path_arg(os.path.expanduser(inventory))]
    if model:
        argv.append(_path_arg(str(model)))
    if s.limit:
        argv += [f"--limit={s.limit}"] if s.limit.startswith("-") else ["--limit", s.limit]
    if s.forks is not None:
        argv += ["--forks", str(int(s.forks))]
    if s.force:
        argv.append("--force")
    return tuple(argv)


def fleet_check_argv(inventory: str) -> tuple[str, ...]:
    """The argv of ``workbench fleet check -i INVENTORY --json`` (the inventory as in :func:`fleet_run_argv`)."""
    return ("fleet", "check", "-i", _path_arg(os.path.expanduser(inventory)), "--json")


def _num(v: Any, spec: str | None = None) -> str:
    """A figure as the results tables write it (``fmt_num``), or with ``spec``; "-" for a missing or non-number."""
    from workbench.core.results.format import fmt_num

    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return "-"
    return format(v, spec) if spec else fmt_num(v)


def interval_cell(value: Any, ci: Any) -> Text:
    """A figure with its 95 % interval on the line under it, the bounds with the figure's decimals: "0.188\\n0.187–
    0.190" (a side the sample count has no order statistic for shows "?"); the figure alone without an interval; "-"
    without a figure."""
    shown = _num(value)
    t = Text(shown, justify="right")
    if shown != "-" and isinstance(ci, Sequence) and not isinstance(ci, str) and len(ci) == 2:
        decimals = len(shown.split(".")[1]) if "." in shown and "e" not in shown else None
        spec = f".{decimals}f" if decimals is not None else None
        lo, hi = (_num(c, spec) if c is not None else "?" for c in ci)
        t.append(f"\n{lo}–{hi}", style="dim")
    return t


def _host(name: str) -> Text:
    """A host's name in a table cell, cut to HOST_WIDTH characters ("…" last) so the figures stay on screen."""
    shown = field(name)
    return Text(shown if len(shown) <= HOST_WIDTH else shown[: HOST_WIDTH - 1] + "…", no_wrap=True)


def comparison_cells(row: Any) -> tuple[Any, ...]:
    """Cells of one host's row of the comparison (a HostRun): host, status, p50 and p99 with their intervals,
    inferences/s, W, mJ/inference, accuracy verdict (from ``summary``: core/fleet/table.py ``host_summary``'s keys);
    a host that did not finish has "-" for every figure (its error is on a line under the table)."""
    s: Mapping[str, Any] = row.summary or {}
    status = Text(row.status, style=STATE_STYLE.get(row.status, ""))
    if row.status != "ok":
        return (_host(row.host), status, *("-" for _ in COMPARISON_COLUMNS[2:]))
    return (
        _host(row.host),
        status,
        interval_cell(s.get("p50_ms"), s.get("p50_ci95_ms")),
        interval_cell(s.get("p99_ms"), s.get("p99_ci95_ms")),
        Text(_num(s.get("inferences_per_s")), justify="right"),
        Text(_num(s.get("mean_power_w"), ".1f"), justify="right"),
        Text(_num(s.get("mj_per_inference"), ".2f"), justify="right"),
        Text(field(s.get("accuracy") or "-"), style={"pass": "green", "fail": "red"}.get(str(s.get("accuracy")), "")),
    )


def done_detail(row: Any) -> str:
    """A finished host's detail while the run goes on: its p50 / p99 (ok), or its error."""
    if row.status != "ok":
        return row.error or row.status
    s = row.summary or {}
    line = f"p50 {_num(s.get('p50_ms'))} ms · p99 {_num(s.get('p99_ms'))} ms"
    if row.result_id is not None:
        line = f"result {row.result_id} · " + line
    return line + (" · collected" if row.reused else "")


def summary_text(run: Any, recorded: bool) -> Text:
    """About a finished run (two lines at most): "[recorded …] 3 ok (1 collected, not run again) · 1 unreachable of 4
    hosts · digits-cnn.onnx on lab.ini"."""
    t = Text(overflow="ellipsis")
    if recorded:
        t.append(RECORDED_LABEL + " ", style="bold yellow")
    counts: dict[str, int] = {}
    for h in run.hosts:
        counts[h.status] = counts.get(h.status, 0) + 1
    parts = []
    for status in sorted(counts, key=lambda x: FINAL.index(x) if x in FINAL else len(FINAL)):
        part = f"{counts[status]} {status}"
        reused = sum(1 for h in run.hosts if h.status == status and h.reused)
        if status == "ok" and reused:
            part += f" ({reused} collected, not run again)"
        parts.append(part)
    t.append(f"{' · '.join(parts) or 'no host'} of {len(run.hosts)} hosts", style="bold")
    where = f" · {Path(run.model).name or 'the model'} on {Path(run.inventory).name or 'the inventory'}"
    t.append(block(where).replace("\n", " "))
    return t


def error_lines(rows: Sequence[Any]) -> Text:
    """One "host: status: error" line per host that did not finish (its row is in the table without figures)."""
    t = Text()
    for r in rows:
        if r.status != "ok":
            if t.plain:
                t.append("\n")
            t.append(field(r.host), style="bold")
            t.append(f": {r.status}", style=STATE_STYLE.get(r.status, ""))
            if r.error:
                t.append(": " + block(r.error).replace("\n", " "))
    return t


def facts_cells(f: Any) -> tuple[Any, ...]:
    """Cells of one host's `fleet check` row (a HostFacts): host, reachable, Python, workbench version ("none": not
    installed, "?": the probe failed), profile, JetPack (else "L4T x"), TensorRT, free GiB under its workbench_home."""
    if not f.reachable:
        return (_host(f.host), Text("no", style="red"), *("-" for _ in FACTS_COLUMNS[2:]))
    jetpack = f.jetpack or (f"L4T {f.l4t}" if f.l4t else "-")
    free = f"{f.free_disk_gib:.1f}" if isinstance(f.free_disk_gib, (int, float)) else "-"
    return (
        _host(f.host),
        Text("yes", style="green"),
        field(f.python or "-"),
        # "?": the probe failed (a wrong workbench_python), so it could not look; "none": it looked, nothing there
        Text(field(f.workbench), style="") if f.workbench else Text("?" if f.error else "none", style="yellow"),
        field(f.profile or "-"),
        field(jetpack),
        field(f.tensorrt or "-"),
        Text(free, justify="right"),
    )


def _positive_int(value: str) -> int | None:
    """'' / 'default' / '-' -> None; a whole number >= 1 -> int. Raises ValueError otherwise."""
    v = value.strip().lower()
    if v in ("", "default", "-"):
        return None
    n = int(v)
    if n < 1:
        raise ValueError(value)
    return n


class FleetScreen(WorkbenchScreen):
    MODE = "fleet"
    BINDINGS = [
        Binding("s", "start", "Run", id="fleet.start", tooltip="benchmark the loaded model on every host"),
        Binding("c", "check", "Check", id="fleet.check", tooltip="reachable, versions, profile, disk per host"),
        Binding("i", "inventory", "Inventory", id="fleet.inventory", tooltip="the Ansible inventory file"),
        Binding("l", "limit", "Limit", id="fleet.limit", tooltip="an Ansible host pattern (--limit)"),
        Binding("n", "forks", "Forks", id="fleet.forks", tooltip="hosts worked on at once (--forks)"),
        Binding("f", "force", "Force", id="fleet.force", tooltip="run again, not collect finished jobs (--force)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.settings = FleetSettings()
        self.hosts: dict[str, tuple[str, str]] = {}  # host -> (state, detail) of the running (followed) run
        self.note = ""  # what was started, or the job's command line
        self.running = False
        self.checking = False
        self._columns: tuple[tuple[str, str], ...] = ()
        self._facts_columns: tuple[tuple[str, str], ...] = ()

    def compose_body(self) -> ComposeResult:
        # Scrolls when a long error (an unknown host key: its fingerprint and the command that accepts it) does not
        # fit under the tables at 80x24.
        with VerticalScroll(id="body"):
            yield Static(id="fleet-settings")
            yield Static(id="fleet-progress")
            yield DataTable(id="fleet-table", cursor_type="row", zebra_stripes=True, show_cursor=False)
            yield Static(id="fleet-notes")
            yield Static(id="fleet-facts-head")
            yield DataTable(id="fleet-facts", cursor_type="row", zebra_stripes=True, show_cursor=False)
            yield Static(id="fleet-facts-note")

    def _facts_table(self) -> DataTable:
        """The facts table, cleared, with the headers for this width (FACTS_SHORT under NARROW_BELOW columns)."""
        t = self.query_one("#fleet-facts", DataTable)
        narrow = 0 < self.size.width < self.NARROW_BELOW
        columns = tuple((key, FACTS_SHORT.get(key, h) if narrow else h) for key, h in FACTS_COLUMNS)
        if columns != self._facts_columns:
            t.clear(columns=True)
            for key, header in columns:
                t.add_column(header, key=key)
            self._facts_columns = columns
        else:
            t.clear()
        return t

    def on_resize(self) -> None:
        super().on_resize()
        if self.is_mounted:
            self._fill_facts()

    # --- view ------------------------------------------------------------------------------------------
    def _key(self, bid: str) -> str:
        """The key of binding ``bid`` as the user's key map sets it ("i", "^r" …)."""
        default = next((b.key for b in self.BINDINGS if b.id == bid), "?")
        return key_label(self.wb.keys.get(bid, "x" if bid == "app.cancel" else default))

    def _settings_text(self) -> Text:
        st, s, k = self.wb.state, self.settings, self._key
        t = Text()
        t.append("inventory ", style="bold")
        t.append(field(st.fleet_inventory) if st.fleet_inventory else "— none —", style="bold")
        t.append(f" ({k('fleet.inventory')})")
        t.append(" · limit " + (field(s.limit) if s.limit else "all hosts") + f" ({k('fleet.limit')})")
        t.append(" · forks " + (str(s.forks) if s.forks is not None else "default") + f" ({k('fleet.forks')})")
        t.append(" · force " + ("on" if s.force else "off") + f" ({k('fleet.force')})")
        t.append(f" · {k('fleet.start')} runs, {k('fleet.check')} checks, {k('app.cancel')} cancels", style="dim")
        return t

    def _table(self, columns: tuple[tuple[str, str], ...]) -> DataTable:
        """The run table, cleared, with ``columns`` (progress or comparison)."""
        t = self.query_one("#fleet-table", DataTable)
        if columns != self._columns:
            t.clear(columns=True)
            for key, header in columns:
                t.add_column(header, key=key)
            self._columns = columns
        else:
            t.clear()
        return t

    def refresh_view(self, what: Change) -> None:
        self.query_one("#fleet-settings", Static).update(self._settings_text())
        if what in (Change.MOUNT, Change.FLEET):
            if not self.running:
                self.show_result()
            if not self.checking:
                self.show_facts()

    def show_result(self) -> None:
        """The latest run's comparison (or how to start one)."""
        st = self.wb.state
        run = st.fleet
        table = self._table(COMPARISON_COLUMNS)
        notes = self.query_one("#fleet-notes", Static)
        progress = self.query_one("#fleet-progress", Static)
        if run is None:
            hint = (f"no fleet run yet: {self._key('fleet.inventory')} sets the inventory, "
                    f"{self._key('fleet.start')} benchmarks the model on every host")  # fmt: skip
            progress.update(Text(hint, style="dim"))
            notes.update("")
            return
        for k, row in enumerate(run.hosts):
            table.add_row(*comparison_cells(row), key=f"{k}:{row.host}", height=None)
        progress.update(summary_text(run, st.fleet_recorded))
        notes.update(error_lines(run.hosts))

    def _fill_facts(self) -> None:
        facts = self.wb.state.fleet_facts
        table = self._facts_table()
        table.display = bool(facts)
        for k, f in enumerate(facts):
            table.add_row(*facts_cells(f), key=f"{k}:{f.host}")

    def show_facts(self) -> None:
        """The latest check's facts per host (or how to run one), and a line per host that could not be asked."""
        st = self.wb.state
        facts = st.fleet_facts
        self._fill_facts()
        head = self.query_one("#fleet-facts-head", Static)
        note = self.query_one("#fleet-facts-note", Static)
        if not facts:
            head.update(Text(f"no host check yet: {self._key('fleet.check')} checks every host (reachable, versions, "
                             "disk)", style="dim"))  # fmt: skip
            note.update("")
            return
        t = Text(no_wrap=True, overflow="ellipsis")
        if st.fleet_facts_recorded:
            t.append(RECORDED_LABEL + " ", style="bold yellow")
        t.append("fleet check: ", style="bold")
        t.append(f"{sum(1 for f in facts if f.reachable)} of {len(facts)} hosts reachable")
        head.update(t)
        errors = Text()
        for f in facts:
            if not f.reachable or f.error:
                errors.append(("\n" if errors.plain else "") + field(f.host), style="bold")
                errors.append(": " + block(f.error or "unreachable").replace("\n", " "))
        note.update(errors)

    def _progress_line(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        states = [s for s, _ in self.hosts.values()]
        if states:
            done = sum(1 for s in states if s in FINAL)
            t.append(f"{done} of {len(states)} hosts done", style="bold" if self.running else "")
            counts: dict[str, int] = {}
            for s in states:
                if s not in FINAL:
                    counts[s] = counts.get(s, 0) + 1
            order = list(STATE_STYLE)
            for s in sorted(counts, key=lambda x: order.index(x) if x in order else len(order)):
                t.append(f" · {s} {counts[s]}")
        if self.note:
            t.append((" · " if t.plain else "") + block(self.note).replace("\n", " "), style="dim")
        return t

    def _show_live(self) -> None:
        table = self._table(PROGRESS_COLUMNS)
        for k, (host, (state, detail)) in enumerate(self.hosts.items()):
            table.add_row(
                _host(host),
                Text(state, style=STATE_STYLE.get(state, "")),
                Text(block(detail).replace("\n", " "), no_wrap=True, overflow="ellipsis"),
                key=f"{k}:{host}",
            )
        self.query_one("#fleet-progress", Static).update(self._progress_line())

    def _begin_run(self, note: str) -> None:
        self.running = True
        self.hosts = {}
        self.note = note
        self.query_one("#fleet-notes", Static).update(Text("the comparison comes at the end", style="dim"))
        self._show_live()

    # --- the job's messages ----------------------------------------------------------------------------
    def on_attached(self, msg: Attached) -> None:
        if msg.kind == JobKind.FLEET:
            self._begin_run(f"job {msg.job_id}: {msg.command}")
        elif msg.kind == JobKind.FLEET_CHECK:
            self.checking = True
            self.query_one("#fleet-facts-head", Static).update(
                Text(block(f"checking the hosts… job {msg.job_id}: {msg.command}").replace("\n", " "), style="dim")
            )

    def on_fleet_host_changed(self, msg: FleetHostChanged) -> None:
        e = msg.event
        self.hosts[e.host] = (e.state, e.message)
        self._show_live()

    def on_fleet_host_finished(self, msg: FleetHostFinished) -> None:
        self.hosts[msg.row.host] = (msg.row.status, done_detail(msg.row))
        self._show_live()

    def on_fleet_finished(self, msg: FleetFinished) -> None:
        self.running = False
        self.note = ""
        self.show_result()

    def on_fleet_checked(self, msg: FleetChecked) -> None:
        self.checking = False
        self.show_facts()

    def on_job_failed(self, msg: JobFailed) -> None:
        if msg.kind not in (JobKind.FLEET, JobKind.FLEET_CHECK):
            return
        line = Text(
            ("stopped: " if msg.cancelled else "failed: ")
            + block(msg.message + (f" · hint: {msg.hint}" if msg.hint else "")).replace("\n", " "),
            style="red",
        )
        if msg.kind == JobKind.FLEET and msg.cancelled:
            # Only the follower here stopped: the benchmark jobs it started on the boards are detached there.
            line.append(
                f" · benchmark jobs already started on the hosts go on there: {self._key('fleet.start')} runs again "
                "and collects them",
                style="yellow",
            )
        if msg.kind == JobKind.FLEET:
            self.running = False
            self.query_one("#fleet-notes", Static).update(line)
            self.query_one("#fleet-progress", Static).update(self._progress_line())
        else:
            self.checking = False
            self.show_facts()
            self.query_one("#fleet-facts-note", Static).update(line)

    # --- actions ---------------------------------------------------------------------------------------
    def _inventory(self) -> str | None:
        """The inventory to run on, or None (and a notice) when none is set or it is not there."""
        inv = self.wb.state.fleet_inventory
        key = self._key("fleet.inventory")
        if not inv:
            self.notify(f"no inventory: {key} sets the Ansible inventory (INI or YAML)", severity="warning")
            return None
        if not Path(os.path.expanduser(inv)).exists():
            self.notify(f"inventory {inv} not found: {key} sets another", severity="error")
            return None
        return inv

    def action_start(self) -> None:
        if self.running:
            self.notify("a fleet run is going on: x cancels it", severity="warning")
            return
        inv = self._inventory()
        if inv is None:
            return
        argv = fleet_run_argv(inv, self.wb.state.request.model, self.settings)
        cancel = self.wb.begin_job(JobKind.FLEET)
        if cancel is None:
            return
        self._begin_run("starting `workbench fleet run`…")
        self.wb.start_fleet_run(argv, cancel)

    def action_check(self) -> None:
        inv = self._inventory()
        if inv is None:
            return
        cancel = self.wb.begin_job(JobKind.FLEET_CHECK)
        if cancel is None:
            return
        self.checking = True
        self.query_one("#fleet-facts-head", Static).update(Text("starting `workbench fleet check`…", style="dim"))
        self.query_one("#fleet-facts-note", Static).update("")
        self.wb.start_fleet_check(fleet_check_argv(inv), cancel)

    def _prompt(self, title: str, value: str, apply: Any) -> None:
        self.prompt_setting(
            title,
            value,
            apply,
            busy="a fleet run is going on: x cancels it first" if self.running else None,
            invalid="not a whole number of at least 1",
        )

    def _change(self, **changes: Any) -> None:
        self.settings = replace(self.settings, **changes)
        self.query_one("#fleet-settings", Static).update(self._settings_text())

    def action_inventory(self) -> None:
        def apply(text: str) -> None:
            path = text.strip()
            if path and not Path(os.path.expanduser(path)).exists():
                self.notify(f"inventory {path} not found (nothing changed)", severity="error")
                return
            self.wb.state.fleet_inventory = path or None
            self.query_one("#fleet-settings", Static).update(self._settings_text())

        self._prompt(
            "Ansible inventory (INI or YAML file, or a folder); ansible_host/port/user and workbench_home per host",
            self.wb.state.fleet_inventory or "",
            apply,
        )

    def action_limit(self) -> None:
        def apply(text: str) -> None:
            self._change(limit=text.strip() or None)

        self._prompt("Ansible host pattern, e.g. orin_nx or 'all:!agx' (empty = every host)",
                     self.settings.limit or "", apply)  # fmt: skip

    def action_forks(self) -> None:
        def apply(text: str) -> None:
            self._change(forks=_positive_int(text))

        v = self.settings.forks
        self._prompt("Forks: hosts worked on at once (empty = the command's default)", str(v) if v else "", apply)

    def action_force(self) -> None:
        if self.running:
            self.notify("a fleet run is going on: x cancels it first", severity="warning")
            return
        self._change(force=not self.settings.force)
