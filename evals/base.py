"""What every recognizer returns, so reports treat speech, faces and images alike."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass
class Recognition:
    recognizer: str
    probs: dict[str, float] = field(default_factory=dict)  # class → probability (may be empty)
    valence: float | None = None   # estimates on the studio's [-1, 1] scale
    arousal: float | None = None
    measures: dict[str, float] = field(default_factory=dict)  # raw measurements (F0, blendshapes, …)

    @property
    def top(self) -> str | None:
        return max(self.probs, key=self.probs.get) if self.probs else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["top"] = self.top
        return d


class Recognizer(Protocol):
    name: str
    medium: str

    def recognize(self, media: Any) -> Recognition: ...
