"""File-type sniffing from bytes (never the name) and the pickle opcode scan."""

from __future__ import annotations

import pickle
import struct
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from workbench.core.errors import ModelError
from workbench.core.models.pickle_scan import scan_pickle
from workbench.core.models.sniff import FileKind, looks_like_onnx, sniff, trt_plan_version


def matmul_add(path: Path) -> Path:
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "W")
    b = numpy_helper.from_array(np.ones(3, dtype=np.float32), "B")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "B"], ["y"])],
        "mm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_onnx_is_sniffed_as_onnx_whatever_its_name(tmp_path):
    src = matmul_add(tmp_path / "m.onnx")
    engine = tmp_path / "model.engine"
    engine.write_bytes(src.read_bytes())
    assert sniff(src) is FileKind.ONNX
    assert sniff(engine) is FileKind.ONNX


def test_truncated_onnx_is_still_recognised_as_onnx(tmp_path):
    data = matmul_add(tmp_path / "m.onnx").read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    assert sniff(cut) is FileKind.ONNX


def test_empty_and_random_files(tmp_path):
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    rnd = tmp_path / "random.onnx"
    rnd.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    text = tmp_path / "notes.onnx"
    text.write_text("hello, this is not a model\n")
    assert sniff(empty) is FileKind.EMPTY
    assert sniff(rnd) is FileKind.UNKNOWN
    assert sniff(text) is FileKind.UNKNOWN


def test_onnx_header_rules():
    # field 1 (ir_version) varint 8, field 2 (producer_name) "ab"
    assert looks_like_onnx(b"\x08\x08\x12\x02ab", 6)
    # ir_version 0 is not a real IR version
    assert not looks_like_onnx(b"\x08\x00\x12\x02ab", 6)
    # field 9 is not a ModelProto field
    assert not looks_like_onnx(b"\x08\x08\x4a\x02ab", 6)
    # a graph without ir_version is not accepted
    assert not looks_like_onnx(b"\x3a\x02ab", 4)


def test_tensorrt_plan_by_magic(tmp_path):
    plan = bytearray(b"ftrt" + bytes(60))
    plan[24:27] = bytes([10, 3, 0])
    raw = tmp_path / "model.onnx"  # misleading name on purpose
    raw.write_bytes(bytes(plan))
    assert sniff(raw) is FileKind.TRT_PLAN
    assert trt_plan_version(bytes(plan)) == (10, 3, 0)
    # Ultralytics wrapper: uint32 LE length + JSON metadata, then the raw plan
    meta = b'{"imgsz": [640, 640]}'
    wrapped = tmp_path / "yolo.engine"
    wrapped.write_bytes(struct.pack("<I", len(meta)) + meta + bytes(plan))
    assert sniff(wrapped) is FileKind.TRT_PLAN


def test_missing_path_and_folder_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        sniff(tmp_path / "nope.onnx")
    with pytest.raises(ModelError, match="is a folder"):
        sniff(tmp_path)


def test_raw_pickle_is_torch_pickle(tmp_path):
    p = tmp_path / "weights.pkl"
    p.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    assert sniff(p) is FileKind.TORCH_PICKLE


def test_zip_without_torch_layout_is_unknown(tmp_path):
    p = tmp_path / "archive.pt"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("readme.txt", "hello")
    assert sniff(p) is FileKind.UNKNOWN


class Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickle_scan_finds_the_callable_without_running_it(protocol):
    data = pickle.dumps({"x": Evil()}, protocol=protocol)
    scan = scan_pickle(data)
    assert scan.complete
    assert not scan.weights_only
    assert any(g in ("posix.system", "os.system", "nt.system") for g in scan.disallowed), scan.disallowed


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_pickle_scan_plain_ordered_dict(protocol):
    scan = scan_pickle(pickle.dumps(OrderedDict(a=1, b=[1.0, 2.0]), protocol=protocol))
    assert scan.globals == ("collections.OrderedDict",)  # STACK_GLOBAL operands resolved for protocol 4
    assert scan.disallowed == ()
    assert scan.protocol == protocol
    assert scan.weights_only is (protocol <= 3)  # torch's weights-only loader cannot read protocol 4


def test_pickle_scan_truncated_stream_is_not_vouched_for():
    data = pickle.dumps(OrderedDict(a=1), protocol=2)
    scan = scan_pickle(data[:-3])
    assert not scan.complete
    assert not scan.weights_only


def test_sniff_imports_neither_torch_nor_onnx(tmp_path):
    import subprocess

    p = tmp_path / "x.bin"
    p.write_bytes(b"\x08\x08\x12\x02ab")
    code = (
        "import sys; from workbench.core.models.sniff import sniff; "
        f"k = sniff({str(p)!r}); print(k.value, 'torch' in sys.modules, 'onnx' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["onnx", "False", "False"]
