"""Where the board's system tools are: the fixed path NVIDIA installs them at first, ``PATH`` only after.

``nvpmodel`` runs privileged (``sudo -n``) and ``tegrastats``/``nvidia-smi``/``jetson_clocks`` read or set the
hardware, often as root: a ``PATH`` holding a folder someone else can write (``~/.local/bin``, a venv, ``.``) must not
decide which program that is. So each tool is taken from its fixed install path when that exists, and found on
``PATH`` only where it does not (a non-L4T install, a test's fake tool).

Fixed paths (:data:`FIXED_PATHS`): ``/usr/sbin/nvpmodel``, ``/usr/bin/jetson_clocks`` and ``/usr/bin/tegrastats`` are
where the L4T ``nvidia-l4t-tools``/``nvidia-l4t-core`` packages install them (jetson_clocks itself runs
``/usr/sbin/nvpmodel``); ``/usr/bin/nvidia-smi`` is where the NVIDIA driver packages install it. ``rm`` is
``/usr/bin/rm`` on merged-/usr systems (Ubuntu 20.04+, JetPack 5/6) and ``/bin/rm`` before (JetPack 4); ``sudo`` is
``/usr/bin/sudo`` (Debian/Ubuntu's sudo package). :func:`sudo_argv` starts every privileged command with it.
``trtexec`` is ``/usr/bin/trtexec`` from TensorRT 10.15 on (issue 15: its Debian package installs it there; we did
not find this in the TensorRT install guides we read, which only say that Debian/RPM, tar and container installs
carry trtexec and pip wheels do not) and ``/usr/src/tensorrt/bin/trtexec`` before (JetPack 4–6 and the TensorRT ≤ 10.x
``libnvinfer-bin`` package: the paths in shared fixtures trtexec/*.log, e.g. TensorRT 8.0.1 on a Nano and 8.5.2 on a
Xavier NX, and NVIDIA/TensorRT issue 3912 on JetPack 5). ``/usr/bin`` is looked at first: where both exist, the newer
install is the one in ``/usr/bin``.

Tests only: ``WORKBENCH_TOOLS_ROOT`` (:data:`ROOT_ENV`) names the folder the fixed paths are looked up under instead
of ``/`` — a temporary "root" holding ``usr/sbin/nvpmodel`` etc., or an empty one so that a test's fake tools on
PATH are used even on a Jetson (tests/conftest.py sets it for every test). It only moves where the fixed paths are
looked for; a process whose environment someone else sets is theirs already (``LD_PRELOAD``, ``PYTHONPATH``), so it
opens nothing that ``PATH`` did not — what this module guards against is a ``PATH`` that merely *holds* a folder
others can write.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

FIXED_PATHS: dict[str, tuple[str, ...]] = {
    "nvpmodel": ("/usr/sbin/nvpmodel",),
    "jetson_clocks": ("/usr/bin/jetson_clocks",),
    "tegrastats": ("/usr/bin/tegrastats",),
    "nvidia-smi": ("/usr/bin/nvidia-smi",),
    "rm": ("/usr/bin/rm", "/bin/rm"),
    "sudo": ("/usr/bin/sudo", "/bin/sudo"),
    "trtexec": ("/usr/bin/trtexec", "/usr/src/tensorrt/bin/trtexec"),
}

ROOT_ENV = "WORKBENCH_TOOLS_ROOT"


def fixed_path(name: str) -> str | None:
    """The first of ``name``'s :data:`FIXED_PATHS` (under ``/``, or :data:`ROOT_ENV` in tests) that is an executable
    file, else None."""
    root = Path(os.environ.get(ROOT_ENV) or "/")
    for p in FIXED_PATHS.get(name, ()):
        full = root / p.lstrip("/")
        if full.is_file() and os.access(full, os.X_OK):
            return str(full)
    return None


def find_tool(name: str) -> str | None:
    """Absolute path of the system tool ``name``: its fixed install path when present (even if ``PATH`` names
    another first), else ``shutil.which(name)``, else None."""
    return fixed_path(name) or shutil.which(name)


def sudo_argv() -> list[str]:
    """``[sudo, "-n"]`` with sudo from its fixed path when present (a ``sudo`` earlier on ``PATH`` would see the
    command and, when it prompts, the user's password), else ``"sudo"`` found on ``PATH`` when it runs."""
    return [fixed_path("sudo") or "sudo", "-n"]
