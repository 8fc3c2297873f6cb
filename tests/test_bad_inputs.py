"""Bad-input matrix (issue 7, item 1): every case is a real small input fed to the real CLI in a subprocess.

Each case asserts the exact exit code (workbench/cli/exitcodes.py), a message naming the culprit (file, key,
line or mode), no traceback and no "internal error" on stderr, and that nothing was written besides what the
case expects (a snapshot of WORKBENCH_HOME and of the case's work folder before and after the run). Some
inputs must *work*: an ONNX file named ``.engine`` is ONNX; grayscale/RGBA/16-bit/palette/odd-sized images are
converted by the dataset's preprocess; ``.DS_Store`` is skipped and reported.

Files a run may always leave: ``data/jobs/**`` (the record of a job the CLI started, kept for ``workbench jobs``).
"""

from __future__ import annotations

import fnmatch
import io
import os
import pickle
import random
import resource
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIX = REPO / "tests" / "fixtures"
DIGITS = REPO / "workbench" / "data" / "models" / "digits_cnn.onnx"
DIGITS_CALIB = REPO / "workbench" / "data" / "calib" / "digits"
NVPM = FIX / "nvpmodel"
NVPM_CONF = NVPM / "orin-nx-16gb-p3767-0000.conf"
TRTEXEC_LOG = FIX / "trtexec" / "xavier-nx-trt85-e2e-host-latency-oe4t-pr1124.log"
ALWAYS_ALLOWED = ("home/data/jobs/*",)


@dataclass
class Expect:
    """What one case runs and what it must produce. ``mentions``: substrings of stderr+stdout (all required)."""

    argv: list[str]
    exit: int
    mentions: tuple[str, ...]
    allowed_new: tuple[str, ...] = ()  # fnmatch patterns over "home/<rel>" and "work/<rel>"
    env: dict[str, str] = field(default_factory=dict)
    fsize_limit: int | None = None  # RLIMIT_FSIZE of the CLI process (bytes): a "full disk"
    check: Callable[[subprocess.CompletedProcess, Path], None] | None = None  # extra assertions
    error_line: bool = True  # stderr has an "error: ..." line (validate prints its findings as data instead)


class W:
    """The case's work folder, WORKBENCH_HOME, and cleanups (processes to stop after the run)."""

    def __init__(self, work: Path, home: Path, env: dict[str, str]) -> None:
        self.work = work
        self.home = home
        self.env = env
        self.cleanups: list[Callable[[], None]] = []

    def path(self, name: str) -> Path:
        return self.work / name

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """Run the CLI during setup (e.g. to fill a cache); must succeed."""
        res = subprocess.run(
            [sys.executable, "-m", "workbench", *args], capture_output=True, text=True, env=self.env, timeout=120
        )
        assert res.returncode == 0, res.stderr
        return res


CASES: dict[str, Callable[[W], Expect]] = {}


def case(fn: Callable[[W], Expect]) -> Callable[[W], Expect]:
    CASES[fn.__name__.removeprefix("case_")] = fn
    return fn


# ---------------------------------------------------------------------------------------------- inputs


def _tiny_model(path: Path, *, features: int = 16, external: str | None = None) -> Path:
    """y = x @ W, x [batch, features] float32 (W stored in ``external`` when given)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((features, 4)).astype(np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if external:
        onnx.save(model, path, save_as_external_data=True, location=external, size_threshold=0)
    else:
        onnx.save(model, path)
    return path


def _rgb_model(path: Path) -> Path:
    """Mean over H, W of an RGB image: x [batch, 3, 8, 8] -> y [batch, 3, 1, 1] (a conv-free stand-in)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["x"], ["y"])],
        "rgb",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3, 1, 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def _digits_folder(w: W, name: str = "calib", n: int = 3) -> Path:
    """The first ``n`` bundled digits images plus their preprocess.toml."""
    d = w.path(name)
    d.mkdir()
    shutil.copy2(DIGITS_CALIB / "preprocess.toml", d)
    for p in sorted(DIGITS_CALIB.glob("*.png"))[:n]:
        shutil.copy2(p, d)
    return d


