"""The per-frame face track of a talking head: what moves the mesh in every frame, for any face renderer.

The same building blocks and call sequence as the warp engine's ``talk()`` loop (visemes from the phone
timings, blinks and head motion drawn from the seed, action-unit fields), factored out so a second renderer
(the diffusion engine) gets the identical mesh per frame: ``disp[i]`` is exactly what ``talk()`` hands to
``Portrait.render`` for frame ``i``, and ``mesh(p, disp[i])`` the landmark positions that frame shows.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipelines.face import motion, visemes
from pipelines.face import topology as T
from pipelines.face.portrait import Portrait
from studio.affect import ActionUnitPlan

AU_MAX = 1.5


@dataclass
class FaceTrack:
    disp: np.ndarray                        # (T, 478, 2) px on top of the neutralisation: Portrait.render's ``disp``
    aus: list[dict[int, float]]             # per frame: the AUs rendered (plan + visemes + blink), clamped
    plans: list[ActionUnitPlan]             # per frame
    fps: float
    tracks: dict[str, np.ndarray] = field(default_factory=dict)  # open, blink, head, rms (as TalkResult.tracks)

    def __len__(self) -> int:
        return len(self.disp)

    def meshes(self, p: Portrait) -> np.ndarray:
        """(T, 478, 2) landmark positions in the frame's pixels."""
        return p.face.points[None, :, :2] + p.neutral_disp[None] + self.disp


def mesh(p: Portrait, disp: np.ndarray) -> np.ndarray:
    """Landmarks (478, 2) px of the portrait moved by ``disp`` on top of its neutralisation (as Portrait.render moves them)."""
    return p.face.points[:, :2] + p.neutral_disp + disp


def still_disp(p: Portrait, plan: ActionUnitPlan) -> np.ndarray:
    """The displacement of a still expression (express()'s ``expression_image``)."""
    return p.fields.displacement(p.fields.weights(plan.aus, plan.unilateral))


def frame_plans(plan, n: int, fps: float, duration: float) -> list[ActionUnitPlan]:
    """One plan per frame: a steady ActionUnitPlan repeated, or a PlanTrack sampled at each frame's time."""
    if isinstance(plan, ActionUnitPlan):
        return [plan] * n
    return [plan.at(i / fps, duration) for i in range(n)]


def talk_track(p: Portrait, speech, plan, fps: float, seed: int) -> FaceTrack:
    """The mesh motion of every frame of a clip speaking ``speech`` (a SpeechResult) with ``plan``."""
    n = max(1, int(round(speech.duration_s * fps)))
    plans = frame_plans(plan, n, fps, speech.duration_s)
    rms = visemes.frame_rms(speech.audio, speech.sample_rate, fps, n)
    mouth = visemes.mouth_track(speech.phones, n, fps, rms)
    rng = np.random.default_rng(seed)
    blink = motion.blink_track(rng, np.array([pl.blink_rate_per_min for pl in plans]), fps)
    angles = motion.head_angles(rng, np.array([pl.head_motion for pl in plans]), fps, rms)
    f = p.fields
    sway = motion.sway_weight(p.face.points, T.FACE_OVAL)[:, None]
    disp = np.empty((n, T.N_LANDMARKS, 2))
    aus_per_frame: list[dict[int, float]] = []
    for i in range(n):
        pl = plans[i]
        aus = dict(pl.aus)
        for au, v in visemes.mouth_aus(mouth, i).items():
            aus[au] = aus.get(au, 0.0) + v
        if blink[i] > 0:
            aus[45] = aus.get(45, 0.0) + blink[i]
        aus = {k: min(AU_MAX, v) for k, v in aus.items()}
        d = f.displacement(f.weights(aus, pl.unilateral))
        d += sway * motion.rotation_disp(p.face.points + np.pad(p.neutral_disp + d, ((0, 0), (0, 1))), angles[i])
        disp[i] = d
        aus_per_frame.append(aus)
    return FaceTrack(disp, aus_per_frame, plans, float(fps),
                     {"open": mouth.open, "blink": blink, "head": angles, "rms": rms})
