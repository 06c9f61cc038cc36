"""Find a face with MediaPipe's Face Landmarker and cut the crop the FER2013 classifier expects.

One IMAGE-mode landmarker is kept per process (creating one costs ~0.1 s; a detection on a
512x512 image ~10 ms on one CPU core) behind a lock, because a MediaPipe task instance is not
safe to call from several threads at once (the Gradio app serves requests on threads).

Framing: FER2013 images (Goodfellow et al. 2013) are faces registered so that the face fills
most of the 48x48 frame, forehead to chin and cheek to cheek, with a thin border. The face
mesh spans from the upper forehead (landmark 10) to the chin (152) and between the cheeks
(234, 454), so a square of ``margin`` x the larger mesh extent, centred on the mesh box,
reproduces that framing. The crop is rotated so the eyes are level (in-plane roll removed),
which makes the label stable under small head tilts.
"""
from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from studio.errors import StudioError

CROP_SIZE = 64
CROP_MARGIN = 1.1
# Outer and inner eye corners of the face mesh (image-left eye: 33, 133; image-right: 362, 263).
EYE_LEFT = (33, 133)
EYE_RIGHT = (362, 263)
_LOCK = threading.Lock()


@dataclass
class FaceMesh:
    """One detected face in pixel units of the image it came from."""

    points: np.ndarray  # (478, 3): x, y in pixels, z in the same scale as x (MediaPipe convention)
    blendshapes: dict[str, float] = field(default_factory=dict)
    matrix: np.ndarray | None = None  # 4x4 facial transformation (head pose), if computed
    image_size: tuple[int, int] = (0, 0)  # (height, width)

    @property
    def box(self) -> tuple[float, float, float, float]:
        """x0, y0, x1, y1 of the landmarks."""
        xy = self.points[:, :2]
        return (*xy.min(0), *xy.max(0))

    @property
    def height(self) -> float:
        """Forehead-to-chin distance (landmarks 10 to 152), the scale for normalised measures."""
        return float(np.linalg.norm(self.points[10, :2] - self.points[152, :2]))

    @property
    def roll(self) -> float:
        """In-plane head rotation in degrees (positive: the image-right eye is lower)."""
        left = self.points[list(EYE_LEFT), :2].mean(0)
        right = self.points[list(EYE_RIGHT), :2].mean(0)
        d = right - left
        return float(np.degrees(np.arctan2(d[1], d[0])))


def _model_path() -> str:
    from studio import weights

    return str(weights.path("face-landmarker", "face_landmarker.task"))


def new_landmarker(video: bool = False):
    """A fresh Face Landmarker with blendshapes and head pose; VIDEO mode tracks across frames."""
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    opts = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=_model_path()),
        running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
        num_faces=1,
        output_face_blendshapes=True,
        output_facial_transformation_matrixes=True,
    )
    return vision.FaceLandmarker.create_from_options(opts)


@lru_cache(maxsize=1)
def _landmarker():
    lm = new_landmarker(video=False)
    # MediaPipe runs its C calls on a worker thread that Python stops before ordinary atexit
    # hooks, and its __del__ then fails noisily; close before worker threads are joined.
    getattr(threading, "_register_atexit", atexit.register)(lm.close)
    return lm


def as_rgb(image) -> np.ndarray:
    """A path or array → contiguous RGB uint8 (validated by studio.media.load_image)."""
    from studio.media import load_image

    return np.ascontiguousarray(load_image(image))


def _to_mesh(result, height: int, width: int) -> FaceMesh | None:
    if not result.face_landmarks:
        return None
    pts = np.array([[p.x * width, p.y * height, p.z * width] for p in result.face_landmarks[0]], dtype=np.float64)
    shapes = {c.category_name: float(c.score) for c in result.face_blendshapes[0]} if result.face_blendshapes else {}
    shapes.pop("_neutral", None)
    matrix = np.asarray(result.facial_transformation_matrixes[0]) if result.facial_transformation_matrixes else None
    return FaceMesh(pts, shapes, matrix, (height, width))


def detect_face(image, landmarker=None, timestamp_ms: int | None = None) -> FaceMesh | None:
    """The most confident face in ``image``, or None. Pass a VIDEO-mode ``landmarker`` and
    increasing ``timestamp_ms`` to track through a sequence."""
    import mediapipe as mp

    rgb = as_rgb(image)
    mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
    if landmarker is None:
        with _LOCK:
            result = _landmarker().detect(mp_image)
    else:
        result = landmarker.detect_for_video(mp_image, int(timestamp_ms or 0))
    return _to_mesh(result, *rgb.shape[:2])


def require_face(image) -> tuple[np.ndarray, FaceMesh]:
    rgb = as_rgb(image)
    mesh = detect_face(rgb)
    if mesh is None:
        h, w = rgb.shape[:2]
        raise StudioError(f"no face found in the {w}x{h} image; give a photo or render with one clearly visible, roughly frontal face")
    return rgb, mesh


def crop_transform(mesh: FaceMesh, margin: float = CROP_MARGIN, align: bool = True) -> tuple[np.ndarray, float]:
    """A 2x3 affine map from image pixels to a square crop of side ``side`` pixels, and ``side``."""
    import cv2

    x0, y0, x1, y1 = mesh.box
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    rot = cv2.getRotationMatrix2D(centre, mesh.roll if align else 0.0, 1.0)
    pts = mesh.points[:, :2] @ rot[:, :2].T + rot[:, 2]
    lo, hi = pts.min(0), pts.max(0)
    side = float(max(hi - lo)) * margin
    if side < 8:
        raise StudioError(f"the face is only {side:.0f} px across; give an image where the face is at least 48 px wide")
    mid = (lo + hi) / 2
    shift = np.array([side / 2 - mid[0], side / 2 - mid[1]])
    return np.hstack([rot[:, :2], (rot[:, 2] + shift)[:, None]]), side


def crop_rgb(image, mesh: FaceMesh | None = None, margin: float = CROP_MARGIN, align: bool = True,
             size: int | None = None) -> np.ndarray:
    """The face, roll-aligned and framed as in FER2013, as RGB at native resolution (or ``size``)."""
    import cv2

    rgb = as_rgb(image)
    if mesh is None:
        rgb, mesh = require_face(rgb)
    m, side = crop_transform(mesh, margin, align)
    n = max(1, int(round(side)))
    # Replicate rather than pad with black: a hard black edge is a feature the classifier never saw.
    out = cv2.warpAffine(rgb, m, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if size is not None and size != n:
        out = cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA if size < n else cv2.INTER_LINEAR)
    return out


def crop_face(image, size: int = CROP_SIZE, margin: float = CROP_MARGIN, align: bool = True,
              mesh: FaceMesh | None = None) -> np.ndarray:
    """The grayscale ``size`` x ``size`` uint8 face crop for the FER2013 classifier.

    Raises StudioError when no face is found."""
    import cv2

    face = crop_rgb(image, mesh, margin, align, size)
    return cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
