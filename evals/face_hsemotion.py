"""HSEmotion / EmotiEffLib facial expression + valence-arousal network through onnxruntime (perception).

``enet_b0_8_va_mtl`` (Savchenko 2022, "Video-based frame-level facial analysis of affective behavior
on mobile devices using EfficientNets", CVPRW; Savchenko et al. 2022, IEEE Trans. Affective Computing):
EfficientNet-B0 trained multi-task on AffectNet, published as ONNX with input ``input`` float32
[batch, 3, 224, 224] and output ``output`` [batch, 10] = 8 class logits in the order Anger, Contempt,
Disgust, Fear, Happiness, Neutral, Sadness, Surprise, then valence and arousal (AffectNet's [-1, 1]
scale, the studio's scale too). Preprocessing as EmotiEffLib publishes it: the RGB face crop resized
to 224x224 (bilinear), /255, ImageNet mean/std per channel, NCHW.

The face crop is the FER path's (``evals.face_crop.crop_rgb``: MediaPipe face mesh, roll removed, a
square 1.1x the mesh), at native resolution, then resized. EmotiEffLib's other ONNX models load too:
7 or 8 class outputs without valence-arousal, and 260-px EfficientNet-B2 inputs (read from the graph).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from evals.base import BaseRecognizer, Recognition
from evals.hf_folder import face_crops
from evals.label_map import label_map, softmax
from studio.errors import StudioError
from studio.media import Media

log = logging.getLogger(__name__)

CLASSES_8 = ("Anger", "Contempt", "Disgust", "Fear", "Happiness", "Neutral", "Sadness", "Surprise")
CLASSES_7 = ("Anger", "Disgust", "Fear", "Happiness", "Neutral", "Sadness", "Surprise")
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
INPUT, OUTPUT = "input", "output"
ONNX_FILE = "enet_b0_8_va_mtl.onnx"


def onnx_file(path: str | Path, name: str) -> Path:
    """A .onnx file, or the one inside a folder (the published name preferred)."""
    p = Path(path).expanduser()
    if p.is_dir():
        found = sorted(p.glob("*.onnx"))
        pick = [f for f in found if f.name == ONNX_FILE] or found
        if len(pick) != 1:
            raise StudioError(f"{name}: {p} holds {len(found)} .onnx files; give the folder with exactly one, "
                              f"or the file itself (e.g. {ONNX_FILE})")
        return pick[0]
    if not p.is_file():
        raise StudioError(f"{name}: {p} does not exist; give EmotiEffLib's {ONNX_FILE} or its folder")
    if p.suffix.lower() != ".onnx":
        raise StudioError(f"{name}: {p} is not an .onnx file; give EmotiEffLib's {ONNX_FILE}")
    return p


class HSEmotionRecognizer(BaseRecognizer):
    name = "hsemotion"
    medium = "face"
    kind = "perception"
    accepts = ("image", "video")
    weights = "hsemotion-enet-b0-va-mtl"

    def __init__(self, path: str | Path | None = None, device: str = "cpu"):
        import onnxruntime as ort

        if path is None:
            from studio import weights

            self.file = weights.path(self.weights, ONNX_FILE)
        else:
            self.file = onnx_file(path, self.name)
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device.startswith("cuda") else ["CPUExecutionProvider"]
        try:
            self.session = ort.InferenceSession(str(self.file), providers=providers)
        except Exception as e:  # onnxruntime raises its own types for a corrupt or foreign file
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise StudioError(f"{self.name}: cannot open {self.file} as an ONNX model: {first[:200]}") from None
        ins, outs = self.session.get_inputs(), self.session.get_outputs()
        shape = list(ins[0].shape) if len(ins) == 1 else []
        width = outs[0].shape[-1] if len(outs) == 1 and len(outs[0].shape) == 2 else None
        if (len(shape) != 4 or shape[1] != 3 or not isinstance(shape[2], int) or shape[2] != shape[3]
                or width not in (7, 8, 10)):
            raise StudioError(f"{self.name}: {self.file} is not in the EmotiEffLib layout: expected one input "
                              f"[batch, 3, S, S] and one output [batch, 7|8|10], got inputs "
                              f"{[i.shape for i in ins]} and outputs {[o.shape for o in outs]}")
        self.input, self.output = ins[0].name, outs[0].name
        self.size = int(shape[2])
        self.classes = CLASSES_7 if width == 7 else CLASSES_8
        self.has_va = width == 10
        self.labels = label_map(self.classes)

    def preprocess(self, crops: list[np.ndarray]) -> np.ndarray:
        import cv2

        x = np.stack([cv2.resize(c, (self.size, self.size), interpolation=cv2.INTER_LINEAR) for c in crops])
        x = (x.astype(np.float32) / 255.0 - MEAN) / STD
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def scores(self, crops: list[np.ndarray]) -> np.ndarray:
        """The network's raw outputs (N, 7|8|10) for RGB face crops."""
        return np.asarray(self.session.run([self.output], {self.input: self.preprocess(crops)})[0], np.float64)

    def crops(self, media: Media) -> list[np.ndarray]:
        return face_crops(media, self.name)

    def recognize(self, media: Media) -> Recognition:
        crops = self.crops(self.check(media))
        s = self.scores(crops)
        n = len(self.classes)
        p = softmax(s[:, :n]).mean(axis=0)
        measures = self.labels.raw_measures(p)
        measures["frames"] = float(len(crops))
        if self.has_va:
            v, a = (float(np.clip(s[:, n + i].mean(), -1.0, 1.0)) for i in (0, 1))
            measures.update(raw_valence=float(s[:, n].mean()), raw_arousal=float(s[:, n + 1].mean()))
            d = None
        else:  # the 7/8-class models have no VA head: the class anchors' expectation, as evals.fer does
            v, a, d = self.labels.vad(p)
        return self.recognition(probs=self.labels.fold(p), valence=v, arousal=a, dominance=d, measures=measures)
