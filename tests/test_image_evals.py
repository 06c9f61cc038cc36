"""Image recognizers: image statistics on known inputs, and CLIP VA from a tiny random CLIP saved and loaded back."""
from __future__ import annotations

import numpy as np
import pytest

from evals.image import ClipVARecognizer, ImageStatsRecognizer, image_stats
from pipelines.image.tiny import build_tiny_clip
from studio.errors import StudioError
from studio.media import default_portrait


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    d = build_tiny_clip(tmp_path_factory.mktemp("tiny_clip"))
    return ClipVARecognizer(d)


def test_stats_recognizer_reads_brightness_and_saturation():
    rec = ImageStatsRecognizer()
    assert rec.name == "image-stats" and rec.medium == "image"
    bright_warm = np.zeros((64, 64, 3), np.uint8) + np.array([250, 200, 60], np.uint8)
    dark_grey = np.full((64, 64, 3), 40, np.uint8)
    a, b = rec.recognize(bright_warm), rec.recognize(dark_grey)
    assert a.valence > 0.5 > -0.5 > b.valence
    assert a.measures["saturation"] > 0.7 and b.measures["saturation"] == 0.0
    assert -1 <= a.arousal <= 1 and -1 <= b.arousal <= 1


def test_stats_edges_raise_arousal():
    rng = np.random.default_rng(0)
    flat = np.full((128, 128, 3), 128, np.uint8)
    busy = flat.copy()
    busy[(np.arange(128) // 2) % 2 == 0] = 20  # 2-px stripes (1-px ones cancel in a central-difference gradient)
    busy = np.clip(busy.astype(int) + rng.integers(-5, 5, busy.shape), 0, 255).astype(np.uint8)
    s_flat, s_busy = image_stats(flat), image_stats(busy)
    assert s_busy["edge_density"] > 0.5 > s_flat["edge_density"] == 0.0
    assert s_busy["hf_energy"] > 0.5
    rec = ImageStatsRecognizer()
    assert rec.recognize(busy).measures["texture_arousal"] > rec.recognize(flat).measures["texture_arousal"]


def test_clip_recognizer_outputs(clip):
    imgs = [default_portrait(), np.full((64, 64, 3), 200, np.uint8)]
    batch = clip.recognize_many(imgs)
    single = clip.recognize(imgs[0])
    assert clip.name == "clip-va" and clip.medium == "image"
    for r in batch:
        assert -1 <= r.valence <= 1 and -1 <= r.arousal <= 1
        assert abs(sum(r.probs.values()) - 1) < 1e-5 and set(r.probs) >= {"joy", "neutral", "anger"}
        assert len([k for k in r.measures if k.startswith("valence_pair")]) == 4
    assert single.valence == pytest.approx(batch[0].valence, abs=1e-5)
    assert batch[0].valence != batch[1].valence  # the image matters: features are not constant


def test_clip_recognizer_missing_folder(tmp_path):
    with pytest.raises(StudioError, match="config.json"):
        ClipVARecognizer(tmp_path / "nope")