def _image(path: Path, mode: str, size: tuple[int, int] = (8, 8), fmt: str | None = None) -> Path:
    """A seeded random image in Pillow ``mode`` (``I;16`` written as 16-bit PNG, ``P`` with a palette)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(len(mode) * 31 + size[0])
    h, w = size[1], size[0]
    if mode == "I;16":
        img = Image.fromarray(rng.integers(0, 65535, (h, w), dtype=np.uint16))
    elif mode == "P":
        img = Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).convert("P", palette=Image.ADAPTIVE)
    elif mode in ("RGB", "RGBA", "CMYK"):
        ch = {"RGB": 3, "RGBA": 4, "CMYK": 4}[mode]
        img = Image.fromarray(rng.integers(0, 255, (h, w, ch), dtype=np.uint8), mode=mode)
    elif mode == "LA":
        img = Image.fromarray(rng.integers(0, 255, (h, w, 2), dtype=np.uint8), mode="LA")
    else:
        img = Image.fromarray(rng.integers(0, 255, (h, w), dtype=np.uint8)).convert(mode)
    img.save(path, format=fmt)
    assert Image.open(path).mode == mode, (mode, Image.open(path).mode)
    return path


def _calib_with(w: W, images: dict[str, tuple[str, tuple[int, int]]], *, extra_ok: str = "") -> Expect:
    """digits_cnn calibrated on a folder of images in the given modes/sizes: must be converted and work."""
    d = w.path("calib")
    d.mkdir()
    shutil.copy2(DIGITS_CALIB / "preprocess.toml", d)
    for name, (mode, size) in images.items():
        _image(d / name, mode, size)

    def check(res: subprocess.CompletedProcess, _work: Path) -> None:
        assert f"{len(images)} samples" in res.stdout, res.stdout

    return Expect(
        ["calibrate", str(DIGITS), "--calib", str(d)],
        0,
        ("INT8 QDQ model",),
        allowed_new=("home/cache/calibration/*",),
        check=check,
    )


def _npy(path: Path, shape: tuple[int, ...], dtype: str = "float32") -> Path:
    import numpy as np

    np.save(path, np.zeros(shape, dtype=dtype))
    return path


# ---------------------------------------------------------------------------------------------- models


@case
def case_truncated_onnx(w: W) -> Expect:
    data = DIGITS.read_bytes()
    m = w.path("cut.onnx")
    m.write_bytes(data[: len(data) // 2])
    return Expect(["inspect", str(m)], 4, ("cut.onnx",))


@case
def case_missing_external_data(w: W) -> Expect:
    m = _tiny_model(w.path("ext.onnx"), external="ext_weights.bin")
    w.path("ext_weights.bin").unlink()
    return Expect(["inspect", str(m)], 4, ("ext_weights.bin",))


@case
def case_random_binary_named_onnx(w: W) -> Expect:
    m = w.path("noise.onnx")
    m.write_bytes(random.Random(7).randbytes(4096))
    return Expect(["inspect", str(m)], 4, ("noise.onnx", "not a model file"))


@case
def case_text_named_onnx(w: W) -> Expect:
    m = w.path("readme.onnx")
    m.write_text("this is not a model\n")
    return Expect(["inspect", str(m)], 4, ("readme.onnx",))


@case
def case_empty_onnx(w: W) -> Expect:
    m = w.path("empty.onnx")
    m.write_bytes(b"")
    return Expect(["inspect", str(m)], 4, ("empty.onnx", "empty"))


@case
def case_empty_engine(w: W) -> Expect:
    m = w.path("empty.engine")
    m.write_bytes(b"")
    return Expect(["bench", str(m), "--iterations", "5", "--no-store"], 4, ("empty.engine", "empty"))


@case
def case_missing_model(w: W) -> Expect:
    return Expect(["inspect", str(w.path("nowhere.onnx"))], 4, ("nowhere.onnx",))


@case
def case_model_is_a_folder(w: W) -> Expect:
    w.path("models.onnx").mkdir()
    return Expect(["inspect", str(w.path("models.onnx"))], 4, ("models.onnx", "folder"))


@case
def case_onnx_named_engine_inspects_as_onnx(w: W) -> Expect:
    m = w.path("digits.engine")
    shutil.copy2(DIGITS, m)

    def check(res: subprocess.CompletedProcess, _work: Path) -> None:
        import json

        doc = json.loads(res.stdout)
        assert doc["format"] == "onnx", doc
        assert [i["name"] for i in doc["inputs"]] == ["image"]

    return Expect(["inspect", str(m), "--json"], 0, (), check=check)


@case
def case_onnx_named_engine_benchmarks_as_onnx(w: W) -> Expect:
    m = w.path("digits.engine")
    shutil.copy2(DIGITS, m)

    def check(res: subprocess.CompletedProcess, _work: Path) -> None:
        import json

        doc = json.loads(res.stdout)
        entry = doc["results"][0] if "results" in doc else doc
        assert entry["backend"] == "onnxruntime" and entry["iterations"] == 20, entry.keys()

    return Expect(
        ["bench", str(m), "--iterations", "20", "--warmup-ms", "0", "--no-store", "--json"],
        0,
        (),
        allowed_new=("home/cache/artifacts/*",),
        check=check,
    )


class _Payload:
    """Pickles to ``open(marker, "w")``: loading the pickle would create the marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@case
