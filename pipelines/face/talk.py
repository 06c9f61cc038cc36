"""Talking heads: the portrait speaks the emotional speech, face and mouth driven frame by frame."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from pipelines.face.portrait import Portrait, prepare
from studio.affect import ActionUnitPlan
from studio.affect.tracks import PlanTrack
from studio.errors import StudioError
from studio.results import Result

MAX_SECONDS = 60.0
MAX_CHARS = 1200     # refused before synthesis: far more than 60 s of speech at any rate


@dataclass(kw_only=True)
class TalkResult(Result):
    medium: ClassVar[str] = "face"
    frames: np.ndarray            # (T, H, W, 3) uint8
    fps: float
    speech: object                # pipelines.speech.SpeechResult
    plans: list[tuple[float, ActionUnitPlan]] = field(default_factory=list)  # (time_s, plan) per keyframe
    tracks: dict[str, np.ndarray] = field(default_factory=dict)  # per-frame mouth opening, blink, head angles

    @property
    def duration_s(self) -> float:
        return len(self.frames) / self.fps

    def _write(self, path: Path, progress: bool) -> Path:
        """The MP4 (H.264 + AAC) written atomically: no half-written file, even on Ctrl-C."""
        from pipelines.face.video import write_mp4

        frames = self.frames
        if progress:
            from tqdm import tqdm

            frames = tqdm(frames, desc="encoding", unit="frame", leave=False)
        return write_mp4(path, frames, self.fps, self.frames.shape[1:3], self.speech.audio, self.speech.sample_rate)

    def metadata(self) -> dict:
        meta = super().metadata()
        meta.update({"fps": self.fps, "frames": len(self.frames), "duration_s": self.duration_s})
        return meta

    def media(self):
        from studio.media import Media

        return Media("video", frames=tuple(self.frames), fps=self.fps, audio=self.speech.audio,
                     sample_rate=self.speech.sample_rate)


def _check_text(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise StudioError("give the text to speak (--text \"...\"); for a still image leave out --text and write a .png")
    if len(text) > MAX_CHARS:
        raise StudioError(f"the text has {len(text)} characters; one clip takes at most {MAX_CHARS} "
                          f"(about {MAX_SECONDS:.0f} s of speech): split it into several clips")
    return text


def talk(portrait, text: str, plan: ActionUnitPlan | PlanTrack, speech, *, seed: int = 0, fps: float = 25,
         size: int = 512, face_index: int = 0, progress: bool = False, backend: str = "numpy",
         prepared: Portrait | None = None) -> TalkResult:
    """``portrait`` (path, RGB array, or None for the astronaut) speaking ``speech`` (the SpeechResult of
    ``text``) with the face ``plan``.

    Deterministic given ``seed`` (blinks and head motion draw from it). ``backend`` "torch" warps with
    grid_sample (CUDA when present).
    """
    if not isinstance(plan, (ActionUnitPlan, PlanTrack)):
        raise StudioError(f"plan must be an ActionUnitPlan or a face PlanTrack, got {type(plan).__name__}")
    if not 1 <= fps <= 60:
        raise StudioError(f"--fps {fps} is out of range; use 1..60 (25 is the default)")
    if size % 2:
        raise StudioError(f"--size {size} must be even (H.264 needs even frame sides)")
    _check_text(text)
    p = prepared or prepare(portrait, face_index=face_index, size=size)
    if speech.duration_s > MAX_SECONDS:
        raise StudioError(f"the speech lasts {speech.duration_s:.0f} s; one clip takes at most {MAX_SECONDS:.0f} s: "
                          "split the text into several clips")
    from pipelines.face.track import talk_track

    tr = talk_track(p, speech, plan, fps, seed)
    n = len(tr.disp)
    warp = None
    if backend == "torch":
        from pipelines.face.warp import TorchMeshWarp

        warp = TorchMeshWarp(p.warp)
    elif backend != "numpy":
        raise StudioError(f"unknown warp backend {backend!r}; use 'numpy' or 'torch'")

    frames = np.empty((n, size, size, 3), np.uint8)
    it = range(n)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="rendering", unit="frame")
    for i in it:
        frames[i] = p.render(tr.disp[i], warp=warp, aus=tr.aus[i])
    keys = ([(0.0, plan)] if isinstance(plan, ActionUnitPlan)
            else list(zip(plan.key_times(speech.duration_s), [p for _, p in plan.keys])))
    return TalkResult(frames=frames, fps=float(fps), speech=speech, plan=plan, plans=keys, seed=seed, engine="embedded",
                      tracks=tr.tracks)
