"""The pickle scan follows the memo and the stack as pickle does, and reads the data.pkl torch reads (issue 18,
item 3).

Every crafted pickle here is checked twice: :func:`_imports` unpickles it with a ``find_class`` that only records
what it is asked for (nothing is imported or called), so each test states what pickle itself would import, and
the scan must name the same thing.
"""

from __future__ import annotations

import io
import pickle
import struct
import sys
import zipfile
from pathlib import Path

import pytest

from workbench.core.errors import ModelError
from workbench.core.models.pickle_scan import scan_pickle
from workbench.core.models.sniff import FileKind, sniff, torch_record


def _s(text: str) -> bytes:
    """SHORT_BINUNICODE text."""
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


PROTO2 = b"\x80\x02"  # declares protocol 2 (<= 3: what the old scan called weights-only); pickle runs any opcode
MEMOIZE, STACK_GLOBAL, POP, MARK, TUPLE, TUPLE1, REDUCE, STOP = b"\x94", b"\x93", b"0", b"(", b"t", b"\x85", b"R", b"."


def BINPUT(i: int) -> bytes:  # noqa: N802 - opcode names
    return b"q" + bytes([i])


def BINGET(i: int) -> bytes:  # noqa: N802
    return b"h" + bytes([i])


def _call(command: str) -> bytes:
    """(callable on the stack) -> callable((command,)) and STOP."""
    return _s(command) + TUPLE1 + REDUCE + STOP


# A BINPUT before the MEMOIZE sequence: pickle stores "junk" at memo[9], so the next MEMOIZEs fill memo[1..4]
# (memo[len(memo)]), while a counter starting at 0 files them one slot lower. BINGET 1 / BINGET 3 then read
# "os" / "system" in pickle but "torch._utils" / "_rebuild_tensor_v2" (allowed) for such a counter.
MEMO_SHIFT = (
    PROTO2
    + _s("junk") + BINPUT(9) + POP
    + _s("os") + MEMOIZE + POP
    + _s("torch._utils") + MEMOIZE + POP
    + _s("system") + MEMOIZE + POP
    + _s("_rebuild_tensor_v2") + MEMOIZE + POP
    + BINGET(1) + BINGET(3) + STACK_GLOBAL
    + _call("touch PWNED")
)  # fmt: skip

# STACK_GLOBAL pops what is on the stack, not the latest strings pushed: the allowed names are pushed after
# "os"/"system" but packed into a tuple and popped, so pickle imports os.system.
STACK_SHADOW = (
    PROTO2
    + _s("os") + _s("system")
    + MARK + _s("torch._utils") + _s("_rebuild_tensor_v2") + TUPLE + POP
    + STACK_GLOBAL
    + _call("touch PWNED")
)  # fmt: skip


def _imports(data: bytes) -> list[tuple[str, str]]:
    """What unpickling ``data`` asks ``find_class`` for; a stand-in is returned, so nothing is imported or run."""
    asked: list[tuple[str, str]] = []

    class Recorder(pickle.Unpickler):
        def find_class(self, module, name):
            asked.append((module, name))
            return lambda *args: None

    Recorder(io.BytesIO(data)).load()
    return asked


@pytest.mark.parametrize("data", [MEMO_SHIFT, STACK_SHADOW], ids=["binput-shifts-memoize", "popped-strings"])
def test_crafted_os_system_pickle_is_not_weights_only(data):
    assert _imports(data) == [("os", "system")]  # what pickle itself would import and call
    scan = scan_pickle(data)
    assert scan.complete and scan.protocol == 2
    assert scan.globals == ("os.system",)
    assert scan.disallowed == ("os.system",)
    assert not scan.weights_only


def test_memo_follows_pickle_for_put_get_and_memoize():
    """LONG_BINPUT / PUT store at their own index, MEMOIZE at len(memo), GET variants read them back."""
    data = (
        PROTO2
        + _s("posix") + b"r" + struct.pack("<I", 70000) + POP  # LONG_BINPUT 70000
        + _s("system") + b"p5\n" + POP  # PUT 5 (text protocol)
        + b"j" + struct.pack("<I", 70000) + b"g5\n" + STACK_GLOBAL  # LONG_BINGET 70000, GET 5
        + _call("x")
    )  # fmt: skip
    assert _imports(data) == [("posix", "system")]
    assert scan_pickle(data).disallowed == ("posix.system",)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (PROTO2 + _s("os") + MEMOIZE + BINGET(1) + STACK_GLOBAL + STOP, "BINGET 1 reads a memo slot nothing"),
        (PROTO2 + MARK + MEMOIZE + STOP, "MEMOIZE with nothing on the stack"),
        (PROTO2 + _s("os") + MARK + _s("system") + TUPLE + b"t" + STOP, "TUPLE without a MARK"),
    ],
    ids=["get-of-empty-slot", "memoize-of-a-mark", "tuple-without-mark"],
)
def test_what_the_scan_cannot_model_is_not_vouched_for(data, problem):
    scan = scan_pickle(data)
    assert not scan.complete and not scan.weights_only
    assert problem in scan.problem


