"""Typed requests, one per medium: everything that determines a rendered output.

A request is what every entry point builds (the API, the CLI, the dataset runner, the web demo) and what
an engine renders: ``engine.render(request, plan)``. ``engine_options`` configure the loaded engine (weights,
device, dtype: one instance per combination); ``options`` tune one call (guidance, strength …).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from studio.affect import Affect, Trajectory
from studio.affect.coerce import coerce
from studio.errors import StudioError

IMAGE_WEIGHTS_ENV = "STUDIO_IMAGE_WEIGHTS"
SEED_MAX = 2**63 - 1  # seeds are stored as int64 in the manifest


def check_seed(seed: Any, what: str = "seed") -> int:
    """One rule for every medium: a whole number in [0, 2^63 - 1]."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        try:
            if isinstance(seed, str) and seed.strip().lstrip("+").isdigit():
                seed = int(seed)
            elif isinstance(seed, float) and seed.is_integer():
                seed = int(seed)
            else:
                raise ValueError
        except ValueError:
            raise StudioError(f"{what} must be a whole number in [0, 2^63-1], got {seed!r}") from None
    if not 0 <= seed <= SEED_MAX:
        raise StudioError(f"{what} must be a whole number in [0, 2^63-1], got {seed}")
    return int(seed)


@dataclass(frozen=True, kw_only=True)
class Request:
    medium: ClassVar[str] = ""
    affect: Affect | Trajectory = field(default_factory=Affect.neutral)
    seed: int = 0
    engine: str = "embedded"
    engine_options: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "affect", coerce(self.affect))
        object.__setattr__(self, "seed", check_seed(self.seed))
        if not isinstance(self.engine, str) or not self.engine:
            raise StudioError(f"engine must be a name such as 'embedded', got {self.engine!r}")
        for name in ("engine_options", "options"):
            v = getattr(self, name)
            if not isinstance(v, dict):
                raise StudioError(f"{name} must be a dict, got {type(v).__name__}")
            object.__setattr__(self, name, {k: x for k, x in v.items() if x is not None})

    def engine_config(self) -> dict:
        """The keyword arguments that pick (and load) one engine instance."""
        return dict(self.engine_options)

    def to_dict(self) -> dict:
        """JSON-able form for metadata (arrays such as an in-memory portrait are described, not copied)."""
        out: dict[str, Any] = {"medium": self.medium}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "affect":
                v = v.to_dict()
            elif hasattr(v, "shape"):
                v = f"<array {tuple(v.shape)}>"
            out[f.name] = v
        return out


def _text(value: Any, what: str, example: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StudioError(f"{what} is empty: give some text, e.g. {example!r}")
    return value


@dataclass(frozen=True, kw_only=True)
class SpeechRequest(Request):
    medium: ClassVar[str] = "speech"
    text: str
    voice: str | None = None   # a registry voice name or a path to a voice file; None = the engine's default

    def __post_init__(self) -> None:
        super().__post_init__()
        _text(self.text, "the text to speak", "I can't believe we won.")

    def engine_config(self) -> dict:
        cfg = dict(self.engine_options)
        if self.voice is not None:
            cfg["voice"] = self.voice
        return cfg


@dataclass(frozen=True, kw_only=True)
class FaceRequest(Request):
    """A still expression (``text`` None) or a talking head (``text`` given)."""
    medium: ClassVar[str] = "face"
    portrait: Any = None       # a path, an RGB array, or None for the default portrait
    text: str | None = None
    size: int = 512
    fps: float = 25.0
    face_index: int = 0
    voice: str | None = None   # the talking head's speech voice

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.text is not None:
            _text(self.text, "the text to speak", "Hello there.")
        elif isinstance(self.affect, Trajectory):
            raise StudioError("a still takes one affect, not a trajectory; give text to render a video")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 128 <= self.size <= 2048 or self.size % 2:
            raise StudioError(f"size must be an even whole number of pixels in [128, 2048] (H.264 needs even sides), "
                              f"got {self.size!r}")
        if isinstance(self.face_index, bool) or not isinstance(self.face_index, int) or self.face_index < 0:
            raise StudioError(f"face index must be a whole number >= 0, got {self.face_index!r}")

    @property
    def mode(self) -> str:
        return "talk" if self.text is not None else "express"


@dataclass(frozen=True, kw_only=True)
class ImageRequest(Request):
    medium: ClassVar[str] = "image"
    prompt: str
    width: int | None = None    # None: the engine's native size (or the init image's)
    height: int | None = None
    init: Any = None            # an image to grade (embedded) or re-render (diffusion img2img)

    def __post_init__(self) -> None:
        if self.engine == "auto":  # diffusion when weights are given (or $STUDIO_IMAGE_WEIGHTS is set)
            weights = (self.engine_options or {}).get("weights") or os.environ.get(IMAGE_WEIGHTS_ENV)
            object.__setattr__(self, "engine", "diffusion" if weights else "embedded")
        super().__post_init__()
        _text(self.prompt, "the prompt", "a lake house at dawn")
        if isinstance(self.affect, Trajectory):
            raise StudioError("an image takes one affect, not a trajectory; give one emotion (e.g. --emotion joy)")
        for k in ("width", "height"):
            v = getattr(self, k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 16 <= v <= 4096):
                raise StudioError(f"{k} must be a whole number of pixels in [16, 4096], got {v!r}")


REQUEST_TYPES: dict[str, type[Request]] = {"speech": SpeechRequest, "face": FaceRequest, "image": ImageRequest}
