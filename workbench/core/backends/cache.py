"""The artifact (engine) cache: content-keyed folders under ``paths.artifact_cache_dir()``.

Key = sha256 over the source model's sha256, precision, backend, the profile's content hash and the
runtime versions. Each entry is ``<key>/<name>`` plus ``<key>/artifact.json`` (the sidecar: versions,
device, profile, precision, model sha256, build time). The sidecar is written *after* the artifact
and both atomically, so an entry with a sidecar is always complete; a build killed half-way leaves
at worst a temp file, never a visible partial artifact.

Used by the backends' ``build`` only (each passes its own versions and extra key parts).
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.backends.base import Artifact
from workbench.core.fsutil import sha256_file, write_text_atomic


def cache_key(parts: Mapping[str, Any]) -> str:
    """32 hex characters: sha256 of ``parts`` as canonical JSON (sorted keys), so key order never matters."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def device_string() -> str:
    """This machine's OS, architecture and processor ("Linux-x86_64-x86_64"): part of every cache key."""
    return f"{platform.system()}-{platform.machine()}-{platform.processor() or 'cpu'}"


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
    """Return the cached artifact for these inputs, building it with ``build_fn(tmp_path)`` when absent.

    ``build_fn`` must write the artifact to the path it is given; we move it into place atomically.

    Raises:
        StorageError: the cache folder cannot be written.
        whatever ``build_fn`` raises (BuildError expected).
    """
    model_sha = sha256_file(model_path)
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
        if meta and meta.get("artifact_sha256") == sha256_file(target):
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
    entry.mkdir(parents=True, exist_ok=True)
    tmp = entry / f".{filename}.building"
    t0 = time.perf_counter()
    try:
        build_fn(tmp)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    build_s = time.perf_counter() - t0
    meta = {
        **key_parts,
        "profile": profile_name,
        "source_model": str(model_path),
        "artifact": filename,
        "artifact_sha256": sha256_file(target),
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
