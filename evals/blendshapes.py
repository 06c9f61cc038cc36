"""Facial action-unit evidence from MediaPipe's 52 blendshapes (Face Landmarker task).

Blendshapes are ARKit-style coefficients in [0, 1] regressed from the face mesh; they are not
FACS codes, but several track one action unit closely (REFERENCE.md section 2). Each AU's
evidence is the mean of its left and right blendshape. The geometric ``lip_gap`` (inner-lip
distance over forehead-to-chin height) is measured too, since lip-sync scoring needs the mouth
opening itself rather than a model's estimate of it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from evals.face_crop import FaceMesh, detect_face, require_face
from evals.base import BaseRecognizer, Recognition, as_media
from studio.errors import StudioError

# AU number → the blendshapes whose mean is that AU's evidence (REFERENCE.md section 2).
AU_BLENDSHAPES: dict[int, tuple[str, ...]] = {
    1: ("browInnerUp",),
    2: ("browOuterUpLeft", "browOuterUpRight"),
    4: ("browDownLeft", "browDownRight"),
    5: ("eyeWideLeft", "eyeWideRight"),
    6: ("cheekSquintLeft", "cheekSquintRight"),
    7: ("eyeSquintLeft", "eyeSquintRight"),
    9: ("noseSneerLeft", "noseSneerRight"),
    10: ("mouthUpperUpLeft", "mouthUpperUpRight"),
    12: ("mouthSmileLeft", "mouthSmileRight"),
    14: ("mouthDimpleLeft", "mouthDimpleRight"),
    15: ("mouthFrownLeft", "mouthFrownRight"),
    16: ("mouthLowerDownLeft", "mouthLowerDownRight"),
    17: ("mouthShrugLower",),
    20: ("mouthStretchLeft", "mouthStretchRight"),
    24: ("mouthPressLeft", "mouthPressRight"),
    26: ("jawOpen",),
    45: ("eyeBlinkLeft", "eyeBlinkRight"),
}
# Inner-lip midpoints of the face mesh (upper 13, lower 14).
UPPER_LIP, LOWER_LIP = 13, 14
# Measures computed from the mesh geometry and head pose rather than read from the blendshapes.
GEOMETRY_KEYS: tuple[str, ...] = ("lip_gap", "yaw", "pitch", "roll", "nose_x", "nose_y", "face_height")


def au_from_blendshapes(shapes: dict[str, float]) -> dict[int, float]:
    return {au: float(np.mean([shapes.get(n, 0.0) for n in names])) for au, names in AU_BLENDSHAPES.items()}


def lip_gap(mesh: FaceMesh) -> float:
    """Inner-lip opening as a fraction of face height (0 closed, ~0.1-0.2 wide open)."""
    gap = np.linalg.norm(mesh.points[LOWER_LIP, :2] - mesh.points[UPPER_LIP, :2])
    return float(gap / max(mesh.height, 1e-6))


def head_pose(matrix: np.ndarray | None) -> dict[str, float]:
    """Yaw, pitch, roll in degrees from MediaPipe's facial transformation matrix.

    Angles are in MediaPipe's right-handed camera frame (y up), so ``roll`` has the opposite
    sign to ``FaceMesh.roll``, which is measured in image coordinates (y down)."""
    if matrix is None:
        return {}
    r = np.asarray(matrix, dtype=np.float64)[:3, :3]
    r = r / np.linalg.norm(r, axis=0, keepdims=True)  # strip the scale the matrix carries
    pitch = np.degrees(np.arctan2(r[2, 1], r[2, 2]))
    yaw = np.degrees(np.arcsin(np.clip(-r[2, 0], -1.0, 1.0)))
    roll = np.degrees(np.arctan2(r[1, 0], r[0, 0]))
    return {"yaw": float(yaw), "pitch": float(pitch), "roll": float(roll)}


def mesh_measures(mesh: FaceMesh) -> dict[str, float]:
    """Every per-face number: blendshapes, ``AU<n>`` evidence, lip gap, head pose (yaw, pitch,
    roll), nose-tip position (fraction of width and height) and face height (fraction of height)."""
    out = dict(mesh.blendshapes)
    out.update({f"AU{au}": v for au, v in au_from_blendshapes(mesh.blendshapes).items()})
    out["lip_gap"] = lip_gap(mesh)
    out.update(head_pose(mesh.matrix))
    h, w = mesh.image_size
    nose = mesh.points[1, :2]  # nose tip: a stable anchor for frame-to-frame head motion
    out["nose_x"], out["nose_y"] = float(nose[0] / w), float(nose[1] / h)
    out["face_height"] = mesh.height / h
    return out


class BlendshapeRecognizer(BaseRecognizer):
    """Measures blendshapes and AU evidence on a face image; predicts no class or VA itself."""

    name = "mediapipe-blendshapes"
    medium = "face"
    kind = "realisation"
    accepts = ("image",)

    def recognize(self, media) -> Recognition:
        _, mesh = require_face(self.check(as_media(media)).image)
        return self.recognition(measures=mesh_measures(mesh))

    def au_evidence(self, image) -> dict[int, float]:
        _, mesh = require_face(image)
        return au_from_blendshapes(mesh.blendshapes)

    def mouth_open(self, image) -> float:
        """Geometric lip gap over face height (see ``lip_gap``); jawOpen is in ``recognize``."""
        _, mesh = require_face(image)
        return lip_gap(mesh)


def au_realisation(planned: dict[int, float], measured: dict[int, float],
                   baseline: dict[int, float] | None = None, active: float = 0.2, rise: float = 0.05) -> dict[str, float]:
    """How well a rendered face realises an ActionUnitPlan's ``aus``, over the AUs MediaPipe
    measures. Plan intensities (0..1.5) and blendshape scores (0..1) are on different scales,
    so the pattern is compared, not the values:

    - ``au_pattern_r``: Pearson r between planned intensity and measured change from ``baseline``
      (the neutral portrait's evidence; zeros if not given);
    - ``au_recall``: share of planned AUs (>= ``active``) whose evidence rose by more than ``rise``;
    - ``au_off_target``: mean rise of the AUs the plan leaves at zero (should stay near 0).
    """
    from evals.metrics import pearson

    aus = sorted(AU_BLENDSHAPES)
    base = baseline or {}
    change = np.array([measured.get(a, 0.0) - base.get(a, 0.0) for a in aus])
    plan = np.array([planned.get(a, 0.0) for a in aus])
    on, off = plan >= active, plan <= 0
    return {
        "au_pattern_r": pearson(plan, change),
        "au_recall": float(np.mean(change[on] > rise)) if on.any() else float("nan"),
        "au_off_target": float(np.mean(np.clip(change[off], 0, None))) if off.any() else float("nan"),
    }


def au_evidence(image) -> dict[int, float]:
    return BlendshapeRecognizer().au_evidence(image)


def mouth_open(image) -> float:
    return BlendshapeRecognizer().mouth_open(image)


@dataclass
class VideoFrames:
    fps: float
    count: int


def _open_video(path: str | Path):
    import cv2

    p = Path(path)
    if not p.exists():
        raise StudioError(f"video {p} does not exist")
    cap = cv2.VideoCapture(str(p))
    if not cap.isOpened():
        raise StudioError(f"cannot open {p} as a video; give an MP4 (H.264) file")
    return cap


def iter_frames(path: str | Path, every: int = 1) -> Iterator[tuple[int, float, np.ndarray]]:
    """(index, time in s, RGB uint8 frame) for every ``every``-th decoded frame of a video."""
    import cv2

    if every < 1:
        raise StudioError(f"every must be >= 1, got {every}")
    cap = _open_video(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    try:
        index = 0
        while True:
            if index % every == 0:
                ok, bgr = cap.read()
                if not ok:
                    break
                yield index, index / fps, np.ascontiguousarray(bgr[..., ::-1])
            elif not cap.grab():  # skipped frames are not converted to RGB
                break
            index += 1
    finally:
        cap.release()


def measure_video(path: str | Path, every: int = 1, tracking: bool = False, progress: bool = False) -> list[dict[str, float]]:
    """Per-frame measures of a video: every ``every``-th frame gives a dict with ``frame``,
    ``time`` (s), ``face`` (1/0) and, when a face is found, everything ``mesh_measures`` gives.

    By default each frame is measured on its own (IMAGE mode), so jitter in the render shows up
    as jitter in the measures; ``tracking=True`` uses MediaPipe's VIDEO mode, which carries
    state from frame to frame.
    """
    from evals.face_crop import new_landmarker

    frames = iter_frames(path, every)
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, desc="measuring faces", unit="frame")
    landmarker = new_landmarker(video=True) if tracking else None
    rows: list[dict[str, float]] = []
    try:
        for index, t, rgb in frames:
            mesh = detect_face(rgb, landmarker, timestamp_ms=int(round(t * 1000)))
            row: dict[str, float] = {"frame": index, "time": t, "face": float(mesh is not None)}
            if mesh is not None:
                row.update(mesh_measures(mesh))
            rows.append(row)
    finally:
        if landmarker is not None:
            landmarker.close()
    if not rows:
        raise StudioError(f"no frames could be decoded from {path}; is it a valid MP4?")
    return rows


def video_info(path: str | Path) -> VideoFrames:
    """Frames per second and frame count as decoded (counts frames rather than trusting headers)."""
    import cv2

    cap = _open_video(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    n = 0
    try:
        while cap.grab():
            n += 1
    finally:
        cap.release()
    return VideoFrames(float(fps), n)
