"""The GPU half's first real run, on one NVIDIA GPU, offline, in at most 4 minutes, from a plain copy of the source tree.

What it does, printing each result as it comes:

1. Without a GPU (no CUDA driver, or it sees no device; asked through libcuda with ctypes, torch never imported):
   prints "no GPU: nothing run" and exits 0.
2. Checks the packages the workbench and this check import (torch, onnx, onnxruntime, numpy, psutil, Pillow, pytest,
   nvidia-ml-py, pydantic). With ``--wheels DIR`` the missing ones are installed from DIR only
   (``pip --isolated install --no-index --find-links DIR --target <private temp dir>``: no pip configuration or
   environment variables read, never the network, never the system site-packages) and that
   folder goes first on ``sys.path`` and the children's ``PYTHONPATH``. Still missing: named, exit 2.
3. Builds TorchScript files (``torch.jit.trace``, ours, run with ``--trust-model``): the bundled digits CNN with its
   weights, and a ResNet-18-shaped net (random weights, batch 1, 224x224, as workbench/core/models/resnet.py).
4. For each: a bare torch loop (the textbook H2D + forward + D2H + synchronize per query, perf_counter_ns around
   it, NVML's energy counter before and after) and ``workbench bench --backend torch --telemetry nvml``, the same
   input shape, the same duration, one after the other.
5. Runs ``pytest tests/gpu``; then, with the time left, ``workbench bench --backend tensorrt`` on the ONNX models
   when TensorRT imports, and ``trtexec`` on the ResNet-18-shaped ONNX when it is found.
6. Prints the PASS/FAIL table (always, also when a part failed or ran out of time) and the figures.

Checks (pure functions below, unit-tested in tests/unit/test_gpu_check.py): ran on CUDA; split count = timed
iterations; GPU compute <= latency; ResNet-18-shaped workbench p50 / bare p50 <= 1.05; the bundled model's
harness overhead (workbench p50 - bare p50) <= 50 µs per query; mean W and mJ/inference within 30 % of the bare
loop's. Exit 0 when every check passes, 1 otherwise.

Usage: python benchmarks/gpu_check.py [--wheels DIR] [--seconds S] [--budget S]
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

# import name -> pip name: what the workbench core and this check import on that machine.
NEEDED: dict[str, str] = {
    "torch": "torch",
    "onnx": "onnx",
    "onnxruntime": "onnxruntime",
    "numpy": "numpy",
    "psutil": "psutil",
    "PIL": "pillow",
    "pytest": "pytest",
    "pynvml": "nvidia-ml-py",
    "pydantic": "pydantic",
}

RATIO_LIMIT = 1.05  # ResNet-18-shaped workbench p50 / bare p50
OVERHEAD_LIMIT_US = 50.0  # bundled model: workbench p50 - bare p50, per query
ENERGY_REL = 0.30  # W and mJ/inference within 30 % of the bare loop's


# ---------------------------------------------------------------- pure checks (unit-tested on faked outputs)


@dataclass(frozen=True)
class Check:
    """One row of the table: ``ok`` False also when the figure could not be measured (``figure`` says why)."""

    name: str
    ok: bool
    figure: str


def _missing(name: str, why: str | None) -> Check:
    return Check(name, False, f"not measured: {why or 'no result'}")


def check_ran_on_cuda(label: str, bench: Mapping[str, Any] | None, why: str | None = None) -> Check:
    """``bench``: a ``workbench bench --json`` result. Its timing splits name the device the runner used."""
    name = f"{label}: ran on CUDA"
    if bench is None:
        return _missing(name, why)
    device = (bench.get("timing_splits_ms") or {}).get("device")
    if device is None and bench.get("backend") == "tensorrt" and bench.get("timing_splits_ms"):
        device = "cuda"  # TensorRT runs nowhere else
    return Check(name, device == "cuda", f"device {device}")


def check_split_count(label: str, bench: Mapping[str, Any] | None, why: str | None = None) -> Check:
    """GPU compute splits counted = timed iterations (warm-up never counts, as trtexec)."""
    name = f"{label}: split count = iterations"
    if bench is None:
        return _missing(name, why)
    gc = (bench.get("timing_splits_ms") or {}).get("gpu_compute_ms")
    count = gc.get("count") if isinstance(gc, Mapping) else None
    it = bench.get("iterations")
    return Check(name, count is not None and count == it, f"{count} splits, {it} iterations")


def check_compute_le_latency(label: str, bench: Mapping[str, Any] | None, why: str | None = None) -> Check:
    """Median GPU compute <= median trtexec-style latency (H2D + compute + D2H) and <= host p50."""
    name = f"{label}: GPU compute <= latency"
    if bench is None:
        return _missing(name, why)
    splits = bench.get("timing_splits_ms") or {}
    gc = (splits.get("gpu_compute_ms") or {}).get("median")
    lat = (splits.get("latency_ms") or {}).get("median")
    host = (bench.get("latency_ms") or {}).get("p50")
    if gc is None or host is None:
        return Check(name, False, f"compute {gc} ms, host p50 {host} ms")
    ok = gc <= host and (lat is None or gc <= lat)
    return Check(name, ok, f"compute p50 {gc:.4f} ms, latency p50 {_ms(lat)}, host p50 {host:.4f} ms")


def check_ratio(label: str, wb_p50: float | None, bare_p50: float | None, limit: float = RATIO_LIMIT) -> Check:
    """workbench p50 / bare p50 <= ``limit``."""
    name = f"{label}: workbench p50 / bare p50 <= {limit:g}"
    if wb_p50 is None or bare_p50 is None or bare_p50 <= 0:
        return _missing(name, f"workbench p50 {wb_p50}, bare p50 {bare_p50}")
    r = wb_p50 / bare_p50
    return Check(name, r <= limit, f"{r:.4f} ({wb_p50:.4f} / {bare_p50:.4f} ms)")


def check_overhead(
    label: str, wb_p50: float | None, bare_p50: float | None, limit_us: float = OVERHEAD_LIMIT_US
) -> Check:
    """Harness overhead per query: (workbench p50 - bare p50) in µs <= ``limit_us``."""
    name = f"{label}: harness overhead <= {limit_us:g} µs/query"
    if wb_p50 is None or bare_p50 is None:
        return _missing(name, f"workbench p50 {wb_p50}, bare p50 {bare_p50}")
    us = (wb_p50 - bare_p50) * 1000.0
    return Check(name, us <= limit_us, f"{us:+.1f} µs ({wb_p50:.4f} - {bare_p50:.4f} ms)")


def check_within(label: str, what: str, wb: float | None, bare: float | None, rel: float = ENERGY_REL) -> Check:
    """|workbench - bare| <= ``rel`` x bare."""
    name = f"{label}: {what} within {rel:.0%} of bare"
    if wb is None or bare is None or bare <= 0:
        return _missing(name, f"workbench {wb}, bare {bare}")
    d = (wb - bare) / bare
    return Check(name, abs(d) <= rel, f"{wb:.4g} vs {bare:.4g} ({d:+.1%})")


def check_tests(summary: Mapping[str, Any] | None, why: str | None = None) -> Check:
    """``summary``: :func:`parse_pytest` of ``pytest tests/gpu``; passes when it exited 0 with tests passed."""
    name = "pytest tests/gpu"
    if summary is None:
        return _missing(name, why)
    ok = summary.get("rc") == 0 and summary.get("failed", 0) == 0 and summary.get("passed", 0) > 0
    fig = ", ".join(f"{summary.get(k, 0)} {k}" for k in ("passed", "failed", "skipped", "error"))
    return Check(name, ok, fig)


def parse_pytest(output: str, rc: int) -> dict[str, Any]:
    """Counts from pytest's last summary line ("3 passed, 1 failed, 2 skipped in 4.2s") and the FAILED lines."""
    counts: dict[str, Any] = {"rc": rc, "passed": 0, "failed": 0, "skipped": 0, "error": 0}
    lines = [ln for ln in output.strip().splitlines() if re.search(r"\d+ (passed|failed|skipped|errors?)\b", ln)]
    if lines:
        for n, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?)\b", lines[-1]):
            counts["error" if kind.startswith("error") else kind] = int(n)
    counts["failures"] = [ln.split(" ", 1)[1] for ln in output.splitlines() if ln.startswith(("FAILED ", "ERROR "))]
    return counts


