"""The embedded image engine: procedural affective compositions and affective colour grading.

No weights. Everything an ImagePlan says is drawn with vectorised NumPy:
- colour: the plan's palette (hue from the valence-arousal angle) and its brightness/saturation
  deltas, which are Valdez & Mehrabian's (1994) pleasure/arousal equations inverted by the plan;
  the final image is fitted so its mean HSV value/saturation hit the neutral reference plus those deltas;
- form: shape outlines blend a smooth low-harmonic curve with a zig-zag star, weighted by the
  plan's curvature (rounded forms read as pleasant, sharp angular ones as threatening: Bar & Neta 2006);
- energy: more, smaller shapes, streaks and fine grain at high arousal (spatial frequency), a soft blur
  at low arousal, and contrast scaled by the plan's contrast delta.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np

from studio.affect.plans import ImagePlan
from studio.errors import StudioError

# Mean HSV value and saturation of a neutral composition: the origin the plan's deltas move from.
# The image-stats recognizer (evals/image.py) uses the same reference, which is why it is not an
# independent judge of this engine.
NEUTRAL_BRIGHTNESS = 0.55
NEUTRAL_SATURATION = 0.16
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
MIN_SIDE, MAX_SIDE = 64, 4096


def _hex_rgb(h: str) -> np.ndarray:
    h = h.lstrip("#")
    return np.array([int(h[i:i + 2], 16) / 255.0 for i in (0, 2, 4)], dtype=np.float32)


def prompt_seed(prompt: str, seed: int) -> np.random.Generator:
    """Variety per prompt, reproducibility per (prompt, seed)."""
    digest = int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, digest])


def hsv_stats(rgb: np.ndarray) -> tuple[float, float]:
    """Mean HSV value and saturation of a float RGB image in [0, 1]."""
    mx = rgb.max(axis=-1)
    mn = rgb.min(axis=-1)
    sat = np.where(mx > 1e-6, (mx - mn) / np.maximum(mx, 1e-6), 0.0)
    return float(mx.mean()), float(sat.mean())


def _apply_tone(rgb: np.ndarray, sat_gain: float, scale: float) -> np.ndarray:
    luma = (rgb @ _LUMA)[..., None]
    return np.clip(scale * (luma + sat_gain * (rgb - luma)), 0.0, 1.0)


def _fit_tone(rgb: np.ndarray, target_v: float, target_s: float, iters: int = 8) -> tuple[float, float]:
    """Saturation gain and value scale that bring mean V and S to target, fitted on a subsample.

    Scaling leaves HSV saturation unchanged and blending with luma leaves V nearly so, which makes the
    two fits almost independent; a few alternating multiplicative updates converge."""
    step = max(1, int(math.sqrt(rgb.shape[0] * rgb.shape[1] / 128 ** 2)))
    sub = rgb[::step, ::step].astype(np.float32)
    g, s = 1.0, 1.0
    for _ in range(iters):
        v, sa = hsv_stats(_apply_tone(sub, g, s))
        g = float(np.clip(g * (target_s / max(sa, 1e-3)) ** 0.9, 0.0, 12.0))
        v, _ = hsv_stats(_apply_tone(sub, g, s))
        s = float(np.clip(s * (target_v / max(v, 1e-3)), 0.05, 8.0))
    return g, s


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    import cv2

    small = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _shape_alpha(yy: np.ndarray, xx: np.ndarray, radius: float, curvature: float, rng: np.random.Generator) -> np.ndarray:
    """Coverage of one shape centred at the origin of (yy, xx): a blend of a wobbly curve and a zig-zag star."""
    theta = np.arctan2(yy, xx)
    dist = np.sqrt(yy * yy + xx * xx)
    rot = rng.uniform(0, 2 * math.pi)
    curve = np.ones_like(theta)
    for k in (2, 3, 4):  # low harmonics only: no corners anywhere on the outline
        curve += rng.uniform(0.03, 0.10) * np.cos(k * theta + rng.uniform(0, 2 * math.pi))
    spikes = int(rng.integers(3, 9))
    phase = ((theta + rot) * spikes / (2 * math.pi)) % 1.0
    star = 1.0 - 0.45 * np.abs(2.0 * phase - 1.0)  # triangle wave in angle: sharp vertices and notches
    w_ang = (1.0 - curvature) / 2.0
    r = radius * ((1.0 - w_ang) * curve + w_ang * star / 0.775)
    soft = 1.0 + max(0.0, curvature) * 0.06 * radius  # rounded forms get feathered edges, sharp ones hard edges
    return np.clip((r - dist) / soft, 0.0, 1.0)


def compose(plan: ImagePlan, prompt: str = "", seed: int = 0, width: int = 1024, height: int = 1024) -> np.ndarray:
    """A procedural composition realising ``plan``: RGB uint8 of shape (height, width, 3)."""
    import cv2

    for name, side in (("width", width), ("height", height)):
        if not isinstance(side, (int, np.integer)) or not MIN_SIDE <= side <= MAX_SIDE:
            raise StudioError(f"{name} must be an integer in [{MIN_SIDE}, {MAX_SIDE}], got {side!r}")
    rng = prompt_seed(prompt, seed)
    h, w = int(height), int(width)
    pal = [_hex_rgb(c) for c in (plan.palette or ["#8c8c8c"])]
    sf = float(plan.spatial_frequency)
    curv = float(plan.curvature)

    # background: a gradient between two palette colours at a random angle, with slow cloud-like variation
    ang = rng.uniform(0, 2 * math.pi)
    ys = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    xs = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    t = np.clip(0.5 + 0.35 * (xs * math.cos(ang) + ys * math.sin(ang)), 0, 1)[..., None]
    c0, c1 = pal[0] * 0.8, pal[-1] * 1.1
    img = (1 - t) * c0 + t * c1 + 0.05 * _smooth_noise(rng, h, w, 6)[..., None]

    # shapes: more and smaller with arousal; outline from curvature
    side = min(h, w)
    n_shapes = int(round(6 + 5 * (sf + 1)))
    for i in range(n_shapes):
        radius = side * rng.uniform(0.10, 0.26) * (1.0 - 0.35 * max(0.0, sf))
        cy, cx = rng.uniform(0.1, 0.9) * h, rng.uniform(0.1, 0.9) * w
        ext = int(radius * 1.4) + 2
        y0, y1 = max(0, int(cy) - ext), min(h, int(cy) + ext)
        x0, x1 = max(0, int(cx) - ext), min(w, int(cx) + ext)
        if y1 <= y0 or x1 <= x0:
            continue
        yy = np.arange(y0, y1, dtype=np.float32)[:, None] - cy
        xx = np.arange(x0, x1, dtype=np.float32)[None, :] - cx
        alpha = _shape_alpha(yy, xx, radius, curv, rng)[..., None] * rng.uniform(0.6, 0.95)
        colour = pal[int(rng.integers(len(pal)))] * rng.uniform(0.75, 1.2)
        img[y0:y1, x0:x1] = (1 - alpha) * img[y0:y1, x0:x1] + alpha * colour

    # energy: diagonal streaks and grain grow with arousal from a moderate neutral level (so a neutral
    # picture has mid-range texture, not none); below the neutral level the streaks fade and a blur softens
    energy = (sf + 1.0) / 2.0
    if energy > 0.05:
        freq = 15 + 185 * energy ** 2
        d = rng.uniform(0.5, 1.1)
        streak = np.sin(freq * (xs * math.cos(d) + ys * math.sin(d)) + 3 * _smooth_noise(rng, h, w, 4))
        zig = np.sign(streak) * (np.abs(streak) > 0.6)  # hard-edged bands: high spatial frequency
        img += (0.14 * energy * zig)[..., None] * np.array([1.0, 0.9, 0.8], np.float32)
        img += 0.05 * energy ** 2 * rng.standard_normal((h, w, 1), dtype=np.float32)
    if sf < 0:
        sigma = 0.012 * side * (-sf)
        img = cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma)
    img = np.clip(img, 0, 1)
    img = _grade_float(img, plan, absolute=True)
    return (img * 255.0 + 0.5).astype(np.uint8)


def _grade_float(img: np.ndarray, plan: ImagePlan, absolute: bool, amount: float = 1.0) -> np.ndarray:
    """Contrast, warmth, then a fitted tone curve to hit the plan's brightness/saturation targets.

    ``absolute``: targets are the neutral reference + deltas (compositions); otherwise the input's own
    statistics + deltas (grading a user's image, which keeps its character)."""
    luma_mean = float((img @ _LUMA).mean())
    k = 1.0 + 1.5 * amount * plan.contrast_delta
    img = np.clip(luma_mean + k * (img - luma_mean), 0, 1)
    warm = 0.07 * amount * plan.warmth
    if warm:
        img = np.clip(img + warm * np.array([1.0, 0.25, -1.0], np.float32), 0, 1)
    if absolute:
        bv, bs = NEUTRAL_BRIGHTNESS, NEUTRAL_SATURATION
    else:
        bv, bs = hsv_stats(img[:: max(1, img.shape[0] // 256), :: max(1, img.shape[1] // 256)])
    tv = float(np.clip(bv + amount * plan.brightness_delta, 0.06, 0.97))
    ts = float(np.clip(bs + amount * plan.saturation_delta, 0.0, 0.95))
    g, s = _fit_tone(img, tv, ts)
    return _apply_tone(img, g, s)


def grade(image: np.ndarray, plan: ImagePlan, amount: float = 1.0) -> np.ndarray:
    """Move an RGB uint8 image's brightness, saturation, contrast and warmth toward ``plan``.

    A neutral plan returns the input unchanged, bit for bit."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise StudioError(f"grading needs an RGB uint8 image, got shape {image.shape} dtype {image.dtype}")
    if not 0 <= amount <= 1.5:
        raise StudioError(f"grading amount must be in [0, 1.5], got {amount}")
    if plan.emotion_strength == 0 or amount == 0 or not any(plan.deviations().values()):
        return image.copy()
    img = image.astype(np.float32) / 255.0
    sf = float(plan.spatial_frequency) * amount
    if abs(sf) > 0.05:
        import cv2

        sigma = 1.0 + 2.0 * abs(sf)
        blur = cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma)
        # arousal sharpens (unsharp mask adds high spatial frequency); calm softens
        img = np.clip(img + sf * (img - blur), 0, 1) if sf > 0 else (1 + sf * 0.6) * img - sf * 0.6 * blur
    out = _grade_float(np.clip(img, 0, 1), plan, absolute=False, amount=amount)
    return (out * 255.0 + 0.5).astype(np.uint8)
