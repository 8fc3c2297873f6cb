"""The benchmark child on a real ONNX model: exact iteration counts, batched stream, cancel, errors."""

import threading

import pytest

from workbench.core.bench import events as ev
from workbench.core.bench.config import BenchConfig
from workbench.core.bench.inputs import parse_shapes, resolve_shape
from workbench.core.bench.parent import run_child
from workbench.core.errors import Cancelled, ModelError, UsageError


def test_exact_iterations_and_batched_stream(tiny_matmul_model):
    seen = []
    out = run_child(
        BenchConfig(artifact_path=str(tiny_matmul_model), iterations=3000, warmup_ms=10, batch=4, flush_ms=5),
        on_event=seen.append,
    )
    assert out.iterations == 3000
    assert len(out.latencies_ns) == 3000
    assert all(v > 0 for v in out.latencies_ns)
    assert out.input_shapes == {"x": [4, 16]}
    samples = [e for e in seen if isinstance(e, ev.Samples)]
    # batched: far fewer messages than iterations, sequence numbers contiguous
    assert 1 <= len(samples) < 3000 / 10
    assert [s.seq for s in samples] == list(range(len(samples)))
    assert out.batches_lost == 0
    assert out.warmup_latencies_ns and out.warmup_duration_ns >= 10e6
    assert out.start_monotonic_s < out.end_monotonic_s


def test_duration_mode_runs_at_least_duration_and_min_iterations(tiny_matmul_model):
    out = run_child(BenchConfig(artifact_path=str(tiny_matmul_model), duration_s=0.3, min_iterations=10, warmup_ms=0))
    assert out.wall_ns >= 0.3e9
    assert out.iterations >= 10


def test_cancel_kills_child(tiny_matmul_model):
    cancel = threading.Event()

    def on_event(e):
        if isinstance(e, ev.TimedStart):
            cancel.set()

    with pytest.raises(Cancelled):
        run_child(BenchConfig(artifact_path=str(tiny_matmul_model), duration_s=60), on_event=on_event, cancel=cancel)


def test_child_reports_typed_error_for_bad_model(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match="bad.onnx"):
        run_child(BenchConfig(artifact_path=str(bad), iterations=1))


def test_event_round_trip():
    e = ev.Samples(3, [1, 2, 3])
    assert ev.decode(ev.encode(e)) == e
    with pytest.raises(ValueError):
        ev.decode(b'{"type": "Nope"}')


def test_shapes_parsing_and_resolution():
    assert parse_shapes("input:1x3x224x224, mask:2x128") == {"input": [1, 3, 224, 224], "mask": [2, 128]}
    with pytest.raises(UsageError, match="NAME:DxDxD"):
        parse_shapes("1x3x224")
    assert resolve_shape("x", ("batch", 16), 8, {}) == [8, 16]
    with pytest.raises(UsageError, match="--shapes ids:"):
        resolve_shape("ids", ("batch", "seq"), 1, {})
    with pytest.raises(UsageError, match="fixed to 16"):
        resolve_shape("x", ("batch", 16), 1, {"x": [1, 32]})
