"""Two builds of the same artifact at once (issue 18 item 13): each works under its own temp name, both succeed, and
the artifact in place loads. Before, both wrote ``<entry>/.<name>.building``: the first rename took the second's file
away and the second build failed (FileNotFoundError) or published a file the first was still writing."""

from __future__ import annotations

import os
import threading

import numpy as np
import onnxruntime as ort

from workbench.core.backends import cache
from workbench.core.backends.base import RunnerSettings
from workbench.core.backends.ort import OrtBackend


def test_two_threads_building_one_artifact_both_succeed(tiny_matmul_model):
    both_started = threading.Barrier(2, timeout=120)
    both_written = threading.Barrier(2, timeout=120)
    source = tiny_matmul_model.read_bytes()
    seen: list[str] = []

    def build_fn(tmp):
        both_started.wait()  # neither has written anything yet: the builds overlap for sure
        seen.append(str(tmp))
        tmp.write_bytes(source)
        both_written.wait()  # both temp files exist before either is renamed into place

    results: dict[int, object] = {}

    def build(i: int) -> None:
        try:
            results[i] = cache.get_or_build(
                backend="onnxruntime", precision="fp32", model_path=tiny_matmul_model, profile_name="p",
                profile_hash="h", versions={"onnxruntime": ort.__version__}, filename="model.onnx", build_fn=build_fn,
            )  # fmt: skip
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=build, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert all(not isinstance(r, BaseException) for r in results.values()), results
    a, b = results[0], results[1]
    assert len(set(seen)) == 2  # two temp names
    assert a.path == b.path and not a.cached and not b.cached
    assert a.path.read_bytes() == source
    assert sorted(os.listdir(a.path.parent)) == ["artifact.json", "model.onnx"]  # both work folders gone
    x = np.ones((2, 16), np.float32)
    with OrtBackend().runner(a.path, RunnerSettings()) as r:
        assert r.infer({"x": x})["y"].shape == (2, 16)
    again = cache.get_or_build(
        backend="onnxruntime", precision="fp32", model_path=tiny_matmul_model, profile_name="p", profile_hash="h",
        versions={"onnxruntime": ort.__version__}, filename="model.onnx", build_fn=build_fn,
    )  # fmt: skip
    assert again.cached  # the sidecar matches the artifact in place


def test_two_processes_building_one_ort_artifact_both_succeed(tiny_matmul_model, cli_env, tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path\n"
        "from workbench.core.backends.ort import OrtBackend\n"
        "from workbench.core.profiles import load_profile\n"
        "art = OrtBackend().build(Path(sys.argv[1]), 'fp32', load_profile('cpu-x86_64'), force=True)\n"
        "print(art.path)\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tiny_matmul_model)], env=cli_env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(3)
    ]  # fmt: skip
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e for _, e in outs]
    paths = {o.strip() for o, _ in outs}
    assert len(paths) == 1
    x = np.ones((3, 16), np.float32)
    got = ort.InferenceSession(paths.pop(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    ref = ort.InferenceSession(str(tiny_matmul_model), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_a_dead_builds_work_folder_is_swept(tiny_matmul_model, workbench_home):
    common = dict(backend="x", precision="fp32", model_path=tiny_matmul_model, profile_name="p", profile_hash="h",
                  versions={"x": "1"}, filename="a.bin")  # fmt: skip
    first = cache.get_or_build(**common, build_fn=lambda tmp: tmp.write_bytes(b"A"))
    dead = first.path.parent / f".build-{2**22 + 1}-abc"  # above Linux's PID_MAX_LIMIT: no such process
    dead.mkdir()
    (dead / "a.bin").write_bytes(b"half")
    cache.get_or_build(**common, build_fn=lambda tmp: tmp.write_bytes(b"A"), force=True)
    assert not dead.exists()