def parse_trtexec(output: str) -> dict[str, float]:
    """Median "Latency" and "GPU Compute Time" (ms) and "Throughput" (qps) from trtexec's performance summary."""
    out: dict[str, float] = {}
    for key, label in (("latency_ms", "Latency"), ("gpu_compute_ms", "GPU Compute Time")):
        m = re.search(
            rf"\b{label}: min = [\d.e+-]+ ms, max = [\d.e+-]+ ms, mean = [\d.e+-]+ ms, median = ([\d.e+-]+) ms", output
        )
        if m:
            out[key] = float(m.group(1))
    m = re.search(r"\bThroughput: ([\d.e+-]+) qps", output)
    if m:
        out["throughput_qps"] = float(m.group(1))
    return out


def bench_figures(bench: Mapping[str, Any]) -> dict[str, float | None]:
    """p50 (ms), mean W and mJ/inference of a ``workbench bench --json`` result (None where absent)."""
    tel = bench.get("telemetry") or {}
    return {
        "p50_ms": (bench.get("latency_ms") or {}).get("p50"),
        "mean_w": tel.get("mean_power_w"),
        "mj_per_inference": tel.get("mj_per_inference"),
    }


def table(checks: list[Check]) -> str:
    """The PASS/FAIL table, one row per check, and the overall verdict."""
    width = max((len(c.name) for c in checks), default=10)
    rows = [f"{'PASS' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.figure}" for c in checks]
    failed = sum(1 for c in checks if not c.ok)
    rows.append(f"{len(checks) - failed}/{len(checks)} checks pass" + ("" if not failed else f"; {failed} FAIL"))
    return "\n".join(rows)


