"""Detached jobs: long work that survives a dropped SSH session (issue: reliability, "SSH drop").

A job is a folder under ``paths.jobs_dir()/<id>/``:

- ``job.json``     argv, pid, process group, start time, cwd (written atomically before the process runs)
- ``stdout``/``stderr``  everything the job prints (the foreground follower copies them to the terminal)
- ``status.json``  exit code and end time, written atomically when the job ends

The jobs folder and every job folder are 0700, every file in them 0600 (core/private.py): on a shared board another
user can neither read a job's command line and output nor plant a ``job.json`` for it to run; the runner refuses a
job folder or ``job.json`` that is not its own (``check_job_folder``).

The job process is started in its own session (``start_new_session=True``: setsid(2)), with stdin from
/dev/null and output to the files above, so the terminal's SIGHUP never reaches it; the follower in the
terminal can die and the job still finishes and stores its result. It starts in its job folder with the user's
folder off its ``sys.path`` (core/child_argv.py). The module that runs the job is passed by name, so this core
module never imports a face.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import stat
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.child_argv import spawn
from workbench.core.errors import StorageError, UsageError, WorkbenchError
from workbench.core.fsutil import write_bytes_atomic, write_text_atomic
from workbench.core.private import ensure_private_dir, make_private_dir, open_private_append, unsafe_reason

RUNNER_MODULE = "workbench.cli.jobrunner"

# A job id as `start` makes it (UTC start second + 6 hex digits), or a unique part of one: letters, digits, '-', '_'.
# Nothing else reaches the file system: '../x', '/etc', 'a/b', '.', '' or a glob pattern is not an id.
_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class Job:
    id: str
    dir: Path
    argv: tuple[str, ...]
    pid: int | None
    started_at: str
    cwd: str

    @property
    def stdout_path(self) -> Path:
        return self.dir / "stdout"

    @property
    def stderr_path(self) -> Path:
        return self.dir / "stderr"

    @property
    def status_path(self) -> Path:
        return self.dir / "status.json"

    def exit_status(self) -> dict[str, Any] | None:
        """The status record once the job has ended, else None."""
        try:
            return json.loads(self.status_path.read_text())
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        """Whether the job's runner still runs: :meth:`runner_is_ours`, or, on a system without ``/proc``, whether
        its pid exists and may be signalled by us."""
        if self.pid is None:
            return False
        ours = self.runner_is_ours()
        if ours is not None:
            return ours
        try:
            os.kill(self.pid, 0)
        except OSError:  # gone, or another user's process (PermissionError): not our runner either way
            return False
        return True  # no /proc here: the pid check is all there is

    def runner_is_ours(self) -> bool | None:
        """Whether ``/proc`` shows the job's pid as its runner: a live process (not a zombie) of our uid (real and
        effective), leading its own process group, whose command line is ``... workbench.cli.jobrunner <this job's folder>`` — a pid reused by
        another process after the runner died is not this job. None when there is no ``/proc`` to tell."""
        if self.pid is None:
            return False
        if not os.path.isdir("/proc/self"):
            return None
        try:
            with open(f"/proc/{self.pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[-1].split()  # state, ppid, pgrp, … (proc(5); the name may hold ')')
            if fields[0] == "Z":
                return False  # a zombie (our own child, not yet reaped) is not running
            if int(fields[2]) != self.pid:
                return False  # a runner leads its own process group (started with setsid): anything else is not one
            with open(f"/proc/{self.pid}/status") as fh:
                uids = next((ln.split()[1:3] for ln in fh if ln.startswith("Uid:")), [])
            with open(f"/proc/{self.pid}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except (OSError, IndexError, ValueError):
            return False  # the pid is gone (or hidden from us): not a runner of ours
        if uids != [str(os.geteuid())] * 2:
            return False
        # The runner's argv (core/child_argv.py): the module, then the job's folder as the very next item, compared by
        # the folder's name (the job id), not its full path: the same folder may be spelled differently.
        module = RUNNER_MODULE.encode()
        return any(
            a == module and i + 1 < len(argv) and os.path.basename(argv[i + 1].rstrip(b"/")) == self.id.encode()
            for i, a in enumerate(argv)
        )

    def state(self) -> str:
        """running | finished (exit 0) | failed (non-zero) | cancelled (130) | died (killed, no status)."""
        st = self.exit_status()
        if st is not None:
            code = st.get("exit_code")
            return "finished" if code == 0 else ("cancelled" if code == 130 else "failed")
        return "running" if self.alive() else "died"

    def to_dict(self) -> dict[str, Any]:
        st = self.exit_status() or {}
        return {
            "id": self.id,
            "state": self.state(),
            "command": "workbench " + shlex.join(self.argv),
            "pid": self.pid,
            "started_at": self.started_at,
            "ended_at": st.get("ended_at"),
            "exit_code": st.get("exit_code"),
            "result_ids": st.get("result_ids", []),
            "dir": str(self.dir),
        }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _new_job_dir() -> tuple[str, Path]:
    """A new, empty, private job folder (0700) in the private jobs folder and its id. Raises StorageError."""
    root = ensure_private_dir(paths.jobs_dir(), "jobs folder")
    while True:
        job_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
        try:
            return job_id, make_private_dir(root / job_id)
        except FileExistsError:
            continue  # the same second and the same 24 random bits: draw again, never share a folder


def start(argv: list[str], *, env: dict[str, str] | None = None) -> Job:
    """Start ``workbench <argv>`` as a detached job and return its record. The job's folder is 0700 and its files
    0600; its runner starts in that folder with the user's folder off its ``sys.path`` (core/child_argv.py) and
    changes to the current folder (recorded as ``cwd``) once started, for relative paths in ``argv``.

    Raises:
        StorageError: the jobs folder cannot be written, or belongs to another user.
    """
    job_id, d = _new_job_dir()
    record = {"id": job_id, "argv": list(argv), "pid": None, "started_at": _now(), "cwd": os.getcwd()}
    write_text_atomic(d / "job.json", json.dumps(record), private=True)
    child_env = dict(os.environ if env is None else env)
    try:
        out, err = open_private_append(d / "stdout", exclusive=True), open_private_append(d / "stderr", exclusive=True)
    except OSError as exc:
        raise StorageError(
            f"cannot create the output files of job {job_id} in {d}: {exc.strerror}",
            hint="free disk space, and check that the jobs folder (under the workbench data folder, or "
            "WORKBENCH_HOME) is writable",
        ) from None
    try:
        proc = spawn(
            RUNNER_MODULE, str(d), cwd=d, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=child_env,
            start_new_session=True,
        )  # fmt: skip
    finally:
        os.close(out)
        os.close(err)
    record["pid"] = proc.pid
    write_text_atomic(d / "job.json", json.dumps(record), private=True)
    return load(d)


def load(d: Path) -> Job:
    try:
        rec = json.loads((Path(d) / "job.json").read_text())
    except (OSError, ValueError) as exc:
        raise WorkbenchError(
            f"job record {d}/job.json is unreadable: {exc}",
            hint=f"remove the broken folder {d} (`workbench jobs` lists the jobs still readable) and start the job "
            "again",
        ) from None
    return _job(Path(d), rec)


def _job(d: Path, rec: dict[str, Any]) -> Job:
    return Job(rec["id"], d, tuple(rec["argv"]), rec.get("pid"), rec["started_at"], rec.get("cwd", ""))


def check_job_folder(d: Path) -> Job:
    """The job in folder ``d``, for its runner to run: the folder and its ``job.json`` must be this process's own
    (its effective uid), not symbolic links, and not writable by group or others — else someone else chose the
    command this process is about to run. ``job.json`` is checked and read through one descriptor (no swap between).

    Raises:
        StorageError: naming the folder or file and what is wrong with it.
        WorkbenchError: ``job.json`` is unreadable.
    """
    hint = "jobs are started by `workbench`; start it again (`workbench jobs` lists yours)"
    try:
        st = os.lstat(d)
    except OSError as exc:
        raise StorageError(f"refusing to run job folder {d}: {exc.strerror}", hint=hint) from None
    reason = unsafe_reason(st) or (None if stat.S_ISDIR(st.st_mode) else "is not a folder")
    if reason:
        raise StorageError(f"refusing to run job folder {d}: it {reason}", hint=hint)
    path = Path(d) / "job.json"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        what = "it is a symbolic link" if os.path.islink(path) else exc.strerror
        raise StorageError(f"refusing to run job record {path}: {what}", hint=hint) from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        reason = unsafe_reason(st) or (None if stat.S_ISREG(st.st_mode) else "is not a regular file")
        if reason:
            raise StorageError(f"refusing to run job record {path}: it {reason}", hint=hint)
        try:
            rec = json.loads(fh.read())
            return _job(Path(d), rec)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WorkbenchError(f"job record {path} is unreadable: {exc}", hint=hint) from None


def get(job_id: str) -> Job:
    """The job whose id is ``job_id`` (or the one job whose id contains it).

    Raises:
        UsageError: ``job_id`` is not a plain job id (``../x``, ``/etc``, ``a/b``, ``.``, empty, a glob pattern), or
            there is no such job (or more than one holds it).
    """
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
        raise UsageError(
            f"{job_id!r} is not a job id: ids are letters, digits, '-' and '_' (e.g. 20260101-120000-1a2b3c)",
            hint="`workbench jobs` lists the jobs",
        )
    d = paths.jobs_dir() / job_id
    if not (d / "job.json").is_file():
        matches = (
            [p for p in paths.jobs_dir().glob(f"*{job_id}*") if (p / "job.json").is_file()]
            if paths.jobs_dir().is_dir()
            else []
        )
        if len(matches) == 1:
            return load(matches[0])
        raise UsageError(f"no job {job_id!r}", hint="`workbench jobs` lists the jobs")
    return load(d)


def list_jobs(limit: int = 50) -> list[Job]:
    """The newest ``limit`` jobs whose runner was started (a record without a pid yet is left out), newest first."""
    root = paths.jobs_dir()
    if not root.is_dir():
        return []

    def started(d: Path) -> tuple[str, int]:
        # Ids start with the second the job started; within one second the job.json write time orders them.
        try:
            return d.name[:15], (d / "job.json").stat().st_mtime_ns
        except OSError:
            return d.name[:15], 0

    out = []
    for d in sorted((d for d in root.iterdir() if (d / "job.json").is_file()), key=started, reverse=True):
        try:
            job = load(d)
        except WorkbenchError:
            continue
        if job.pid is None:
            continue  # being started: `start` records the pid once the runner exists (until then it would read "died")
        out.append(job)
        if len(out) >= limit:
            break
    return out


def status_record(exit_code: int, result_ids: list[int]) -> bytes:
    """The content of a job's ``status.json``: its exit code, the time it ended and its stored result ids."""
    return json.dumps({"exit_code": exit_code, "ended_at": _now(), "result_ids": result_ids}).encode()


