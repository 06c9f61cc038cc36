"""What every speech engine returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from studio.results import Result


@dataclass(kw_only=True)
class SpeechResult(Result):
    medium: ClassVar[str] = "speech"
    audio: np.ndarray                                                  # float32 mono, peak <= -1 dBFS
    sample_rate: int
    words: list[tuple[str, float, float]] = field(default_factory=list)   # (word, start_s, end_s) in ``audio``
    phones: list[tuple[str, float, float]] = field(default_factory=list)  # (IPA phone or "sil", start_s, end_s)
    plans: list[tuple[float, object]] = field(default_factory=list)       # (output time_s, plan) at each keyframe
    text: str = ""                                                     # the normalised text that was spoken

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate

    def metadata(self) -> dict:
        from studio.serial import jsonable

        meta = super().metadata()
        meta.update(jsonable({"text": self.text, "sample_rate": self.sample_rate, "duration_s": self.duration_s,
                              "words": self.words, "phones": self.phones}))
        return meta

    def media(self):
        from studio.media import Media

        return Media.of_audio(self.audio, self.sample_rate)

    def _write(self, path: Path, progress: bool) -> Path:
        from studio.media import save_audio

        return save_audio(path, self.audio, self.sample_rate)
