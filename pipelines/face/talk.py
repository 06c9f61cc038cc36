"""Talking heads: the portrait speaks the emotional speech, face and mouth driven frame by frame."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from pipelines.face import motion, visemes
from pipelines.face import topology as T
from pipelines.face.portrait import Portrait, prepare
from studio.affect import ActionUnitPlan, action_unit_plan
from studio.affect.tracks import PlanTrack
from studio.errors import StudioError
from studio.results import Result

MAX_SECONDS = 60.0
MAX_CHARS = 1200     # refused before synthesis: far more than 60 s of speech at any rate
AU_MAX = 1.5


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


def _frame_plans(plan: ActionUnitPlan | PlanTrack, n: int, fps: float, duration: float) -> list[ActionUnitPlan]:
    if isinstance(plan, ActionUnitPlan):
        return [plan] * n
    if plan.source is None:  # a hand-edited track: its keyframe plans morph
        out = [plan.at(i / fps, duration) for i in range(max(1, int(round(fps * duration))))][:n]
    else:  # derived from a trajectory: plan each distinct sampled affect once
        cache: dict = {}
        out = []
        for a in plan.source.sample(fps, duration)[:n]:
            key = (a.vad, a.mixture, a.intensity)
            if key not in cache:
                cache[key] = action_unit_plan(a)
            out.append(cache[key])
    while len(out) < n:
        out.append(out[-1])
    return out


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
    n = max(1, int(round(speech.duration_s * fps)))
    plans = _frame_plans(plan, n, fps, speech.duration_s)
    rms = visemes.frame_rms(speech.audio, speech.sample_rate, fps, n)
    track = visemes.mouth_track(speech.phones, n, fps, rms)
    rng = np.random.default_rng(seed)
    blink = motion.blink_track(rng, np.array([pl.blink_rate_per_min for pl in plans]), fps)
    angles = motion.head_angles(rng, np.array([pl.head_motion for pl in plans]), fps, rms)

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
    f = p.fields
    sway = motion.sway_weight(p.face.points, T.FACE_OVAL)[:, None]
    for i in it:
        pl = plans[i]
        aus = dict(pl.aus)
        for au, v in visemes.mouth_aus(track, i).items():
            aus[au] = aus.get(au, 0.0) + v
        if blink[i] > 0:
            aus[45] = aus.get(45, 0.0) + blink[i]
        aus = {k: min(AU_MAX, v) for k, v in aus.items()}
        disp = f.displacement(f.weights(aus, pl.unilateral))
        disp += sway * motion.rotation_disp(p.face.points + np.pad(p.neutral_disp + disp, ((0, 0), (0, 1))), angles[i])
        frames[i] = p.render(disp, warp=warp, aus=aus)
    keys = ([(0.0, plan)] if isinstance(plan, ActionUnitPlan)
            else list(zip(plan.key_times(speech.duration_s), [p for _, p in plan.keys])))
    return TalkResult(frames=frames, fps=float(fps), speech=speech, plan=plan, plans=keys, seed=seed, engine="embedded",
                      tracks={"open": track.open, "blink": blink, "head": angles, "rms": rms})
