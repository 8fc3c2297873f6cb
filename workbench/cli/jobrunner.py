"""The process of a detached job: runs one ``workbench`` command in-process and records its end.

Started by ``workbench.core.jobs.start`` in its own session, stdin /dev/null, output to the job's files, with the
job's folder as its only argument: the command gets it as ``job_dir`` (its event stream and stored result ids go
there), never through the environment. It starts in the job's folder with the user's folder off ``sys.path``
(core/child_argv.py), refuses a job folder or ``job.json`` that is not its own (``jobs.check_job_folder``), and only
then changes to the folder the job was started from, for the relative paths of its command line.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path


def _refuse(job_dir: Path, err: BaseException) -> int:
    """A job this process must not run: the reason on the job's stderr (``error:``/``hint:``, as every command
    prints), and a failed status where the folder takes one (it may not be ours to write)."""
    from workbench.core import jobs
    from workbench.core.errors import WorkbenchError
    from workbench.core.private import replace_in_folder

    print(f"error: {err}", file=sys.stderr)
    if getattr(err, "hint", None):
        print(f"hint: {err.hint}", file=sys.stderr)
    code = err.exit_code if isinstance(err, WorkbenchError) else 1
    try:
        replace_in_folder(job_dir, "status.json", jobs.status_record(code, []))
    except OSError:
        pass  # a folder that is a link, or not ours to write: the reason is on stderr, the job shows as died
    return code


def main() -> int:
    from workbench.core import jobs
    from workbench.core.errors import WorkbenchError

    job_dir = Path(sys.argv[1])
    try:
        job = jobs.check_job_folder(job_dir)
    except WorkbenchError as err:
        return _refuse(job_dir, err)
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