def case_raw_pickle_without_trust(w: W) -> Expect:
    m = w.path("net.pt")
    m.write_bytes(pickle.dumps(_Payload(str(w.path("PWNED"))), protocol=2))
    return Expect(["inspect", str(m)], 4, ("net.pt", "--trust-model"), check=_not_pwned)


@case
def case_torch_zip_full_pickle_without_trust(w: W) -> Expect:
    m = w.path("model.pt")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:  # the torch.save layout: <root>/data.pkl + <root>/version
        z.writestr("model/data.pkl", pickle.dumps(_Payload(str(w.path("PWNED"))), protocol=2))
        z.writestr("model/version", "3\n")
    m.write_bytes(buf.getvalue())
    return Expect(
        ["bench", str(m), "--iterations", "5", "--no-store"], 4, ("model.pt", "--trust-model"), check=_not_pwned
    )


def _not_pwned(_res: subprocess.CompletedProcess, work: Path) -> None:
    assert not (work / "PWNED").exists(), "the pickle was loaded"


# ---------------------------------------------------------------------------------------------- calibration data


@case
def case_calib_shape_mismatch(w: W) -> Expect:
    m = _tiny_model(w.path("tiny.onnx"))
    d = w.path("calib")
    d.mkdir()
    _npy(d / "a.npy", (16,))
    _npy(d / "b.npy", (8,))
    return Expect(["calibrate", str(m), "--calib", str(d)], 5, ("b.npy", "[batch, 16]", "[1, 8]"))


@case
def case_calib_wrong_dtype(w: W) -> Expect:
    m = _tiny_model(w.path("tiny.onnx"))
    d = w.path("calib")
    d.mkdir()
    _npy(d / "a.npy", (16,), "float64")
    return Expect(["calibrate", str(m), "--calib", str(d)], 5, ("a.npy", "float32", "float64"))


@case
def case_calib_mixed_array_sizes(w: W) -> Expect:
    m = _tiny_model(w.path("tiny.onnx"))
    d = w.path("calib")
    d.mkdir()
    _npy(d / "a.npy", (16,))
    _npy(d / "b.npy", (2, 16))  # a batch of 2: allowed with a symbolic batch dim
    _npy(d / "c.npy", (2, 12))
    return Expect(["calibrate", str(m), "--calib", str(d)], 5, ("c.npy", "[2, 12]"))


@case
def case_calib_empty_folder(w: W) -> Expect:
    d = w.path("calib")
    d.mkdir()
    return Expect(["calibrate", str(DIGITS), "--calib", str(d)], 5, (str(d), "empty"))


@case
def case_calib_only_ds_store(w: W) -> Expect:
    d = w.path("calib")
    d.mkdir()
    (d / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))
    return Expect(["calibrate", str(DIGITS), "--calib", str(d)], 5, (str(d), "empty", "1 non-sample files skipped"))


@case
def case_calib_missing_folder(w: W) -> Expect:
    return Expect(["calibrate", str(DIGITS), "--calib", str(w.path("no-such-calib"))], 5, ("no-such-calib",))


@case
def case_calib_images_without_preprocess(w: W) -> Expect:
    d = _digits_folder(w)
    (d / "preprocess.toml").unlink()
    return Expect(["calibrate", str(DIGITS), "--calib", str(d)], 5, ("preprocess.toml",))


