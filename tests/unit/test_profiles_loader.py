"""Profile loading, extends, strict validation and FILE:LINE problem reports."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench.core import paths
from workbench.core.errors import ConfigError
from workbench.core.profiles import (
    Profile,
    QuantSection,
    list_profiles,
    load_profile,
    validate_file,
)

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "profiles"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    # Keep the user's ~/.config profiles out of the tests.
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))


def test_two_misspelt_keys_both_reported_with_file_line_and_suggestion():
    f = FIX / "two-typos.toml"
    problems = validate_file(f)
    assert problems == [
        f"{f}:6: unknown key in [build]: 'precison'; did you mean 'precisions'?",
        f"{f}:9: unknown key in [benchmark]: 'warmup_msec'; did you mean 'warmup_ms'?",
    ]


def test_load_profile_raises_config_error_with_every_problem():
    with pytest.raises(ConfigError) as exc:
        load_profile(str(FIX / "two-typos.toml"))
    assert exc.value.exit_code == 3
    assert len(exc.value.problems) == 2
    assert "two-typos.toml" in str(exc.value)


def test_wrong_types_reported_on_their_lines():
    f = FIX / "wrong-type.toml"
    assert validate_file(f) == [
        f"{f}:4: build.workspace_mib: Input should be a valid integer (got '4096')",
        f"{f}:7: benchmark.batch: Input should be a valid integer (got True)",
    ]


def test_float_field_accepts_int_but_int_field_refuses_bool():
    p = load_profile(str(FIX / "child-ok.toml"))
    assert p.benchmark.duration_s == 3.0
    # duration_s = 2 (an int) in wrong-type.toml is not among its problems
    assert not any("duration_s" in x for x in validate_file(FIX / "wrong-type.toml"))


def test_syntax_error_line_from_tomllib():
    f = FIX / "syntax-error.toml"
    problems = validate_file(f)
    assert len(problems) == 1
    assert problems[0].startswith(f"{f}:5: TOML syntax error: Unclosed array")


def test_extends_cycle_lists_the_chain():
    f = FIX / "cycle-a.toml"
    assert validate_file(f) == [f"{f}:2: extends cycle: cycle-a -> cycle-b -> cycle-a"]


def test_missing_parent_is_named_with_suggestion():
    problems = validate_file(FIX / "missing-parent.toml")
    assert len(problems) == 1
    assert "extends 'cpu-x86-64': no such profile" in problems[0]
    assert "did you mean 'cpu-x86_64'?" in problems[0]
    assert problems[0].startswith(f"{FIX / 'missing-parent.toml'}:2:")


def test_child_merges_table_by_table():
    p = load_profile(str(FIX / "child-ok.toml"))
    parent = load_profile("cpu-x86_64")
    assert p.name == "child-ok"
    assert p.extends == "cpu-x86_64"
    assert p.build.intra_op_threads == 4
    assert p.build.backend == "onnxruntime"  # inherited from cpu-x86_64
    assert p.quantization.per_channel is True
    assert p.quantization.activation_type == "uint8"  # inherited
    assert p.build.shapes["input"].opt == [4, 3, 224, 224]
    assert p.description == "valid child of cpu-x86_64"  # never inherited
    assert p.content_hash() != parent.content_hash()


def test_lists_replace_not_append(tmp_path):
    f = tmp_path / "lists.toml"
    f.write_text('extends = "cpu-x86_64"\n[build]\nprecisions = ["fp32"]\n')
    assert load_profile(str(f)).build.precisions == ["fp32"]


def test_base_defaults_equal_schema_defaults():
    base = load_profile("base")
    assert base.extends is None
    for section in ("build", "quantization", "accuracy", "benchmark", "power", "telemetry"):
        model = type(getattr(base, section))
        assert getattr(base, section) == model(), section


def test_base_values_from_issue():
    b = load_profile("base")
    assert b.accuracy.max_top1_drop_pts == 0.5
    assert b.accuracy.min_cosine == 0.99
    assert (b.benchmark.warmup_ms, b.benchmark.duration_s, b.benchmark.min_iterations) == (200, 3.0, 10)
    assert b.benchmark.percentiles == [50.0, 90.0, 95.0, 99.0]
    assert (b.telemetry.source, b.telemetry.interval_ms) == ("auto", 200)


def test_cpu_recipes():
    """The CPU profiles pick their INT8 recipe for the CPU they run on (precision/cpu_recipes.py, tested in
    test_cpu_recipes.py); every other profile keeps the keys it writes."""
    x86 = load_profile("cpu-x86_64").quantization
    arm = load_profile("cpu-aarch64").quantization
    assert (x86.cpu_recipe, arm.cpu_recipe) == ("auto", "auto")
    assert load_profile("base").quantization.cpu_recipe == "profile"
    assert load_profile("jetson-orin-nx").quantization.cpu_recipe == "profile"
    assert load_profile("cpu-x86_64").build.backend == "onnxruntime"


def test_content_hash_ignores_name_and_description(tmp_path):
    src = paths.bundled_profiles_dir() / "cpu-x86_64.toml"
    copy = tmp_path / "renamed.toml"
    copy.write_text(src.read_text().replace('description = "', 'description = "renamed '))
    a, b = load_profile("cpu-x86_64"), load_profile(str(copy))
    assert a.description != b.description
    assert a.content_hash() == b.content_hash()
    assert len(a.content_hash()) == 64


def test_profile_is_frozen():
    p = load_profile("cpu-x86_64")
    with pytest.raises(Exception):  # noqa: B017 - pydantic ValidationError for frozen instance
        p.build.intra_op_threads = 3  # type: ignore[misc]
    assert isinstance(p, Profile) and isinstance(p.quantization, QuantSection)


def test_unknown_name_suggests():
    with pytest.raises(ConfigError) as exc:
        load_profile("cpu-x86")
    assert "no profile named 'cpu-x86'" in str(exc.value)
    assert "did you mean 'cpu-x86_64'" in str(exc.value)


def test_user_dir_shadows_bundled_and_invalid_listed(tmp_path):
    user = paths.user_profiles_dir()
    user.mkdir(parents=True)
    (user / "cpu-x86_64.toml").write_text('description = "mine"\n[device]\nname = "x"\nkind = "cpu"\narch = "x86_64"\n')
    shutil.copy(FIX / "two-typos.toml", user / "broken.toml")
    assert load_profile("cpu-x86_64").description == "mine"
    entries = {e.name: e for e in list_profiles()}
    assert entries["cpu-x86_64"].path == user / "cpu-x86_64.toml"
    assert entries["broken"].error is not None and "did you mean 'precisions'" in entries["broken"].error
    assert "(+1 more)" in entries["broken"].error
    assert entries["base"].error is None


def test_inline_table_and_dotted_keys_fall_back_sensibly(tmp_path):
    f = tmp_path / "inline.toml"
    f.write_text(
        'extends = "cpu-x86_64"\nbuild.workspace_mib = -1\n[build.shapes]\nx = { min = [1], opt = [2], max = [1] }\n'
    )
    problems = validate_file(f)
    assert f"{f}:2: build.workspace_mib: Input should be greater than or equal to 0 (got -1)" in problems
    assert f"{f}:4: build.shapes.x: each dimension needs min <= opt <= max" in problems


def test_dla_core_must_exist(tmp_path):
    f = tmp_path / "dla.toml"
    f.write_text('extends = "cpu-x86_64"\n[build]\nbackend = "tensorrt"\ndla_core = 0\n')
    (problem,) = validate_file(f)
    assert problem.startswith(f"{f}:4: build.dla_core: 0 but device.dla_cores is 0")


def test_problems_in_a_parent_name_the_parent_file(tmp_path):
    parent = tmp_path / "parent.toml"
    parent.write_text('extends = "cpu-x86_64"\n\n[telemetry]\ninterval_ms = "fast"\n')
    child = tmp_path / "child.toml"
    child.write_text('extends = "parent"\nname = "child"\n[benchmark]\nbatch = 0\n')
    assert validate_file(child) == [
        f"{child}:2: unknown top-level key 'name' (a profile's name is its file name; use description)",
        f"{child}:4: benchmark.batch: Input should be greater than or equal to 1 (got 0)",
        f"{parent}:4: telemetry.interval_ms: Input should be a valid integer (got 'fast')",
    ]


def test_unreadable_and_directory_paths_are_problems_not_crashes(tmp_path):
    (d := tmp_path / "dir.toml").mkdir()
    (problem,) = validate_file(d)
    assert problem.startswith(f"{d}:1: cannot read file")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'description = "caf\xe9"\n')
    assert validate_file(bad) == [f"{bad}:1: not UTF-8 text (TOML files must be UTF-8)"]
