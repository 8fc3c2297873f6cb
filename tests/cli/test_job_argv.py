"""The CLI's parser is the one contract between a face and a job: a JobRequest turned into argv by the core
(core/jobs.py ``argv_for``) parses back, through `workbench`'s own parser, into the same request."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import pytest

from workbench.cli.common import request_from_args
from workbench.cli.main import build_parser
from workbench.core import jobs
from workbench.core.errors import UsageError
from workbench.core.job import JobRequest


def parse(argv: list[str]) -> JobRequest:
    args = build_parser().parse_args(argv)
    args.job_dir = None
    overrides = {"precision": "int8"} if argv[0] == "calibrate" else {}
    return request_from_args(args, **overrides)


EVERYTHING = JobRequest(
    model="models/my net.onnx",
    profile="cpu-x86_64",
    precision="int8",
    calib="calib/digits",
    eval="eval/digits",
    method="entropy",
    calib_samples=128,
    iterations=None,
    duration_s=2.5,
    warmup_ms=0.0,
    warmup_iterations=7,
    threads=0,
    batch=4,
    shapes={"x": [4, 1, 28, 28]},
    symbols={"height": 320},
    seed=3,
    bench_dataset="calib/digits",
    telemetry="replay:tests/fixtures/ui/tegrastats-orin-nano-super-jp62.log",
    force_build=True,
    trust_model=True,
    spec="models/my.workbench.toml",
    profile_layers=True,
    store=False,
    input_shapes={"x": (1, 1, 28, 28), "flag": ()},
    export_opset=18,
    export_dynamic_batch=True,
    until_stable=True,
    stable_target=99.9,
    stable_rel_width=0.05,
    max_duration_s=30.0,
    repeat=1,
    idle_s=1.5,
    subtract_idle=True,
    settle=True,
    settle_target_c=55.5,
    backend="onnxruntime",
    cuda_graph=True,
    include_transfers=False,
    streams=2,
    export_times="/tmp/times.json",
)


@pytest.mark.parametrize(
    "request_",
    [
        JobRequest(),  # the TUI's default: the bundled model, everything from the profile
        JobRequest(precision="fp16", duration_s=1.0, threads=2, profile="jetson-orin-nano"),
        JobRequest(iterations=500, repeat=3, shapes={}, symbols={"batch": 2}),
        EVERYTHING,
    ],
)
def test_bench_request_round_trips_through_the_cli_parser(request_):
    argv = jobs.argv_for(request_, "bench")
    assert argv[0] == "bench"
    assert parse(argv) == request_


def test_everything_the_bench_argv_carries_is_a_real_option():
    argv = jobs.argv_for(EVERYTHING, "bench")
    assert argv[:2] == ["bench", "models/my net.onnx"]  # one argv item, spaces and all (no shell)
    assert "--shapes" in argv and argv[argv.index("--shapes") + 1] == "x:4x1x28x28,height=320"
    assert argv[argv.index("--duration") + 1] == "2.5"
    assert argv[argv.index("--target") + 1] == "p99.9"
    assert ["--input-shape", "x:1x1x28x28"] == argv[argv.index("--input-shape") : argv.index("--input-shape") + 2]
    # every field the bench command takes is set in EVERYTHING: each one differs from the default
    defaults = JobRequest()
    changed = {f.name for f in fields(JobRequest) if getattr(EVERYTHING, f.name) != getattr(defaults, f.name)}
    assert changed >= set(jobs.COMMAND_FIELDS["bench"]) - {"iterations", "repeat", "shapes", "symbols"}


@pytest.mark.parametrize("command", ["calibrate", "build"])
def test_calibrate_and_build_carry_their_fields(command):
    req = JobRequest(
        model="m.onnx",
        profile="cpu-x86_64",
        precision="int8",
        calib="calib/digits",
        method="percentile",
        calib_samples=64,
        eval="eval/digits",
        force_build=True,
        duration_s=5.0,  # a benchmark setting: neither command takes it
    )
    argv = jobs.argv_for(req, command, ("--json",))
    assert argv[-1] == "--json" and "--duration" not in argv
    back = parse(argv)
    taken = set(jobs.COMMAND_FIELDS[command]) | {"model", "precision"}
    for f in fields(JobRequest):
        expected = getattr(req, f.name) if f.name in taken else getattr(JobRequest(), f.name)
        if command == "calibrate" and f.name == "precision":
            expected = "int8"
        assert getattr(back, f.name) == expected, f.name


def test_sweep_argv_parses_with_the_sweep_options():
    req = JobRequest(precision="fp16", iterations=200, telemetry="host", store=False)
    argv = jobs.argv_for(req, "sweep", ("--modes", "all"))
    args = build_parser().parse_args(argv)
    assert (args.precision, args.iterations, args.telemetry, args.no_store, args.modes) == (
        "fp16",
        200,
        "host",
        True,
        "all",
    )


def test_a_model_named_like_an_option_stays_the_model():
    assert parse(jobs.argv_for(JobRequest(model="-odd.onnx"), "bench")).model == "./-odd.onnx"


@pytest.mark.parametrize(
    "bad",
    [
        {"settle_timeout_s": 30.0},
        {"cuda_graph": False},
        {"include_transfers": True},
        {"job_dir": "/tmp/x"},
    ],
)
def test_what_the_command_line_cannot_say_is_refused(bad):
    with pytest.raises(UsageError):
        jobs.argv_for(replace(JobRequest(), **bad), "bench")


def test_unknown_command_is_refused():
    with pytest.raises(UsageError, match="not a job command"):
        jobs.argv_for(JobRequest(), "results")


def test_a_calibrate_job_leaves_its_settings_progress_and_typed_outcome_in_its_folder():
    """What a face following a job reads back (core/jobs.py): settings.json (what the request resolved to),
    StepProgress lines in events.jsonl, and outcome.json with the calibration and its INT8-vs-FP32 verdict."""
    import time

    from workbench.core.accuracy import AccuracyReport
    from workbench.core.bench import events as ev
    from workbench.core.workflow import Calibration

    job = jobs.start(jobs.argv_for(JobRequest(profile="cpu-x86_64", calib_samples=64), "calibrate", ("--check",)))
    deadline = time.monotonic() + 180
    while job.state() == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.state() == "finished", job.stderr_path.read_text()
    settings = jobs.read_settings(job)
    assert settings == jobs.JobSettings(
        model="digits CNN — bundled default",
        profile="cpu-x86_64",
        backend="onnxruntime",
        precision="int8",
        duration_s=3.0,
        iterations=None,
        threads=0,
        batch=1,
    )
    events, _ = jobs.read_events(job)
    steps = [e for e in events if isinstance(e, ev.StepProgress)]
    counted = [e for e in steps if e.step == "calibrate" and e.total]
    assert counted[0].done == 0 and counted[-1].done == counted[-1].total == 64
    assert any(e.step == "accuracy" for e in steps)
    outcome = jobs.read_outcome(job)
    from workbench.core.results.result import CalibrationInfo

    cal = Calibration.from_dict(outcome["calibration"])
    acc = AccuracyReport.from_dict(outcome["accuracy"])
    assert cal.result.samples == 64 and cal.result.path.is_file() and cal.result.method == "minmax"
    # the calibration folder survives the outcome file and reaches the result's record (absolute: results outlive cwd)
    info = cal.info().to_dict()
    assert Path(info["dataset"]).is_absolute() and Path(info["dataset"]).name == "digits"
    assert CalibrationInfo.from_dict(info).dataset == info["dataset"]
    assert acc.verdict in ("pass", "fail") and acc.held_out and acc.samples > 0
    assert f"-> {acc.verdict.upper()}" in job.stdout_path.read_text()  # --check: the verdict line, as in a shell


def test_detach_and_foreground_together_are_refused_with_a_hint(capsys):
    import pytest

    from workbench.cli.main import main

    for argv in (["bench", "--detach", "--foreground"], ["fleet", "run", "-i", "x.ini", "--foreground", "--detach"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 2
        assert "not allowed with argument" in err and "hint: give --" in err and "not both" in err