def finish(job_dir: Path, exit_code: int, result_ids: list[int]) -> None:
    """Called by the job process at its end: the status record, atomically (0600)."""
    write_bytes_atomic(Path(job_dir) / "status.json", status_record(exit_code, result_ids), private=True)


def record_result(job_dir: Path, result_id: int) -> None:
    """Inside a job, remember a stored result id in the job's folder (so `workbench jobs` can point to it).
    The folder is the one the job's process was given as its argument (jobrunner) and carries in its request.
    The file is 0600; a symbolic link in its place is refused (OSError), never followed."""
    fd = open_private_append(Path(job_dir) / "results")
    try:
        os.write(fd, f"{result_id}\n".encode())
    finally:
        os.close(fd)


def result_ids(job_dir: Path) -> list[int]:
    try:
        return [int(x) for x in (Path(job_dir) / "results").read_text().split()]
    except (OSError, ValueError):
        return []


#: Most bytes of a job's events log one :func:`read_events` call reads: a face re-attaching to an hour-long job
#: replays it in pieces of this size (a few MB of Python objects each), never the whole file at once.
EVENTS_READ_BYTES = 4 << 20


def read_events(job: Job, offset: int = 0, max_bytes: int = EVENTS_READ_BYTES) -> tuple[list, int]:
    """The benchmark events the job has streamed since byte ``offset`` (typed, see bench/events.py), at most
    ``max_bytes`` of them, and the new offset. A face re-attaching to a running job calls this repeatedly to replay
    and then follow its stream (an unchanged offset means it has caught up); a partly written last line is left for
    the next call. A line longer than ``max_bytes`` (never written by us) is skipped."""
    from workbench.core.bench import events as ev

    path = job.dir / "events.jsonl"
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read(max_bytes)
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1
    if end == 0 and len(data) == max_bytes:
        return [], offset + len(data)  # one line longer than a whole read: not an event of ours, skip it
    out = []
    for line in data[:end].splitlines():
        if line.strip():
            try:
                out.append(ev.decode(line))
            except ValueError:
                continue
    return out, offset + end


