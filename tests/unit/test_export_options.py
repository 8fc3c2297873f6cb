"""PyTorch -> ONNX export options (opset, dynamic batch) through the pipeline, the CLI and the TUI's prompt."""

import json

import pytest

from workbench.core.errors import UsageError
from workbench.ui.screens.model import export_check, parse_export_options


def test_prompt_grammar():
    assert parse_export_options("x:1x16; opset=18; dynamic-batch") == ("x:1x16", 18, True)
    assert parse_export_options("x:1x16") == ("x:1x16", None, False)  # None: the exporter's own opset
    assert parse_export_options("x:1x16; opset=auto") == ("x:1x16", None, False)
    with pytest.raises(UsageError, match="unknown export option"):
        parse_export_options("x:1x16; fast")
    with pytest.raises(UsageError, match="opset must be an integer"):
        parse_export_options("x:1x16; opset=new")


@pytest.fixture
def torchscript(tmp_path):
    torch = pytest.importorskip("torch")

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.l = torch.nn.Linear(16, 4)

        def forward(self, x):
            return torch.relu(self.l(x))

    torch.manual_seed(0)
    path = tmp_path / "m.pt"
    torch.jit.save(torch.jit.script(M()), str(path))
    return path


def test_bench_exports_with_dynamic_batch_and_shows_the_check(run_cli, torchscript):
    res = run_cli(
        "bench",
        str(torchscript),
        "--trust-model",
        "--input-shape",
        "x:1x16",
        "--dynamic-batch",
        "--opset",
        "17",
        "--batch",
        "4",
        "--iterations",
        "50",
        "--json",
        "--no-store",
    )
    assert res.returncode == 0, res.stderr
    entry = json.loads(res.stdout)
    assert entry["input_shapes"] == {"x": [4, 16]}  # the exported model's batch dim is dynamic
    from pathlib import Path

    check = export_check(Path(entry["model_onnx"]))
    assert check is not None and "opset 17" in check and "batch 2" in check
