"""The artifact (engine) cache: content-keyed folders under ``paths.artifact_cache_dir()``.

Key = sha256 over the source model's content hash (``models.fingerprint.model_sha256``: the file plus its ONNX
external data files), precision, backend, the profile's content hash and the runtime versions. Each entry is
``<key>/<name>`` plus ``<key>/artifact.json`` (the sidecar: versions, device, profile, precision, model sha256, build
time, the artifact's sha256 and its companions'), and any companion files the build wrote next to the artifact (the
external data of an optimized external-data model, a TensorRT build report).

Each build works in its own folder, ``<key>/.build-<pid>-<random>/`` (mkdtemp: two builds of one entry at once, in
threads or processes, never share a temp name), then moves the companions and then the artifact into place with
``os.replace`` (atomic on one filesystem), and writes the sidecar last, atomically. So an entry with a sidecar is
always complete; a build killed half-way leaves at worst its work folder (removed by the next build once its process
is gone), never a visible partial artifact; and when two builds of the same entry race, the second to finish replaces
the first's files with the same content (same key = same inputs) and both return a loadable artifact.

Used by the backends' ``build`` only (each passes its own versions and extra key parts).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.backends.base import Artifact
from workbench.core.errors import BuildError
from workbench.core.fsutil import sha256_file, storage_error, sweep_dead_work_dirs, write_text_atomic
from workbench.core.models.fingerprint import file_sha256, model_sha256


def cache_key(parts: Mapping[str, Any]) -> str:
    """32 hex characters: sha256 of ``parts`` as canonical JSON (sorted keys), so key order never matters."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def device_string() -> str:
    """This machine's OS, architecture and processor ("Linux-x86_64-x86_64"): part of every cache key."""
    return f"{platform.system()}-{platform.machine()}-{platform.processor() or 'cpu'}"


def _sweep_dead_builds(entry: Path) -> None:
    """Remove ``.build-<pid>-*`` work folders whose process is gone (killed mid-build); a live one is left alone."""
    sweep_dead_work_dirs(entry, ".build-")


def _entry_intact(entry: Path, target: Path, meta: Mapping[str, Any] | None) -> bool:
    """True when the artifact and every companion the sidecar lists are there with the recorded sha256."""
    if not meta or meta.get("artifact_sha256") != file_sha256(target):
        return False
    for name, sha in dict(meta.get("companions") or {}).items():
        companion = entry / str(name)
        if Path(str(name)).name != name or not companion.is_file() or file_sha256(companion) != sha:
            return False
    return True


def get_or_build(
    *,
    backend: str,
    precision: str,
    model_path: Path,
    profile_name: str,
    profile_hash: str,
    versions: Mapping[str, str],
    filename: str,
    build_fn: Callable[[Path], None],
    force: bool = False,
    extra_key: Mapping[str, Any] | None = None,
) -> Artifact:
    """Return the cached artifact for these inputs, building it with ``build_fn(work_path)`` when absent.

    ``build_fn`` must write the artifact to the path it is given (named ``filename``, in a folder of its own); any other
    file it writes in that folder is a companion (e.g. ``<filename>.data``, external data the artifact names by that
    relative location) and is moved into the entry with it. See the module doc for the atomicity.

    Raises:
        StorageError: the cache folder cannot be written.
        BuildError: ``build_fn`` returned without writing the artifact.
        ModelError: the model's external data is missing, truncated or outside its folder (models.fingerprint).
        whatever ``build_fn`` raises (BuildError expected).
    """
    model_sha = model_sha256(model_path)
    key_parts = {
        "backend": backend,
        "precision": precision,
        "model_sha256": model_sha,
        "profile_hash": profile_hash,
        "versions": dict(versions),
        "device": device_string(),
        **(dict(extra_key) if extra_key else {}),
    }
    key = cache_key(key_parts)
    entry = paths.artifact_cache_dir() / key
    target = entry / filename
    sidecar = entry / "artifact.json"
    if not force and target.is_file() and sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            meta = None
        if isinstance(meta, dict) and _entry_intact(entry, target, meta):
            return Artifact(
                path=target,
                backend=backend,
                precision=precision,
                source_model=model_path,
                sidecar_path=sidecar,
                cached=True,
                build_s=float(meta.get("build_s", 0.0)),
                meta=meta,
            )
    try:
        entry.mkdir(parents=True, exist_ok=True)
        _sweep_dead_builds(entry)
        work = Path(tempfile.mkdtemp(prefix=f".build-{os.getpid()}-", dir=entry))
    except OSError as exc:
        raise (storage_error(entry, exc) or exc) from None
    t0 = time.perf_counter()
    try:
        built = work / filename
        build_fn(built)
        if not built.is_file():
            raise BuildError(
                f"the {backend} build wrote no {filename}",
                hint="rebuild with --rebuild; if it repeats, check free disk in the artifact cache folder (or "
                "WORKBENCH_HOME)",
            )
        artifact_sha = sha256_file(built)
        companions = {f.name: sha256_file(f) for f in sorted(work.iterdir()) if f.name != filename and f.is_file()}
        # Companions first: once the artifact is in place, what it names is there too.
        for name in companions:
            os.replace(work / name, entry / name)
        os.replace(built, target)
    except OSError as exc:
        err = storage_error(entry, exc)
        if err is None:
            raise
        raise err from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    build_s = time.perf_counter() - t0
    meta = {
        **key_parts,
        "profile": profile_name,
        "source_model": str(model_path),
        "artifact": filename,
        "artifact_sha256": artifact_sha,
        "companions": companions,
        "build_s": round(build_s, 4),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
    }
    write_text_atomic(sidecar, json.dumps(meta, indent=2, sort_keys=True))
    return Artifact(
        path=target,
        backend=backend,
        precision=precision,
        source_model=model_path,
        sidecar_path=sidecar,
        cached=False,
        build_s=build_s,
        meta=meta,
    )
