"""Follow a detached job from the terminal: copy its output as it comes, return its exit code.

If the terminal goes away (SIGHUP from a dropped SSH session or a killed tmux), only this follower dies;
the job goes on in its own session and stores its result. Ctrl-C here cancels the job itself.

The job's output files hold what its processes wrote (a benchmark child or a runtime can write straight to the file
descriptor, past the job's own escaping), so what is copied is decoded and escaped again (``textsafe.block``):
no control character from a model or a log reaches this terminal.
"""

from __future__ import annotations

import codecs
import signal
import sys
import time

from workbench.core.textsafe import block


def follow(job, *, poll_s: float = 0.05, from_start: bool = True) -> int:
    from workbench.core import jobs

    cancelled = [False]

    def on_sigint(signum, frame):  # noqa: ARG001 - signal handler signature
        if not cancelled[0]:
            cancelled[0] = True
            print(f"\ncancelling job {job.id} ...", file=sys.stderr)
            jobs.cancel(job, signal.SIGINT)

    old = signal.signal(signal.SIGINT, on_sigint)
    streams = [(job.stdout_path, sys.stdout), (job.stderr_path, sys.stderr)]
    handles = []
    try:
        for path, target in streams:
            fh = open(path, "rb")  # noqa: SIM115 - closed in finally
            if not from_start:
                fh.seek(0, 2)
            # Incremental: a UTF-8 character split across two reads is decoded whole; bytes that are not UTF-8
            # become \xNN (backslashreplace), never raw bytes on the terminal.
            handles.append((fh, target, codecs.getincrementaldecoder("utf-8")(errors="backslashreplace")))
        while True:
            ended = job.exit_status() is not None or not job.alive()
            moved = False
            for fh, target, decoder in handles:
                chunk = fh.read()
                if chunk:
                    moved = True
                    target.write(block(decoder.decode(chunk)))
                    target.flush()
            if ended and not moved:
                break
            if not moved:
                time.sleep(poll_s)
    finally:
        for fh, _, _ in handles:
            fh.close()
        signal.signal(signal.SIGINT, old)
    status = job.exit_status()
    if status is None:
        print(f"error: job {job.id} ended without a status (killed?); its output is in {job.dir}", file=sys.stderr)
        return 1
    return int(status.get("exit_code", 1))
