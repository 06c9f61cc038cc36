"""What every recognizer is and returns, so reports treat speech, faces and images alike.

A recognizer judges ``studio.media.Media`` (audio with its rate, an RGB image, or a clip) and returns a
``Recognition``. Its ``kind`` says what its verdict is worth: ``perception`` for a model trained on human
labels, ``realisation`` for an estimator that reads the very cues the renderer sets (it checks that a plan
was carried out, not that people would perceive the emotion).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol, Sequence, runtime_checkable

from studio.errors import StudioError
from studio.media import Media

KINDS = ("perception", "realisation")


@dataclass
class Recognition:
    recognizer: str
    probs: dict[str, float] = field(default_factory=dict)  # class → probability (may be empty)
    valence: float | None = None   # estimates on the studio's [-1, 1] scale
    arousal: float | None = None
    measures: dict[str, float] = field(default_factory=dict)  # raw measurements (F0, blendshapes, …)
    dominance: float | None = None
    kind: str = "realisation"

    @property
    def top(self) -> str | None:
        return max(self.probs, key=self.probs.get) if self.probs else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["top"] = self.top
        return d


@runtime_checkable
class Recognizer(Protocol):
    name: str
    medium: str          # "speech", "face" or "image"
    kind: str            # "perception" or "realisation"

    def recognize(self, media: Media) -> Recognition: ...

    def recognize_batch(self, media: Sequence[Media]) -> list[Recognition]: ...


class BaseRecognizer:
    """Shared plumbing: the media-kind check and a batch method that loops (override it to batch for real)."""
    name: ClassVar[str] = ""
    medium: ClassVar[str] = ""
    kind: ClassVar[str] = "realisation"
    accepts: ClassVar[tuple[str, ...]] = ("image",)   # media kinds judged directly

    def check(self, media: Media) -> Media:
        if not isinstance(media, Media):
            raise StudioError(f"{self.name} judges studio.media.Media, got {type(media).__name__}; "
                              "use Media.of_audio(audio, sr) or Media.of_image(rgb)")
        if media.kind not in self.accepts:
            raise StudioError(f"{self.name} judges {' or '.join(self.accepts)}, not {media.kind} ({media.name})")
        return media

    def recognition(self, **kw: Any) -> Recognition:
        return Recognition(self.name, kind=self.kind, **kw)

    def recognize(self, media: Media) -> Recognition:
        raise NotImplementedError

    def recognize_batch(self, media: Sequence[Media]) -> list[Recognition]:
        return [self.recognize(m) for m in media]


def as_media(x: Any) -> Media:
    """Media as given, or an RGB array / image path read as image media (a convenience for stills)."""
    if isinstance(x, Media):
        return x
    import numpy as np

    if isinstance(x, np.ndarray):
        return Media.of_image(x)
    from pathlib import Path

    if isinstance(x, (str, Path)):
        from evals.dispatch import read_media

        return read_media(Path(x))
    if hasattr(x, "media") and callable(x.media):
        return x.media()
    raise StudioError(f"recognizers judge studio.media.Media, a result or a file path, not {type(x).__name__}")
