"""Issue 18, item 11: a benchmark child that prints a lot on stderr (a runtime's verbose log) never blocks.

The parent used to read the child's stderr only after the run: past 64 KiB (a Linux pipe) the child blocked in
write(2) and the benchmark never ended. The child here is the real one, started through a stand-in module that first
writes 2 MiB to stderr (as a runtime's verbose log would), found on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from workbench.core.bench.config import BenchConfig
from workbench.core.bench.parent import STDERR_TAIL_BYTES, run_child
from workbench.core.errors import BenchmarkError

NOISE_BYTES = 2 << 20  # 2 MiB: 32 times what a pipe holds

NOISY = """\
import os, runpy, sys
line = b"runtime log line " + b"." * 1006 + b"\\n"  # 1 KiB
for _ in range({lines}):
    view = memoryview(line)
    while view:
        view = view[os.write(2, view):]
{tail}
"""
THEN_RUN = 'runpy.run_module("workbench.core.bench.child", run_name="__main__")'
THEN_DIE = 'os.write(2, b"the last words of the child\\n"); sys.exit(3)'


@pytest.fixture
def noisy_child(tmp_path, monkeypatch):
    """Name of a module (on PYTHONPATH for the child) that writes 2 MiB to stderr, then does ``tail``."""

    def make(name: str, tail: str) -> str:
        lib = tmp_path / "lib"
        lib.mkdir(exist_ok=True)
        (lib / f"{name}.py").write_text(NOISY.format(lines=NOISE_BYTES // 1024, tail=tail))
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(lib), os.environ.get("PYTHONPATH", "")]))
        return name

    return make


def _run_bounded(**kwargs):
    """run_child in a thread; a hang (the bug) fails after a bound instead of blocking the test run forever."""
    cancel = threading.Event()
    box: dict = {}

    def target() -> None:
        try:
            box["out"] = run_child(cancel=cancel, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["exc"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(120)  # bounds a hang only; the run itself takes about a second
    if t.is_alive():
        cancel.set()  # kill the stuck child
        t.join(60)
        pytest.fail("the benchmark never finished: the child blocked writing its stderr")
    if "exc" in box:
        raise box["exc"]
    return box["out"]


def test_child_writing_megabytes_to_stderr_still_finishes(noisy_child, tiny_matmul_model: Path):
    module = noisy_child("noisy_bench_child", THEN_RUN)
    out = _run_bounded(
        cfg=BenchConfig(artifact_path=str(tiny_matmul_model), iterations=50, warmup_ms=0), child_module=module
    )
    assert out.iterations == 50 and len(out.latencies_ns) == 50


def test_the_end_of_a_long_stderr_names_the_failure(noisy_child, tiny_matmul_model: Path):
    module = noisy_child("dying_bench_child", THEN_DIE)
    with pytest.raises(BenchmarkError, match="the last words of the child") as info:
        _run_bounded(cfg=BenchConfig(artifact_path=str(tiny_matmul_model), iterations=5), child_module=module)
    assert len(str(info.value)) < STDERR_TAIL_BYTES  # the message carries its last line, not megabytes
