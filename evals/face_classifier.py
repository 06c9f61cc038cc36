"""Facial expression from any transformers image-classification folder, on the FER path's face crop.

Default weights: ``trpakov/vit-face-expression`` (ViT-B/16 fine-tuned on FER2013's 7 classes). Any
``AutoModelForImageClassification`` facial-expression folder works (AffectNet or RAF-DB heads too);
``config.id2label`` goes through the taxonomy as for every classifier here (``evals.label_map``). The
face is found and cropped as for the FER2013 recognizer (``evals.face_crop.crop_rgb``: MediaPipe mesh,
roll removed, square 1.1x the mesh), in colour at native resolution; the model's own image processor
resizes and normalises it. A clip is judged on its sampled frames that show a face, averaged.
"""
from __future__ import annotations

import numpy as np

from evals.hf_folder import face_crops
from evals.image_classifier import ImageEmotionClassifier
from studio.media import Media


class FaceExpressionClassifier(ImageEmotionClassifier):
    name = "face-vit"
    medium = "face"
    accepts = ("image", "video")
    weights = "vit-face-expression"

    def inputs(self, media: Media) -> list[np.ndarray]:
        return face_crops(media, self.name)