def _ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f} ms"


# ---------------------------------------------------------------- the machine


def gpu_present() -> tuple[bool, str]:
    """Whether the CUDA driver sees a device: libcuda's ``cuInit(0)`` and ``cuDeviceGetCount`` through ctypes
    (no torch: its import alone takes seconds, and it may not be installed). ``(present, why or device count)``."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False, "no CUDA driver (libcuda.so.1 not found)"
    n = ctypes.c_int(0)
    try:
        rc = cuda.cuInit(0)
        if rc != 0:
            return False, f"the CUDA driver does not initialise (cuInit error {rc})"
        rc = cuda.cuDeviceGetCount(ctypes.byref(n))
    except AttributeError:
        return False, "libcuda.so.1 without cuInit/cuDeviceGetCount"
    if rc != 0 or n.value < 1:
        return False, "the CUDA driver sees no device"
    return True, f"{n.value} CUDA device(s)"


def missing_packages() -> list[str]:
    importlib.invalidate_caches()
    return [m for m in NEEDED if importlib.util.find_spec(m) is None]


def install_from_wheels(missing: list[str], wheels: Path, target: Path) -> str:
    """``pip install --no-index --find-links wheels --target target`` the pip names of ``missing``; pip's output
    tail (for the report). Never the network, never the system site-packages."""
    # --isolated: pip reads no configuration file and no PIP_* variable (a machine's own find-links or index would
    # otherwise join DIR)
    cmd = [sys.executable, "-m", "pip", "--isolated", "install", "--no-index", "--find-links", str(wheels), "--target",
           str(target), "--disable-pip-version-check", "--no-warn-script-location", *[NEEDED[m] for m in missing]]  # fmt: skip
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"pip did not run: {exc}"
    sys.path.insert(0, str(target))
    return (res.stdout + res.stderr).strip()[-800:]


class Clock:
    """The whole check's deadline; each part gets what it asks within what is left (minus a reserve for the
    table)."""

    def __init__(self, budget_s: float, reserve_s: float = 5.0) -> None:
        self.t0 = time.monotonic()
        self.deadline = self.t0 + budget_s - reserve_s

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def allow(self, want_s: float) -> float:
        return max(0.0, min(want_s, self.left()))

    def elapsed(self) -> float:
        return time.monotonic() - self.t0


def say(msg: str) -> None:
    print(msg, flush=True)


def run(cmd: list[str], env: Mapping[str, str], timeout: float, cwd: Path | None = None) -> tuple[int, str, str]:
    """``(rc, stdout, stderr)``; rc -9 with "timed out" when the part ran past its share of the budget."""
    if timeout < 5:
        return -9, "", "no time left in the 4-minute budget"
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, env=dict(env), timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        return -9, "", f"timed out after {timeout:.0f} s"
    return res.returncode, res.stdout, res.stderr


# The bare loop: load the same TorchScript, the same input, the textbook timed query, NVML energy around it.
BARE = r"""
import json, sys, time
import torch
path, shape, secs, warm = sys.argv[1], [int(v) for v in sys.argv[2].split("x")], float(sys.argv[3]), float(sys.argv[4])
m = torch.jit.load(path).cuda().eval()
g = torch.Generator().manual_seed(0)
x = torch.randn(shape, generator=g)
nv = h = None
try:
    import pynvml as nv
    nv.nvmlInit()
    u = str(torch.cuda.get_device_properties(0).uuid)
    try:
        h = nv.nvmlDeviceGetHandleByUUID(u if u.startswith(("GPU-", "MIG-")) else "GPU-" + u)
    except Exception:
        h = nv.nvmlDeviceGetHandleByIndex(0)
