"""The results database: one SQLite file (WAL), one row per result entry, the full entry kept as JSON.

Why these settings:

- ``PRAGMA journal_mode=WAL`` (https://sqlite.org/wal.html): readers never block the writer and a crash leaves
  the database consistent (the WAL is replayed or discarded on the next open), so a killed benchmark cannot
  corrupt earlier results.
- ``busy_timeout`` (default 2000 ms, https://sqlite.org/c3ref/busy_timeout.html): a second workbench that is
  writing at the same moment is waited for briefly; a database held longer by another process becomes one clear
  :class:`ResultsError` ("locked by another process; retry when it finishes") instead of a hang.
- ``PRAGMA user_version`` holds the schema version; :data:`MIGRATIONS` upgrades older files in place, and a file
  from a newer workbench is refused rather than misread.

Indexed columns (for ``results list``): id, created_at (UTC ISO 8601), model, model_sha256, precision, backend,
profile, device, measured (1 = telemetry from the machine, 0 = replayed/injected), p50_ms, p99_ms, throughput_ips,
accuracy_verdict. ``json`` holds the complete entry (issue 2 "What it must show 2" plus model, model_sha256,
device, versions, telemetry, created_at).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.core.errors import ResultsError
from workbench.core.results.result import BenchmarkResult, result_from_dict

SCHEMA_VERSION = 1
DEFAULT_BUSY_TIMEOUT_MS = 2000

SUMMARY_COLUMNS = (
    "id", "created_at", "model", "model_sha256", "precision", "backend", "profile", "device", "measured",
    "p50_ms", "p99_ms", "throughput_ips", "accuracy_verdict",
)  # fmt: skip


def _v1(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS results (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL,
            model TEXT,
            model_sha256 TEXT,
            precision TEXT,
            backend TEXT,
            profile TEXT,
            device TEXT,
            measured INTEGER NOT NULL DEFAULT 1,
            p50_ms REAL,
            p99_ms REAL,
            throughput_ips REAL,
            accuracy_verdict TEXT,
            json TEXT NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX IF NOT EXISTS results_model ON results(model)")
    conn.execute("CREATE INDEX IF NOT EXISTS results_created ON results(created_at)")


# version -> function upgrading the schema from version-1 to version (run inside one write transaction).
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _v1}


def utc_now_iso() -> str:
    """Current UTC time as ISO 8601 with seconds and ``+00:00``."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None (strict JSON has no NaN), Paths and other objects -> str."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    if hasattr(obj, "to_dict"):
        return _clean(obj.to_dict())
    if hasattr(obj, "item"):  # numpy scalar
        try:
            return _clean(obj.item())
        except (TypeError, ValueError):
            pass
    return str(obj)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _columns(r: BenchmarkResult, created_at: str) -> dict[str, Any]:
    """The indexed columns of one result (read from its typed fields)."""
    return {
        "created_at": created_at,
        "model": r.model.path,
        "model_sha256": r.model.sha256,
        "precision": r.precision,
        "backend": r.backend,
        "profile": r.profile,
        "device": r.device,
        "measured": 1 if r.measured else 0,
        "p50_ms": _num(r.latency.p50_ms if r.latency.p50_ms is not None else r.latency.median_ms),
        "p99_ms": _num(r.latency.p99_ms),
        "throughput_ips": _num(r.throughput.inferences_per_s),
        "accuracy_verdict": r.accuracy.verdict if r.accuracy is not None else None,
    }


@dataclass(frozen=True)
class ResultRow:
    """One line of ``results list``: the indexed columns of a stored result (``source``: "trtexec import" and the
    like, None for our own runs; ``measured``: False for replayed/recorded telemetry)."""

    id: int
    created_at: str
    model: str | None
    model_sha256: str | None
    precision: str | None
    backend: str | None
    profile: str | None
    device: str | None
    measured: bool
    p50_ms: float | None
    p99_ms: float | None
    throughput_ips: float | None
    accuracy_verdict: str | None
    source: str | None = None
    host: str | None = None  # the fleet host's inventory name (`workbench fleet run`), None for this machine's runs

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["host"] is None:
            del d["host"]  # rows of this machine's runs keep the key set `results list --json` always printed
        return d


