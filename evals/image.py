"""Image recognizers: low-level affective statistics, and CLIP zero-shot valence-arousal from local weights.

``ImageStatsRecognizer`` is NOT independent of the embedded image engine: both use Valdez &
Mehrabian's (1994) brightness/saturation equations and the same neutral reference (mean HSV value
0.55, saturation 0.16), so agreement between them shows the engine hits its colour targets, not that
a viewer would feel the emotion. ``ClipVARecognizer`` shares nothing with either engine.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from evals.base import BaseRecognizer, Recognition, as_media
from studio.errors import StudioError

# Valdez & Mehrabian (1994): pleasure = 0.69 B + 0.22 S, arousal = −0.31 B + 0.60 S, both deviations
# from a neutral reference; ÷ 0.25 undoes the ImagePlan's scaling (a full-strength affect moves B/S by
# a quarter of the VM response), giving the studio's [-1, 1] scale.
REF_BRIGHTNESS, REF_SATURATION, VM_SCALE = 0.55, 0.16, 0.25
# High-spatial-frequency energy raises arousal (REFERENCE.md §4). Edge density: share of pixels whose
# luma gradient exceeds 0.05 per pixel at ≤512 px; 0.15 is the studio's mid point (flat graphics score
# near 0, busy photographs 0.3), mapped through tanh so one feature cannot dominate.
EDGE_REF, EDGE_SCALE, TEXTURE_WEIGHT = 0.15, 0.15, 0.4
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def colourfulness(rgb255: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) M: σ_rgyb + 0.3 μ_rgyb on the opponent axes rg = R−G, yb = (R+G)/2 − B."""
    r, g, b = (rgb255[..., i].astype(np.float64) for i in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


def image_stats(rgb: np.ndarray) -> dict[str, float]:
    import cv2

    f = rgb.astype(np.float32) / 255.0
    mx, mn = f.max(-1), f.min(-1)
    sat = np.where(mx > 1e-6, (mx - mn) / np.maximum(mx, 1e-6), 0.0)
    luma = f @ _LUMA
    s = 512 / max(luma.shape)
    small = cv2.resize(luma, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else luma
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3) / 4
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3) / 4
    power = np.abs(np.fft.fft2(small - small.mean())) ** 2
    fy = np.fft.fftfreq(small.shape[0])[:, None]
    fx = np.fft.fftfreq(small.shape[1])[None, :]
    high = np.hypot(fy, fx) > 0.125  # above a quarter of Nyquist
    return {
        "brightness": float(mx.mean()),
        "saturation": float(sat.mean()),
        "colourfulness": colourfulness(rgb),
        "rms_contrast": float(luma.std()),
        "edge_density": float((np.hypot(gx, gy) > 0.05).mean()),
        "hf_energy": float(power[high].sum() / max(power.sum(), 1e-12)),
    }


class ImageStatsRecognizer(BaseRecognizer):
    """Brightness, saturation, colourfulness, contrast and edge statistics → valence/arousal."""

    name = "image-stats"
    medium = "image"
    kind = "realisation"
    accepts = ("image",)

    def recognize(self, media: Any) -> Recognition:
        m = image_stats(self.check(as_media(media)).image)
        db, ds = m["brightness"] - REF_BRIGHTNESS, m["saturation"] - REF_SATURATION
        valence = (0.69 * db + 0.22 * ds) / VM_SCALE
        vm_arousal = (-0.31 * db + 0.60 * ds) / VM_SCALE
        texture = math.tanh((m["edge_density"] - EDGE_REF) / EDGE_SCALE)
        arousal = (1 - TEXTURE_WEIGHT) * vm_arousal + TEXTURE_WEIGHT * texture
        m.update(vm_valence=valence, vm_arousal=vm_arousal, texture_arousal=texture)
        return self.recognition(valence=float(np.clip(valence, -1, 1)), arousal=float(np.clip(arousal, -1, 1)), measures=m)


# Prompt pairs for zero-shot regression: each scores p(pos) − p(neg) ∈ [-1, 1] under CLIP's softmax.
VALENCE_PAIRS = (
    ("a very pleasant image", "a very unpleasant image"),
    ("a happy, joyful picture", "a sad, depressing picture"),
    ("a beautiful, uplifting scene", "a disturbing, upsetting scene"),
    ("a photo that makes people feel good", "a photo that makes people feel bad"),
)
AROUSAL_PAIRS = (
    ("a very exciting image", "a very calm image"),
    ("an intense, energetic picture", "a peaceful, relaxing picture"),
    ("a chaotic, thrilling scene", "a quiet, still scene"),
    ("a photo that makes people feel agitated", "a photo that makes people feel sleepy"),
)
EMOTION_PROMPT = "a photo that evokes {}"


