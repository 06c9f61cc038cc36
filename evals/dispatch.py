"""Back-classify a media file from disk with its medium's independent recognizers.

    recognize_file("speech", "a.wav")  -> [acoustic]
    recognize_file("image", "a.png")   -> [image stats]
    recognize_file("face", "a.png")    -> [FER2013, blendshapes]
    recognize_file("face", "a.mp4")    -> [FER2013 and blendshapes averaged over sampled frames, acoustic on the audio track]

Recognizers are imported lazily and one at a time, so a missing or broken one leaves the others working.
A recognizer that cannot judge the file (no face found, silent audio) is skipped; if none can, the first
reason is raised as a StudioError.
"""
from __future__ import annotations

import importlib
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from evals.base import Recognition
from studio.errors import StudioError

AUDIO_EXT = {".wav", ".flac", ".ogg", ".mp3"}
IMAGE_EXT = {".png", ".jpg", ".jpeg", ".webp"}
VIDEO_EXT = {".mp4", ".mov", ".mkv", ".webm"}
VIDEO_SAMPLES = 8  # frames judged per clip: averages over blinks and visemes at little cost
AUDIO_RATE = 16000  # audio track extracted at this rate for the acoustic recognizer

# medium -> (module, class) of the recognizers that judge stills / audio of that medium
RECOGNIZERS: dict[str, tuple[tuple[str, str], ...]] = {
    "speech": (("evals.speech", "AcousticRecognizer"),),
    "face": (("evals.fer", "FerRecognizer"), ("evals.blendshapes", "BlendshapeRecognizer")),
    "image": (("evals.image", "ImageStatsRecognizer"),),
}


@lru_cache(maxsize=None)
def _recognizer(module: str, cls: str):
    """One instance per process, or None when the module is not installed."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and module.startswith(e.name):
            return None
        raise
    return getattr(mod, cls)()


def available(medium: str) -> list[str]:
    """Recognizer names usable for ``medium`` in this install."""
    out = []
    for module, cls in RECOGNIZERS.get(_medium(medium), ()):
        r = _recognizer(module, cls)
        if r is not None:
            out.append(getattr(r, "name", cls))
    return out


def _medium(medium: str) -> str:
    m = {"video": "face", "audio": "speech"}.get(medium, medium)
    if m not in RECOGNIZERS:
        raise StudioError(f"unknown medium {medium!r}; use speech, face or image")
    return m


def _try(fn: Callable[[], Recognition], errors: list[str], what: str) -> Recognition | None:
    try:
        return fn()
    except StudioError as e:
        errors.append(f"{what}: {e}")
        return None


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises its own error type for unreadable files
        raise StudioError(f"cannot read {path} as audio ({e}); give a WAV or FLAC file") from None
    return audio.mean(axis=1), int(sr)


def video_frames(path: Path, n: int = VIDEO_SAMPLES) -> list[np.ndarray]:
    """``n`` RGB frames spread evenly over the clip (first and last included)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise StudioError(f"cannot open {path} as a video; give an MP4 (H.264) file")
    try:
        frames = []
        while True:  # decode sequentially: seeking in H.264 is not frame-exact with every backend
            ok, bgr = cap.read()
            if not ok:
                break
            frames.append(bgr)
    finally:
        cap.release()
    if not frames:
        raise StudioError(f"no frames could be decoded from {path}; is it a valid MP4?")
    idx = np.unique(np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int))
    return [np.ascontiguousarray(frames[i][..., ::-1]) for i in idx]


def video_audio(path: Path, rate: int = AUDIO_RATE) -> tuple[np.ndarray, int] | None:
    """The clip's audio track as mono float32 (None when it has none), decoded by the bundled ffmpeg."""
    import imageio_ffmpeg

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "track.wav"
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(path), "-vn",
               "-ac", "1", "-ar", str(rate), "-f", "wav", str(wav)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0 or not wav.exists() or wav.stat().st_size <= 44:
            return None
        return read_audio(wav)