except Exception:
    nv = None
def energy():
    try:
        return float(nv.nvmlDeviceGetTotalEnergyConsumption(h)) if nv else None
    except Exception:
        return None
def query():
    with torch.inference_mode():
        out = m(x.to("cuda", non_blocking=True)).to("cpu")
    torch.cuda.synchronize()
    return out
end = time.perf_counter() + warm
while time.perf_counter() < end:
    query()
lat = []
e0, t0 = energy(), time.perf_counter()
end = t0 + secs
while time.perf_counter() < end:
    a = time.perf_counter_ns(); query(); lat.append(time.perf_counter_ns() - a)
t1, e1 = time.perf_counter(), energy()
lat.sort()
n = len(lat)
p50 = (lat[(n - 1) // 2] + lat[n // 2]) / 2e6
e = (e1 - e0) if (e0 is not None and e1 is not None) else None
print(json.dumps({"p50_ms": p50, "queries": n, "seconds": t1 - t0, "energy_mj": e,
                  "mean_w": e / (t1 - t0) / 1000.0 if e is not None else None,
                  "mj_per_inference": e / (n * shape[0]) if e is not None else None,
                  "device": torch.cuda.get_device_name(0)}))
"""


def make_models(folder: Path) -> dict[str, tuple[Path, str, Path]]:
    """{label: (TorchScript file, input shape "NxCxHxW", ONNX file)} for the bundled digits CNN (its own weights)
    and the ResNet-18-shaped net (random weights; the ONNX one is workbench.core.models.resnet's)."""
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper

    from workbench.core import paths
    from workbench.core.models.resnet import build_resnet18_onnx

    nn = torch.nn

    class Wrap(nn.Module):
        def __init__(self, body: Any) -> None:
            super().__init__()
            self.body = body

        def forward(self, x):
            return self.body(x)

    # The digits CNN as exported (workbench/data/models/digits_cnn.onnx: Sequential indices 0, 2, 5, 8).
    digits_onnx = paths.default_model_path()
    body = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(1024, 10),
    )  # fmt: skip
    weights = {
        t.name: torch.from_numpy(np.array(numpy_helper.to_array(t)))
        for t in onnx.load(str(digits_onnx)).graph.initializer
    }
    body.load_state_dict(weights)
    digits = folder / "digits_cnn.pt"
    torch.jit.save(torch.jit.trace(Wrap(body).eval(), torch.zeros(1, 1, 8, 8)), str(digits))

    class Block(nn.Module):  # BasicBlock with BatchNorm folded into the conv biases (as models/resnet.py)
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
            self.down = nn.Conv2d(cin, cout, 1, stride) if (stride != 1 or cin != cout) else None

        def forward(self, x):
            y = self.conv2(torch.relu(self.conv1(x)))
            return torch.relu(y + (self.down(x) if self.down is not None else x))

    layers: list[Any] = [nn.Conv2d(3, 64, 7, 2, 3), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)]
    torch.manual_seed(0)
    resnet = folder / "resnet18_shaped.pt"
    torch.jit.save(torch.jit.trace(Wrap(nn.Sequential(*layers)).eval(), torch.zeros(1, 3, 224, 224)), str(resnet))
    resnet_onnx = build_resnet18_onnx(folder / "resnet18_shaped.onnx", batch=1, image=224)
    return {
        "bundled digits CNN": (digits, "1x1x8x8", digits_onnx),
        "ResNet-18-shaped": (resnet, "1x3x224x224", resnet_onnx),
    }


def workbench_bench(
    model: Path, extra: list[str], env: Mapping[str, str], timeout: float
) -> tuple[dict | None, str | None]:
    rc, out, err = run([sys.executable, "-m", "workbench", "bench", str(model), *extra, "--no-store", "--json",
                        "--foreground"], env, timeout, cwd=REPO)  # fmt: skip
    if rc != 0:
        return None, (err.strip().splitlines() or [f"exit {rc}"])[-1][:300]
    try:
        return json.loads(out), None
    except ValueError:
        return None, "no JSON on stdout"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheels", type=Path, help="folder of wheels for the missing packages (no network)")
    ap.add_argument("--seconds", type=float, default=4.0, help="timed seconds per measurement (default 4)")
    ap.add_argument("--budget", type=float, default=235.0, help="whole check's wall-time budget, s (default 235)")
    args = ap.parse_args(argv)
    if args.wheels is not None and not args.wheels.is_dir():
        ap.error(f"--wheels {args.wheels}: not a folder (give the folder holding the .whl files)")
    if not (args.seconds > 0 and args.budget > 0):
        ap.error("--seconds and --budget must be positive")

    present, why = gpu_present()
    if not present:
        say(f"no GPU: nothing run ({why})")
        return 0
    clock = Clock(args.budget)
    say(f"GPU check: {why}; budget {args.budget:.0f} s")
    with tempfile.TemporaryDirectory(prefix="wb-gpu-check-") as tmp_s:
        tmp = Path(tmp_s)
        private = tmp / "site"
        missing = missing_packages()
        if missing and args.wheels is not None:
            say(f"installing from {args.wheels}: {', '.join(NEEDED[m] for m in missing)}")
            say(install_from_wheels(missing, args.wheels, private))
            missing = missing_packages()
        if missing:
            say(
                "missing packages: " + ", ".join(f"{m} (pip {NEEDED[m]})" for m in missing)
                + ("" if args.wheels else "; pass --wheels DIR with their wheels")
            )  # fmt: skip
            return 2
        sys.path.insert(0, str(REPO))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(private) if private.exists() else "", str(REPO), env.get("PYTHONPATH", "")) if p
        )
        env["WORKBENCH_HOME"] = str(tmp / "home")  # no trace in the user's cache
        env["PYTHONUNBUFFERED"] = "1"
        return _measure(args, clock, tmp, env)