@dataclass(frozen=True)
class ReadResults:
    """The readable results, and the rows that are not results: (id, why, the stored document or None)."""

    results: tuple[BenchmarkResult, ...]
    unreadable: tuple[tuple[int, str, dict[str, Any] | None], ...] = ()


@dataclass(frozen=True)
class Export:
    """An export's text, how many results it holds, and what could not be exported as a result (and why)."""

    text: str
    count: int
    left_out: tuple[str, ...] = ()


class ResultStore:
    """Results database at ``path`` (default ``paths.results_db_path()``).

    Opened lazily on first use; one connection per store, guarded by a lock so worker threads may share it.
    Use as a context manager or call :meth:`close`.

    Errors (all :class:`ResultsError`, naming the file): locked by another process past ``busy_timeout_ms``;
    corrupt / not a SQLite file (hint: move it aside); written by a newer schema; cannot be opened; unknown id.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS):
        if path is None:
            from workbench.core import paths

            path = paths.results_db_path()
        self.path = Path(path)
        self.busy_timeout_ms = int(busy_timeout_ms)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    # ----------------------------------------------------------------------------------------- connection
    def _error(self, exc: BaseException, doing: str) -> ResultsError:
        msg = str(exc)
        low = msg.lower()
        if "locked" in low or "busy" in low:
            return ResultsError(
                f"results database {self.path} is locked by another process; retry when it finishes",
                hint="another workbench (or a sqlite3 shell) is writing to it",
            )
        if "not a database" in low or "malformed" in low or "encrypted" in low or "disk image" in low:
            return ResultsError(
                f"results database {self.path} is corrupt or not a SQLite file ({msg})",
                hint=f"move it aside (mv {self.path} {self.path}.corrupt); the next run starts a new database",
            )
        if "unable to open" in low or "readonly" in low or "read-only" in low:
            return ResultsError(
                f"cannot {doing} results database {self.path}: {msg}",
                hint="check that its folder exists and is writable (WORKBENCH_HOME / XDG_DATA_HOME)",
            )
        return ResultsError(
            f"results database {self.path}: {doing} failed: {msg}",
            hint="check free disk and that the database and its folder are writable; `workbench results list` tells "
            "whether it can still be read",
        )

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ResultsError(
                f"cannot create the folder for results database {self.path}: {exc.strerror or exc}",
                hint=f"make {self.path.parent} writable, or point WORKBENCH_HOME at a writable folder",
            ) from None
        conn = None
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction's extent is explicit.
            conn = sqlite3.connect(
                str(self.path), timeout=self.busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # safe with WAL: a crash may lose the last commit only
            self._migrate(conn)
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise self._error(exc, "open") from None
        except ResultsError:
            if conn is not None:
                conn.close()
            raise
        self._conn = conn
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ResultsError(
                f"results database {self.path} has schema version {version}, newer than this workbench "
                f"understands ({SCHEMA_VERSION})",
                hint="upgrade the workbench, or point WORKBENCH_HOME/XDG_DATA_HOME elsewhere",
            )
        if version == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the write lock: another process may have migrated meanwhile.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for v in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[v](conn)
                conn.execute(f"PRAGMA user_version = {v}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, doing: str, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._lock:
            conn = self._connect()
            try:
                return fn(conn)
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise self._error(exc, doing) from None

    # ----------------------------------------------------------------------------------------- API
    def add(self, result: BenchmarkResult) -> int:
        """Store one result; returns its id.

        ``created_at`` is the result's own when it has one (an imported or re-stored result), else now (UTC).
        The JSON column is ``result.to_dict()`` (NaN/inf become null, non-JSON values strings) without the id.

        Raises:
            ResultsError: locked / corrupt / unwritable database; ``result`` is not a BenchmarkResult.
        """
        if not isinstance(result, BenchmarkResult):
            raise ResultsError(
                f"a result must be a BenchmarkResult, got {type(result).__name__}",
                hint="store the BenchmarkResult the benchmark returned (workflow.run / bench), not a dict; load a "
                "dict with result_from_dict first",
            )
        entry = _clean(result.to_dict())
        for key in ("id", "result_id"):
            entry.pop(key, None)
        entry.setdefault("created_at", utc_now_iso())
        cols = _columns(result, entry["created_at"])
        cols["json"] = json.dumps(entry, sort_keys=True, allow_nan=False)
        names = ", ".join(cols)
        marks = ", ".join("?" for _ in cols)

        def insert(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            cur = conn.execute(f"INSERT INTO results ({names}) VALUES ({marks})", tuple(cols.values()))
            conn.execute("COMMIT")
            return int(cur.lastrowid)

        return self._run("write to", insert)

    def get(self, result_id: int) -> BenchmarkResult:
        """The stored result, with ``id`` and ``created_at`` set.

        Raises:
            ResultsError: no such id (message names it), or database errors.
        """
        try:
            rid = int(result_id)
        except (TypeError, ValueError):
            raise ResultsError(
                f"result id {result_id!r} is not a number", hint="see `workbench results list`"
            ) from None
        row = self._run(
            "read", lambda c: c.execute("SELECT id, created_at, json FROM results WHERE id = ?", (rid,)).fetchone()
        )
        if row is None:
            raise ResultsError(f"no result with id {rid} in {self.path}", hint="see `workbench results list`")
        return self._entry(row)

    def get_raw(self, result_id: int) -> dict[str, Any]:
        """The stored JSON document of one row as it is (with ``id`` and ``created_at``), readable or not.

        Raises:
            ResultsError: no such id, or a JSON column that is not JSON.
        """
        rid = int(result_id)
        row = self._run(
            "read", lambda c: c.execute("SELECT id, created_at, json FROM results WHERE id = ?", (rid,)).fetchone()
        )
        if row is None:
            raise ResultsError(f"no result with id {rid} in {self.path}", hint="see `workbench results list`")
        return self._raw(row)

    def _raw(self, row: tuple[Any, ...]) -> dict[str, Any]:
        try:
            doc = json.loads(row[2])
        except ValueError as exc:
            raise ResultsError(
                f"result {row[0]} in {self.path} is not JSON: {exc}",
                hint="`workbench results list` still shows the readable results; to start anew, move the database "
                f"aside (mv {self.path} {self.path}.corrupt)",
            ) from None
        if not isinstance(doc, dict):
            raise ResultsError(
                f"result {row[0]} in {self.path} is not a JSON object",
                hint="`workbench results list` still shows the readable results; to start anew, move the database "
                f"aside (mv {self.path} {self.path}.corrupt)",
            )
        doc["id"] = int(row[0])
        doc["created_at"] = row[1]
        return doc

    def _entry(self, row: tuple[Any, ...]) -> BenchmarkResult:
        """The SQLite edge: one row's JSON -> a typed result (ResultsError naming the id when it is not one)."""
        doc = self._raw(row)
        try:
            return result_from_dict(doc)
        except Exception as exc:  # noqa: BLE001 - a row written by another program must become one clear error
            raise ResultsError(
                f"result {row[0]} in {self.path} cannot be read as a benchmark result ({type(exc).__name__}: {exc})",
                hint=f"`workbench results show {row[0]} --json` prints what is stored",
            ) from None

    def read_many(self, ids: Iterable[int] | None = None) -> ReadResults:
        """Like :meth:`get_many`, but rows that cannot be read as results are set aside (with why) instead of
        failing the whole read: a list, an export or the TUI still shows every readable result.

        Raises:
            ResultsError: naming every unknown id; database errors.
        """
        rows = self._rows(ids)
        results: list[BenchmarkResult] = []
        unreadable: list[tuple[int, str, dict[str, Any] | None]] = []
        for r in rows:
            try:
                results.append(self._entry(r))
            except ResultsError as exc:
                try:
                    raw: dict[str, Any] | None = self._raw(r)
                except ResultsError:
                    raw = None
                unreadable.append((int(r[0]), str(exc), raw))
        return ReadResults(tuple(results), tuple(unreadable))

    def _rows(self, ids: Iterable[int] | None) -> list[tuple[Any, ...]]:
        if ids is None:
            return self._run(
                "read", lambda c: c.execute("SELECT id, created_at, json FROM results ORDER BY id").fetchall()
            )
        wanted = [int(i) for i in ids]
        if not wanted:
            return []
        marks = ",".join("?" for _ in wanted)
        rows = self._run(
            "read",
            lambda c: c.execute(f"SELECT id, created_at, json FROM results WHERE id IN ({marks})", wanted).fetchall(),
        )
        by_id = {int(r[0]): r for r in rows}
        missing = [i for i in wanted if i not in by_id]
        if missing:
            raise ResultsError(
                f"no result with id {', '.join(map(str, missing))} in {self.path}", hint="see `workbench results list`"
            )
        return [by_id[i] for i in wanted]

    def get_many(self, ids: Iterable[int] | None = None) -> list[BenchmarkResult]:
        """Stored results for ``ids`` in the order given (all by id when None).

        Raises:
            ResultsError: naming every unknown id, or the first row that cannot be read as a result.
        """
        return [self._entry(r) for r in self._rows(ids)]

    def list(self, limit: int = 50, model: str | None = None) -> list[ResultRow]:
        """Summary rows, newest first; ``model`` filters by substring of the model name."""
        tail = ""
        args: list[Any] = []
        if model:
            tail += " WHERE instr(model, ?) > 0"
            args.append(model)
        tail += " ORDER BY id DESC"
        if limit is not None and int(limit) > 0:
            tail += " LIMIT ?"
            args.append(int(limit))
        cols = ", ".join(SUMMARY_COLUMNS)

        def query(c: sqlite3.Connection) -> tuple[list[Any], bool]:
            # "source" (e.g. "trtexec import") and "host" (fleet runs) live in the JSON; json_extract needs SQLite's
            # JSON1 (built in since 3.38, compiled in by most distributions before): without it they are left out.
            try:
                sql = f"SELECT {cols}, json_extract(json, '$.source'), json_extract(json, '$.host') FROM results{tail}"
                return c.execute(sql, args).fetchall(), True
            except sqlite3.OperationalError as exc:
                if "json_extract" not in str(exc):
                    raise
                return c.execute(f"SELECT {cols} FROM results{tail}", args).fetchall(), False

        rows, with_source = self._run("read", query)
        out = []
        for r in rows:
            d = dict(zip(SUMMARY_COLUMNS, r[: len(SUMMARY_COLUMNS)], strict=True))
            d["measured"] = bool(d["measured"])
            d["source"] = r[len(SUMMARY_COLUMNS)] if with_source else None
            d["host"] = r[len(SUMMARY_COLUMNS) + 1] if with_source else None
            out.append(ResultRow(**d))
        return out

    def count(self) -> int:
        return int(self._run("read", lambda c: c.execute("SELECT COUNT(*) FROM results").fetchone()[0]))

    def export(self, fmt: str, ids: Iterable[int] | None = None) -> Export:
        """Results as ``"csv"``, ``"json"`` or ``"md"`` text (:mod:`workbench.core.results.export`). A row that
        cannot be read as a result is kept as stored in a JSON export and left out of CSV/Markdown, and named in
        ``left_out`` either way (never silently lost)."""
        from workbench.core.results.export import render

        got = self.read_many(ids)
        text = render(list(got.results), fmt)
        raws = [raw for _, _, raw in got.unreadable if raw is not None]
        if fmt.lower() == "json" and raws:
            docs = json.loads(text) + raws
            docs.sort(key=lambda d: d.get("id") or 0)
            text = json.dumps(docs, indent=2, sort_keys=True) + "\n"
        kept = "kept as stored" if fmt.lower() == "json" else "left out"
        notes = tuple(f"{why} ({kept})" for _, why, _ in got.unreadable)
        return Export(text, len(got.results) + (len(raws) if fmt.lower() == "json" else 0), notes)

    def export_to_file(self, fmt: str, path: str | os.PathLike[str], ids: Iterable[int] | None = None) -> Export:
        """Write :meth:`export` to ``path`` atomically. A missing folder is refused, not created (the user named
        the path: a typo must not make folders, as ``--export-times`` refuses it too). Raises StorageError /
        ResultsError."""
        from workbench.core.fsutil import require_existing_folder, write_text_atomic

        require_existing_folder(path, f"cannot write {path}")
        out = self.export(fmt, ids)
        write_text_atomic(path, out.text)
        return out

    def integrity_check(self) -> list[str]:
        """``PRAGMA integrity_check`` rows; ``["ok"]`` for a healthy database."""
        return [str(r[0]) for r in self._run("check", lambda c: c.execute("PRAGMA integrity_check").fetchall())]