class ClipVARecognizer(BaseRecognizer):
    """CLIP zero-shot VA regression and core-emotion probabilities, from a user-provided local folder.

    The folder is any transformers CLIP checkpoint (config, safetensors weights, tokenizer and image
    processor files), e.g. openai/clip-vit-large-patch14 saved locally. Nothing is downloaded and no
    registry entry exists for it: the user supplies the folder (``--recognizer clip-va=PATH``).
    CLIP was trained on human-written captions, not on the renderer's cues: its verdict is perception."""

    name = "clip-va"
    medium = "image"
    kind = "perception"
    accepts = ("image",)

    def __init__(self, path: str | Path | None = None, device: str = "cpu", *, folder: str | Path | None = None):
        import torch
        from transformers import CLIPModel, CLIPProcessor

        folder = path if path is not None else folder
        if folder is None:
            raise StudioError("clip-va has no default weights; give --recognizer clip-va=PATH (a local CLIP checkpoint folder)")
        p = Path(folder).expanduser()
        if not p.is_dir() or not (p / "config.json").exists():
            raise StudioError(f"CLIP folder {p} not found or has no config.json; give a local transformers CLIP checkpoint folder")
        from evals.hf_folder import quiet

        try:
            with quiet():
                self.model = CLIPModel.from_pretrained(p, local_files_only=True, use_safetensors=True).to(device).eval()
            self.processor = CLIPProcessor.from_pretrained(p, local_files_only=True)
        except (OSError, ValueError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise StudioError(f"cannot load CLIP from {p}: {first[:200]} (needs safetensors weights, tokenizer and preprocessor files)") from None
        self.device = device
        from studio.affect import CORE_LABELS

        self.labels = list(CORE_LABELS)
        texts = [t for pair in VALENCE_PAIRS + AROUSAL_PAIRS for t in pair] + [EMOTION_PROMPT.format(x) for x in self.labels]
        with torch.no_grad():
            tok = self.processor.tokenizer(texts, padding=True, truncation=True, return_tensors="pt").to(device)
            t = self.model.get_text_features(**tok)
            t = t if torch.is_tensor(t) else t.pooler_output
            self.text = torch.nn.functional.normalize(t.float(), dim=-1)
        self.scale = float(self.model.logit_scale.detach().exp())

    def _image_features(self, images: Sequence[np.ndarray]):
        import torch

        with torch.no_grad():
            px = self.processor.image_processor(images=list(images), return_tensors="pt")["pixel_values"].to(self.device)
            f = self.model.get_image_features(pixel_values=px)
            f = f if torch.is_tensor(f) else f.pooler_output
            return torch.nn.functional.normalize(f.float(), dim=-1)

    def recognize_many(self, media: Sequence[Any]) -> list[Recognition]:
        import torch

        imgs = [self.check(as_media(m)).image for m in media]
        logits = self.scale * self._image_features(imgs) @ self.text.T
        nv, na = len(VALENCE_PAIRS), len(AROUSAL_PAIRS)
        pair_logits = logits[:, : 2 * (nv + na)].reshape(len(imgs), nv + na, 2)
        pair_p = torch.softmax(pair_logits, dim=-1)
        scores = (pair_p[..., 0] - pair_p[..., 1]).cpu().numpy()
        probs = torch.softmax(logits[:, 2 * (nv + na):], dim=-1).cpu().numpy()
        out = []
        for i in range(len(imgs)):
            measures = {f"valence_pair_{j}": float(scores[i, j]) for j in range(nv)}
            measures.update({f"arousal_pair_{j}": float(scores[i, nv + j]) for j in range(na)})
            out.append(self.recognition(probs={lab: float(p) for lab, p in zip(self.labels, probs[i])},
                                        valence=float(scores[i, :nv].mean()), arousal=float(scores[i, nv:].mean()),
                                        measures=measures))
        return out

    def recognize(self, media: Any) -> Recognition:
        return self.recognize_many([media])[0]

    def recognize_batch(self, media: Sequence[Any]) -> list[Recognition]:
        return self.recognize_many(media)
