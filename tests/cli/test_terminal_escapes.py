"""Untrusted text never drives the terminal (issue 18, item 4): a model whose producer, doc strings, graph and input
names, symbolic dims and metadata carry an OSC title sequence, a clear-screen CSI, an 8-bit CSI (U+009B) and a bidi
override, stored in a folder whose name holds an ESC, is inspected, benchmarked, listed, shown, compared and
followed as a job; a trtexec log with the same is imported. No raw control or bidi character reaches stdout or
stderr, and the escaped form is what the user sees. JSON output stays valid JSON with the original strings."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[2]
EVIL = "\x1b]0;pwned\x07\x1b[2J\x9b\u202e"
SHOWN = "\\x1b]0;pwned\\x07\\x1b[2J\\x9b\\u202e"  # what textsafe makes of EVIL
# C0 controls but newline, DEL, C1 controls, bidi embeddings/overrides/isolates (workbench/core/textsafe.py).
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def no_raw(res) -> str:
    """stdout + stderr of a finished command, asserting that neither holds a raw control character."""
    for name, out in (("stdout", res.stdout), ("stderr", res.stderr)):
        hit = RAW.search(out)
        assert hit is None, f"raw {hit.group()!r} on {name}: {out[max(0, hit.start() - 60) : hit.end() + 20]!r}"
    return res.stdout + res.stderr


def make_evil_model(folder: Path) -> Path:
    """A real MatMul model (x [batch, 4] @ W) whose every free-text field ends with EVIL."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x = "x" + EVIL
    graph = helper.make_graph(
        [helper.make_node("MatMul", [x, "W"], ["y"], name="mm" + EVIL)],
        "g" + EVIL,
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch" + EVIL, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch" + EVIL, 4])],
        [numpy_helper.from_array(np.eye(4, dtype=np.float32), "W")],
        doc_string="graph doc" + EVIL,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="prod" + EVIL, doc_string="doc" + EVIL
    )
    model.ir_version = 8
    helper.set_model_props(model, {"author" + EVIL: "value" + EVIL})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ("m" + EVIL + ".onnx")
    onnx.save(model, path)
    return path


@pytest.fixture
def evil_model(tmp_path) -> Path:
    return make_evil_model(tmp_path / "dir\x1b[31m")


def test_inspect_shows_every_field_escaped_and_json_keeps_the_original(run_cli, evil_model):
    res = run_cli("inspect", str(evil_model))
    assert res.returncode == 0, res.stderr
    out = no_raw(res)
    assert f"Producer     prod{SHOWN}" in out
    assert f"Model        {evil_model.parent.parent}/dir\\x1b[31m/m{SHOWN}.onnx" in out
    assert f"x{SHOWN}  float32  [batch{SHOWN}, 4]" in out

    res = run_cli("inspect", str(evil_model), "--json")
    assert res.returncode == 0, res.stderr
    no_raw(res)
    doc = json.loads(res.stdout)  # still valid JSON: the escapes are JSON's own (\u001b), the values exact
    assert doc["producer"] == "prod" + EVIL
    assert doc["inputs"][0] == {"name": "x" + EVIL, "dtype": "float32", "shape": ["batch" + EVIL, 4]}


def test_bench_results_and_jobs_print_no_raw_control_character(run_cli, evil_model):
    bench = ("bench", str(evil_model), "--iterations", "30", "--warmup-ms", "10", "--profile", "cpu-x86_64")
    res = run_cli(*bench)  # a detached job followed from this terminal (follow.py copies its output)
    assert res.returncode == 0, res.stderr
    out = no_raw(res)
    assert f"Model: {evil_model.parent.parent}/dir\\x1b[31m/m{SHOWN}.onnx" in out
    assert "Inputs: random (seed 0) {'x\\x1b]0;pwned\\x07\\x1b[2J\\x9b\\u202e': [1, 4]}" in out
    res = run_cli(*bench, "--foreground")
    assert res.returncode == 0, res.stderr
    no_raw(res)

    res = run_cli("results", "list")
    assert res.returncode == 0, res.stderr
    rows = [line for line in no_raw(res).splitlines() if f"m{SHOWN}.onnx" in line]
    assert len(rows) == 2  # one line per result: the name's escapes did not break the table

    res = run_cli("results", "show", "1")
    assert res.returncode == 0, res.stderr
    assert f"Model       {evil_model.parent.parent}/dir\\x1b[31m/m{SHOWN}.onnx" in no_raw(res)

    for fmt in ("text", "md"):
        res = run_cli("results", "compare", "1", "2", "--format", fmt)
        assert res.returncode == 0, res.stderr
        assert f"m{SHOWN}.onnx" in no_raw(res)

    res = run_cli("results", "show", "1", "--json")
    no_raw(res)
    assert json.loads(res.stdout)["model"] == str(evil_model)

    res = run_cli("jobs", "list")
    assert res.returncode == 0, res.stderr
    out = no_raw(res)
    # shell-quoted (jobs show the command as shlex.join gives it), then escaped
    assert f"workbench bench '{evil_model.parent.parent}/dir\\x1b[31m/m{SHOWN}.onnx' --iterations 30" in out
    job_id = json.loads(run_cli("jobs", "--json").stdout)[0]["id"]
    for action in ("show", "attach"):
        res = run_cli("jobs", action, job_id)
        assert res.returncode == 0, res.stderr
        assert f"m{SHOWN}.onnx" in no_raw(res)
    res = run_cli("jobs", "show", job_id, "--json")
    no_raw(res)
    assert str(evil_model) in json.loads(res.stdout)["command"]


