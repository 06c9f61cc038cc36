"""Derived caches in the weights store: arrays computed from model files and data (anchor embeddings, fitted
heads). A cache is as easy to edit as a model file and its contents flow into every result, so it is kept
under a key that hashes all of its inputs (the models' verified sha256s among them: new weights mean a new
cache) and carries its own sha256 beside it, checked on every open. A cache that does not check out is
rebuilt, never trusted.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

log = logging.getLogger(__name__)

FOLDER = "derived"


def model_digest(name: str) -> str:
    """sha256 over a registry model's file hashes (verifying the files, which records them on first use)."""
    from studio import weights

    weights.folder(name)
    m = weights.model(name)
    return hashlib.sha256("".join(f"{wf.path}:{weights.expected_sha(name, wf)}\n" for wf in m.files).encode()).hexdigest()


def cache_path(kind: str, inputs: dict[str, Any]) -> Path:
    from studio import weights

    key = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:20]
    return weights.store_dir() / FOLDER / f"{kind}-{key}.npz"


def _sidecar(p: Path) -> Path:
    return p.with_name(p.name + ".sha256")


def load(p: Path) -> dict[str, np.ndarray] | None:
    """The arrays of a cache whose bytes match its recorded sha256, else None (and the reason logged)."""
    try:
        data = p.read_bytes()
        want = _sidecar(p).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if hashlib.sha256(data).hexdigest() != want:
        log.warning("derived cache %s does not match its recorded sha256; rebuilding it", p)
        return None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError):
        return None


def save(p: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays and their sha256 (sidecar last, so a crash leaves a cache that is simply rebuilt)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getvalue()
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        for target, payload in ((p, data), (_sidecar(p), hashlib.sha256(data).hexdigest().encode() + b"\n")):
            tmp = target.with_name(target.name + f".{os.getpid()}.part")
            tmp.write_bytes(payload)
            os.replace(tmp, target)
    except OSError as e:  # a read-only store still works, it just computes again next time
        log.info("could not cache %s (%s)", p, e)


def cached(kind: str, inputs: dict[str, Any], build: Callable[[], dict[str, np.ndarray]],
           valid: Callable[[dict[str, np.ndarray]], bool] = lambda a: True) -> dict[str, np.ndarray]:
    """The arrays for ``inputs``: from the verified cache, or built (and cached) when there is none."""
    p = cache_path(kind, inputs)
    arrays = load(p) if p.exists() else None
    if arrays is not None and valid(arrays):
        return arrays
    arrays = build()
    save(p, arrays)
    return arrays
