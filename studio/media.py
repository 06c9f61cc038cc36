"""Media files written atomically (temporary file, then rename) so a crash never leaves half a file."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from studio.errors import StudioError

AUDIO_EXT = {".wav": "WAV", ".flac": "FLAC"}
IMAGE_EXT = {".png", ".jpg", ".jpeg", ".webp"}
MAX_IMAGE_SIDE = 8192


def check_output(path: str | Path, allowed: set[str] | dict) -> Path:
    p = Path(path)
    if p.suffix.lower() not in allowed:
        raise StudioError(f"output {p} has an unsupported extension; use one of {', '.join(sorted(allowed))}")
    if not p.parent.exists():
        raise StudioError(f"output folder {p.parent} does not exist; create it first")
    if p.is_dir():
        raise StudioError(f"output {p} is a folder; give a file name")
    return p


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path beside ``path``; renamed onto it only if the block succeeds."""
    p = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.stem}.", suffix=p.suffix, dir=p.parent)
    except OSError as e:
        raise StudioError(f"cannot write into {p.parent}: {e.strerror or e}; choose another place with -o") from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; finished files are ordinary readable files
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_audio(path: str | Path, audio: np.ndarray, sample_rate: int) -> Path:
    import soundfile as sf

    p = check_output(path, AUDIO_EXT)
    a = np.asarray(audio, dtype=np.float32)
    if a.size == 0 or not np.all(np.isfinite(a)):
        raise StudioError("refusing to write empty or non-finite audio")
    with atomic_path(p) as tmp:
        sf.write(tmp, a, sample_rate, format=AUDIO_EXT[p.suffix.lower()], subtype="PCM_16")
    return p


def save_png(path: str | Path, image: np.ndarray, meta: dict | None = None) -> Path:
    """RGB uint8 → PNG with each meta entry as a JSON text chunk (affect, plan, seed, engine)."""
    from PIL import Image, PngImagePlugin

    p = check_output(path, {".png"})
    info = PngImagePlugin.PngInfo()
    for k, v in (meta or {}).items():
        info.add_text(k, v if isinstance(v, str) else json.dumps(v, default=str))
    with atomic_path(p) as tmp:
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(tmp, format="PNG", pnginfo=info)
    return p


def png_meta(path: str | Path) -> dict:
    from PIL import Image

    with Image.open(path) as im:
        return dict(getattr(im, "text", {}))


def load_image(path_or_array, max_side: int = MAX_IMAGE_SIDE, name: str | None = None) -> np.ndarray:
    """Any readable image (grey, RGBA, 16-bit, palette) → RGB uint8, downscaled if a side exceeds ``max_side``.
    ``name``: what to call the file in messages (a web upload's own name, not the server's copy)."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(path_or_array, np.ndarray):
        arr = path_or_array
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, -1)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise StudioError(f"image array must be HxW, HxWx3 or HxWx4, got shape {arr.shape}")
        if arr.dtype != np.uint8:
            scale = 255.0 if arr.max() <= 1.0 else (65535.0 if arr.max() > 255 else 255.0)
            arr = np.clip(arr.astype(np.float64) / scale * 255.0, 0, 255).astype(np.uint8)
        img = Image.fromarray(arr[..., :3])
    else:
        p = Path(path_or_array)
        if not p.exists():
            raise StudioError(f"image {name or p} does not exist")
        try:
            img = Image.open(p)
            img.load()
        except (UnidentifiedImageError, OSError, SyntaxError) as e:
            raise StudioError(f"cannot read {name or p} as an image ({type(e).__name__}); give a PNG or JPEG file") from None
        if img.mode in ("I;16", "I;16B", "I;16L", "I"):
            a = np.asarray(img, dtype=np.float64)
            img = Image.fromarray(np.clip(a / max(1.0, a.max()) * 255, 0, 255).astype(np.uint8))
        if img.mode in ("RGBA", "LA", "P", "PA"):
            img = img.convert("RGBA")
            bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
            img = Image.alpha_composite(bg, img)
        img = img.convert("RGB")
    w, h = img.size
    if w < 8 or h < 8:
        raise StudioError(f"image is only {w}x{h} pixels; give at least 64x64")
    if max(w, h) > max_side:
        s = max_side / max(w, h)
        img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
    return np.asarray(img, dtype=np.uint8).copy()


def default_portrait() -> np.ndarray:
    """The scikit-image astronaut (NASA, public domain), 512x512 RGB."""
    from skimage import data

    return data.astronaut()


@dataclass(frozen=True)
class Media:
    """What a recognizer judges: audio (with its rate), one RGB image, or a clip (frames + fps + audio track).

    ``reference`` is a neutral rendering of the same text by the same voice: speech recognizers that
    normalise per speaker measure relative to it. ``path`` is where it was read from, when it was."""
    kind: str                                  # "audio", "image" or "video"
    audio: np.ndarray | None = None            # mono float32
    sample_rate: int | None = None
    image: np.ndarray | None = None            # RGB uint8 (H, W, 3)
    frames: tuple | None = None                # RGB uint8 frames (a sample of the clip's frames)
    fps: float | None = None
    path: Path | None = None
    reference: "Media | None" = None

    def __post_init__(self) -> None:
        if self.kind not in ("audio", "image", "video"):
            raise StudioError(f"media kind must be audio, image or video, got {self.kind!r}")
        if self.kind == "audio" and (self.audio is None or not self.sample_rate):
            raise StudioError("audio media needs samples and a sample rate")
        if self.kind == "image" and self.image is None:
            raise StudioError("image media needs an RGB array")
        if self.kind == "video" and not self.frames:
            raise StudioError("video media needs at least one frame")

    @classmethod
    def of_audio(cls, audio: np.ndarray, sample_rate: int, **kw) -> "Media":
        return cls("audio", audio=np.asarray(audio, np.float32), sample_rate=int(sample_rate), **kw)

    @classmethod
    def of_image(cls, image: np.ndarray, **kw) -> "Media":
        return cls("image", image=np.asarray(image), **kw)

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else f"<{self.kind}>"

    def track(self) -> "Media | None":
        """A clip's audio track as audio media (None when it has none)."""
        if self.kind == "audio":
            return self
        if self.audio is None or not self.sample_rate:
            return None
        return Media.of_audio(self.audio, self.sample_rate, path=self.path)
