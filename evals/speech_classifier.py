"""Categorical speech emotion from any transformers audio-classification folder (perception).

Default weights: SUPERB's emotion-recognition head on wav2vec2-base (``superb/wav2vec2-base-superb-er``,
the SUPERB ER task of Yang et al. 2021: 4 IEMOCAP classes neu/hap/ang/sad; its accuracy is the paper's,
not measured here). Any ``AutoModelForAudioClassification`` folder works
(wav2vec2, HuBERT, WavLM heads): its ``config.id2label`` is mapped through the taxonomy
(``evals.label_map``), unknown class names kept as they are. Audio is resampled to the feature
extractor's rate (16 kHz for all of these) with scipy's polyphase filter.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from evals.base import BaseRecognizer, Recognition
from evals.hf_folder import HF_LAYOUT, audio_of, load_pretrained, load_processor, read_config, resample, resolve, windows
from evals.label_map import label_map, softmax
from studio.errors import StudioError
from studio.media import Media

log = logging.getLogger(__name__)

MIN_SECONDS = 0.1   # wav2vec2's convolutional front end needs 400 samples (25 ms) to give one frame
WINDOW_SECONDS = 20.0


class SpeechEmotionClassifier(BaseRecognizer):
    name = "speech-er"
    medium = "speech"
    kind = "perception"
    accepts = ("audio", "video")
    weights = "superb-wav2vec2-base-er"
    layout = "transformers audio-classification"

    def __init__(self, path: str | Path | None = None, device: str = "cpu"):
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

        self.folder = resolve(path, self.weights, HF_LAYOUT, self.layout, self.name)
        cfg = read_config(self.folder, self.name)
        if not cfg.get("id2label"):
            raise StudioError(f"{self.name}: {self.folder / 'config.json'} has no id2label; it is not a classifier")
        self.model = load_pretrained(AutoModelForAudioClassification, self.folder, self.name, self.layout).to(device)
        self.extractor = load_processor(AutoFeatureExtractor, self.folder, self.name)
        self.rate = int(getattr(self.extractor, "sampling_rate", 16000))
        self.labels = label_map(self.model.config.id2label)
        self.multi_label = self.model.config.problem_type == "multi_label_classification"
        self.device = device

    def class_probs(self, audio: np.ndarray, rate: int) -> np.ndarray:
        """The model's own class probabilities for one clip (windows averaged by their length)."""
        import torch

        x = resample(audio, rate, self.rate)
        if len(x) < MIN_SECONDS * self.rate:
            raise StudioError(f"{self.name}: the clip is {len(x) / self.rate * 1000:.0f} ms long; give at least {MIN_SECONDS * 1000:.0f} ms of speech")
        parts, weights = [], []
        for w in windows(x, self.rate, WINDOW_SECONDS):
            inputs = self.extractor(w, sampling_rate=self.rate, return_tensors="pt").to(self.device)
            with torch.no_grad():
                logits = self.model(**inputs).logits[0].float().cpu().numpy()
            if self.multi_label:
                s = 1 / (1 + np.exp(-logits.astype(np.float64)))
                parts.append(s / s.sum())
            else:
                parts.append(softmax(logits))
            weights.append(len(w))
        return np.average(np.stack(parts), axis=0, weights=weights)

    def recognize(self, media: Media) -> Recognition:
        audio, rate = audio_of(self.check(media), self.name)
        p = self.class_probs(audio, rate)
        vad = self.labels.vad(p)
        v, a, d = vad if vad is not None else (None, None, None)
        measures = self.labels.raw_measures(p)
        measures["seconds"] = len(audio) / rate
        return self.recognition(probs=self.labels.fold(p), valence=v, arousal=a, dominance=d, measures=measures)