def _measure(args: argparse.Namespace, clock: Clock, tmp: Path, env: dict[str, str]) -> int:
    checks: list[Check] = []
    figures: list[str] = []
    secs = args.seconds
    try:
        models = make_models(tmp)
    except Exception as exc:  # noqa: BLE001 - the table is printed whatever fails
        models = {}
        say(f"[models] FAILED: {type(exc).__name__}: {exc}")
    say(f"[models] {', '.join(models) or 'none'} ({clock.elapsed():.0f} s)")
    wb: dict[str, dict | None] = {}
    bare: dict[str, dict | None] = {}
    errors: dict[str, str | None] = {}
    for label, (pt, shape, _) in models.items():
        rc, out, err = run([sys.executable, "-c", BARE, str(pt), shape, str(secs), "1.0"], env, clock.allow(secs + 40))
        try:
            bare[label] = json.loads(out.strip().splitlines()[-1]) if rc == 0 else None
        except (ValueError, IndexError):
            bare[label] = None
        errors[f"bare {label}"] = None if bare[label] else (err.strip().splitlines() or [f"exit {rc}"])[-1][:300]
        b = bare[label]
        say(f"[bare torch] {label}: " + (f"p50 {b['p50_ms']:.4f} ms, {b['queries']} queries, {b['mean_w']} W, "
            f"{b['mj_per_inference']} mJ/inference on {b['device']}" if b else f"FAILED: {errors[f'bare {label}']}"))  # fmt: skip
        extra = ["--backend", "torch", "--trust-model", "--input-shape", f"x:{shape}", "--duration",
                 str(secs), "--warmup-ms", "1000", "--telemetry", "nvml"]  # fmt: skip
        wb[label], errors[f"wb {label}"] = workbench_bench(pt, extra, env, clock.allow(secs + 60))
        w = wb[label]
        if w:
            f = bench_figures(w)
            say(f"[workbench torch] {label}: p50 {_ms(f['p50_ms'])}, {w.get('iterations')} queries, "
                f"{f['mean_w']} W, {f['mj_per_inference']} mJ/inference, splits {w.get('timing_splits_ms')}")  # fmt: skip
        else:
            say(f"[workbench torch] {label}: FAILED: {errors[f'wb {label}']}")
    for label in ("bundled digits CNN", "ResNet-18-shaped"):
        w, b = wb.get(label), bare.get(label)
        why = errors.get(f"wb {label}") or ("model files not made" if label not in models else None)
        checks += [check_ran_on_cuda(f"{label} torch", w, why), check_split_count(f"{label} torch", w, why),
                   check_compute_le_latency(f"{label} torch", w, why)]  # fmt: skip
        wf = bench_figures(w) if w else {"p50_ms": None, "mean_w": None, "mj_per_inference": None}
        bp = b.get("p50_ms") if b else None
        if label == "ResNet-18-shaped":
            checks.append(check_ratio(label, wf["p50_ms"], bp))
        else:
            checks.append(check_overhead(label, wf["p50_ms"], bp))
        checks.append(check_within(label, "mean W", wf["mean_w"], b.get("mean_w") if b else None))
        checks.append(
            check_within(label, "mJ/inference", wf["mj_per_inference"], b.get("mj_per_inference") if b else None)
        )

    # pytest tests/gpu with what is left, keeping ~40 s for the TensorRT extras.
    t = clock.allow(max(30.0, clock.left() - 40.0))
    rc, out, err = run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests/gpu"], env, t, cwd=REPO
    )
    summary = parse_pytest(out, rc) if rc != -9 else None
    checks.append(check_tests(summary, err if rc == -9 else None))
    say(
        f"[pytest tests/gpu] rc {rc}: "
        + (
            checks[-1].figure
            + ("; failed: " + ", ".join(summary["failures"]) if summary and summary["failures"] else "")
        )
    )
    if summary and rc != 0:
        figures.append("pytest output tail:\n" + (out + err)[-3000:])

    # TensorRT when importable; trtexec when found: figures only (no target is stated for them).
    if importlib.util.find_spec("tensorrt") is not None:
        for label, (_, _, onnx_path) in models.items():
            extra = ["--backend", "tensorrt", "--batch", "1", "--duration", str(secs), "--telemetry", "nvml"]
            w, why = workbench_bench(onnx_path, extra, env, clock.allow(secs + 90))
            checks += [
                check_split_count(f"{label} TensorRT", w, why),
                check_compute_le_latency(f"{label} TensorRT", w, why),
            ]
            fig = (
                f"p50 {_ms(bench_figures(w)['p50_ms'])}, splits {w.get('timing_splits_ms')}" if w else f"FAILED: {why}"
            )
            say(f"[workbench tensorrt] {label}: {fig}")
    else:
        say("[tensorrt] not importable: TensorRT runs skipped")
    trtexec = shutil.which("trtexec") or next((p for p in ("/usr/src/tensorrt/bin/trtexec",) if Path(p).exists()), None)
    if trtexec and "ResNet-18-shaped" in models:
        rc, out, err = run(
            [trtexec, f"--onnx={models['ResNet-18-shaped'][2]}", f"--duration={secs:g}", "--warmUp=500"],
            env,
            clock.allow(secs + 90),
        )
        figures.append(f"trtexec ResNet-18-shaped (rc {rc}): {parse_trtexec(out) or (err or out)[-300:]}")
        say(f"[trtexec] {figures[-1]}")
    else:
        say("[trtexec] not found: skipped")

    say("")
    say(table(checks))
    for f in figures:
        say(f)
    say(f"total {clock.elapsed():.0f} s")
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
