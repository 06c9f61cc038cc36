"""What every speech engine returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.affect import ProsodyPlan


@dataclass
class SpeechResult:
    audio: np.ndarray                            # float32 mono, peak <= -1 dBFS
    sample_rate: int
    words: list[tuple[str, float, float]]        # (word, start_s, end_s) in ``audio``
    phones: list[tuple[str, float, float]]       # (IPA phone or "sil", start_s, end_s) in ``audio``
    plan: ProsodyPlan                            # for a trajectory: the plan at t = 0
    plans: list[tuple[float, ProsodyPlan]]       # (output time_s, plan) at each keyframe
    affect: dict
    engine: str
    text: str = ""                               # the normalised text that was spoken
    meta: dict = field(default_factory=dict)     # engine diagnostics, e.g. "world_f0": the F0 it synthesised (5 ms frames)

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate

    def save(self, path: str | Path) -> Path:
        from studio.media import save_audio

        return save_audio(path, self.audio, self.sample_rate)
