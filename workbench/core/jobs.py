"""Detached jobs: long work that survives a dropped SSH session (issue: reliability, "SSH drop").

A job is a folder under ``paths.jobs_dir()/<id>/``:

- ``job.json``     argv, pid, process group, start time, cwd (written atomically before the process runs)
- ``stdout``/``stderr``  everything the job prints (the foreground follower copies them to the terminal)
- ``status.json``  exit code and end time, written atomically when the job ends

The job process is started in its own session (``start_new_session=True``: setsid(2)), with stdin from
/dev/null and output to the files above, so the terminal's SIGHUP never reaches it; the follower in the
terminal can die and the job still finishes and stores its result. The module that runs the job is
passed by name, so this core module never imports a face.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.errors import UsageError, WorkbenchError
from workbench.core.fsutil import write_text_atomic

RUNNER_MODULE = "workbench.cli.jobrunner"


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
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        # A zombie (our own child, not yet reaped) is not running.
        try:
            with open(f"/proc/{self.pid}/stat") as fh:
                return fh.read().split(")")[-1].split()[0] != "Z"
        except OSError:
            return True

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
            "command": "workbench " + " ".join(self.argv),
            "pid": self.pid,
            "started_at": self.started_at,
            "ended_at": st.get("ended_at"),
            "exit_code": st.get("exit_code"),
            "result_ids": st.get("result_ids", []),
            "dir": str(self.dir),
        }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def start(argv: list[str], *, env: dict[str, str] | None = None) -> Job:
    """Start ``workbench <argv>`` as a detached job and return its record.

    Raises:
        StorageError: the jobs folder cannot be written.
    """
    job_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
    d = paths.jobs_dir() / job_id
    d.mkdir(parents=True, exist_ok=True)
    record = {"id": job_id, "argv": list(argv), "pid": None, "started_at": _now(), "cwd": os.getcwd()}
    write_text_atomic(d / "job.json", json.dumps(record))
    child_env = dict(os.environ if env is None else env)
    with open(d / "stdout", "wb") as out, open(d / "stderr", "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", RUNNER_MODULE, str(d)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=child_env,
            start_new_session=True,
        )
    record["pid"] = proc.pid
    write_text_atomic(d / "job.json", json.dumps(record))
    return load(d)


def load(d: Path) -> Job:
    try:
        rec = json.loads((Path(d) / "job.json").read_text())
    except (OSError, ValueError) as exc:
        raise WorkbenchError(f"job record {d}/job.json is unreadable: {exc}") from None
    return Job(rec["id"], Path(d), tuple(rec["argv"]), rec.get("pid"), rec["started_at"], rec.get("cwd", ""))


def get(job_id: str) -> Job:
    """Raises WorkbenchError naming the id when there is no such job."""
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
    root = paths.jobs_dir()
    if not root.is_dir():
        return []
    out = []
    for d in sorted(root.iterdir(), reverse=True):
        if (d / "job.json").is_file():
            try:
                out.append(load(d))
            except WorkbenchError:
                continue
        if len(out) >= limit:
            break
    return out


def finish(job_dir: Path, exit_code: int, result_ids: list[int]) -> None:
    """Called by the job process at its end: the status record, atomically."""
    write_text_atomic(
        Path(job_dir) / "status.json",
        json.dumps({"exit_code": exit_code, "ended_at": _now(), "result_ids": result_ids}),
    )


def record_result(job_dir: Path, result_id: int) -> None:
    """Inside a job, remember a stored result id in the job's folder (so `workbench jobs` can point to it).
    The folder is the one the job's process was given as its argument (jobrunner) and carries in its request."""
    with open(Path(job_dir) / "results", "a") as fh:
        fh.write(f"{result_id}\n")


def result_ids(job_dir: Path) -> list[int]:
    try:
        return [int(x) for x in (Path(job_dir) / "results").read_text().split()]
    except (OSError, ValueError):
        return []


def read_events(job: Job, offset: int = 0) -> tuple[list, int]:
    """The benchmark events the job has streamed since byte ``offset`` (typed, see bench/events.py), and the
    new offset. A face re-attaching to a running job calls this repeatedly to replay and then follow its stream;
    a partly written last line is left for the next call."""
    from workbench.core.bench import events as ev

    path = job.dir / "events.jsonl"
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1
    out = []
    for line in data[:end].splitlines():
        if line.strip():
            try:
                out.append(ev.decode(line))
            except ValueError:
                continue
    return out, offset + end


def cancel(job: Job, sig: int = signal.SIGINT) -> None:
    """Signal the job's whole process group (the job and its benchmark/build children)."""
    if job.pid is None:
        return
    try:
        os.killpg(job.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
