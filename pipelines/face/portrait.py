"""A portrait ready to animate: framed around the chosen face, resized, analysed, its expression neutralised."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.face import analysis
from pipelines.face.actions import ActionFields
from pipelines.face.analysis import Face
from pipelines.face.warp import MeshWarp
from pipelines.face import topology as T
from studio.errors import StudioError

MAX_INPUT_SIDE = 4096  # photos whose shorter side is larger are downscaled before analysis
MAX_LOAD_SIDE = 16384  # a panorama keeps its resolution along the long side: its face is found on tiles
MAX_PIXELS = 64_000_000

# blendshape → AU evidence used to undo the portrait's own expression (see REFERENCE.md §2);
# a dead zone ignores the small scores every resting face gets
EVIDENCE: dict[int, tuple[str, ...]] = {
    1: ("browInnerUp",), 2: ("browOuterUpLeft", "browOuterUpRight"), 4: ("browDownLeft", "browDownRight"),
    5: ("eyeWideLeft", "eyeWideRight"), 6: ("cheekSquintLeft", "cheekSquintRight"),
    7: ("eyeSquintLeft", "eyeSquintRight"), 9: ("noseSneerLeft", "noseSneerRight"),
    10: ("mouthUpperUpLeft", "mouthUpperUpRight"), 12: ("mouthSmileLeft", "mouthSmileRight"),
    15: ("mouthFrownLeft", "mouthFrownRight"), 20: ("mouthStretchLeft", "mouthStretchRight"),
    26: ("jawOpen",),
}
DEAD_ZONE = {7: 0.25, 1: 0.12, 2: 0.12}
NEUTRALISE_ROUNDS = 3


@dataclass
class Portrait:
    image: np.ndarray          # size × size RGB uint8: the framed source, its open mouth and smile folds retouched
    face: Face                 # analysis of ``image``
    fields: ActionFields
    warp: MeshWarp
    neutral_aus: dict[int, float]   # AU estimate removed from the source
    neutral_disp: np.ndarray        # (478, 2) px: source → neutral geometry
    blendshapes_before: dict[str, float]
    blendshapes_neutral: dict[str, float]

    def render(self, disp: np.ndarray, warp=None, aus: dict[int, float] | None = None) -> np.ndarray:
        """The portrait with the mesh moved by ``disp`` (478, 2) px on top of neutralisation, mouth filled,
        and the skin folds of the AUs in ``aus`` that geometry cannot show (AU9/AU10, see wrinkles).
        ``warp`` may be a TorchMeshWarp built on ``self.warp``."""
        from pipelines.face import mouth, wrinkles

        total = self.neutral_disp + disp
        out = (warp or self.warp).warp(self.image, total)
        moved = self.face.points[:, :2] + total
        out = mouth.fill(out, moved, self.fields.frame.iod)
        return wrinkles.apply(out, moved, self.fields.frame, aus) if aus else out


def _evidence(bs: dict[str, float]) -> dict[int, float]:
    out = {}
    for au, names in EVIDENCE.items():
        v = float(np.mean([bs.get(n, 0.0) for n in names]))
        v = max(0.0, v - DEAD_ZONE.get(au, 0.08))
        if v > 0:
            out[au] = v
    return out


def _lip_closure(p: "Portrait", disp: np.ndarray) -> np.ndarray:
    """Extra displacement making the inner lips meet along the mouth line after ``disp`` (the
    neutral mouth is closed): parted lips close halfway from each side, lips pushed through each
    other by the AU removal are separated back to touching. Measured along the face's vertical."""
    d = np.zeros((T.N_LANDMARKS, 2))
    up, lo = np.array(T.LIPS_INNER_UPPER), np.array(T.LIPS_INNER_LOWER)
    ou, ol = np.array(T.LIPS_OUTER_UPPER), np.array(T.LIPS_OUTER_LOWER)
    fr = p.fields.frame
    pts = p.face.points[:, :2] + disp
    gap = ((pts[lo] - pts[up]) @ fr.ey)[:, None] * fr.ey  # (n, 2) px, along the face's down axis
    d[up] += 0.5 * gap
    d[lo] -= 0.5 * gap
    inner = slice(1, -1)  # the shared corners stay
    d[ou[inner]] += 0.25 * gap[inner]
    d[ol[inner]] -= 0.25 * gap[inner]
    return d


