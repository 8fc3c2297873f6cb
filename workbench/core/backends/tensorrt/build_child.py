"""The TensorRT build runs in a child process, so cancelling a build (minutes on a Jetson) kills it.

Parent side: :func:`run_build_child`. Child side: ``python -m workbench.core.backends.tensorrt.build_child`` reads
one JSON request on stdin and writes JSON lines on the file descriptor that was stdout at start
(``{"progress": phase, "done": n, "total": n}``, then ``{"report": {...}}`` or ``{"error": type, "message", "hint"}``);
fd 1 is pointed at stderr so TensorRT's own output cannot corrupt the stream (the benchmark child does the same).
The child starts in a folder of ours with the user's folder off its ``sys.path`` (core/child_argv.py), so every path
in the request is absolute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.core import errors as E
from workbench.core.child_argv import spawn

CHILD_MODULE = "workbench.core.backends.tensorrt.build_child"


def _abs(path: Path | None) -> str | None:
    return os.path.abspath(path) if path else None


def run_build_child(
    onnx_path: Path,
    settings: Any,
    out_path: Path,
    *,
    timing_cache_path: Path | None = None,
    calib_dir: Path | None = None,
    calib_limit: int | None = None,
    calib_cache_path: Path | None = None,
    on_progress: Callable[[str, int | None, int | None], None] | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Build in a child process; returns the build report.

    ``calib_dir``/``calib_limit``/``calib_cache_path``: the dataset folder the legacy calibrator streams (opened in
    the child with the core's dataset reader), at most ``calib_limit`` samples, and its cache file.

    Raises:
        Cancelled: ``cancel`` was set (the child is killed).
        the child's WorkbenchError (same class and message), or BuildError when it dies without one.
    """
    request = {
        "onnx": _abs(onnx_path),
        "settings": settings.to_dict(),
        "out": _abs(out_path),
        "timing_cache": _abs(timing_cache_path),
        "calib_dir": _abs(calib_dir),
        "calib_limit": calib_limit,
        "calib_cache": _abs(calib_cache_path),
    }
    proc = spawn(CHILD_MODULE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(request))
    proc.stdin.close()
    watcher = None
    if cancel is not None:

        def watch() -> None:
            while proc.poll() is None:
                if cancel.wait(0.2):
                    proc.kill()
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
    report = None
    failure = None
    for line in proc.stdout:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if "progress" in msg and on_progress is not None:
            on_progress(msg["progress"], msg.get("done"), msg.get("total"))
        elif "report" in msg:
            report = msg["report"]
        elif "error" in msg:
            failure = msg
    rc = proc.wait()
    if cancel is not None and cancel.is_set():
        raise E.Cancelled("TensorRT build cancelled; the build process was stopped")
    if failure is not None:
        cls = getattr(E, failure["error"], None)
        if not (isinstance(cls, type) and issubclass(cls, E.WorkbenchError)):
            cls = E.BuildError
        raise cls(failure["message"], hint=failure.get("hint") or None)
    if report is None:
        hint = (
            "the build process was killed (out of memory?): lower [build] workspace_mib or add swap" if rc < 0 else None
        )
        raise E.BuildError(f"the TensorRT build process ended (exit {rc}) without a plan for {onnx_path}", hint=hint)
    return report


def _send(fd: int, obj: dict[str, Any]) -> None:
    data = (json.dumps(obj) + "\n").encode()
    while data:
        n = os.write(fd, data)
        data = data[n:]


def main() -> int:
    event_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        from workbench.core.backends.tensorrt.builder import BuildSettings, build_plan

        req = json.loads(sys.stdin.read())
        settings = BuildSettings.from_dict(req["settings"])
        onnx_path = Path(req["onnx"])
        calib_feeds = None
        if req.get("calib_dir"):

            def calib_feeds():
                from workbench.core.precision.datasets import model_inputs, open_dataset

                ds = open_dataset(Path(req["calib_dir"]), model_inputs(onnx_path), limit=req.get("calib_limit"))
                return ds.iter_feeds()

        report = build_plan(
            onnx_path,
            settings,
            Path(req["out"]),
            timing_cache_path=Path(req["timing_cache"]) if req.get("timing_cache") else None,
            calib_feeds=calib_feeds,
            calib_cache_path=Path(req["calib_cache"]) if req.get("calib_cache") else None,
            on_progress=lambda phase, done, total: _send(event_fd, {"progress": phase, "done": done, "total": total}),
        )
        _send(event_fd, {"report": report})
        return 0
    except E.WorkbenchError as exc:
        _send(event_fd, {"error": type(exc).__name__, "message": str(exc), "hint": exc.hint or ""})
        return 1
    except Exception as exc:  # noqa: BLE001 - reported to the parent as a BuildError
        _send(event_fd, {"error": "BuildError", "message": f"{type(exc).__name__}: {exc}", "hint": ""})
        return 1


if __name__ == "__main__":
    sys.exit(main())
