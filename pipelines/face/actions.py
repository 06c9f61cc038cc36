"""Action-unit displacement fields on the 478-point mesh, written from the FACS descriptions.

Every field is defined in face-relative units (fractions of the inter-ocular distance, IOD, in a
frame whose x axis runs from the subject's right eye to the left eye and y points down), so one
table works at any resolution and under in-plane rotation. Each field is split into a right and a
left half so unilateral AUs (contempt) act on one side. Magnitudes are at AU intensity 1 and were
tuned on the FER recognizer (benchmarks/face.py), exaggerated where FACS allows (intensity "E").
The jaw (AU26) opens by rotating the lower face about the jaw hinges (3-D, then projected).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.face import topology as T
from pipelines.face.analysis import Face

# AU → peak displacement in IOD units at intensity 1 (the tuned magnitudes)
GAIN: dict[int, float] = {
    1: 0.22, 2: 0.14, 4: 0.18, 5: 0.06, 6: 0.07, 7: 0.06, 9: 0.10, 10: 0.14, 12: 0.12, 14: 0.06,
    15: 0.22, 16: 0.12, 17: 0.07, 18: 0.30, 20: 0.34, 23: 0.07, 24: 0.03, 25: 0.05, 26: 0.40, 45: 1.0,
}
SUPPORTED = tuple(sorted(GAIN))
JAW_MAX_RAD = 0.30  # AU26 at intensity 1 ≈ 17° of jaw rotation (a wide "surprise" drop)


def _g(u: np.ndarray, c: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-((u - c) ** 2).sum(-1) / (2 * sigma * sigma))


def _member(idx: tuple[int, ...], n: int = T.N_LANDMARKS) -> np.ndarray:
    m = np.zeros(n)
    m[list(idx)] = 1.0
    return m


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


@dataclass
class FaceFrame:
    origin: np.ndarray   # mid-point between the eye centres, px
    ex: np.ndarray       # unit vector, subject's right eye → left eye
    ey: np.ndarray       # unit vector, "down" in the face
    iod: float           # px

    @classmethod
    def of(cls, face: Face) -> "FaceFrame":
        r, l = face.eye_centres
        ex = (l - r) / np.linalg.norm(l - r)
        return cls((r + l) / 2, ex, np.array([-ex[1], ex[0]]), face.iod)

    def to_face(self, xy: np.ndarray) -> np.ndarray:
        d = xy - self.origin
        return np.stack([d @ self.ex, d @ self.ey], -1) / self.iod

    def to_px(self, duv: np.ndarray) -> np.ndarray:
        """A displacement in face units → pixels."""
        return (duv[..., :1] * self.ex + duv[..., 1:2] * self.ey) * self.iod


class ActionFields:
    """Per-face displacement fields: ``fields[(au, side)]`` is (478, 2) pixels at intensity 1."""

    def __init__(self, face: Face):
        self.face = face
        self.frame = FaceFrame.of(face)
        self.u = self.frame.to_face(face.points[:, :2])
        self.keys: list[tuple[int, str]] = []
        stack = []
        # a soft left/right split keeps the midline continuous when one side acts alone
        right = 1.0 / (1.0 + np.exp(self.u[:, 0] / 0.06))
        for au in SUPPORTED:
            duv = getattr(self, f"_au{au}")() * GAIN[au]
            px = self.frame.to_px(duv)
            for side, w in (("right", right), ("left", 1.0 - right)):
                self.keys.append((au, side))
                stack.append(px * w[:, None])
        self.stack = np.stack(stack)  # (K, 478, 2)
        self.index = {k: i for i, k in enumerate(self.keys)}

    # ---- helpers in face units -------------------------------------------------------------
    def _c(self, idx) -> np.ndarray:
        return self.u[list(idx)].mean(0)

    def _side(self) -> np.ndarray:
        return np.sign(self.u[:, 0])

    def _mouth(self):
        cr, cl = self.u[T.MOUTH_CORNERS[0]], self.u[T.MOUTH_CORNERS[1]]
        centre = (cr + cl) / 2
        half = max(0.15, abs(cl[0] - cr[0]) / 2)
        return cr, cl, centre, half

    def _lip_profile(self, idx) -> np.ndarray:
        """1 at the middle of the lip, 0 at the corners (lips bend, corners are anchored)."""
        _, _, centre, half = self._mouth()
        m = _member(idx)
        return m * np.clip(1 - ((self.u[:, 0] - centre[0]) / half) ** 2, 0, 1)

    def _below_mouth(self) -> np.ndarray:
        """How much a point belongs to the jaw: lower lip and chin 1, upper lip and above 0."""
        _, _, centre, _ = self._mouth()
        y = self.u[:, 1] - centre[1]
        w = _smoothstep((y + 0.02) / 0.25) * np.exp(-np.maximum(0, np.abs(self.u[:, 0]) - 0.55) ** 2 / 0.08)
        lower = _member(T.LIPS_OUTER_LOWER + T.LIPS_INNER_LOWER + T.CHIN)
        upper = _member(T.LIPS_OUTER_UPPER + T.LIPS_INNER_UPPER)
        w = np.maximum(w, lower)
        w[upper > 0] = 0.0
        for c in T.MOUTH_CORNERS + T.INNER_CORNERS:  # corners sit on the hinge line of the lips
            w[c] = 0.5
        return w

    def _eye_guard(self) -> np.ndarray:
        """Fields acting near the eyes move the lid margins less than the surrounding skin."""
        return 1.0 - 0.5 * _member(T.RIGHT_EYE + T.LEFT_EYE)

    # ---- the action units (displacement at GAIN = 1, face units) -----------------------------
    def _au1(self):  # inner brow raiser: medial brow and forehead up, oblique brow
        w = _g(self.u, self._c(T.RIGHT_BROW_INNER), 0.2) + _g(self.u, self._c(T.LEFT_BROW_INNER), 0.2)
        return np.stack([0 * w, -w * self._eye_guard()], -1)

    def _au2(self):  # outer brow raiser
        w = _g(self.u, self._c(T.RIGHT_BROW_OUTER), 0.2) + _g(self.u, self._c(T.LEFT_BROW_OUTER), 0.2)
        return np.stack([0 * w, -w * self._eye_guard()], -1)

    def _au4(self):  # brow lowerer: brows down and drawn together
        cr = 0.6 * self._c(T.RIGHT_BROW_INNER) + 0.4 * self._c(T.RIGHT_BROW)
        cl = 0.6 * self._c(T.LEFT_BROW_INNER) + 0.4 * self._c(T.LEFT_BROW)
        w = (_g(self.u, cr, 0.22) + _g(self.u, cl, 0.22)) * self._eye_guard()
        return np.stack([-0.55 * self._side() * w, w], -1)

    def _au5(self):  # upper lid raiser: upper lid margin up, the lid fold with it
        prof = np.zeros(T.N_LANDMARKS)
        for upper in (T.RIGHT_EYE_UPPER, T.LEFT_EYE_UPPER):
            n = len(upper)
            for i, p in enumerate(upper):
                prof[p] = np.sin(np.pi * (i + 1) / (n + 1)) ** 0.5
        skin = 0.35 * (_g(self.u, self._c(T.RIGHT_EYE_UPPER) + [0, -0.08], 0.1)
                       + _g(self.u, self._c(T.LEFT_EYE_UPPER) + [0, -0.08], 0.1))
        lower = 0.2 * _member(T.RIGHT_EYE_LOWER + T.LEFT_EYE_LOWER)
        return np.stack([0 * prof, -np.maximum(prof, skin) + lower], -1)

    def _au6(self):  # cheek raiser: infraorbital cheek up, lower lid pushed up, crow's feet
        cr = self._c(T.RIGHT_EYE_LOWER) + [-0.05, 0.3]
        cl = self._c(T.LEFT_EYE_LOWER) + [0.05, 0.3]
        w = _g(self.u, cr, 0.2) + _g(self.u, cl, 0.2)
        lids = 0.6 * _member(T.RIGHT_EYE_LOWER + T.LEFT_EYE_LOWER)
        w = np.maximum(w * (1 - _member(T.RIGHT_EYE_UPPER + T.LEFT_EYE_UPPER)), lids)
        return np.stack([0.2 * self._side() * w, -w], -1)

    def _au7(self):  # lid tightener: lower lid up, upper lid slightly down, eye narrows
        lo = _member(T.RIGHT_EYE_LOWER + T.LEFT_EYE_LOWER)
        up = _member(T.RIGHT_EYE_UPPER + T.LEFT_EYE_UPPER)
        skin = 0.4 * (_g(self.u, self._c(T.RIGHT_EYE_LOWER) + [0, 0.08], 0.08)
                      + _g(self.u, self._c(T.LEFT_EYE_LOWER) + [0, 0.08], 0.08))
        return np.stack([0 * lo, -np.maximum(lo, skin) + 0.4 * up], -1)

    def _au9(self):  # nose wrinkler: alae and nasolabial skin up, brows' inner ends down, bridge bunches
        wn = _g(self.u, self._c(T.RIGHT_ALA), 0.16) + _g(self.u, self._c(T.LEFT_ALA), 0.16)
        lip = 0.6 * self._lip_profile(T.LIPS_OUTER_UPPER + T.LIPS_INNER_UPPER)
        brow = 0.4 * (_g(self.u, self._c(T.RIGHT_BROW_INNER), 0.15) + _g(self.u, self._c(T.LEFT_BROW_INNER), 0.15))
        bridge = 0.5 * _g(self.u, self.u[168], 0.12)
        lids = 0.4 * _member(T.RIGHT_EYE_LOWER + T.LEFT_EYE_LOWER)
        dy = -np.maximum(wn, lip) + brow + bridge - lids
        return np.stack([-0.25 * self._side() * brow, dy], -1)

    def _au10(self):  # upper lip raiser: upper lip up (squarish), nasolabial furrow deepens
        lip = 0.5 + 0.5 * self._lip_profile(T.LIPS_OUTER_UPPER + T.LIPS_INNER_UPPER)
        lip *= _member(T.LIPS_OUTER_UPPER + T.LIPS_INNER_UPPER)
        cr, cl, _, _ = self._mouth()
        skin = 0.5 * (_g(self.u, cr + [0.08, -0.2], 0.15) + _g(self.u, cl + [-0.08, -0.2], 0.15))
        skin *= 1 - self._below_mouth()
        for c in T.MOUTH_CORNERS:
            lip[c] = 0.3
        return np.stack([0 * lip, -np.maximum(lip, skin)], -1)

    def _au12(self):  # lip corner puller: corners up and back along the zygomatic line
        cr, cl, _, _ = self._mouth()
        wr, wl = _g(self.u, cr, 0.2), _g(self.u, cl, 0.2)
        cheek = 0.4 * (_g(self.u, cr + [-0.05, -0.3], 0.18) + _g(self.u, cl + [0.05, -0.3], 0.18))
        w = wr + wl
        dx = 0.55 * (wl - wr)
        return np.stack([dx, -np.maximum(w, cheek)], -1)

    def _au14(self):  # dimpler: corners tightened inward and slightly up
        cr, cl, _, _ = self._mouth()
        wr, wl = _g(self.u, cr, 0.12), _g(self.u, cl, 0.12)
        return np.stack([wr - wl, -0.4 * (wr + wl)], -1)

    def _au15(self):  # lip corner depressor: corners down (and a little out)
        cr, cl, _, _ = self._mouth()
        wr, wl = _g(self.u, cr, 0.18), _g(self.u, cl, 0.18)
        return np.stack([0.2 * (wl - wr), wr + wl], -1)

    def _au16(self):  # lower lip depressor: lower lip pulled down, skin below with it
        lip = 0.4 + 0.6 * self._lip_profile(T.LIPS_OUTER_LOWER + T.LIPS_INNER_LOWER)
        lip *= _member(T.LIPS_OUTER_LOWER + T.LIPS_INNER_LOWER)
        for c in T.MOUTH_CORNERS + T.INNER_CORNERS:
            lip[c] = 0.0
        _, _, centre, _ = self._mouth()
        skin = 0.6 * _g(self.u, centre + [0, 0.2], 0.18) * self._below_mouth()
        return np.stack([0 * lip, np.maximum(lip, skin)], -1)

    def _au17(self):  # chin raiser: chin boss up, lower lip pushed up with it (whole mouth lifts a little)
        _, _, centre, _ = self._mouth()
        chin = _g(self.u, centre + [0, 0.45], 0.22) * self._below_mouth()
        lips = 0.5 * _member(T.LIPS_OUTER_UPPER + T.LIPS_OUTER_LOWER + T.LIPS_INNER_UPPER + T.LIPS_INNER_LOWER)
        return np.stack([0 * chin, -np.maximum(chin, lips)], -1)

    def _au18(self):  # lip pucker (viseme rounding): lips drawn toward the mouth centre, pushed out
        _, _, centre, half = self._mouth()
        w = _g(self.u, centre, half * 0.9)
        dx = -(self.u[:, 0] - centre[0]) / half * w
        up = self._lip_profile(T.LIPS_OUTER_UPPER)
        lo = self._lip_profile(T.LIPS_OUTER_LOWER)
        return np.stack([dx, -0.12 * up + 0.12 * lo], -1)

    def _au20(self):  # lip stretcher: corners pulled straight out (risorius), slightly down
        cr, cl, _, _ = self._mouth()
        wr, wl = _g(self.u, cr, 0.22), _g(self.u, cl, 0.22)
        return np.stack([wl - wr, 0.5 * (wr + wl)], -1)

    def _au23(self):  # lip tightener: red of the lips narrows, mouth width shrinks
        cr, cl, _, _ = self._mouth()
        wr, wl = _g(self.u, cr, 0.12), _g(self.u, cl, 0.12)
        up = self._lip_profile(T.LIPS_OUTER_UPPER)
        lo = self._lip_profile(T.LIPS_OUTER_LOWER)
        return np.stack([0.5 * (wr - wl), up - lo + 0.8 * (wr + wl)], -1)

    def _au24(self):  # lip pressor: lips pressed together, outer margins toward the closure line
        up = self._lip_profile(T.LIPS_OUTER_UPPER)
        lo = self._lip_profile(T.LIPS_OUTER_LOWER)
        _, _, centre, _ = self._mouth()
        chin = 0.5 * _g(self.u, centre + [0, 0.3], 0.15) * self._below_mouth()
        return np.stack([0 * up, up - lo - chin], -1)

    def _au25(self):  # lips part: lower lip down, upper a little up
        lo = self._lip_profile(T.LIPS_OUTER_LOWER + T.LIPS_INNER_LOWER)
        up = self._lip_profile(T.LIPS_OUTER_UPPER + T.LIPS_INNER_UPPER)
        _, _, centre, _ = self._mouth()
        skin = 0.5 * _g(self.u, centre + [0, 0.2], 0.2) * self._below_mouth()
        return np.stack([0 * lo, np.maximum(lo, skin) - 0.3 * up], -1)

    def _au26(self):  # jaw drop: the lower face rotates about the hinge axis through both ears
        pts = self.face.points
        iod = self.frame.iod
        hinge = pts[list(T.JAW_HINGES)].mean(0)
        hinge_z = max(pts[list(T.JAW_HINGES), 2].max(), pts[:, 2].max())
        # depth in front of the hinge (MediaPipe z grows away from the camera) and height below it
        fwd = np.maximum(0.0, hinge_z - pts[:, 2]) / iod
        down = self.u[:, 1] - self.frame.to_face(hinge[None, :2])[0, 1]
        th = JAW_MAX_RAD
        dy = fwd * np.sin(th) + down * (np.cos(th) - 1)
        w = self._below_mouth()
        d = dy * w
        ref = d[T.LOWER_LIP_MID]
        jaw = np.stack([0 * d, d / max(ref, 1e-6)], -1)  # normalised: lower lip centre moves GAIN IOD
        # the opening mouth narrows: corners are drawn in as the jaw drops (an O, not a grin)
        return jaw + 0.3 * self._au18() * np.array([1.0, 0.0])

    def _au45(self):  # blink: each upper-lid point travels to the lower-lid point beneath it, skin follows
        d = np.zeros((T.N_LANDMARKS, 2))
        for upper, lower in ((T.RIGHT_EYE_UPPER, T.RIGHT_EYE_LOWER), (T.LEFT_EYE_UPPER, T.LEFT_EYE_LOWER)):
            gap = self.u[list(lower)] - self.u[list(upper)]
            d[list(upper)] = 0.9 * gap
            # the lid skin above the margin follows with falloff
            centre = self.u[list(upper)].mean(0)
            mean_gap = gap.mean(0)
            skin = _g(self.u, centre + [0, -0.07], 0.07)
            skin[list(upper)] = 0
            skin[list(lower)] = 0
            d += 0.45 * skin[:, None] * mean_gap
        return d

    # ---- use ----------------------------------------------------------------------------------
    def weights(self, aus: dict[int, float], unilateral: dict[int, float] | None = None) -> np.ndarray:
        """AU intensities (+ the share of each applied on the right side only) → a weight per field."""
        w = np.zeros(len(self.keys))
        uni = unilateral or {}
        for au, val in aus.items():
            if au not in GAIN:
                continue
            s = min(1.0, max(0.0, uni.get(au, 0.0)))
            w[self.index[(au, "right")]] += val
            w[self.index[(au, "left")]] += val * (1 - s)
        return w

    def displacement(self, w: np.ndarray) -> np.ndarray:
        """(478, 2) pixel displacement for a weight vector from ``weights``."""
        return np.tensordot(w, self.stack, axes=1)
