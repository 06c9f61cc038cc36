"""Texture that geometry cannot give: the skin folds of the nose wrinkler (AU9) and upper lip raiser (AU10).

A mesh warp moves skin but never folds it, so AU9 rendered as geometry alone shows raised alae and
lowered inner brows without the one sign FACS names first for it: wrinkles across the root and
sides of the nose. Each fold is drawn as a soft dark crease with a lighter ridge just above it
(skin bunching), multiplied into the warped image, so the skin's own texture and colour stay.
Positions follow the moved mesh, strengths follow the AU intensities:

* AU9: 3 transverse creases across the nasal root between the eyes, and oblique "bunny lines"
  on each side of the bridge; the infraorbital skin beside the nose darkens a little (bunched);
* AU10 (and AU9, which pulls the same skin): the nasolabial furrow deepens, a broad soft shadow
  from the nostril wing towards the mouth corner.
"""
from __future__ import annotations

import numpy as np

from pipelines.face import topology as T

SUB = 3  # sub-pixel bits for cv2 polylines


def _strength(aus: dict[int, float]) -> tuple[float, float]:
    a9 = float(np.clip(aus.get(9, 0.0), 0.0, 1.5))
    a10 = float(np.clip(aus.get(10, 0.0), 0.0, 1.5))
    return a9, a10


def apply(image: np.ndarray, points: np.ndarray, frame, aus: dict[int, float]) -> np.ndarray:
    """``image`` with AU9/AU10 creases drawn on the moved mesh ``points`` (478, 2+); ``frame`` a FaceFrame."""
    import cv2

    a9, a10 = _strength(aus)
    furrow = min(1.5, a10 + 0.5 * a9)
    if a9 < 0.02 and furrow < 0.02:
        return image
    iod = frame.iod
    u = frame.to_face(np.asarray(points)[:, :2])

    def px(p: np.ndarray) -> np.ndarray:
        return frame.origin + (p[..., :1] * frame.ex + p[..., 1:2] * frame.ey) * iod

    # work in a patch around the nose and the upper lip
    box_u = np.array([[-0.75, -0.35], [0.75, 1.25]])
    corners = px(np.array([[box_u[0, 0], box_u[0, 1]], [box_u[1, 0], box_u[0, 1]],
                           [box_u[0, 0], box_u[1, 1]], [box_u[1, 0], box_u[1, 1]]]))
    h, w = image.shape[:2]
    x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int) + 1, [w, h])
    if x1 <= x0 or y1 <= y0:
        return image
    off = np.array([x0, y0], dtype=np.float64)
    shape = (y1 - y0, x1 - x0)
    crease = np.zeros(shape, np.float32)
    ridge = np.zeros(shape, np.float32)
    th = max(1, int(round(0.018 * iod)))

    def line(layer, pts_u, weight, thick=th):
        q = np.round((px(np.asarray(pts_u, dtype=np.float64)) - off) * (1 << SUB)).astype(np.int32)
        cv2.polylines(layer, [q], False, float(weight), thick, cv2.LINE_AA, SUB)

    if a9 >= 0.02:
        root = u[168]                   # nasion, between the eyes
        down = u[197] - u[168]          # along the bridge
        for j, (t, wgt) in enumerate(((0.0, 0.7), (0.35, 1.0), (0.7, 0.8))):
            c = root + t * down
            half = 0.15 + 0.04 * j
            xs = np.linspace(-half, half, 11)
            # a crease is deepest on the midline and fades out towards the eyes
            arc = np.stack([c[0] + xs, c[1] - 0.04 * (1 - (xs / half) ** 2)], -1)
            fade = 1 - np.abs(xs / half) ** 2
            for a, b, f in zip(arc[:-1], arc[1:], (fade[:-1] + fade[1:]) / 2):
                line(crease, np.stack([a, b]), wgt * f)
                line(ridge, np.stack([a, b]) + [0, -0.04], wgt * f)
        for s in (-1.0, 1.0):           # bunny lines, down and out from the sides of the bridge
            for k, o in enumerate((0.0, 0.055)):
                a = u[6] + [s * (0.12 + o), 0.02 + o]
                b = a + [s * 0.1, 0.09]
                line(crease, np.stack([a, b]), 0.8 - 0.2 * k)
                line(ridge, np.stack([a, b]) + [0, -0.03], 0.6)
    fold = np.zeros(shape, np.float32)
    if furrow >= 0.02:
        for s, ala, corner in ((-1.0, T.RIGHT_ALA, T.MOUTH_CORNERS[0]), (1.0, T.LEFT_ALA, T.MOUTH_CORNERS[1])):
            a, c = u[list(ala)].mean(0), u[corner]
            path = np.array([a + [s * 0.1, -0.04], a + [s * 0.13, 0.08], c + [s * 0.1, -0.12], c + [s * 0.08, -0.02]])
            line(fold, path, 1.0, max(2, int(round(0.05 * iod))))
    crease = cv2.GaussianBlur(crease, (0, 0), 0.01 * iod + 0.4)
    ridge = cv2.GaussianBlur(ridge, (0, 0), 0.015 * iod + 0.5)
    fold = cv2.GaussianBlur(fold, (0, 0), 0.03 * iod + 0.5)
    gain = (1.0 - 0.3 * a9 * crease - 0.22 * furrow * fold) * (1.0 + 0.10 * a9 * ridge)
    out = image.copy()
    patch = out[y0:y1, x0:x1].astype(np.float32) * np.clip(gain, 0.2, 1.5)[..., None]
    out[y0:y1, x0:x1] = np.clip(patch + 0.5, 0, 255).astype(np.uint8)
    return out
