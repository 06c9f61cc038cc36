"""Shared plumbing of the neural recognizers: published folder layouts, safe loading, media unpacking.

A recognizer gets its weights either from the weights registry (``Class()``) or from a user's local
folder in the publisher's layout (``Class(path=...)``); both go through ``resolve`` and the same
``from_pretrained(local_files_only=True, use_safetensors=True)`` call, so tests with tiny random
models exercise the code real weights take. Nothing is unpickled: a folder holding only
``pytorch_model.bin`` is refused with a line saying how to get safetensors.
"""
from __future__ import annotations

import contextlib
import json
import logging
from math import gcd
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from studio.errors import StudioError
from studio.media import Media

log = logging.getLogger(__name__)

CONFIG, WEIGHTS, PREPROCESSOR = "config.json", "model.safetensors", "preprocessor_config.json"
HF_LAYOUT = (CONFIG, PREPROCESSOR, WEIGHTS)
PICKLES = ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack")
CONVERT_HINT = ("pickled weights are never loaded; pull the repo's safetensors revision, or convert once with "
                "safetensors.torch.save_file(torch.load(f, weights_only=True), 'model.safetensors')")


def check_layout(path: str | Path, need: Sequence[str], what: str, name: str) -> Path:
    """``path`` as a folder holding every file in ``need``, else one StudioError line saying which is missing."""
    p = Path(path).expanduser()
    files = ", ".join(need)
    if not p.exists():
        raise StudioError(f"{name}: {p} does not exist; give a local folder in the {what} layout ({files})")
    if not p.is_dir():
        raise StudioError(f"{name}: {p} is a file; give the folder that holds {files} ({what} layout)")
    missing = [f for f in need if not (p / f).is_file()]
    if WEIGHTS in missing and (p / (WEIGHTS + ".index.json")).is_file():
        missing.remove(WEIGHTS)  # sharded safetensors load the same way
    if WEIGHTS in missing and any((p / x).exists() for x in PICKLES):
        raise StudioError(f"{name}: {p} has no {WEIGHTS}, only pickled weights; {CONVERT_HINT}")
    if missing:
        raise StudioError(f"{name}: {p} is not in the {what} layout: missing {', '.join(missing)}")
    return p


def resolve(path: str | Path | None, registry_model: str, need: Sequence[str], what: str, name: str) -> Path:
    """The folder to load: the user's ``path``, else the registry model's verified store folder."""
    if path is not None:
        return check_layout(path, need, what, name)
    from studio import weights

    return check_layout(weights.folder(registry_model), need, what, name)


def read_config(folder: Path, name: str) -> dict:
    try:
        cfg = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise StudioError(f"{name}: {folder / CONFIG} is not readable JSON ({type(e).__name__}); re-pull or re-save the folder") from None
    if not isinstance(cfg, dict) or "model_type" not in cfg:
        raise StudioError(f"{name}: {folder / CONFIG} has no model_type; it is not a transformers config")
    return cfg


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """transformers draws a progress bar per load; a recognizer loads once and should not print."""
    from transformers.utils import logging as tlog

    was = tlog.is_progress_bar_enabled()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            tlog.enable_progress_bar()


def load_pretrained(loader: Callable[..., Any], folder: Path, name: str, what: str, **kw: Any) -> Any:
    """``loader.from_pretrained`` on a local folder, safetensors only, with every weight required.

    A checkpoint of another architecture would load with random heads and only a warning; here any
    missing or mismatched parameter is a StudioError, so a wrong folder can never give random verdicts."""
    try:
        with quiet():
            model, info = loader.from_pretrained(folder, local_files_only=True, use_safetensors=True,
                                                 output_loading_info=True, **kw)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise StudioError(f"{name}: cannot load {folder} as a {what} checkpoint: {first[:200]}") from None
    bad = sorted(info.get("missing_keys") or []) + [str(k[0]) if isinstance(k, tuple) else str(k)
                                                    for k in (info.get("mismatched_keys") or [])]
    if bad:
        raise StudioError(f"{name}: {folder} is not a {what} checkpoint: {len(bad)} parameter(s) missing or of the "
                          f"wrong shape (e.g. {bad[0]}); give a folder in that layout")
    return model.eval()


def load_processor(loader: Callable[..., Any], folder: Path, name: str) -> Any:
    try:
        return loader.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise StudioError(f"{name}: cannot read the preprocessor in {folder}: {first[:200]}") from None


# ---- media ---------------------------------------------------------------------------------------

def audio_of(media: Media, name: str) -> tuple[np.ndarray, int]:
    """Mono float32 samples and their rate, from audio media or a clip's audio track."""
    track = media.track()
    if track is None:
        raise StudioError(f"{name} judges speech, and {media.name} has no audio track")
    a = np.asarray(track.audio, np.float32)
    if a.ndim == 2:
        a = a.mean(axis=1 if a.shape[1] <= 8 else 0)
    if a.ndim != 1 or not np.all(np.isfinite(a)):
        raise StudioError(f"{name}: audio of {media.name} must be finite mono samples, got shape {a.shape}")
    return a, int(track.sample_rate)


def resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Polyphase resampling (scipy; its Kaiser-windowed FIR suppresses aliasing) to ``target`` Hz."""
    if rate == target:
        return np.asarray(audio, np.float32)
    from scipy.signal import resample_poly

    g = gcd(int(rate), int(target))
    return resample_poly(audio, target // g, rate // g).astype(np.float32)


def windows(x: np.ndarray, rate: int, max_s: float) -> list[np.ndarray]:
    """Equal windows of at most ``max_s`` seconds: attention cost grows with the square of length."""
    n = max(1, int(np.ceil(len(x) / (max_s * rate))))
    return [w for w in np.array_split(x, n) if len(w)]


def images_of(media: Media, name: str) -> list[np.ndarray]:
    """The RGB frames to judge: one image, or the sampled frames of a clip."""
    frames = [media.image] if media.kind == "image" else list(media.frames or ())
    out = []
    for f in frames:
        f = np.asarray(f)
        if f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
            raise StudioError(f"{name}: {media.name} must hold RGB uint8 images (H, W, 3), got {f.dtype} {f.shape}")
        out.append(f)
    return out


def face_crops(media: Media, name: str) -> list[np.ndarray]:
    """RGB face crops (framed as the FER path frames them): the one face of an image, or of every sampled
    frame of a clip that shows one."""
    from evals.face_crop import crop_rgb, detect_face

    frames = images_of(media, name)
    if media.kind == "image":
        return [crop_rgb(frames[0])]  # raises the FER path's "no face found" line
    out = [crop_rgb(f, m) for f in frames if (m := detect_face(f)) is not None]
    if not out:
        raise StudioError(f"{name}: no face found in any of the {len(frames)} sampled frames of {media.name}")
    return out
