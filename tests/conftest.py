"""Shared fixtures. Every test runs with WORKBENCH_HOME in a temp folder: no test touches ~/.cache or ~/.local."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config, items):
    # GPU tests (tests/gpu) are gated per test by what each needs (tests/gpu/conftest.py: CUDA, TensorRT,
    # NVML), so a machine without a GPU still collects them and each skip says what is missing; the ``gpu``
    # marker only selects them (-m gpu).
    jetson = Path("/etc/nv_tegra_release").exists()
    for item in items:
        if "jetson" in item.keywords and not jetson:
            item.add_marker(pytest.mark.skip(reason="needs a Jetson board (/etc/nv_tegra_release absent)"))


@pytest.fixture(autouse=True)
def workbench_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("wbhome")
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def no_board_tools(tmp_path_factory, monkeypatch):
    """The fixed paths of nvpmodel, jetson_clocks, tegrastats and nvidia-smi (core/hw/tools.py) are looked up in an
    empty folder: a test's fake tools on PATH are the ones run, even on a Jetson, where the real ones would change the
    board's power mode. Tests of the fixed paths point WORKBENCH_TOOLS_ROOT at their own folder."""
    monkeypatch.setenv("WORKBENCH_TOOLS_ROOT", str(tmp_path_factory.mktemp("no-board-tools")))


@pytest.fixture
def cli_env(workbench_home, no_board_tools):
    """Environment for `python -m workbench` subprocesses."""
    env = dict(os.environ)
    env["WORKBENCH_HOME"] = str(workbench_home)
    env.pop("WORKBENCH_DEBUG", None)
    return env


@pytest.fixture
def run_cli(cli_env):
    import subprocess

    def run(*args: str, cwd: Path | None = None, timeout: float = 300, env: dict | None = None):
        return subprocess.run(
            [sys.executable, "-m", "workbench", *args],
            capture_output=True,
            text=True,
            cwd=cwd or REPO,
            env=env or cli_env,
            timeout=timeout,
        )

    return run


@pytest.fixture
def tiny_matmul_model(tmp_path) -> Path:
    """A real ONNX model: y = x @ W with x [batch, 16], W seeded; 256 parameters."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((16, 16)).astype(np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 16])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "tiny.onnx"
    onnx.save(model, path)
    return path


@pytest.fixture
def copy_fixture(tmp_path):
    def copy(rel: str) -> Path:
        src = REPO / "tests" / "fixtures" / rel
        dst = tmp_path / Path(rel).name
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
        return dst

    return copy
