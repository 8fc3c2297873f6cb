"""trtexec from its fixed install paths (issue 15): /usr/bin/trtexec (TensorRT >= 10.15) first, then
/usr/src/tensorrt/bin/trtexec (older TensorRT, JetPack 4-6), PATH only when neither exists. Fake roots through
WORKBENCH_TOOLS_ROOT (workbench.core.hw.tools.ROOT_ENV)."""

from __future__ import annotations

import os
from pathlib import Path

from workbench.core.hw import tools


def _exe(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\necho trtexec\n")
    path.chmod(0o755)
    return path


def test_trtexec_fixed_paths(tmp_path, monkeypatch):
    root = tmp_path / "root"
    root.mkdir()
    monkeypatch.setenv(tools.ROOT_ENV, str(root))
    impostor = _exe(tmp_path / "path" / "trtexec")
    monkeypatch.setenv("PATH", f"{impostor.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    assert tools.find_tool("trtexec") == str(impostor)  # no fixed path present: PATH decides

    old = _exe(root / "usr/src/tensorrt/bin/trtexec")  # TensorRT <= 10.14 (libnvinfer-bin), JetPack 4-6
    assert tools.find_tool("trtexec") == str(old)

    new = _exe(root / "usr/bin/trtexec")  # TensorRT >= 10.15
    assert tools.find_tool("trtexec") == str(new)

    new.chmod(0o644)  # not executable: not taken
    assert tools.find_tool("trtexec") == str(old)
