"""Back-classify a media file from disk with its medium's independent recognizers.

    recognize_file("speech", "a.wav")  -> [acoustic, and every other available speech recognizer]
    recognize_file("image", "a.png")   -> [image stats]
    recognize_file("face", "a.png")    -> [FER2013, blendshapes]
    recognize_file("face", "a.mp4")    -> [FER2013 and blendshapes averaged over sampled frames, acoustic on the audio track]

Recognizers come from ``evals.registry`` (imported lazily and one at a time, so a missing or broken one
leaves the others working); ``recognizers=["NAME", "NAME=PATH"]`` picks them, default every available one.
A recognizer that cannot judge the file (no face found, silent audio) is skipped; if none can, the first
reason is raised as a StudioError.
"""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from evals import registry
from evals.base import Recognition
from studio.errors import StudioError
from studio.media import Media

AUDIO_EXT = {".wav", ".flac", ".ogg", ".mp3"}
IMAGE_EXT = {".png", ".jpg", ".jpeg", ".webp"}
VIDEO_EXT = {".mp4", ".mov", ".mkv", ".webm"}
VIDEO_SAMPLES = 8  # frames judged per clip: averages over blinks and visemes at little cost
AUDIO_RATE = 16000  # audio track extracted at this rate for the acoustic recognizer

MEDIA = ("speech", "face", "image")


def parse_names(recognizers: Sequence[str] | None, medium: str | None = None) -> list[tuple[str, str | None]]:
    """['fer2013', 'hsemotion=/models/enet'] → [(name, path or None)], checked against the registry;
    None → every recognizer available for ``medium`` in this install."""
    if recognizers is None:
        return [(n, None) for n in registry.available(medium)]
    out = []
    for spec in recognizers:
        name, _, path = str(spec).partition("=")
        name = name.strip()
        registry.entry(name)  # unknown names fail here, with the closest match
        if path and not Path(path).expanduser().exists():
            raise StudioError(f"--recognizer {name}={path}: {path} does not exist; give a local file or folder in "
                              f"that recognizer's published layout")
        out.append((name, str(Path(path).expanduser()) if path else None))
    return out


def available(medium: str) -> list[str]:
    """Recognizer names usable for ``medium`` in this install."""
    return registry.available(_medium(medium))


def _medium(medium: str) -> str:
    m = {"video": "face", "audio": "speech"}.get(medium, medium)
    if m not in MEDIA:
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
    """Frame recognitions → one: mean probabilities, mean VA(D), mean of every measure."""
    probs = {k: float(np.mean([r.probs.get(k, 0.0) for r in recs])) for k in recs[0].probs}

    def mean(attr: str) -> float | None:
        xs = [getattr(r, attr) for r in recs if getattr(r, attr) is not None]
        return float(np.mean(xs)) if xs else None

    keys = sorted({k for r in recs for k in r.measures})
    measures = {k: float(np.mean([r.measures[k] for r in recs if k in r.measures])) for k in keys}
    measures.update(extra or {})
    return Recognition(recs[0].recognizer, probs, mean("valence"), mean("arousal"), measures, mean("dominance"),
                       recs[0].kind)


def read_media(path: Path, reference: Path | None = None) -> Media:
    """A file as Media: audio, an image, or a clip (sampled frames + its audio track)."""
    p = Path(path)
    if not p.is_file():
        raise StudioError(f"{p} does not exist; give the path of a rendered file")
    ext = p.suffix.lower()
    if ext in AUDIO_EXT:
        audio, sr = read_audio(p)
        ref = None
        if reference is not None:
            ref_p = Path(reference)
            if not ref_p.is_file():
                raise StudioError(f"reference {ref_p} does not exist; give a neutral rendering of the same text, or none")
            ra, rsr = read_audio(ref_p)
            ref = Media.of_audio(ra, rsr, path=ref_p)
        return Media.of_audio(audio, sr, path=p, reference=ref)
    if ext in IMAGE_EXT:
        from studio.media import load_image

        return Media.of_image(load_image(p), path=p)
    if ext in VIDEO_EXT:
        track = video_audio(p)
        return Media("video", frames=tuple(video_frames(p)), audio=None if track is None else track[0],
                     sample_rate=None if track is None else track[1], path=p)
    raise StudioError(f"cannot judge {p.name}: use WAV/FLAC audio, PNG/JPEG images or MP4 video")


def _one(name: str, path: str | None, media: Media, errors: list[str]) -> Recognition | None:
    try:
        rec = registry.get(name, path)
    except StudioError as e:
        errors.append(f"{name}: {e}")
        return None
    if media.kind == "video":
        per = [r for f in media.frames if (r := _try(lambda: rec.recognize(Media.of_image(f)), errors, name)) is not None]
        if not per:
            return None
        return average(per, {"frames_judged": float(len(per)), "frames_sampled": float(len(media.frames))})
    return _try(lambda: rec.recognize(media), errors, name)


def recognize(medium: str, media: Media, errors: list[str] | None = None,
              recognizers: Sequence[str] | None = None) -> list[Recognition]:
    """Every (or every named) recognizer of ``medium`` on ``media``; a clip's audio track goes to the speech
    recognizers. A recognizer that cannot judge it adds its reason to ``errors`` and the rest go on."""
    m = _medium(medium)
    errs: list[str] = [] if errors is None else errors
    if media.kind == "audio" and m != "speech":
        raise StudioError(f"{media.name} is audio; judge it as medium 'speech'")
    if media.kind != "audio" and m == "speech":
        raise StudioError(f"{media.name} is an image or a video; judge it as medium 'face' or 'image'")
    wanted = {"speech"} if m == "speech" else ({"face", "speech"} if media.kind == "video" else {m})
    out = []
    for name, path in parse_names(recognizers, None):
        e = registry.entry(name)
        if e.medium not in wanted or (recognizers is None and not _default_for(e, m, media)):
            continue
        target = media
        if media.kind == "video" and e.medium == "speech":
            target = media.track()
            if target is None:
                errs.append(f"{media.name} has no audio track")
                continue
        r = _one(name, path, target, errs)
        if r is not None:
            out.append(r)
    return out


def _default_for(e, medium: str, media: Media) -> bool:
    return e.medium == medium or (media.kind == "video" and e.medium == "speech")


def recognize_file(medium: str, path: str | Path, errors: list[str] | None = None,
                   reference: str | Path | None = None, recognizers: Sequence[str] | None = None) -> list[Recognition]:
    """All recognitions of one file; recognizers that cannot judge it add a reason to ``errors``.
    ``reference`` (speech): a neutral rendering of the same text by the same voice, used as the speaker baseline."""
    m = _medium(medium)
    errs: list[str] = [] if errors is None else errors
    media = read_media(Path(path), reference if m == "speech" else None)
    out = recognize(m, media, errs, recognizers)
    if not out and errs:
        raise StudioError(errs[0])
    return out