@case
def case_calib_preprocess_unknown_key(w: W) -> Expect:
    d = _digits_folder(w)
    text = (d / "preprocess.toml").read_text().replace('layout = "NCHW"', 'layuot = "NCHW"')
    (d / "preprocess.toml").write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("layuot"))
    return Expect(["calibrate", str(DIGITS), "--calib", str(d)], 3, (f"preprocess.toml:{line}", "layuot"))


@case
def case_calib_corrupt_jpeg(w: W) -> Expect:
    d = _digits_folder(w)
    good = _image(w.path("good.jpg"), "L", (8, 8), "JPEG").read_bytes()
    (d / "train_99999.jpg").write_bytes(good[: len(good) // 2])  # cut inside the entropy-coded data
    return Expect(["calibrate", str(DIGITS), "--calib", str(d)], 5, ("train_99999.jpg",))


@case
def case_calib_garbage_npy(w: W) -> Expect:
    m = _tiny_model(w.path("tiny.onnx"))
    d = w.path("calib")
    d.mkdir()
    (d / "a.npy").write_bytes(b"not numpy at all")
    return Expect(["calibrate", str(m), "--calib", str(d)], 5, ("a.npy",))


@case
def case_calib_images_and_arrays_mixed(w: W) -> Expect:
    d = _digits_folder(w)
    _npy(d / "x.npy", (1, 8, 8))
    return Expect(["calibrate", str(DIGITS), "--calib", str(d)], 5, (str(d), "x.npy", "mixes"))


@case
def case_calib_ds_store_skipped_and_reported(w: W) -> Expect:
    d = _digits_folder(w)
    (d / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))

    def check(res: subprocess.CompletedProcess, _work: Path) -> None:
        assert "skipped .DS_Store: hidden file" in res.stdout
        assert "3 samples" in res.stdout

    return Expect(
        ["calibrate", str(DIGITS), "--calib", str(d)],
        0,
        (".DS_Store",),
        allowed_new=("home/cache/calibration/*",),
        check=check,
    )


@case
def case_calib_rgb_images_to_grayscale_model(w: W) -> Expect:
    return _calib_with(w, {"a.png": ("RGB", (8, 8)), "b.png": ("RGB", (8, 8))})


@case
def case_calib_rgba_images(w: W) -> Expect:
    return _calib_with(w, {"a.png": ("RGBA", (8, 8)), "b.png": ("LA", (8, 8))})


@case
def case_calib_16bit_images(w: W) -> Expect:
    return _calib_with(w, {"a.png": ("I;16", (8, 8)), "b.png": ("I;16", (8, 8))})


@case
def case_calib_palette_images(w: W) -> Expect:
    return _calib_with(w, {"a.png": ("P", (8, 8)), "b.gif": ("P", (8, 8))})


@case
def case_calib_mixed_image_sizes(w: W) -> Expect:
    return _calib_with(w, {"a.png": ("L", (8, 8)), "b.png": ("L", (28, 28)), "c.png": ("L", (13, 5))})


@case
def case_calib_grayscale_images_to_rgb_model(w: W) -> Expect:
    m = _rgb_model(w.path("rgb.onnx"))
    d = w.path("calib")
    d.mkdir()
    (d / "preprocess.toml").write_text('[preprocess]\nresize = [8, 8]\ncolor = "RGB"\nlayout = "NCHW"\n')
    _image(d / "a.png", "L", (8, 8))
    _image(d / "b.png", "L", (16, 16))
    return Expect(
        ["calibrate", str(m), "--calib", str(d)], 0, ("2 samples",), allowed_new=("home/cache/calibration/*",)
    )


# ---------------------------------------------------------------------------------------------- profiles / specs


def _profile(name: str) -> str:
    return str(FIX / "profiles" / name)


@case
def case_profile_unknown_keys(w: W) -> Expect:
    return Expect(
        ["profiles", "validate", _profile("two-typos.toml")],
        3,
        ("two-typos.toml:6", "precison", "two-typos.toml:9", "warmup_msec"),
        error_line=False,
    )


@case
def case_profile_wrong_types(w: W) -> Expect:
    return Expect(
        ["profiles", "validate", _profile("wrong-type.toml")],
        3,
        ("wrong-type.toml:4", "workspace_mib", "wrong-type.toml:7", "batch"),
        error_line=False,
    )


@case
def case_profile_toml_syntax_error(w: W) -> Expect:
    return Expect(
        ["profiles", "validate", _profile("syntax-error.toml")], 3, ("syntax-error.toml:5",), error_line=False
    )


@case
def case_profile_extends_cycle(w: W) -> Expect:
    return Expect(
        ["profiles", "validate", _profile("cycle-a.toml")], 3, ("cycle-a.toml", "cycle-b", "cycle"), error_line=False
    )


@case
def case_profile_missing_parent(w: W) -> Expect:
    return Expect(
        ["profiles", "validate", _profile("missing-parent.toml")],
        3,
        ("missing-parent.toml", "cpu-x86-64"),
        error_line=False,
    )


@case
def case_bench_with_bad_profile(w: W) -> Expect:
    return Expect(
        ["bench", str(DIGITS), "--profile", _profile("two-typos.toml"), "--iterations", "5", "--no-store"],
        3,
        ("two-typos.toml:6", "precison"),
    )


@case
def case_unknown_profile_name(w: W) -> Expect:
    return Expect(["bench", str(DIGITS), "--profile", "jetson-nanoo", "--no-store"], 3, ("jetson-nanoo",))


@case
def case_model_spec_unknown_key(w: W) -> Expect:
    spec = w.path("digits.workbench.toml")
    spec.write_text('[quantization]\nmethod = "minmax"\nper_chanel = true\n')
    return Expect(
        ["calibrate", str(DIGITS), "--spec", str(spec), "--calib", str(DIGITS_CALIB)],
        3,
        ("digits.workbench.toml:3", "per_chanel"),
    )


# ---------------------------------------------------------------------------------------------- power


def _fake_board(w: W) -> dict[str, str]:
    bin_dir = w.path("bin")
    bin_dir.mkdir()
    for name, script in (("nvpmodel", "fake_nvpmodel.py"), ("sudo", "fake_sudo.py")):
        exe = bin_dir / name
        exe.write_text(f"#!{sys.executable}\n" + (NVPM / script).read_text())
        exe.chmod(0o755)
    w.path("state").write_text("1\n")
    return {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_NVPM_CONF": str(NVPM_CONF),
        "FAKE_NVPM_STATE": str(w.path("state")),
        "FAKE_NVPM_LOG": str(w.path("calls.log")),
    }


@case
def case_power_set_unknown_mode(w: W) -> Expect:
    env = _fake_board(w)

    def check(_res: subprocess.CompletedProcess, work: Path) -> None:
        calls = (work / "calls.log").read_text().splitlines() if (work / "calls.log").exists() else []
        assert not any(c.startswith("-m") for c in calls), calls  # nvpmodel was never asked to switch
        assert (work / "state").read_text().strip() == "1"

    return Expect(
        ["power", "set", "MAXN_TURBO", "--conf", str(NVPM_CONF)],
        13,
        ("MAXN_TURBO", NVPM_CONF.name),
        env=env,
        allowed_new=("work/calls.log",),
        check=check,
    )


@case
def case_power_list_missing_conf(w: W) -> Expect:
    return Expect(["power", "list", "--conf", str(w.path("nvpmodel.conf"))], 13, ("nvpmodel.conf",))


# ---------------------------------------------------------------------------------------------- results


def _results_db(w: W) -> Path:
    w.cli("results", "import-trtexec", str(TRTEXEC_LOG), "--label", "setup")
    return w.home / "data" / "results.sqlite3"


@case
def case_results_db_locked_by_another_process(w: W) -> Expect:
    db = _results_db(w)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.readline()\n"
            "c.execute('ROLLBACK')\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"

    def release() -> None:
        holder.communicate("\n", timeout=10)

    w.cleanups.append(release)
    return Expect(
        ["results", "import-trtexec", str(TRTEXEC_LOG)],
        10,
        (str(db), "locked by another process"),
        allowed_new=("home/data/results.sqlite3-*",),  # the WAL/shm files of the open database
    )


@case
def case_results_db_corrupt(w: W) -> Expect:
    db = w.home / "data" / "results.sqlite3"
    db.parent.mkdir(parents=True)
    db.write_bytes(random.Random(3).randbytes(8192))
    return Expect(["results", "list"], 10, (str(db), "corrupt"))


@case
def case_results_unknown_id(w: W) -> Expect:
    _results_db(w)
    return Expect(["results", "show", "999"], 10, ("999",), allowed_new=("home/data/results.sqlite3-*",))


@case
def case_trtexec_log_without_summary(w: W) -> Expect:
    log = w.path("noise.log")
    log.write_bytes(random.Random(5).randbytes(2048))
    return Expect(["results", "import-trtexec", str(log)], 10, ("noise.log",))


# ---------------------------------------------------------------------------------------------- outputs


@case
def case_output_dir_read_only_0555(w: W) -> Expect:
    if os.geteuid() == 0:
        pytest.skip("root ignores chmod 0555 (CAP_DAC_OVERRIDE); read_only_sysfs_output covers it as root")
    _results_db(w)
    out = w.path("ro")
    out.mkdir()
    out.chmod(0o555)
    w.cleanups.append(lambda: out.chmod(0o755))
    return Expect(
        ["results", "export", "--format", "csv", "-o", str(out / "r.csv")],
        11,
        (str(out / "r.csv"), "permission denied"),
        allowed_new=("home/data/results.sqlite3-*",),
    )


@case
def case_output_dir_read_only_sysfs(w: W) -> Expect:
    # /sys refuses new files even to root (sysfs has no create), so this is a read-only folder for everyone.
    if os.access("/sys", os.W_OK) and not Path("/sys/class").is_dir():
        pytest.skip("/sys is not sysfs here")
    _results_db(w)
    return Expect(
        ["results", "export", "--format", "csv", "-o", "/sys/workbench-results.csv"],
        11,
        ("/sys/workbench-results.csv", "permission denied"),
        allowed_new=("home/data/results.sqlite3-*",),
    )


@case
def case_output_parent_is_a_file(w: W) -> Expect:
    _results_db(w)
    w.path("report").write_text("a file, not a folder\n")
    return Expect(
        ["results", "export", "--format", "md", "-o", str(w.path("report") / "r.md")],
        11,
        (str(w.path("report")), "not a folder"),
        allowed_new=("home/data/results.sqlite3-*",),
    )


@case
def case_output_is_a_folder(w: W) -> Expect:
    _results_db(w)
    w.path("out").mkdir()
    return Expect(
        ["results", "export", "--format", "json", "-o", str(w.path("out"))],
        11,
        (str(w.path("out")), "is a folder"),
        allowed_new=("home/data/results.sqlite3-*",),
    )


@case
def case_output_under_proc(w: W) -> Expect:
    _results_db(w)
    return Expect(
        ["results", "export", "--format", "csv", "-o", "/proc/workbench-results.csv"],
        11,
        ("/proc/workbench-results.csv",),
        allowed_new=("home/data/results.sqlite3-*",),
    )


@case
def case_disk_full_on_output(w: W) -> Expect:
    calib = _digits_folder(w, n=4)
    w.cli("calibrate", str(DIGITS), "--calib", str(calib))  # fill the cache: the run below only copies
    qdq = next((w.home / "cache" / "calibration").glob("*.qdq.onnx"))
    return Expect(
        ["calibrate", str(DIGITS), "--calib", str(calib), "-o", str(w.path("int8.onnx"))],
        11,
        (str(w.path("int8.onnx")), "RLIMIT_FSIZE"),
        fsize_limit=qdq.stat().st_size // 2,
    )


@case
def case_disk_full_in_calibration_cache(w: W) -> Expect:
    calib = _digits_folder(w, n=4)

    def check(_res: subprocess.CompletedProcess, _work: Path) -> None:
        cache = w.home / "cache" / "calibration"
        assert not list(cache.glob("*.qdq.onnx")), "a QDQ model appeared in the cache"
        assert not list(cache.rglob(".*.tmp")), "a temp file was left behind"

    return Expect(
        ["calibrate", str(DIGITS), "--calib", str(calib)],
        11,
        ("cache", "RLIMIT_FSIZE"),
        fsize_limit=1024,  # smaller than the model copy quantization starts from
        check=check,
    )


@case
def case_disk_full_while_building(w: W) -> Expect:
    def check(_res: subprocess.CompletedProcess, _work: Path) -> None:
        assert not list((w.home / "cache" / "artifacts").rglob("*.onnx")), "a partial artifact is visible"

    return Expect(
        ["build", str(DIGITS)],
        11,
        ("cache", "optimized model"),
        fsize_limit=16 * 1024,  # the optimized digits CNN is ~130 KiB
        check=check,
    )


@case
def case_disk_full_on_export_times(w: W) -> Expect:
    w.cli("build", str(DIGITS))  # the artifact is cached: the run below writes only the latencies
    return Expect(
        [
            "bench",
            str(DIGITS),
            "--iterations",
            "2000",
            "--warmup-ms",
            "0",
            "--no-store",
            "--export-times",
            str(w.path("times.json")),
        ],
        11,
        (str(w.path("times.json")), "RLIMIT_FSIZE"),
        fsize_limit=16 * 1024,  # 2000 latencies as JSON do not fit
    )


# ---------------------------------------------------------------------------------------------- arguments


@case
def case_bad_shapes_argument(w: W) -> Expect:
    return Expect(["bench", str(DIGITS), "--shapes", "image:1xAx8", "--no-store"], 2, ("image:1xAx8",))


@case
def case_telemetry_replay_missing_file(w: W) -> Expect:
    return Expect(
        ["bench", str(DIGITS), "--telemetry", f"replay:{w.path('gone.log')}", "--iterations", "5", "--no-store"],
        12,
        ("gone.log",),
        allowed_new=("home/cache/artifacts/*",),
    )


# ---------------------------------------------------------------------------------------------- the runner


def _snapshot(root: Path, label: str) -> set[str]:
    out = set()
    if root.exists():
        for p in root.rglob("*"):
            if p.is_file() or p.is_symlink():
                out.add(f"{label}/{p.relative_to(root)}")
    return out


def _allowed(rel: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(rel, pat + "/*") for pat in patterns)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name, tmp_path, workbench_home, cli_env):
    work = tmp_path / "work"
    work.mkdir()
    w = W(work, workbench_home, cli_env)
    try:
        exp = CASES[name](w)
        before = _snapshot(workbench_home, "home") | _snapshot(work, "work")
        limit = exp.fsize_limit

        def preexec() -> None:
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        res = subprocess.run(
            [sys.executable, "-m", "workbench", *exp.argv],
            capture_output=True,
            text=True,
            cwd=work,
            env={**cli_env, **exp.env},
            timeout=180,
            preexec_fn=preexec if limit is not None else None,
        )
    finally:
        for fn in w.cleanups:
            fn()
    shown = f"argv: {exp.argv}\nexit {res.returncode}\nstdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    assert res.returncode == exp.exit, shown
    assert "Traceback" not in res.stderr, shown
    assert "internal error" not in res.stderr, shown
    text = res.stdout + res.stderr
    for m in exp.mentions:
        assert m in text, f"expected {m!r} in the output\n{shown}"
    if exp.exit != 0 and exp.error_line:
        assert res.stderr.startswith("error: ") or "\nerror: " in res.stderr, shown
    after = _snapshot(workbench_home, "home") | _snapshot(work, "work")
    new = sorted(p for p in after - before if not _allowed(p, exp.allowed_new + ALWAYS_ALLOWED))
    assert not new, f"unexpected files written: {new}\n{shown}"
    leftovers = [p for p in after if Path(p).name.endswith(".tmp") or Path(p).name.startswith(".build-")]
    assert not leftovers, f"temp files left behind: {leftovers}"
    if exp.check is not None:
        exp.check(res, work)


def test_case_count():
    """The matrix has at least 30 cases (issue 7); the count is printed for the log."""
    print(f"\nbad-input matrix: {len(CASES)} cases")
    assert len(CASES) >= 30


def test_every_help_text_renders():
    """argparse %-formats every help string: a bare '%' in one (e.g. "95 % interval") crashed `--help`."""
    import argparse

    from workbench.cli.main import build_parser

    def walk(parser: argparse.ArgumentParser, path: str) -> int:
        text = parser.format_help()
        assert parser.prog in text, path
        n = 1
        for action in parser._actions:  # noqa: SLF001 - argparse has no public subparser listing
            if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
                for name, sub in action.choices.items():
                    n += walk(sub, f"{path} {name}")
        return n

    assert walk(build_parser(), "workbench") >= 30
