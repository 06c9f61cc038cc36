"""Dimensional speech emotion in the audEERING layout (perception): arousal, dominance, valence.

``audeering/wav2vec2-large-robust-12-ft-emotion-msp-dim`` (Wagner et al. 2023, "Dawn of the
transformer era in speech emotion recognition", arXiv:2203.07378): wav2vec2-large-robust pruned to 12
transformer layers and fine-tuned on MSP-Podcast 1.7. Its model card describes the head written here:
the last hidden states are mean-pooled over time, then ``classifier.dense`` (hidden → hidden), tanh,
``classifier.out_proj`` (hidden → 3), dropout around both (inactive at inference). The parameter names
match the published ``model.safetensors`` (``wav2vec2.*``, ``classifier.dense.*``,
``classifier.out_proj.*``) so it loads as published; outputs follow ``config.id2label`` (arousal,
dominance, valence), each in about [0, 1], mapped here to the studio's [-1, 1] as 2x − 1.
Its accuracy (concordance on MSP-Podcast) is the paper's, not measured here.
Licence CC-BY-NC-SA-4.0: research use only.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

from evals.base import BaseRecognizer, Recognition
from evals.hf_folder import HF_LAYOUT, audio_of, load_pretrained, load_processor, read_config, resample, resolve, windows
from studio.errors import StudioError
from studio.media import Media

log = logging.getLogger(__name__)

DIMENSIONS = ("arousal", "dominance", "valence")
MIN_SECONDS = 0.1
WINDOW_SECONDS = 20.0


@lru_cache(maxsize=1)
def emotion_model_class():
    """The published architecture, built once (importing torch/transformers only when asked)."""
    import torch
    from torch import nn
    from transformers import Wav2Vec2Model, Wav2Vec2PreTrainedModel

    class RegressionHead(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.dense = nn.Linear(config.hidden_size, config.hidden_size)
            self.dropout = nn.Dropout(config.final_dropout)
            self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

        def forward(self, pooled):
            x = torch.tanh(self.dense(self.dropout(pooled)))
            return self.out_proj(self.dropout(x))

    class EmotionModel(Wav2Vec2PreTrainedModel):
        def __init__(self, config):
            super().__init__(config)
            self.wav2vec2 = Wav2Vec2Model(config)
            self.classifier = RegressionHead(config)
            self.post_init()

        def forward(self, input_values, attention_mask=None):
            hidden = self.wav2vec2(input_values, attention_mask=attention_mask)[0]
            pooled = hidden.mean(dim=1)
            return pooled, self.classifier(pooled)

    return EmotionModel


class SpeechDimensionalRecognizer(BaseRecognizer):
    name = "speech-msp-dim"
    medium = "speech"
    kind = "perception"
    accepts = ("audio", "video")
    weights = "audeering-msp-dim"
    layout = "audEERING wav2vec2 emotion-dimensions"

    def __init__(self, path: str | Path | None = None, device: str = "cpu"):
        from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor

        self.folder = resolve(path, self.weights, HF_LAYOUT, self.layout, self.name)
        cfg = read_config(self.folder, self.name)
        names = [str(v).lower() for _, v in sorted((cfg.get("id2label") or {}).items(), key=lambda kv: int(kv[0]))]
        if cfg.get("model_type") != "wav2vec2" or not {"arousal", "valence"} <= set(names):
            raise StudioError(f"{self.name}: {self.folder / 'config.json'} is not in the {self.layout} layout: needs "
                              f"model_type wav2vec2 and id2label naming arousal, dominance, valence (got {names or 'none'})")
        self.index = {n: names.index(n) for n in DIMENSIONS if n in names}
        config = Wav2Vec2Config.from_pretrained(self.folder, local_files_only=True)
        self.model = load_pretrained(emotion_model_class(), self.folder, self.name, self.layout, config=config).to(device)
        self.extractor = load_processor(Wav2Vec2FeatureExtractor, self.folder, self.name)
        self.rate = int(getattr(self.extractor, "sampling_rate", 16000))
        self.device = device

    def raw(self, audio: np.ndarray, rate: int) -> np.ndarray:
        """The head's outputs (about [0, 1]) in id2label order, windows averaged by their length."""
        import torch

        x = resample(audio, rate, self.rate)
        if len(x) < MIN_SECONDS * self.rate:
            raise StudioError(f"{self.name}: the clip is {len(x) / self.rate * 1000:.0f} ms long; give at least {MIN_SECONDS * 1000:.0f} ms of speech")
        outs, weights = [], []
        for w in windows(x, self.rate, WINDOW_SECONDS):
            inputs = self.extractor(w, sampling_rate=self.rate, return_tensors="pt")
            with torch.no_grad():
                _, y = self.model(inputs["input_values"].to(self.device))
            outs.append(y[0].float().cpu().numpy().astype(np.float64))
            weights.append(len(w))
        return np.average(np.stack(outs), axis=0, weights=weights)

    def recognize(self, media: Media) -> Recognition:
        audio, rate = audio_of(self.check(media), self.name)
        y = self.raw(audio, rate)
        studio = {n: float(np.clip(2.0 * y[i] - 1.0, -1.0, 1.0)) for n, i in self.index.items()}
        measures = {f"raw_{n}": float(y[i]) for n, i in self.index.items()}
        measures["seconds"] = len(audio) / rate
        return self.recognition(valence=studio.get("valence"), arousal=studio.get("arousal"),
                                dominance=studio.get("dominance"), measures=measures)