def prepare(portrait, *, face_index: int = 0, size: int = 512, neutralise: bool = True) -> Portrait:
    import cv2

    from studio.media import default_portrait

    if size < 128 or size > 2048:
        raise StudioError(f"--size {size} is out of range; use 128..2048 (512 is the default)")
    img = default_portrait() if portrait is None else _load(portrait)
    face = analysis.pick(analysis.detect(img), face_index)
    bx, by, side = analysis.frame_box(face, img.shape)
    crop = img[by:by + side, bx:bx + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    framed = cv2.resize(crop, (size, size), interpolation=interp)
    centre = (face.points[:, :2].mean(0) - [bx, by]) * size / side
    faces = analysis.detect(framed)
    if not faces:
        raise StudioError("the face was lost after framing the portrait; give a sharper, more frontal photo")
    face = min(faces, key=lambda f: np.linalg.norm(f.points[:, :2].mean(0) - centre))
    fields = ActionFields(face)
    warp = MeshWarp(face.points, framed.shape)
    p = Portrait(framed, face, fields, warp, {}, np.zeros((T.N_LANDMARKS, 2)), dict(face.blendshapes),
                 dict(face.blendshapes))
    if neutralise:
        _neutralise(p)
    return p


def _load(portrait) -> np.ndarray:
    """The portrait at a resolution where its face keeps its pixels: shrunk by the shorter side (and a pixel
    budget), not the longer one, so a face in a wide group photo or a panorama is not scaled away."""
    import cv2

    from studio.media import load_image

    img = load_image(portrait, max_side=MAX_LOAD_SIDE)
    h, w = img.shape[:2]
    s = min(1.0, MAX_INPUT_SIDE / min(h, w), (MAX_PIXELS / (h * w)) ** 0.5)
    if s < 1.0:
        img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return img


CORNER_TARGET = -0.01  # resting mouth corners sit about level with the lip line (IOD units, + = raised)


def _corner_lift(p: Portrait, disp: np.ndarray) -> float:
    """How far the mouth corners sit above the centre of the lip line, in IOD units."""
    u = p.fields.frame.to_face(p.face.points[:, :2] + disp)
    mid = (u[T.UPPER_LIP_MID, 1] + u[T.LOWER_LIP_MID, 1]) / 2
    return float(mid - u[list(T.MOUTH_CORNERS), 1].mean())


def _neutral_texture(p: Portrait, est: dict[int, float]) -> np.ndarray:
    """Undo what geometry cannot: the teeth and dark corner gaps between parted lips (the neutral
    mouth is closed, and an opening is repainted by the mouth filler) and, in proportion to the
    smile removed, the shading of the nasolabial folds and bunched cheeks. Fold shading is a band
    of mid spatial frequencies: it is subtracted inside a feathered band along each fold, keeping
    the skin's fine texture."""
    import cv2

    img = p.image.copy()
    pts = p.face.points[:, :2]
    fr = p.fields.frame
    h, w = img.shape[:2]
    mouth = np.zeros((h, w), np.uint8)
    poly = np.concatenate([pts[list(T.LIPS_INNER_UPPER)], pts[list(T.LIPS_INNER_LOWER)][::-1]])
    cv2.fillPoly(mouth, [np.round(poly).astype(np.int32)], 255)
    if mouth.any():
        # the commissures: dark wedges between the inner and the outer lip corners
        for inner, outer in zip(T.INNER_CORNERS, T.MOUTH_CORNERS):
            beyond = pts[outer] + 0.3 * (pts[outer] - pts[inner])
            cv2.line(mouth, tuple(np.round(pts[inner]).astype(int)), tuple(np.round(beyond).astype(int)), 255,
                     max(2, int(0.04 * fr.iod)))
        mouth = cv2.dilate(mouth, np.ones((3, 3), np.uint8))
        img = cv2.inpaint(img, mouth, max(2.0, 0.03 * fr.iod), cv2.INPAINT_TELEA)
    smile = min(1.4, est.get(12, 0.0) / 1.1)
    if smile <= 0.05:
        return img
    u = fr.to_face(pts)
    band = np.zeros((h, w), np.float32)
    for side, ala, corner in ((-1, T.RIGHT_ALA, T.MOUTH_CORNERS[0]), (1, T.LEFT_ALA, T.MOUTH_CORNERS[1])):
        a, c = u[list(ala)].mean(0), u[corner]
        path = np.array([a + [side * 0.12, -0.05], a + [side * 0.2, 0.12], c + [side * 0.17, -0.05], c + [side * 0.15, 0.12]])
        xy = fr.origin + (path[:, :1] * fr.ex + path[:, 1:] * fr.ey) * fr.iod
        cv2.polylines(band, [np.round(xy).astype(np.int32)], False, 1.0, thickness=max(3, int(0.14 * fr.iod)))
    band = cv2.GaussianBlur(band, (0, 0), 0.05 * fr.iod)[..., None] * smile
    f = img.astype(np.float32)
    fine = cv2.GaussianBlur(f, (0, 0), 0.012 * fr.iod + 0.5)
    coarse = cv2.GaussianBlur(f, (0, 0), 0.15 * fr.iod)
    return np.clip(f - band * (fine - coarse), 0, 255).astype(np.uint8)


def _neutralise(p: Portrait) -> None:
    """Closed loop: remove the AUs the blendshapes show, re-measure, remove what is left; then
    level the mouth corners and close the lips geometrically."""
    est: dict[int, float] = {}
    bs = p.blendshapes_before

    def removal(e: dict[int, float]) -> np.ndarray:
        d = -p.fields.displacement(p.fields.weights(e))
        return d + _lip_closure(p, d)

    for _ in range(NEUTRALISE_ROUNDS):
        ev = _evidence(bs)
        if not ev:
            break
        for au, v in ev.items():
            est[au] = est.get(au, 0.0) + v
        img = p.warp.warp(p.image, removal(est))
        bs = analysis.blendshapes_of(img, near=p.face.points[:, :2].mean(0)) or bs
    # a smiling photo keeps its corners up even after the AU estimate: level them geometrically
    lift = _corner_lift(p, removal(est))
    unit = _corner_lift(p, removal({**est, 12: est.get(12, 0.0) + 1.0})) - lift
    if lift > CORNER_TARGET and unit < -1e-6:
        est[12] = est.get(12, 0.0) + (CORNER_TARGET - lift) / unit
    p.neutral_aus = est
    p.neutral_disp = removal(est)
    p.image = _neutral_texture(p, est)
    if est:
        p.blendshapes_neutral = analysis.blendshapes_of(p.warp.warp(p.image, p.neutral_disp),
                                                        near=p.face.points[:, :2].mean(0)) or bs
