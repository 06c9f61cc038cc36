"""Fills an opened mouth: a dark oral cavity with the upper front teeth showing under the upper lip.

The warp stretches the closed lips' seam across the opening; that smear is painted over with a
shaded cavity inside the deformed inner-lip contour (anti-aliased with cv2's sub-pixel polygons).
Lower teeth are left out: drawn from some opening on, their sudden appearance read as a change of
expression to the FER recognizer (a dip in its response over intensity).
"""
from __future__ import annotations

import numpy as np

from pipelines.face import topology as T

CAVITY = np.array([52, 20, 22], dtype=np.float32)
TEETH = np.array([188, 180, 170], dtype=np.float32)
SHIFT = 3  # sub-pixel bits for cv2 polygons


def _poly_mask(shape, poly: np.ndarray) -> np.ndarray:
    import cv2

    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(poly * (1 << SHIFT)).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=SHIFT)
    return m.astype(np.float32) / 255.0


def _chaikin(line: np.ndarray, rounds: int = 2) -> np.ndarray:
    """Corner-cutting subdivision of an open polyline (ends kept): lips are curves, not polygons."""
    for _ in range(rounds):
        a, b = line[:-1], line[1:]
        mid = np.stack([0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b], 1).reshape(-1, 2)
        line = np.concatenate([line[:1], mid, line[-1:]])
    return line


def opening(points: np.ndarray) -> float:
    """Gap between the inner lips at the centre, px."""
    return float(points[T.LOWER_LIP_MID, 1] - points[T.UPPER_LIP_MID, 1])


def fill(image: np.ndarray, points: np.ndarray, iod: float) -> np.ndarray:
    """Paint the cavity inside the deformed inner-lip contour ``points`` (478, 2+) of ``image``."""
    import cv2

    gap = opening(points)
    if gap < 0.6:
        return image
    upper = _chaikin(points[list(T.LIPS_INNER_UPPER), :2])
    lower = _chaikin(points[list(T.LIPS_INNER_LOWER), :2])
    poly = np.concatenate([upper, lower[::-1]])
    x0, y0 = np.floor(poly.min(0)).astype(int) - 3
    x1, y1 = np.ceil(poly.max(0)).astype(int) + 4
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return image
    off = np.array([x0, y0], dtype=np.float64)
    shape = (y1 - y0, x1 - x0)
    cav = _poly_mask(shape, poly - off)
    # upper teeth: a band hanging from the upper lip, as tall as a third of the opening (≤ 0.1 IOD)
    t_up = min(0.6 * gap, 0.07 * iod)
    teeth_up = _poly_mask(shape, np.concatenate([upper, (upper + [0, t_up])[::-1]]) - off)
    # only the front teeth show: fade the band towards the corners
    span = max(1.0, upper[-1, 0] - upper[0, 0])
    xs = (np.arange(x0, x1) - (upper[0, 0] + upper[-1, 0]) / 2) / (span / 2)
    teeth_up *= np.clip(1.2 - 1.4 * np.abs(xs) ** 2, 0, 1)[None, :]
    # shade: darker towards the throat (the cavity's centre), teeth a little darker at the corners
    yy = (np.arange(y0, y1)[:, None] - upper[:, 1].mean()) / max(gap, 1.0)
    depth = np.clip(1.0 - 0.5 * np.abs(yy - 0.55), 0.5, 1.0)
    patch = image[y0:y1, x0:x1].astype(np.float32)
    cavity = CAVITY * depth[..., None] * 0.8
    teeth = np.clip(teeth_up, 0, 1)
    fillc = cavity * (1 - teeth[..., None]) + TEETH * (0.75 + 0.25 * depth[..., None]) * teeth[..., None]
    a = cv2.GaussianBlur(cav, (3, 3), 0)[..., None]
    out = image.copy()
    out[y0:y1, x0:x1] = np.clip(patch * (1 - a) + fillc * a, 0, 255).astype(np.uint8)
    return out
