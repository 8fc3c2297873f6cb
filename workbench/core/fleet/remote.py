"""The host side of `workbench fleet run`: what the playbooks run on each board, under the board's own workbench.

    python -I -m workbench.core.fleet.remote unpack|start|collect DOC

``DOC`` is one argv item: base64 (RFC 4648, standard alphabet) of a JSON object. Nothing from the inventory, the
model's name or the user's options is ever part of a shell string or of an Ansible template: the playbooks pass DOC
as it came (only ``[A-Za-z0-9+/=]``), and this module builds every path and argv from it as lists. ``-I`` keeps the
current folder (and PYTHON* variables) off ``sys.path``; the playbooks also start it in a folder of ours.

Everything lives under ``WORKBENCH_HOME`` (the host's ``workbench_home``, set by the playbook; refused when unset):

- ``models/<key>/``, ``datasets/<key>/``: bundles (core/fleet/manifest.py), unpacked from ``fleet/incoming/<key>.tar``
  into a temporary folder, every file checked against the manifest's SHA-256, then renamed into place (a folder
  there is always complete);
- ``fleet/runs/<run_key>.json``: the job this fleet run started on the host (``{"job": ID}``), so a re-run finds it
  (``start`` returns it instead of starting another unless ``force``) even when the controller lost its own record;
- ``data/jobs/<ID>/``, ``data/results.sqlite3``: the detached benchmark job and its stored result (core/jobs.py), which
  survive a dropped connection.

Each command prints one JSON object on its last stdout line (the playbook registers it as ``workbench_out``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

from workbench.core.errors import UsageError, WorkbenchError

_KEY = re.compile(r"[0-9a-f]{64}")
KINDS = ("models", "datasets")
#: How often ``collect`` looks at the job's status while it waits (s): the job's own files, no process started.
POLL_S = 0.5


def encode_doc(doc: dict[str, Any]) -> str:
    """``doc`` as the one argv item the commands take (base64 of its compact JSON)."""
    return base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode("ascii")


def decode_doc(text: str) -> dict[str, Any]:
    """The object :func:`encode_doc` made. Raises UsageError for anything else."""
    try:
        doc = json.loads(base64.b64decode(text.encode("ascii"), validate=True))
    except (ValueError, UnicodeError) as exc:
        raise UsageError(
            f"not a fleet document: {exc}",
            hint="the controller and this board run different workbench versions: run `workbench fleet setup` from "
            "the controller",
        ) from None
    if not isinstance(doc, dict):
        raise UsageError(
            "not a fleet document: not a JSON object",
            hint="the controller and this board run different workbench versions: run `workbench fleet setup` from "
            "the controller",
        )
    return doc


def home() -> Path:
    """``WORKBENCH_HOME``: the host's ``workbench_home``. Raises UsageError when it is unset."""
    h = os.environ.get("WORKBENCH_HOME")
    if not h:
        raise UsageError(
            "WORKBENCH_HOME is not set: the fleet playbooks set it to the host's workbench_home",
            hint="start it through `workbench fleet run`, or export WORKBENCH_HOME=<the host's workbench_home> when "
            "running it by hand",
        )
    full = os.path.abspath(os.path.expanduser(h))
    # An inventory's "~/…" reaches us unexpanded (no shell between): expand it once here, for the job we start too.
    os.environ["WORKBENCH_HOME"] = full
    return Path(full)


def _key(doc: dict[str, Any], name: str = "key") -> str:
    k = str(doc.get(name, ""))
    if not _KEY.fullmatch(k):
        raise UsageError(
            f"{name} {k!r} is not a content hash (64 hex digits)",
            hint="the controller and this board run different workbench versions: run `workbench fleet setup` from "
            "the controller",
        )
    return k


def bundle_path(kind: str, key: str, rel: str = "") -> Path:
    """``<WORKBENCH_HOME>/<kind>/<key>[/<rel>]``; ``rel`` may not be absolute or climb out with ``..``."""
    if kind not in KINDS:
        raise UsageError(
            f"bundle kind {kind!r} is not one of {', '.join(KINDS)}",
            hint="the controller and this board run different workbench versions: run `workbench fleet setup` from "
            "the controller",
        )
    base = home() / kind / key
    if not rel:
        return base
    parts = Path(rel).parts
    if Path(rel).is_absolute() or ".." in parts or not parts:
        raise UsageError(
            f"bundle path {rel!r} is absolute or leaves its folder",
            hint="the controller and this board run different workbench versions: run `workbench fleet setup` from "
            "the controller",
        )
    return base.joinpath(*parts)


