"""The process of a detached job: runs one ``workbench`` command in-process and records its end.

Started by ``workbench.core.jobs.start`` in its own session, stdin /dev/null, output to the job's files, with the
job's folder as its only argument: the command gets it as ``job_dir`` (its event stream and stored result ids go
there), never through the environment.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path


def main() -> int:
    from workbench.core import jobs

    job_dir = Path(sys.argv[1])
    job = jobs.load(job_dir)
    # Belt and braces: we are in our own session already, but never die of a hang-up.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # A job started from a backgrounded shell command (`workbench bench ... &`) inherits SIGINT ignored;
    # cancelling (Ctrl-C in the follower, `workbench jobs cancel`) must still work.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if job.cwd:
        try:
            os.chdir(job.cwd)
        except OSError:
            pass
    from workbench.cli.main import main as cli_main

    code = 1
    try:
        code = cli_main(list(job.argv), job_dir=job_dir)
    except SystemExit as exc:  # argparse errors
        code = exc.code if isinstance(exc.code, int) else 2
    except KeyboardInterrupt:
        code = 130
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        jobs.finish(job_dir, code, jobs.result_ids(job_dir))
    return code


if __name__ == "__main__":
    sys.exit(main())
