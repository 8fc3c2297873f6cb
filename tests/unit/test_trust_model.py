"""TorchScript and ExportedProgram files run code when loaded: refused without --trust-model (issue 18, item 2).

Refused means nothing of the file is handed to torch: ``torch.jit.load`` / ``torch.export.load`` are replaced by
functions that fail the test if called, and a subprocess shows torch is not even imported. With the flag (or its
old name ``--trust-pickle``) the same files load.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from workbench.core.errors import ModelError  # noqa: E402
from workbench.core.models.sniff import FileKind, sniff  # noqa: E402


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        return torch.relu(self.fc(x))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A TorchScript archive (torch.jit.script + save) and an ExportedProgram (torch.export.save) of Tiny."""
    d = tmp_path_factory.mktemp("trust")
    torch.manual_seed(0)
    net = Tiny().eval()
    ts, ep = d / "tiny.pt", d / "tiny.pt2"
    torch.jit.save(torch.jit.script(net), str(ts))
    torch.export.save(torch.export.export(net, (torch.zeros(2, 4),)), str(ep))
    assert sniff(ts) is FileKind.TORCHSCRIPT and sniff(ep) is FileKind.EXPORTED_PROGRAM
    return {"torchscript": ts, "exported-program": ep}


@pytest.fixture
def no_torch_load(monkeypatch):
    """torch.jit.load / torch.export.load / torch.load fail the test if anything calls them."""
    calls: list[str] = []

    def forbidden(name):
        def call(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} was called on an untrusted file")

        return call

    monkeypatch.setattr(torch.jit, "load", forbidden("torch.jit.load"))
    monkeypatch.setattr(torch.export, "load", forbidden("torch.export.load"))
    monkeypatch.setattr(torch, "load", forbidden("torch.load"))
    return calls


def _profile():
    from workbench.core.profiles.schema import Profile

    return Profile.model_validate(
        {
            "name": "cpu-test",
            "source_path": Path("/p/cpu-test.toml"),
            "device": {"name": "CPU", "kind": "cpu", "arch": "x86_64"},
            "build": {"shapes": {"x": {"min": [1, 4], "opt": [1, 4], "max": [1, 4]}}},
        }
    )


# ----------------------------------------------------------------------------------------------- core


@pytest.mark.parametrize("kind", ["torchscript", "exported-program"])
def test_ensure_onnx_refuses_without_loading(files, kind, no_torch_load, tmp_path):
    from workbench.core.models.load import ensure_onnx

    with pytest.raises(ModelError) as err:
        ensure_onnx(files[kind], input_shapes={"x": (1, 4)}, work_dir=tmp_path)
    msg = str(err.value)
    assert "Refusing to load it without --trust-model" in msg and "can run code stored in the file" in msg
    assert ("TorchScript" if kind == "torchscript" else "full unpickle") in msg  # says what could run
    assert "--trust-model" in (err.value.hint or "")
    assert no_torch_load == [] and list(tmp_path.iterdir()) == []


