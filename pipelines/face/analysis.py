"""Face analysis with MediaPipe's FaceLandmarker (Tasks API): 478 landmarks, 52 blendshapes, head pose."""
from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass, field

import numpy as np

from pipelines.face import topology as T
from studio.errors import StudioError

MIN_FACE_PX = 64      # below this the mesh is too coarse to animate
MAX_FACES = 4
_lock = threading.Lock()
_landmarker = None


@dataclass
class Face:
    points: np.ndarray                  # (478, 3) pixels: x, y, and z on the x scale (smaller = nearer)
    blendshapes: dict[str, float]
    pose: np.ndarray = field(default_factory=lambda: np.eye(4))  # facial transformation matrix

    @property
    def box(self) -> tuple[float, float, float, float]:
        xy = self.points[:, :2]
        return (*xy.min(0), *xy.max(0))

    @property
    def size(self) -> float:
        x0, y0, x1, y1 = self.box
        return float(min(x1 - x0, y1 - y0))

    @property
    def eye_centres(self) -> tuple[np.ndarray, np.ndarray]:
        return self.points[list(T.RIGHT_EYE), :2].mean(0), self.points[list(T.LEFT_EYE), :2].mean(0)

    @property
    def iod(self) -> float:
        r, l = self.eye_centres
        return float(np.linalg.norm(l - r))


def _get_landmarker():
    global _landmarker
    if _landmarker is None:
        from mediapipe.tasks.python import BaseOptions, vision

        from studio import weights

        opts = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(weights.path("face-landmarker"))),
            running_mode=vision.RunningMode.IMAGE, num_faces=MAX_FACES,
            output_face_blendshapes=True, output_facial_transformation_matrixes=True,
            min_face_detection_confidence=0.4, min_face_presence_confidence=0.4)
        _landmarker = vision.FaceLandmarker.create_from_options(opts)
        # MediaPipe makes its C calls on a worker thread that Python joins before ordinary atexit
        # hooks run; close first, or the landmarker's __del__ fails noisily at exit
        getattr(threading, "_register_atexit", atexit.register)(_close)
    return _landmarker


def _close() -> None:
    """Close the graph while the interpreter is intact (its __del__ fails at shutdown otherwise)."""
    global _landmarker
    if _landmarker is not None:
        try:
            _landmarker.close()
        finally:
            _landmarker = None


def detect(image: np.ndarray) -> list[Face]:
    """All faces in an RGB uint8 image, ordered left to right (so --face-index is predictable).

    MediaPipe's detector looks at a small square version of the whole image, so on a panorama a
    face shrinks to nothing; when the image is far from square, overlapping square tiles are
    searched as well."""
    h, w = image.shape[:2]
    faces = _detect(image)
    side = min(h, w)
    if max(h, w) > 1.5 * side:
        step = side // 2
        for off in range(0, max(h, w) - side + step, step):
            off = min(off, max(h, w) - side)
            tile = image[:, off:off + side] if w > h else image[off:off + side]
            for f in _detect(np.ascontiguousarray(tile)):
                f.points[:, 0 if w > h else 1] += off
                c = f.points[:, :2].mean(0)
                if all(np.linalg.norm(c - g.points[:, :2].mean(0)) > 0.3 * f.size for g in faces):
                    faces.append(f)
    faces.sort(key=lambda f: f.points[:, 0].mean())
    return faces


def _detect(image: np.ndarray) -> list[Face]:
    import mediapipe as mp

    h, w = image.shape[:2]
    with _lock:  # the Tasks graph is not re-entrant
        res = _get_landmarker().detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image)))
    faces = []
    for i, lms in enumerate(res.face_landmarks):
        pts = np.array([[p.x * w, p.y * h, p.z * w] for p in lms], dtype=np.float64)
        bs = {c.category_name: float(c.score) for c in res.face_blendshapes[i]} if res.face_blendshapes else {}
        pose = np.asarray(res.facial_transformation_matrixes[i]) if res.facial_transformation_matrixes else np.eye(4)
        faces.append(Face(pts, bs, pose))
    return faces


def pick(faces: list[Face], face_index: int = 0) -> Face:
    if not faces:
        raise StudioError("no face found in the portrait; give a photo with a clearly visible, roughly frontal face")
    if not 0 <= face_index < len(faces):
        raise StudioError(f"--face-index {face_index} is out of range: the portrait has {len(faces)} face(s), "
                          f"numbered 0..{len(faces) - 1} from left to right")
    face = faces[face_index]
    if face.size < MIN_FACE_PX:
        raise StudioError(f"the face is only {face.size:.0f} px across; give a portrait where it is at least "
                          f"{MIN_FACE_PX} px (a closer or larger photo)")
    return face


def frame_box(face: Face, shape: tuple[int, int], zoom: float = 2.4) -> tuple[int, int, int]:
    """A square head-and-shoulders crop (x0, y0, side) around a face, kept inside the image."""
    h, w = shape[:2]
    x0, y0, x1, y1 = face.box
    side = int(round(min(max(x1 - x0, y1 - y0) * zoom, h, w)))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + 0.1 * (y1 - y0)  # a little below centre: room for the chin and jaw
    bx = int(round(min(max(cx - side / 2, 0), w - side)))
    by = int(round(min(max(cy - side / 2, 0), h - side)))
    return bx, by, side


def blendshapes_of(image: np.ndarray, near: np.ndarray | None = None) -> dict[str, float]:
    """Blendshapes of the face nearest ``near`` (x, y) — the renderer's own check on what it drew."""
    faces = detect(image)
    if not faces:
        return {}
    if near is None:
        return faces[0].blendshapes
    return min(faces, key=lambda f: np.linalg.norm(f.points[:, :2].mean(0) - near)).blendshapes
