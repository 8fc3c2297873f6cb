"""How every child process running our own Python code is started: the user's folder is never importable.

``python -m pkg.mod`` puts the current folder first on ``sys.path``, so a ``json.py``, ``uuid.py`` or ``signal.py``
lying next to a downloaded model would run inside the workbench the moment a child imports that name (issue 18).
Every child of ours — the detached job runner (core/jobs.py), the benchmark child (core/bench/parent.py), the
TensorRT build child (core/backends/tensorrt/build_child.py) — is therefore started by :func:`spawn`, which

- keeps the current folder off ``sys.path``: ``python -P -m MODULE`` on Python >= 3.11 (``-P``, "safe path", added
  in 3.11: https://docs.python.org/3/using/cmdline.html#cmdoption-P); on 3.10 ``python -c BOOTSTRAP MODULE ...``,
  where the bootstrap removes the ``''`` that ``-c`` puts first on ``sys.path`` before it imports anything, then
  runs the module as ``__main__`` with :mod:`runpy`, as ``-m`` would;
- starts the child in a folder of ours: ``cwd`` when the caller names one (a job runs in its own 0700 folder and
  changes to the user's folder only after start-up, for the relative paths of its command line), else
  :func:`child_cwd`. A parent passes absolute paths to children that start in our folder.

Relative paths a user gives still mean what they meant (the job runner changes folder after start-up; the bench and
build parents make their paths absolute), but the user's folder is never on the child's ``sys.path``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# The 3.10 stand-in for -P (3.10 is the oldest Python the project supports, pyproject requires-python). `sys` is
# built in, so importing it reads no file; '' (the current folder) is removed before runpy is imported.
BOOTSTRAP = (
    "import sys\n"
    "if sys.path[:1] == ['']:\n"
    "    del sys.path[0]\n"
    "import runpy\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n"
)

HAS_SAFE_PATH = sys.version_info >= (3, 11)


def python_argv(module: str, *args: str, safe_path_flag: bool = HAS_SAFE_PATH) -> list[str]:
    """The argv that runs ``module`` as ``__main__`` with ``args`` in this interpreter, the current folder never on
    ``sys.path``. ``safe_path_flag``: use ``-P`` (Python >= 3.11); False gives the 3.10 bootstrap (tests run it on
    any version). Either way ``module`` is an argv item of its own, followed by ``args`` (``Job.alive`` relies on
    it when it reads a runner's ``/proc/PID/cmdline``)."""
    if safe_path_flag:
        return [sys.executable, "-P", "-m", module, *args]
    return [sys.executable, "-c", BOOTSTRAP, module, *args]


def child_cwd() -> Path:
    """The folder a child starts in when its parent names none: ``paths.child_dir()``, made private (0700, ours).

    When that folder cannot be made ours (read-only home, another user's folder), ``/``: a folder only root can
    write. Either way it is not the user's folder, and no folder is on a child's ``sys.path`` (:func:`python_argv`).
    """
    from workbench.core import paths
    from workbench.core.errors import StorageError
    from workbench.core.private import ensure_private_dir

    try:
        return ensure_private_dir(paths.child_dir(), "child process folder")
    except StorageError:
        return Path("/")


def spawn(module: str, *args: str, cwd: str | os.PathLike[str] | None = None, **popen: Any) -> subprocess.Popen:
    """Start ``python MODULE ARGS`` (this interpreter) as a child in ``cwd`` (default :func:`child_cwd`), with the
    current folder never importable. ``popen``: ``stdin``/``stdout``/``stderr``/``env``/``start_new_session``/``text``
    … as for :class:`subprocess.Popen`; ``args``, ``executable``, ``shell`` and ``cwd`` are this function's to set.

    Raises:
        TypeError: ``popen`` names one of those four.
        OSError: the interpreter cannot be started.
    """
    taken = {"args", "executable", "shell", "cwd"} & popen.keys()
    if taken:
        raise TypeError(f"spawn() sets {', '.join(sorted(taken))} itself")
    return subprocess.Popen(python_argv(module, *args), cwd=str(cwd) if cwd is not None else str(child_cwd()), **popen)
