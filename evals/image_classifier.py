"""Emotion classes of a whole image from any transformers image-classification folder (perception).

For EmoSet-style classifiers (Yang et al. 2023, EmoSet, ICCV: Mikels' eight categories amusement, awe,
contentment, excitement, anger, disgust, fear, sadness) or any other emotion-labelled head
(``AutoModelForImageClassification``: ViT, ConvNeXt, ResNet, …). ``config.id2label`` is mapped through
the taxonomy (EmoSet's four positive classes are extended terms: each lands on its core mixture, e.g.
awe → surprise 0.7, fear 0.3); unknown names are kept. Valence and arousal are the expectation of the
classes' VAD anchors. No registry default: give ``--recognizer image-emotion=PATH``.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from evals.base import BaseRecognizer, Recognition
from evals.hf_folder import HF_LAYOUT, images_of, load_pretrained, load_processor, read_config, resolve
from evals.label_map import label_map, softmax
from studio.errors import StudioError
from studio.media import Media

log = logging.getLogger(__name__)


class ImageEmotionClassifier(BaseRecognizer):
    name = "image-emotion"
    medium = "image"
    kind = "perception"
    accepts = ("image",)
    weights = ""
    layout = "transformers image-classification"
    batch = 16

    def __init__(self, path: str | Path | None = None, device: str = "cpu"):
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        if path is None and not self.weights:
            raise StudioError(f"{self.name} has no default weights; give --recognizer {self.name}=PATH "
                              f"(a local folder in the {self.layout} layout)")
        self.folder = resolve(path, self.weights, HF_LAYOUT, self.layout, self.name)
        cfg = read_config(self.folder, self.name)
        if not cfg.get("id2label"):
            raise StudioError(f"{self.name}: {self.folder / 'config.json'} has no id2label; it is not a classifier")
        self.model = load_pretrained(AutoModelForImageClassification, self.folder, self.name, self.layout).to(device)
        self.processor = load_processor(AutoImageProcessor, self.folder, self.name)
        self.labels = label_map(self.model.config.id2label)
        self.multi_label = self.model.config.problem_type == "multi_label_classification"
        self.device = device

    def class_probs(self, images: list[np.ndarray]) -> np.ndarray:
        """(N, classes) probabilities in the model's own class order for RGB uint8 images."""
        import torch

        out = []
        for i in range(0, len(images), self.batch):
            px = self.processor(images=list(images[i:i + self.batch]), return_tensors="pt")["pixel_values"]
            with torch.no_grad():
                logits = self.model(pixel_values=px.to(self.device)).logits.float().cpu().numpy()
            if self.multi_label:
                s = 1 / (1 + np.exp(-logits.astype(np.float64)))
                out.append(s / s.sum(axis=1, keepdims=True))
            else:
                out.append(softmax(logits))
        return np.concatenate(out)

    def inputs(self, media: Media) -> list[np.ndarray]:
        return images_of(media, self.name)

    def _recognition(self, p: np.ndarray, frames: int) -> Recognition:
        vad = self.labels.vad(p)
        v, a, d = vad if vad is not None else (None, None, None)
        measures = self.labels.raw_measures(p)
        measures["frames"] = float(frames)
        return self.recognition(probs=self.labels.fold(p), valence=v, arousal=a, dominance=d, measures=measures)

    def recognize(self, media: Media) -> Recognition:
        imgs = self.inputs(self.check(media))
        return self._recognition(self.class_probs(imgs).mean(axis=0), len(imgs))

    def recognize_batch(self, media: list[Media]) -> list[Recognition]:
        groups = [self.inputs(self.check(m)) for m in media]
        flat = [im for g in groups for im in g]
        p = self.class_probs(flat) if flat else np.zeros((0, len(self.labels.raw)))
        out, i = [], 0
        for g in groups:
            out.append(self._recognition(p[i:i + len(g)].mean(axis=0), len(g)))
            i += len(g)
        return out
