"""The ControlNet condition: a face mesh drawn as the MediaPipe face annotation ControlNetMediaPipeFace was trained on.

CrucibleAI/ControlNetMediaPipeFace (SD 1.5 / 2.1) was trained on LAION-Face images annotated by their
``laion_face_common.generate_annotation``: a black image with MediaPipe's face-mesh *contours* drawn as
2 px lines (face oval, eyes, eyebrows, lips; no tesselation, no iris rings) and one 4×4 px square on
each iris centre (landmarks 468 and 473). Their colours are MediaPipe ``DrawingSpec`` triples that the
annotator draws into a BGR canvas and then flips to RGB, so the RGB image holds the triples reversed;
the table below is written in the final RGB order. The drawing here is our own cv2 code following
that published description: the same connection sets (MediaPipe's FaceLandmarksConnections), the
same pixel rounding (``floor(x)``, clamped to the last column/row, a point off the image drops its
lines), and ``cv2.line`` with its default 8-connected raster.
"""
from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np

from studio.errors import StudioError

log = logging.getLogger(__name__)

THICKNESS = 2          # the annotator's f_thick, in pixels at the image's own size
PUPIL_HALF = 2         # the annotator's square image[y-2:y+2, x-2:x+2]
RIGHT_IRIS_CENTRE, LEFT_IRIS_CENTRE = 468, 473

# RGB as it lands in the saved annotation (the annotator's BGR DrawingSpec colours, reversed)
COLOURS: dict[str, tuple[int, int, int]] = {
    "face_oval": (10, 200, 10),
    "left_eye": (10, 200, 180),
    "left_eyebrow": (10, 220, 180),
    "right_eye": (180, 200, 10),
    "right_eyebrow": (180, 220, 10),
    "lips": (10, 180, 10),
    "right_iris": (250, 200, 10),
    "left_iris": (10, 200, 250),
}
# drawing order of the annotator's connection dict; later groups paint over earlier ones where lines touch
GROUPS = ("face_oval", "left_eye", "left_eyebrow", "right_eye", "right_eyebrow", "lips")


@lru_cache(maxsize=1)
def connections() -> dict[str, tuple[tuple[int, int], ...]]:
    """MediaPipe's published contour connection sets, by group."""
    from mediapipe.tasks.python.vision import FaceLandmarksConnections as C

    src = {"face_oval": C.FACE_LANDMARKS_FACE_OVAL, "left_eye": C.FACE_LANDMARKS_LEFT_EYE,
           "left_eyebrow": C.FACE_LANDMARKS_LEFT_EYEBROW, "right_eye": C.FACE_LANDMARKS_RIGHT_EYE,
           "right_eyebrow": C.FACE_LANDMARKS_RIGHT_EYEBROW, "lips": C.FACE_LANDMARKS_LIPS}
    return {k: tuple((int(c.start), int(c.end)) for c in v) for k, v in src.items()}


def _pixels(points: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer pixel of each landmark and whether it lies on the image (MediaPipe's normalised [0, 1] test)."""
    xy = np.asarray(points, dtype=np.float64)[:, :2]
    nx, ny = xy[:, 0] / w, xy[:, 1] / h
    eps = 1e-9
    inside = (nx > -eps) & (nx < 1 + eps) & (ny > -eps) & (ny < 1 + eps)
    px = np.minimum(np.floor(np.clip(nx, 0, 1) * w), w - 1).astype(np.int64)
    py = np.minimum(np.floor(np.clip(ny, 0, 1) * h), h - 1).astype(np.int64)
    return np.stack([px, py], -1), inside


def draw(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The annotation image (H, W, 3) uint8 RGB for one face's 478 landmarks in pixel coordinates."""
    import cv2

    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[0] != 478 or pts.shape[1] < 2:
        raise StudioError(f"the face condition needs the 478-point MediaPipe mesh (with irises), got an array of shape {pts.shape}")
    if not np.isfinite(pts[:, :2]).all():
        raise StudioError("the face mesh has non-finite coordinates; the expression or head motion is out of range")
    h, w = size
    canvas = np.zeros((h, w, 3), np.uint8)
    px, inside = _pixels(pts, h, w)
    edges = connections()
    for group in GROUPS:
        colour = COLOURS[group]
        for a, b in edges[group]:
            if inside[a] and inside[b]:
                cv2.line(canvas, (int(px[a, 0]), int(px[a, 1])), (int(px[b, 0]), int(px[b, 1])), colour, THICKNESS)
    for idx, group in ((RIGHT_IRIS_CENTRE, "right_iris"), (LEFT_IRIS_CENTRE, "left_iris")):
        x, y = pts[idx, 0], pts[idx, 1]
        if not (0 <= x < w and 0 <= y < h):
            continue
        ix, iy = int(x), int(y)
        # numpy's negative-start slice is what the annotator's square does at the top/left border; clip instead
        canvas[max(0, iy - PUPIL_HALF):iy + PUPIL_HALF, max(0, ix - PUPIL_HALF):ix + PUPIL_HALF] = COLOURS[group]
    return canvas


def draw_many(meshes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(T, 478, ≥2) meshes → (T, H, W, 3) annotation frames."""
    return np.stack([draw(m, size) for m in meshes])