def average(recs: list[Recognition], extra: dict[str, float] | None = None) -> Recognition:
    """Frame recognitions → one: mean probabilities, mean VA, mean of every measure."""
    probs = {k: float(np.mean([r.probs.get(k, 0.0) for r in recs])) for k in recs[0].probs}
    vs = [r.valence for r in recs if r.valence is not None]
    ars = [r.arousal for r in recs if r.arousal is not None]
    keys = sorted({k for r in recs for k in r.measures})
    measures = {k: float(np.mean([r.measures[k] for r in recs if k in r.measures])) for k in keys}
    measures.update(extra or {})
    return Recognition(recs[0].recognizer, probs, float(np.mean(vs)) if vs else None,
                       float(np.mean(ars)) if ars else None, measures)


@lru_cache(maxsize=32)
def _calibrated(reference: str, mtime: float):
    """The acoustic recognizer normalised to a neutral rendering of the same voice (speaker baseline)."""
    base = _recognizer(*RECOGNIZERS["speech"][0])
    if base is None or not hasattr(base, "calibrate"):
        return base
    return base.calibrate(*read_audio(Path(reference)))


def recognize_array(medium: str, media, sample_rate: int | None = None, errors: list[str] | None = None,
                    reference: str | Path | None = None) -> list[Recognition]:
    """Recognitions of in-memory media: an RGB array (face/image) or a mono signal with ``sample_rate`` (speech).
    ``reference``: a neutral rendering of the same text and voice; speech recognizers measure relative to it."""
    errors = [] if errors is None else errors
    out = []
    for module, cls in RECOGNIZERS[_medium(medium)]:
        rec = _recognizer(module, cls)
        if rec is None:
            continue
        if reference is not None and _medium(medium) == "speech":
            ref = Path(reference)
            if not ref.is_file():
                raise StudioError(f"reference {ref} does not exist; give a neutral rendering of the same text, or none")
            rec = _calibrated(str(ref.resolve()), ref.stat().st_mtime)
        if _medium(medium) == "speech":
            r = _try(lambda: rec.recognize(media, sample_rate), errors, cls)
        else:
            r = _try(lambda: rec.recognize(media), errors, cls)
        if r is not None:
            out.append(r)
    return out


def _recognize_video(path: Path, errors: list[str]) -> list[Recognition]:
    frames = video_frames(path)
    out = []
    for module, cls in RECOGNIZERS["face"]:
        rec = _recognizer(module, cls)
        if rec is None:
            continue
        per = [r for f in frames if (r := _try(lambda: rec.recognize(f), errors, cls)) is not None]
        if per:
            out.append(average(per, {"frames_judged": float(len(per)), "frames_sampled": float(len(frames))}))
    speech = _recognizer(*RECOGNIZERS["speech"][0])
    if speech is not None:
        track = video_audio(path)
        if track is None:
            errors.append(f"{path.name} has no audio track")
        else:
            r = _try(lambda: speech.recognize(*track), errors, "acoustic")
            if r is not None:
                out.append(r)
    return out


def recognize_file(medium: str, path: str | Path, errors: list[str] | None = None,
                   reference: str | Path | None = None) -> list[Recognition]:
    """All recognitions of one file; recognizers that cannot judge it add a reason to ``errors``.
    ``reference`` (speech): a neutral rendering of the same text by the same voice, used as the speaker baseline."""
    p = Path(path)
    if not p.is_file():
        raise StudioError(f"{p} does not exist; give the path of a rendered file")
    m = _medium(medium)
    errs: list[str] = [] if errors is None else errors
    ext = p.suffix.lower()
    if ext in VIDEO_EXT:
        out = _recognize_video(p, errs)
    elif ext in AUDIO_EXT:
        if m != "speech":
            raise StudioError(f"{p.name} is audio; judge it as medium 'speech'")
        audio, sr = read_audio(p)
        out = recognize_array("speech", audio, sr, errs, reference)
    elif ext in IMAGE_EXT:
        if m == "speech":
            raise StudioError(f"{p.name} is an image; judge it as medium 'face' or 'image'")
        from studio.media import load_image

        out = recognize_array(m, load_image(p), errors=errs)
    else:
        raise StudioError(f"cannot judge {p.name}: use WAV/FLAC audio, PNG/JPEG images or MP4 video")
    if not out and errs:
        raise StudioError(errs[0])
    return out
