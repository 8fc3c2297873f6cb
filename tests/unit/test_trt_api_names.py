"""Every TensorRT binding name the backend uses exists in every release that can reach it (issue 6, point 1).

The reference is NVIDIA's pybind11 binding names per release (tests/fixtures/trt/tensorrt-python-api.json, a copy
of shared/reference). See tests/unit/_trt_scan.py for what counts as a use and as a guard.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _trt_scan as S  # noqa: E402

from workbench.core.backends.tensorrt import compat as C  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "workbench" / "core" / "backends" / "tensorrt"
FILES = sorted(PKG.glob("*.py"))


def _all_uses():
    uses = []
    for f in FILES:
        uses += S.scan_source(f.read_text(), str(f.relative_to(REPO)))
    return uses


def test_reference_covers_the_supported_releases():
    assert set(S.REF) == set(C.SUPPORTED_RELEASES)


def test_every_binding_use_exists_where_reachable():
    uses = _all_uses()
    assert S.violations(uses) == []


def test_scanner_sees_the_core_calls():
    names = {u.name for u in _all_uses()}
    # If receiver typing broke, these would silently go unchecked.
    for expected in (
        "Builder.build_serialized_network",
        "Builder.create_network",
        "IBuilderConfig.set_memory_pool_limit",
        "IBuilderConfig.set_flag",
        "IBuilderConfig.create_timing_cache",
        "IOptimizationProfile.set_shape",
        "OnnxParser.parse_from_file",
        "ParserError.node_name",
        "Runtime.deserialize_cuda_engine",
        "ICudaEngine.get_tensor_name",
        "IExecutionContext.set_tensor_address",
        "IExecutionContext.set_input_shape",
        "IExecutionContext.execute_async_v3",
        "EngineInspector.get_engine_information",
        "IProgressMonitor",
        "IInt8EntropyCalibrator2",
        "Logger.WARNING",
    ):
        assert expected in names, expected
    assert len(names) > 50


def test_build_engine_is_never_used():
    # Builder.build_engine exists in 8.5/8.6 only; the issue asks for build_serialized_network everywhere.
    assert S.valid_versions("Builder.build_engine") == {"8.5", "8.6"}
    assert not [u for u in _all_uses() if u.name in ("Builder.build_engine", "IBuilderConfig.max_workspace_size")]


def test_factory_results_follow_the_receiver_convention():
    problems = []
    for f in FILES:
        problems += S.naming_problems(f.read_text(), f.name)
    assert problems == []


def test_feature_names_are_real_binding_names():
    for feature, names in C.FEATURES.items():
        for n in names:
            assert S.valid_versions(n), f"{feature}: {n} exists in no reference release (typo?)"
        assert S.feature_versions(feature), feature


# --- the scanner catches what it must (synthetic sources) ------------------------------------------------------
@pytest.mark.parametrize(
    ("src", "bad"),
    [
        ("def f():\n    import tensorrt as trt\n    return trt.BuilderFlag.INT8\n", True),
        (
            "def f(compat):\n    import tensorrt as trt\n    if compat.has('int8_flag'):\n        return trt.BuilderFlag.INT8\n",
            False,
        ),
        (
            "def f(compat):\n    import tensorrt as trt\n    if compat.has('fp16_flag'):\n        return trt.IProgressMonitor\n",
            True,
        ),
        (
            "def f(compat):\n    import tensorrt as trt\n    if not compat.has('progress_monitor'):\n        return None\n    return trt.IProgressMonitor\n",
            False,
        ),
        ("def f(compat, config, m):\n    if compat.at_least(10):\n        config.progress_monitor = m\n", False),
        ("def f(compat, config, m):\n    if compat.at_least(8, 6):\n        config.progress_monitor = m\n", True),
        (
            "def f(compat, config):\n    if compat.has('progress_monitor'):\n        pass\n    else:\n        config.progress_monitor = 1\n",
            True,
        ),
        (
            "def f(config):\n    if hasattr(config, 'builder_optimization_level'):\n        config.builder_optimization_level = 3\n",
            False,
        ),
        ("def f(config):\n    config.builder_optimization_level = 3\n", True),
        ("def f():\n    import tensorrt as trt\n    return getattr(trt.BuilderFlag, 'INT8', None)\n", False),
        ("def f(compat, config):\n    return compat.has('max_aux_streams') and config.max_aux_streams\n", False),
        ("def f(builder, n, c):\n    return builder.build_engine(n, c)\n", True),
        ("def f(engine):\n    return engine.get_binding_shape(0)\n", True),
        ("def f():\n    import tensorrt as trt\n    return trt.Logger(trt.Logger.WARNING)\n", False),
        ("def f(self):\n    return self.engine.num_bindings\n", True),
    ],
)
def test_scanner_on_synthetic_code(src, bad):
    assert bool(S.violations(S.scan_source(src))) is bad


def _guarded_ifs(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and S.cond_versions(node.test) != S.VERSIONS:
            yield node


def test_removing_any_guard_fails_the_scan():
    """Replace each recognised guard in the real sources by ``True`` (one at a time): the scan must then fail."""
    mutated = 0
    for f in FILES:
        src = f.read_text()
        tree = ast.parse(src)
        for target in list(_guarded_ifs(tree)):
            body_uses = S.scan_source(ast.unparse(ast.Module(body=target.body, type_ignores=[])))
            if not any(S.valid_versions(u.name) != S.VERSIONS for u in body_uses):
                continue  # guards a decision, not a binding name (e.g. early notes); nothing to remove
            tree2 = ast.parse(src)
            for node in ast.walk(tree2):
                if isinstance(node, ast.If) and node.lineno == target.lineno:
                    node.test = ast.Constant(True)
            assert S.violations(S.scan_source(ast.unparse(tree2), f.name)), f"{f.name}:{target.lineno}"
            mutated += 1
    assert mutated >= 7  # parser node names, opt level, hw compat, aux streams, calibrator x2, progress monitor


def test_trt_name_is_only_the_lazily_imported_module():
    """``trt`` is bound only by ``import tensorrt as trt`` inside functions of the TensorRT package; nothing at
    module level imports tensorrt, and no other workbench module imports it."""
    for f in sorted((REPO / "workbench").rglob("*.py")):
        tree = ast.parse(f.read_text())
        in_pkg = PKG in f.parents
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if any(m == "tensorrt" or m.startswith("tensorrt.") for m in mods):
                    assert in_pkg, f"{f}: imports tensorrt outside the TensorRT backend"
                    assert isinstance(node, ast.Import) and [(a.name, a.asname) for a in node.names] == [
                        ("tensorrt", "trt")
                    ], f"{f}:{node.lineno}"
            if isinstance(node, ast.Name) and node.id == "trt" and isinstance(node.ctx, ast.Store):
                raise AssertionError(f"{f}:{node.lineno}: something other than the tensorrt module is named trt")
            if isinstance(node, ast.alias) and node.asname == "trt" and node.name != "tensorrt":
                raise AssertionError(f"{f}: {node.name} imported as trt")
        for node in tree.body:  # module level
            if isinstance(node, ast.Import):
                assert all(a.name != "tensorrt" for a in node.names), f"{f}: module-level import tensorrt"
    assert not (REPO / "workbench" / "trt.py").exists()