def test_import_trtexec_of_a_log_with_escapes(run_cli, tmp_path):
    log = (REPO / "tests/fixtures/trtexec/agx-xavier-trt840-mnist-b16-oe4t-pr952.log").read_text()
    path = tmp_path / "evil.log"
    path.write_text(log.replace("mnist16.trt", "mnist" + EVIL + ".trt"))
    res = run_cli("results", "import-trtexec", str(path), "--label", "lab" + EVIL)
    assert res.returncode == 0, res.stderr
    no_raw(res)
    res = run_cli("results", "show", "1")
    out = no_raw(res)
    assert f"Model       mnist{SHOWN}.trt" in out
    assert f"Source      trtexec import — lab{SHOWN}" in out
    res = run_cli("results", "list")
    assert f"mnist{SHOWN}.trt" in no_raw(res)


def test_an_error_quoting_the_users_words_is_escaped(run_cli, tmp_path):
    res = run_cli("results", "show", "1" + EVIL)  # argparse's own error quotes the argument
    assert res.returncode != 0
    assert SHOWN in no_raw(res)
    res = run_cli("inspect", str(tmp_path / ("missing" + EVIL + ".onnx")))  # a ModelError naming the file
    assert res.returncode != 0
    assert f"missing{SHOWN}.onnx" in no_raw(res)


def test_telemetry_parse_json_escapes_c1_controls(run_cli, tmp_path):
    log = tmp_path / "t.log"
    log.write_text("RAM 2000/7000MB CPU [10%@1000,20%@1000] junk\x9b\u202etoken\n", encoding="utf-8")
    res = run_cli("telemetry", "parse", str(log), "--json")
    assert res.returncode == 0, res.stderr
    no_raw(res)
    (sample,) = [json.loads(line) for line in res.stdout.splitlines()]
    assert any("\x9b\u202e" in t for t in sample["unparsed"])  # JSON's \u009b, decoded back to the original


def test_follow_escapes_raw_bytes_a_child_wrote_to_the_job_output(tmp_path, capsys):
    """A benchmark child or a runtime writes to the job's output file directly (past the job's own escaping):
    the follower escapes what it copies, a UTF-8 character split across reads included."""
    from workbench.cli.follow import follow

    out, err = tmp_path / "stdout", tmp_path / "stderr"
    out.write_bytes(("node " + EVIL + " é\n").encode())
    err.write_bytes(b"bad byte \xff \x1b[2J\n")
    job = SimpleNamespace(
        id="j1",
        dir=tmp_path,
        stdout_path=out,
        stderr_path=err,
        exit_status=lambda: {"exit_code": 0},
        alive=lambda: False,
    )
    assert follow(job) == 0
    cap = capsys.readouterr()
    assert cap.out == "node " + SHOWN + " é\n"
    assert cap.err == "bad byte \\xff \\x1b[2J\n"


@pytest.mark.parametrize("argv", [["profiles", "list"], ["doctor", "--no-backends"]])
def test_commands_restore_the_streams_they_wrap(argv, capsys):
    """``main()`` called in-process (the job runner, tests) leaves sys.stdout/sys.stderr as it found them."""
    from workbench.cli.main import main

    before = (sys.stdout, sys.stderr)
    main(argv)
    assert (sys.stdout, sys.stderr) == before