def cancel(job: Job, sig: int = signal.SIGINT) -> bool:
    """Signal the job's whole process group (the job and its benchmark/build children), only while the job runs:
    an ended job's pid may belong to another process (and its group to another session) by now.

    A job is signalled only when ``/proc`` shows its pid as its runner, a process of our uid
    (:meth:`Job.runner_is_ours`), leading its own process group, and the job has no exit status: never a pid that
    another process (ours or another user's) took over; never anything where there is no ``/proc`` to tell.

    Returns:
        True when the signal was sent; False when the job was not running (or the group was already gone).
    """
    if job.pid is None or job.exit_status() is not None or job.runner_is_ours() is not True:
        return False
    try:
        if os.getpgid(job.pid) != job.pid:
            return False  # the runner leads its own group (setsid at start); anything else is not a job of ours
        os.killpg(job.pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


# --- a request as the command line of a job ----------------------------------------------------------------------
# The CLI's parser is the one contract between a face and a job: a face that starts a job turns its JobRequest into
# the argv of `workbench <command>` (argv_for), and the job's process parses it like any command line
# (cli/common.request_from_args). tests/cli/test_job_argv.py checks request -> argv -> parse -> the same request.

JOB_COMMANDS = ("calibrate", "build", "bench", "run", "sweep")
_MODEL_FIELDS = ("profile", "spec", "trust_model", "backend", "export_opset", "export_dynamic_batch", "input_shapes")
_CALIB_FIELDS = ("calib", "method", "calib_samples")
_BENCH_FIELDS = (
    "eval", "iterations", "duration_s", "until_stable", "stable_target", "stable_rel_width", "max_duration_s",
    "warmup_ms", "warmup_iterations", "threads", "batch", "shapes", "symbols", "seed", "bench_dataset", "telemetry",
    "force_build", "profile_layers", "store", "export_times", "cuda_graph", "include_transfers", "streams", "repeat",
    "idle_s", "subtract_idle", "settle", "settle_target_c",
)  # fmt: skip
# Which request fields each command's parser takes (besides the model); calibrate always quantizes to INT8.
COMMAND_FIELDS: dict[str, tuple[str, ...]] = {
    "calibrate": (*_MODEL_FIELDS, *_CALIB_FIELDS, "eval"),
    "build": (*_MODEL_FIELDS, "precision", *_CALIB_FIELDS, "force_build"),
    "bench": (*_MODEL_FIELDS, "precision", *_CALIB_FIELDS, *_BENCH_FIELDS),
    "run": (*_MODEL_FIELDS, *_CALIB_FIELDS, *_BENCH_FIELDS),
    "sweep": (*_MODEL_FIELDS, "precision", *_CALIB_FIELDS, "iterations", "duration_s", "telemetry", "store"),
}


def _num(value: float | int) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _dims(dims) -> str:
    return "x".join(str(int(d)) for d in dims) if len(dims) else "scalar"


def _options(request: Any, name: str) -> list[str]:
    """The options that set request field ``name`` to its value (nothing when it is the default)."""
    from workbench.core.job import JobRequest

    value = getattr(request, name)
    if name in ("shapes", "symbols"):  # one --shapes option holds both
        if name == "symbols" or not (request.shapes or request.symbols):
            return []
        items = [f"{k}:{_dims(v)}" for k, v in request.shapes.items()]
        items += [f"{k}={int(v)}" for k, v in request.symbols.items()]
        return ["--shapes", ",".join(items)]
    if value == getattr(JobRequest(), name):
        return []
    flags = {
        "profile": "--profile", "spec": "--spec", "backend": "--backend", "export_opset": "--opset",
        "precision": "--precision", "calib": "--calib", "method": "--method", "calib_samples": "--calib-samples",
        "eval": "--eval", "iterations": "--iterations", "duration_s": "--duration", "stable_rel_width": "--rel-width",
        "max_duration_s": "--max-duration", "warmup_ms": "--warmup-ms", "warmup_iterations": "--warmup-iterations",
        "threads": "--threads", "batch": "--batch", "seed": "--seed", "bench_dataset": "--inputs",
        "telemetry": "--telemetry", "export_times": "--export-times", "streams": "--streams", "repeat": "--repeat",
        "idle_s": "--idle-s", "settle_target_c": "--settle-target",
    }  # fmt: skip
    switches = {
        "trust_model": "--trust-model", "export_dynamic_batch": "--dynamic-batch", "until_stable": "--until-stable",
        "force_build": "--rebuild", "profile_layers": "--profile-layers", "subtract_idle": "--subtract-idle",
        "settle": "--settle",
    }  # fmt: skip
    if name in switches and value is True:
        return [switches[name]]
    if name in flags and value is not None:
        return [flags[name], _num(value) if isinstance(value, (int, float)) else str(value)]
    if name == "stable_target":
        return ["--target", f"p{_num(value)}"]
    if name == "store" and value is False:
        return ["--no-store"]
    if name == "cuda_graph" and value is True:
        return ["--cuda-graph"]
    if name == "include_transfers" and value is False:
        return ["--no-transfers"]
    if name == "input_shapes":
        return [a for k, dims in value.items() for a in ("--input-shape", f"{k}:{_dims(dims)}")]
    raise UsageError(
        f"a job cannot carry {name}={value!r}: `workbench` has no option that sets it",
        hint="leave that setting at its default for a background job, or run the command in the foreground "
        "(--foreground)",
    )


def argv_for(request: Any, command: str, extra: tuple[str, ...] = ()) -> list[str]:
    """The argv of ``workbench <command>`` that asks for ``request`` (a core.job.JobRequest): the model first, then
    an option for every field the command takes that differs from the default, then ``extra`` (``--json`` …).

    Raises:
        UsageError: an unknown command, a field the command line cannot express (``settle_timeout_s``,
            ``cuda_graph=False``, ``include_transfers=True``), or ``request.job_dir`` set (a job sets its own).
    """
    from workbench.core.job import JobRequest

    if command not in COMMAND_FIELDS:
        raise UsageError(
            f"{command!r} is not a job command ({', '.join(JOB_COMMANDS)})",
            hint="a bug in the caller (the TUI builds these command lines): report it with the action that started "
            "the job",
        )
    if request.job_dir is not None:
        raise UsageError(
            "a request with job_dir is already inside a job",
            hint="a bug in the caller (the TUI builds these command lines): report it with the action that started "
            "the job",
        )
    if request.settle_timeout_s != JobRequest().settle_timeout_s:
        raise UsageError(
            "a job cannot carry settle_timeout_s: `workbench` has no option that sets it",
            hint="leave settle_timeout_s at its default for a background job, or run the command in the foreground "
            "(--foreground)",
        )
    argv = [command]
    if request.model:
        model = str(request.model)
        argv.append(("./" + model) if model.startswith("-") else model)
    for name in COMMAND_FIELDS[command]:
        argv.extend(_options(request, name))
    return [*argv, *extra]


# --- what a job resolved to, its outcome and its progress: files a face reads back ---------------------------------


@dataclass(frozen=True)
class JobSettings:
    """What a job's request resolved to (written by ``workflow.prepare`` inside the job, ``settings.json``): what a
    face shows about a job it follows instead of its own settings. ``duration_s``/``iterations``: the benchmark
    length (s / count; the profile's when the request left it); ``threads`` 0 = the runtime's default."""

    model: str
    profile: str
    backend: str
    precision: str
    duration_s: float | None
    iterations: int | None
    threads: int
    batch: int

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobSettings:
        return cls(
            model=str(d.get("model", "?")),
            profile=str(d.get("profile", "?")),
            backend=str(d.get("backend", "")),
            precision=str(d.get("precision", "fp32")),
            duration_s=d.get("duration_s"),
            iterations=d.get("iterations"),
            threads=int(d.get("threads") or 0),
            batch=int(d.get("batch") or 1),
        )


def write_settings(job_dir: Path, settings: JobSettings) -> None:
    """Inside a job: record what its request resolved to (atomically, 0600)."""
    write_text_atomic(Path(job_dir) / "settings.json", json.dumps(settings.to_dict()), private=True)


def read_settings(job: Job) -> JobSettings | None:
    """The job's resolved settings, or None until its process has prepared the job (about a second)."""
    try:
        return JobSettings.from_dict(json.loads((job.dir / "settings.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_outcome(job_dir: Path, doc: dict[str, Any]) -> None:
    """Inside a job: its typed outcome as JSON (``outcome.json``: calibrate's and build's records), atomically (0600)."""
    write_text_atomic(Path(job_dir) / "outcome.json", json.dumps(doc, default=str), private=True)


def read_outcome(job: Job) -> dict[str, Any] | None:
    """The outcome the job wrote at its end, or None (still running, failed, or a command that writes none)."""
    try:
        doc = json.loads((job.dir / "outcome.json").read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def append_progress(job_dir: Path, progress: Any) -> None:
    """Inside a job: one ``Progress`` (core/progress.py) as a ``StepProgress`` line of the job's events.jsonl, where
    a following face reads it (``read_events``)."""
    from workbench.core.bench import events as ev

    append_event(job_dir, ev.StepProgress(progress.step, progress.message, progress.done, progress.total))


def append_event(job_dir: Path, event: Any) -> None:
    """Inside a job: one event (core/bench/events.py) as a line of its events.jsonl: one write of one whole line,
    appended (O_APPEND), so it never interleaves with the benchmark's own lines."""
    from workbench.core.bench import events as ev

    line = ev.encode(event)
    try:
        fd = open_private_append(Path(job_dir) / "events.jsonl")
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError:
        pass  # progress is a courtesy: never fail the job over it


def error_text(job: Job) -> tuple[str, str]:
    """(message, hint) of a failed job: its last ``error:``/``internal error:`` line on stderr and the ``hint:`` after
    it, else the last line it printed; ("", "") when it printed nothing."""
    try:
        lines = [ln.rstrip() for ln in job.stderr_path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "", ""
    message, hint = "", ""
    for i, ln in enumerate(lines):
        if ln.startswith(("error: ", "internal error: ")):
            message = ln.split(": ", 1)[1] if ln.startswith("error: ") else ln
            hint = ""
            if i + 1 < len(lines) and lines[i + 1].startswith("hint: "):
                hint = lines[i + 1][len("hint: ") :]
    if not message and lines:
        message = lines[-1]
    return message, hint