def test_unresolved_stack_global_and_extension_codes_are_disallowed():
    numbers = PROTO2 + b"K\x01K\x02" + STACK_GLOBAL + POP + b"N" + STOP  # BININT1 operands: not strings
    scan = scan_pickle(numbers)
    assert scan.disallowed == ("<unresolved> import",) and not scan.weights_only
    ext = PROTO2 + b"\x82\x07" + STOP  # EXT1 7: whatever copyreg's registry maps code 7 to
    assert scan_pickle(ext).disallowed == ("copyreg.<extension 7>",)


def test_plain_containers_stay_weights_only():
    data = pickle.dumps({"a": [1, 2.5, "x", (3, "y")], "b": b"raw", "c": None}, protocol=2)
    scan = scan_pickle(data)
    assert scan.complete and scan.disallowed == () and scan.weights_only


# ----------------------------------------------------------------------------------------- data.pkl torch reads


def _zip(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members:
            z.writestr(name, data)
    return path


HARMLESS = pickle.dumps({"weight": [1.0, 2.0]}, protocol=2)


def test_the_data_pkl_torch_reads_is_the_one_scanned(tmp_path):
    """Record prefix = the first entry's folder (b/): torch reads b/data.pkl, not the a/data.pkl listed first."""
    evil = _zip(tmp_path / "evil.pt", [("b/version", b"3\n"), ("a/data.pkl", HARMLESS), ("b/data.pkl", MEMO_SHIFT)])
    assert torch_record(zipfile.ZipFile(evil).namelist(), "data.pkl") == "b/data.pkl"
    assert sniff(evil) is FileKind.TORCH_PICKLE
    # the same archive with a/ first: torch reads a/data.pkl, which is harmless
    fine = _zip(tmp_path / "fine.pt", [("a/version", b"3\n"), ("a/data.pkl", HARMLESS), ("b/data.pkl", MEMO_SHIFT)])
    assert sniff(fine) is FileKind.TORCH_ZIP_WEIGHTS


def test_torch_reads_the_same_member(tmp_path):
    """The rule checked against torch's own reader (bytes only: torch._C.PyTorchFileReader does not unpickle)."""
    torch = pytest.importorskip("torch")
    evil = _zip(tmp_path / "evil.pt", [("b/version", b"3\n"), ("a/data.pkl", HARMLESS), ("b/data.pkl", MEMO_SHIFT)])
    assert torch._C.PyTorchFileReader(str(evil)).get_record("data.pkl") == MEMO_SHIFT
    upper = _zip(tmp_path / "upper.pt", [("b/version", b"3\n"), ("b/DATA.PKL", MEMO_SHIFT)])
    assert torch._C.PyTorchFileReader(str(upper)).get_record("data.pkl") == MEMO_SHIFT
    assert sniff(upper) is FileKind.TORCH_PICKLE


def test_two_candidates_are_refused_naming_them(tmp_path):
    from workbench.core.models.load import ensure_onnx

    two = _zip(tmp_path / "two.pt", [("b/version", b"3\n"), ("b/data.pkl", HARMLESS), ("b/Data.pkl", HARMLESS)])
    assert sniff(two) is FileKind.TORCH_PICKLE
    with pytest.raises(ModelError) as err:
        ensure_onnx(two)
    msg = str(err.value)
    assert "2 members of the archive could be its data.pkl: b/data.pkl, b/Data.pkl" in msg
    assert "--trust-model" in msg


def test_cli_refuses_the_shadowed_payload_and_runs_nothing(run_cli, tmp_path):
    evil = _zip(tmp_path / "evil.pt", [("b/version", b"3\n"), ("a/data.pkl", HARMLESS), ("b/data.pkl", MEMO_SHIFT)])
    res = run_cli("inspect", str(evil), cwd=tmp_path)
    assert res.returncode == 4, res.stderr
    assert "it imports os.system" in res.stderr and "--trust-model" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "PWNED").exists()


# ----------------------------------------------------------------------------------------- genuine torch files


def test_genuine_state_dicts_still_load_without_the_flag(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from workbench.core.models.load import ensure_onnx

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 2)
    )
    sd, ckpt = tmp_path / "sd.pt", tmp_path / "ckpt.pt"
    torch.save(net.state_dict(), sd)
    torch.save({"model": net.state_dict(), "epoch": 3, "name": "n"}, ckpt)
    for path in (sd, ckpt):
        assert sniff(path) is FileKind.TORCH_ZIP_WEIGHTS
        torch.load(path, weights_only=True)  # what the kind promises
    # ... and export with the user's factory without --trust-model (weights_only=True load)
    (tmp_path / "wbsdnet.py").write_text(
        "import torch\n"
        "def build():\n"
        "    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),\n"
        "                               torch.nn.Linear(4 * 4 * 4, 2))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("wbsdnet", None)
    out = ensure_onnx(sd, input_shapes={"x": (1, 3, 6, 6)}, factory="wbsdnet:build", work_dir=tmp_path / "w")
    assert out.suffix == ".onnx" and out.is_file()
    sys.modules.pop("wbsdnet", None)
