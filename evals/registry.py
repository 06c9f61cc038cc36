"""Recognizer registry: one line per recognizer, imported only when asked for.

``get(name, path)`` builds one instance per (name, path) per process, so weights load once. ``path``
overrides the registry's weights with a local file or folder in that recognizer's published layout.
"""
from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from typing import Any

from studio.errors import StudioError


@dataclass(frozen=True)
class RecognizerEntry:
    name: str
    medium: str        # "speech", "face" or "image" (face recognizers also judge the frames of clips)
    kind: str          # "perception" (trained on human labels) or "realisation" (reads the renderer's cues)
    target: str        # "module:Class"; built as Class() or Class(path=PATH)
    outputs: str       # what it predicts, for `studio recognizers`
    weights: str = ""  # the weights-registry model it loads by default ("" = none needed)
    license: str = ""
    extra: str = ""    # pip extra for its modules
    needs_path: bool = False  # has no registry default: runs only when given --recognizer NAME=PATH


RECOGNIZERS: dict[str, RecognizerEntry] = {e.name: e for e in (
    RecognizerEntry("acoustic-prosody", "speech", "realisation", "evals.speech:AcousticRecognizer",
                    "valence, arousal; F0, level, tilt, rate measures", license="MIT (this project)"),
    RecognizerEntry("fer2013", "face", "perception", "evals.fer:FerRecognizer",
                    "7 classes (no contempt); valence, arousal from class anchors", "fer2013-mini-xception"),
    RecognizerEntry("mediapipe-blendshapes", "face", "realisation", "evals.blendshapes:BlendshapeRecognizer",
                    "52 blendshapes, AU evidence (the landmarker the renderer uses)", "face-landmarker"),
    RecognizerEntry("image-stats", "image", "realisation", "evals.image:ImageStatsRecognizer",
                    "valence, arousal from brightness, saturation, texture", license="MIT (this project)"),
    RecognizerEntry("clip-va", "image", "perception", "evals.image:ClipVARecognizer",
                    "8 core classes (zero-shot), valence, arousal", extra="cpu", needs_path=True),
    RecognizerEntry("speech-er", "speech", "perception", "evals.speech_classifier:SpeechEmotionClassifier",
                    "classes of any audio-classification head (default SUPERB: neu/hap/ang/sad); valence, arousal "
                    "from class anchors", "superb-wav2vec2-base-er", "Apache-2.0", extra="cpu"),
    RecognizerEntry("speech-msp-dim", "speech", "perception", "evals.speech_dim:SpeechDimensionalRecognizer",
                    "valence, arousal, dominance (audEERING MSP-Podcast regression)", "audeering-msp-dim",
                    "CC-BY-NC-SA-4.0 (non-commercial)", extra="cpu"),
    RecognizerEntry("hsemotion", "face", "perception", "evals.face_hsemotion:HSEmotionRecognizer",
                    "8 AffectNet classes (with contempt), valence, arousal", "hsemotion-enet-b0-va-mtl", "Apache-2.0"),
    RecognizerEntry("face-vit", "face", "perception", "evals.face_classifier:FaceExpressionClassifier",
                    "classes of any image-classification face head (default FER2013 ViT: 7); valence, arousal "
                    "from class anchors", "vit-face-expression", "Apache-2.0", extra="cpu"),
    RecognizerEntry("image-emotion", "image", "perception", "evals.image_classifier:ImageEmotionClassifier",
                    "classes of any image-classification emotion head (EmoSet's 8); valence, arousal from class "
                    "anchors", extra="cpu", needs_path=True),
)}

_INSTANCES: dict[tuple[str, str | None], Any] = {}
_LOCK = threading.Lock()


def entry(name: str) -> RecognizerEntry:
    if name not in RECOGNIZERS:
        import difflib

        near = difflib.get_close_matches(name, list(RECOGNIZERS), n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise StudioError(f"no recognizer named {name!r}; {hint}`studio recognizers` lists them")
    return RECOGNIZERS[name]


def entries(medium: str | None = None) -> list[RecognizerEntry]:
    return [e for e in RECOGNIZERS.values() if medium in (None, e.medium)]


def _class(e: RecognizerEntry):
    module, _, attr = e.target.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name and err.name.split(".")[0] not in ("studio", "pipelines", "evals"):
            extra = f"pip install 'affect-studio[{e.extra}]'" if e.extra else "reinstall affect-studio"
            raise StudioError(f"recognizer {e.name!r} needs the module {err.name!r}: {extra}") from None
        raise
    return getattr(mod, attr)


def get(name: str, path: str | None = None) -> Any:
    """The shared instance of recognizer ``name`` (weights from ``path`` when given)."""
    e = entry(name)
    if e.needs_path and not path:
        raise StudioError(f"recognizer {name!r} has no default weights; give --recognizer {name}=PATH "
                          "(a local folder in its published layout)")
    key = (name, str(path) if path else None)
    with _LOCK:
        if key not in _INSTANCES:
            cls = _class(e)
            _INSTANCES[key] = cls(path=str(path)) if path else cls()
        return _INSTANCES[key]


def status(name: str) -> str:
    """'ok', 'missing' (its default weights are not pulled) or 'needs path'."""
    e = entry(name)
    if e.needs_path:
        return "needs path"
    if not e.weights:
        return "ok"
    from studio import weights

    return "ok" if weights.status(e.weights) == "ok" else "missing"


def available(medium: str | None = None) -> list[str]:
    """Recognizers that run in this install without a path (weights present, modules importable)."""
    out = []
    for e in entries(medium):
        if status(e.name) != "ok":
            continue
        try:
            _class(e)
        except StudioError:
            continue
        out.append(e.name)
    return out