def unpack(doc: dict[str, Any]) -> dict[str, Any]:
    """Unpack ``fleet/incoming/<key>.tar`` into ``<kind>/<key>/``: only regular files with relative names, each
    checked against the manifest (its last member) by size and SHA-256, in a temporary folder renamed into place.
    The archive is removed. ``{"bundle": key, "unpacked": bool}`` (False: it was already there).

    Raises:
        UsageError: a bad kind or key; StorageError: the archive is missing, not ours, or does not match its manifest.
    """
    from workbench.core.errors import StorageError
    from workbench.core.fleet.manifest import MARKER

    kind, key = str(doc.get("kind")), _key(doc)
    dest = bundle_path(kind, key)
    archive = home() / "fleet" / "incoming" / f"{key}.tar"
    if (dest / MARKER).is_file():
        archive.unlink(missing_ok=True)
        return {"bundle": key, "unpacked": False}
    tmp = dest.with_name(f".{key}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True, mode=0o700)
    seen: dict[str, tuple[int, str]] = {}
    manifest = None
    try:
        with tarfile.open(archive, "r:") as tar:
            for m in tar:
                parts = Path(m.name).parts
                if not m.isfile() or Path(m.name).is_absolute() or ".." in parts or not parts:
                    raise StorageError(
                        f"bundle {archive}: member {m.name!r} is not a plain relative file",
                        hint="run `workbench fleet run` again: it copies the bundle anew where it differs from the "
                        "controller's",
                    )
                src = tar.extractfile(m)
                if src is None:
                    raise StorageError(
                        f"bundle {archive}: member {m.name!r} cannot be read",
                        hint="run `workbench fleet run` again: it copies the bundle anew where it differs from the "
                        "controller's",
                    )
                if m.name == MARKER:
                    manifest = json.loads(src.read())
                    continue
                out = tmp.joinpath(*parts)
                out.parent.mkdir(parents=True, exist_ok=True)
                h = hashlib.sha256()
                with open(out, "xb") as fh:
                    for chunk in iter(lambda s=src: s.read(1 << 20), b""):
                        h.update(chunk)
                        fh.write(chunk)
                seen[Path(m.name).as_posix()] = (m.size, h.hexdigest())
        want = {f["rel"]: (int(f["size"]), str(f["sha256"])) for f in (manifest or {}).get("files", [])}
        if manifest is None or manifest.get("key") != key or want != seen:
            raise StorageError(
                f"bundle {archive} does not match its manifest (cut off or changed on the way)",
                hint="run `workbench fleet run` again to send the bundle anew; check the board's free disk with "
                "`workbench fleet check`",
            )
        (tmp / MARKER).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(tmp, dest)
        except OSError:
            if not (dest / MARKER).is_file():  # another run unpacked the same bundle meanwhile: keep theirs
                raise
    except (OSError, tarfile.TarError, ValueError, KeyError, TypeError) as exc:
        raise StorageError(
            f"cannot unpack bundle {archive} into {dest}: {exc}",
            hint="check free disk and permissions under the board's workbench_home (`workbench fleet check` shows "
            "free disk), then run `workbench fleet run` again",
        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    archive.unlink(missing_ok=True)
    return {"bundle": key, "unpacked": True}


def _resolve_argv(template: list[Any]) -> list[str]:
    """The bench argv with each ``{"bundle": [kind, key, rel]}`` item replaced by that path on this host."""
    out = []
    for item in template:
        if isinstance(item, dict):
            kind, key, rel = item["bundle"]
            out.append(str(bundle_path(str(kind), _key({"key": key}), str(rel))))
        else:
            out.append(str(item))
    return out


def _marker(run_key: str) -> Path:
    return home() / "fleet" / "runs" / f"{run_key}.json"


def _job_of(run_key: str):
    """The job the marker of ``run_key`` names, or None (no marker, unreadable, or the job folder is gone)."""
    from workbench.core import jobs

    try:
        job_id = json.loads(_marker(run_key).read_text())["job"]
        return jobs.get(str(job_id))
    except (OSError, ValueError, KeyError, TypeError, WorkbenchError):
        return None


def start(doc: dict[str, Any]) -> dict[str, Any]:
    """Start ``workbench <argv>`` as a detached job (core/jobs.py: its own session, so it survives the connection)
    and record it as the job of ``run_key``; unless ``force``, a job recorded before that is running or finished is
    returned instead (``reused``: true) and nothing is started. ``{"job", "reused", "state"}``.

    Raises:
        UsageError: a bad document; StorageError: the jobs folder or the marker cannot be written.
    """
    from workbench.core import jobs
    from workbench.core.fsutil import write_text_atomic
    from workbench.core.private import ensure_private_dir

    run_key = _key(doc, "run_key")
    argv = _resolve_argv(list(doc.get("argv") or []))
    if not argv or argv[0] != "bench":
        raise UsageError(
            "a fleet run starts `workbench bench` jobs only",
            hint="the controller and this board run different workbench versions: run `workbench fleet setup` from "
            "the controller",
        )
    if not doc.get("force"):
        job = _job_of(run_key)
        if job is not None and job.state() in ("running", "finished"):
            return {"job": job.id, "reused": True, "state": job.state()}
    job = jobs.start(argv)
    ensure_private_dir(_marker(run_key).parent, "fleet runs folder")
    write_text_atomic(_marker(run_key), json.dumps({"job": job.id, "argv": argv}), private=True)
    return {"job": job.id, "reused": False, "state": job.state()}


def collect(doc: dict[str, Any]) -> dict[str, Any]:
    """Wait (at most ``timeout_s``) for the job of ``run_key`` to end, then return ``{"job", "state", "exit_code",
    "error", "result"}``: ``result`` the stored result's JSON document (``BenchmarkResult.to_dict``, latencies
    included) when the job finished, else None with ``error`` its last error line. ``state`` "running" when the wait
    timed out (the job goes on).

    Raises:
        UsageError: a bad document, or no job recorded for ``run_key`` on this host.
    """
    run_key = _key(doc, "run_key")
    timeout_s = float(doc.get("timeout_s") or 0)
    job = _job_of(run_key)
    if job is None:
        raise UsageError(
            f"no job of fleet run {run_key[:12]} on this host (WORKBENCH_HOME {home()})",
            hint="run `workbench fleet run` again with --force to start the job anew (the board's record of it is "
            "gone)",
        )
    deadline = time.monotonic() + timeout_s
    while job.state() == "running" and time.monotonic() < deadline:
        time.sleep(POLL_S)
    from workbench.core import jobs

    state = job.state()
    status = job.exit_status() or {}
    out: dict[str, Any] = {"job": job.id, "state": state, "exit_code": status.get("exit_code"), "error": None,
                           "result": None}  # fmt: skip
    if state == "finished":
        ids = status.get("result_ids") or jobs.result_ids(job.dir)
        if not ids:
            out["error"] = "the job finished but stored no result"
            return out
        from workbench.core.results.store import ResultStore

        with ResultStore() as db:
            result = db.get(int(ids[-1]))
        out["result"] = result.to_dict()
        out["result_id"] = int(ids[-1])
    elif state != "running":
        message, hint = jobs.error_text(job)
        out["error"] = (message or f"the job {state}") + (f" ({hint})" if hint else "")
    return out


COMMANDS = {"unpack": unpack, "start": start, "collect": collect}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in COMMANDS:
        print(f"usage: python -I -m workbench.core.fleet.remote {{{'|'.join(COMMANDS)}}} DOC", file=sys.stderr)
        return 2
    try:
        out = COMMANDS[args[0]](decode_doc(args[1]))
    except WorkbenchError as err:
        print(f"error: {err}", file=sys.stderr)
        if err.hint:
            print(f"hint: {err.hint}", file=sys.stderr)
        return err.exit_code
    sys.stdout.write(json.dumps(out, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