def test_refusal_imports_no_torch(files):
    code = textwrap.dedent(
        f"""
        import sys
        from workbench.core.models.load import ensure_onnx
        from workbench.core.errors import ModelError
        for p in ({str(files["torchscript"])!r}, {str(files["exported-program"])!r}):
            try:
                ensure_onnx(p, input_shapes={{"x": (1, 4)}})
            except ModelError as e:
                print("refused" if "--trust-model" in str(e) else str(e))
        print("torch" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["refused", "refused", "False"]


def test_trusted_torchscript_exports(files, tmp_path):
    from workbench.core.models.load import ensure_onnx

    out = ensure_onnx(files["torchscript"], trust_model=True, input_shapes={"x": (1, 4)}, work_dir=tmp_path)
    assert out.parent == tmp_path and out.suffix == ".onnx"


# ----------------------------------------------------------------------------------------------- torch backend


@pytest.mark.parametrize("kind", ["torchscript", "exported-program"])
def test_torch_backend_refuses_without_trust(files, kind, no_torch_load):
    from workbench.core.backends import get_backend

    with pytest.raises(ModelError, match="Refusing to load it without --trust-model"):
        get_backend("torch").build(files[kind], "fp32", _profile())
    assert no_torch_load == []


@pytest.mark.parametrize("kind", ["torchscript", "exported-program"])
def test_torch_backend_runs_trusted_files(files, kind):
    import numpy as np

    from workbench.core.backends import get_backend
    from workbench.core.backends.base import RunnerSettings

    b = get_backend("torch", trust_model=True)
    art = b.build(files[kind], "fp32", _profile())
    with b.runner(art.path, RunnerSettings()) as r:
        name, _, shape = r.input_metadata()[0]
        out = r.infer({name: np.ones(shape, np.float32)})["output_0"]
    assert out.shape == (shape[0], 3)


def test_runner_refuses_a_source_changed_since_the_trusted_build(files, tmp_path, monkeypatch):
    """Trust was given for the bytes that were built: a file replaced afterwards is not loaded by the runner."""
    from workbench.core.backends import get_backend
    from workbench.core.backends.base import RunnerSettings

    src = tmp_path / "model.pt"
    src.write_bytes(files["torchscript"].read_bytes())
    b = get_backend("torch", trust_model=True)
    art = b.build(src, "fp32", _profile())
    src.write_bytes(files["exported-program"].read_bytes())  # replaced after the trusted build
    loads: list[str] = []
    monkeypatch.setattr(torch.jit, "load", lambda *a, **k: loads.append("jit"))
    monkeypatch.setattr(torch.export, "load", lambda *a, **k: loads.append("export"))
    with pytest.raises(ModelError, match="changed since it was built"):
        with b.runner(art.path, RunnerSettings()):
            pass
    assert loads == []


# ----------------------------------------------------------------------------------------------- CLI


@pytest.mark.parametrize("kind", ["torchscript", "exported-program"])
@pytest.mark.parametrize(
    "argv",
    [
        ("inspect", "{m}", "--input-shape", "x:1x4"),
        ("export", "{m}", "--input-shape", "x:1x4", "-o", "{out}"),
        ("bench", "{m}", "--input-shape", "x:1x4", "--iterations", "5", "--no-store", "--foreground"),
    ],
    ids=["inspect", "export", "bench"],
)
def test_cli_refuses_without_the_flag(run_cli, files, kind, argv, tmp_path):
    out = tmp_path / "out.onnx"
    res = run_cli(*(a.format(m=files[kind], out=out) for a in argv))
    assert res.returncode == 4, res.stderr
    assert "error: " in res.stderr and "Traceback" not in res.stderr  # bench prints its steps first
    assert "can run code stored in the file" in res.stderr and "--trust-model" in res.stderr
    assert not out.exists()


@pytest.mark.parametrize("flag", ["--trust-model", "--trust-pickle"])
def test_cli_accepts_with_the_flag_or_its_old_name(run_cli, files, flag):
    import json

    res = run_cli("inspect", str(files["torchscript"]), flag, "--input-shape", "x:1x4", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["source_format"] == "torchscript" and doc["export"]["cosine"] > 0.9999


def test_cli_bench_with_the_flag(run_cli, files):
    import json

    res = run_cli(
        "bench", str(files["torchscript"]), "--trust-model", "--input-shape", "x:1x4", "--iterations", "5",
        "--no-store", "--json", "--foreground", "--profile", "cpu-x86_64",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["input_shapes"] == {"x": [1, 4]}


def test_help_names_trust_model_and_hides_the_old_name(run_cli):
    res = run_cli("inspect", "--help")
    assert "--trust-model" in res.stdout and "Old name: --trust-pickle" in res.stdout
    assert "--trust-pickle " not in res.stdout.replace("Old name: --trust-pickle", "")


# ----------------------------------------------------------------------------------------------- jobs and TUI


@pytest.mark.parametrize("command", ["calibrate", "build", "bench", "run", "sweep"])
def test_job_argv_uses_trust_model_and_old_argv_still_parses(command):
    """A job's argv (job.json) carries --trust-model; one written by 0.1.0 with --trust-pickle parses the same."""
    from workbench.cli.common import request_from_args
    from workbench.cli.main import build_parser
    from workbench.core import jobs
    from workbench.core.job import JobRequest

    argv = jobs.argv_for(JobRequest(model="m.pt", trust_model=True), command)
    assert "--trust-model" in argv and "--trust-pickle" not in argv
    old = [a if a != "--trust-model" else "--trust-pickle" for a in argv]
    for a in (argv, old):
        assert request_from_args(build_parser().parse_args(a)).trust_model is True
    assert request_from_args(build_parser().parse_args([command, "m.pt"])).trust_model is False


def test_tui_flag_reaches_the_request():
    from workbench.cli.main import build_parser

    args = build_parser().parse_args(["tui", "--trust-model", "m.pt"])
    assert args.trust_model is True
    args = build_parser().parse_args(["tui", "--trust-pickle", "m.pt"])
    assert args.trust_model is True
    assert build_parser().parse_args(["tui", "m.pt"]).trust_model is False


def test_tui_refuses_without_the_flag_and_loads_nothing(files, no_torch_load):
    import asyncio

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ui"))
    from tui_helpers import wait_idle

    from workbench.ui.app import make_app

    async def go(trust):
        app = make_app(str(files["torchscript"]), profile="cpu-x86_64", trust_model=trust)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_idle(pilot)
            assert app.state.job is None
            return app.state.context_error or ""

    refused = asyncio.run(go(False))
    assert "Refusing to load it without --trust-model" in refused and "workbench tui --trust-model" in refused
    assert no_torch_load == []
    # trusted: the refusal is gone; TorchScript records no shapes, so what stops it now is --input-shape
    trusted = asyncio.run(go(True))
    assert "--trust-model" not in trusted and "--input-shape" in trusted
