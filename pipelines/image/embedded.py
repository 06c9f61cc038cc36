"""The embedded image engine: procedural affective compositions and affective colour grading.

No weights. Everything an ImagePlan says is drawn with vectorised NumPy, as an abstract landscape:
- layout: a horizon (height, tilt) with a light source, far and near ridges, a lake or land and a few
  foreground forms; seed and prompt hash vary it within the plan's ``composition`` rule (dynamic diagonal:
  tilted horizon, forms along a diagonal, light in a corner; still/open: level horizon, few large forms at
  the edges, low centred light; centred/balanced otherwise);
- colour: the plan's palette (hue from the valence-arousal angle) for the sky, light and accents, its
  ``lighting`` for the light's size, colour and glow; low dominance pulls the surroundings toward cold violet;
  the brightness/saturation deltas (Valdez & Mehrabian 1994, inverted by the plan) are met by fitting the mean
  HSV value/saturation to the neutral reference plus those deltas, taking chroma from ridges, silhouettes and
  ground before sky, light and accents, so a tight saturation budget gives vivid colour against neutral dark,
  not uniformly dull colour;
- form: ridges and shapes blend rolling curves with zig-zag peaks and shards by the plan's curvature
  (rounded forms read as pleasant, sharp angular ones as threatening: Bar & Neta 2006);
- energy: texture amplitude and frequency follow arousal (spatial frequency): none when calm (smooth
  gradients, glassy water, a soft blur), rings from the light (pleasant) or crossing zig-zag strokes
  (unpleasant), rippled water, more and smaller forms and grain when aroused; contrast from the contrast delta.
"""
from __future__ import annotations

import colorsys
import hashlib
import math
from dataclasses import dataclass

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
RENDER_SIDE = 704


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


def _circ_lerp(h0: float, h1: float, t: float) -> float:
    """Hue interpolation along the shorter way round the colour wheel."""
    dh = ((h1 - h0 + 0.5) % 1.0) - 0.5
    return (h0 + t * dh) % 1.0


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1))), dtype=np.float32)


def _shape_alpha(yy: np.ndarray, xx: np.ndarray, radius: float, curvature: float, rng: np.random.Generator,
                 stretch: float = 1.0) -> np.ndarray:
    """Coverage of one shape centred at the origin of (yy, xx): a blend of a wobbly curve and a zig-zag star.

    ``stretch`` > 1 elongates the shape along a random axis (angular shards rather than stars)."""
    rot = rng.uniform(0, 2 * math.pi)
    if stretch != 1.0:
        c, s = math.cos(rot), math.sin(rot)
        u, v = xx * c + yy * s, -xx * s + yy * c
        xx, yy = u / stretch, v
    theta = np.arctan2(yy, xx)
    dist = np.sqrt(yy * yy + xx * xx)
    curve = np.ones_like(theta)
    for k in (2, 3, 4):  # low harmonics only: no corners anywhere on the outline
        curve += rng.uniform(0.03, 0.10) * np.cos(k * theta + rng.uniform(0, 2 * math.pi))
    spikes = int(rng.integers(3, 8))
    phase = ((theta + rot) * spikes / (2 * math.pi)) % 1.0
    star = 1.0 - 0.55 * np.abs(2.0 * phase - 1.0)  # triangle wave in angle: sharp vertices and notches
    w_ang = float(np.clip((0.15 - curvature) / 0.6, 0.0, 1.0))
    r = radius * ((1.0 - w_ang) * curve + w_ang * star / 0.725)
    soft = 1.0 + max(0.0, curvature) * 0.08 * radius  # rounded forms get feathered edges, sharp ones hard edges
    return np.clip((r - dist) / soft, 0.0, 1.0)


def _ridge(rng: np.random.Generator, xs: np.ndarray, curvature: float, height: float) -> np.ndarray:
    """A skyline profile over x in [0, 1]: rolling sine hills (rounded) blended with zig-zag peaks (angular)."""
    rolling = np.zeros_like(xs)
    for k in (1, 2, 3, 5):
        rolling += rng.uniform(0.4, 1.0) / k * np.sin(2 * math.pi * (k * rng.uniform(0.6, 1.2) * xs + rng.uniform()))
    rolling = (rolling - rolling.min()) / max(float(np.ptp(rolling)), 1e-6)
    n = int(rng.integers(5, 11))
    px = np.sort(np.concatenate([[-0.05, 1.05], rng.uniform(0, 1, 2 * n)]))
    py = np.where(np.arange(px.size) % 2 == 0, rng.uniform(0.0, 0.35, px.size), rng.uniform(0.5, 1.0, px.size))
    jagged = np.interp(xs, px, py)
    w_ang = float(np.clip((0.15 - curvature) / 0.6, 0.0, 1.0))
    return height * ((1 - w_ang) * rolling + w_ang * jagged * 1.3)


def _concentrate_chroma(img: np.ndarray, target_s: float, cm: np.ndarray) -> np.ndarray:
    """Where the scene holds more chroma than the plan's mean saturation allows, take it away first where the
    chroma map ``cm`` (0..1) is low: HSV S is scaled by cm**p with V kept, p fitted on a subsample. Vivid areas
    (light, horizon, accents) stay vivid and the rest turns neutral, instead of everything going uniformly dull;
    the global tone fit in ``_grade_float`` does the rest."""
    step = max(1, int(math.sqrt(img.shape[0] * img.shape[1] / 128 ** 2)))
    sub, cms = img[::step, ::step], np.clip(cm[::step, ::step], 1e-4, 1.0)

    def sat(x):
        mx = x.max(-1)
        return np.where(mx > 1e-6, (mx - x.min(-1)) / np.maximum(mx, 1e-6), 0.0)

    s_sub = sat(sub)
    goal = 1.1 * max(target_s, 0.02)
    if s_sub.mean() <= goal:
        return img
    lo, hi = 0.0, 8.0
    for _ in range(12):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if float((s_sub * cms ** mid).mean()) > goal else (lo, mid)
    mx = img.max(-1, keepdims=True)
    f = np.clip(cm, 1e-4, 1.0)[..., None] ** hi
    return mx - (mx - img) * f


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    return a + (b - a) * t


@dataclass(frozen=True, eq=False)
class _Frame:
    """Output and render sizes, and the plan's scalars every stage reads."""
    H: int  # output size
    W: int
    h: int  # render size
    w: int
    side: int
    sf: float  # spatial frequency (arousal)
    curv: float
    dom: float
    energy: float  # busyness of the layout: zero when calm
    tex_e: float  # texture: faint at neutral, none when calm
    calm: float


@dataclass(frozen=True, eq=False)
class _Colours:
    """Colours derived from the plan's palette, dominance and ``lighting``."""
    pal: list[np.ndarray]
    hue: float
    chroma: float
    cold_w: float
    env_h: float
    vivid: float
    tv: float  # the brightness the tone fit aims at
    sky_top: np.ndarray
    sky_low: np.ndarray
    light_c: np.ndarray
    glow_k: float
    diffuse: bool


@dataclass(frozen=True, eq=False)
class _Layout:
    """Where things are: the pixel grid, the horizon, the light, water or land."""
    ys: np.ndarray  # (h, 1)
    xs: np.ndarray  # (1, w)
    aspect: float
    diagonal: bool
    still: bool
    tilt_dir: float
    horizon: np.ndarray  # (1, w)
    lx: float
    ly: float
    water: bool
    r_light: float
    dx: np.ndarray  # (1, w): aspect-corrected x distance to the light
    d2: np.ndarray  # (h, w): squared distance to the light
    below: np.ndarray  # (h, w): under the horizon
    depth: np.ndarray  # (h, w, 1): 0 at the horizon to 1 at the bottom


def _frame(plan: ImagePlan, width: int, height: int) -> _Frame:
    """Checks the requested size and fixes the render size and the plan's energy, form and dominance scalars."""
    for name, side in (("width", width), ("height", height)):
        if not isinstance(side, (int, np.integer)) or not MIN_SIDE <= side <= MAX_SIDE:
            raise StudioError(f"{name} must be an integer in [{MIN_SIDE}, {MAX_SIDE}], got {side!r}")
    H, W = int(height), int(width)
    # large pictures are painted at RENDER_SIDE and upsampled: every form in them is smooth or at most ~60 cycles
    # per image, so little is lost and 1024² stays fast on a CPU
    scale = min(1.0, RENDER_SIDE / max(H, W))
    h, w = max(MIN_SIDE, round(H * scale)), max(MIN_SIDE, round(W * scale))
    sf = float(plan.spatial_frequency)
    return _Frame(
        H=H, W=W, h=h, w=w, side=min(h, w), sf=sf, curv=float(plan.curvature),
        dom=float(plan.direction[2]) if len(plan.direction) > 2 else 0.0,
        energy=max(0.0, sf),
        tex_e=float(np.clip((sf + 0.3) / 1.3, 0, 1) * np.clip((sf + 0.15) / 0.15, 0, 1)),
        calm=max(0.0, -sf))


def _colours(plan: ImagePlan, fr: _Frame) -> _Colours:
    """Realises the palette's hue and chroma and the ``lighting``; low dominance pulls the surroundings toward
    cold violet-blue."""
    pal = [_hex_rgb(c) for c in (plan.palette or ["#8c8c8c"])]
    dom, curv, light = fr.dom, fr.curv, plan.lighting.lower()
    hsvs = [colorsys.rgb_to_hsv(*map(float, c)) for c in pal]
    chroma = max(s for _, s, _ in hsvs)
    ang = np.angle(sum(s * np.exp(2j * math.pi * hh) for hh, s, _ in hsvs) + 1e-9)
    hue = float(ang / (2 * math.pi)) % 1.0
    cold_w = float(np.clip(-2.2 * dom, 0.0, 0.9))
    env_h = _circ_lerp(hue, 0.67, cold_w)
    vivid = min(1.0, 0.15 + 1.4 * chroma)  # sky chroma: the palette's, pushed further with arousal
    vivid = min(1.0, vivid * (1.0 + 0.6 * fr.energy))
    tv = float(np.clip(NEUTRAL_BRIGHTNESS + plan.brightness_delta, 0.06, 0.97))
    sky_top = _hsv(env_h + 0.02, vivid * 0.95, (0.6 + 0.6 * min(0.0, curv)) * tv + 0.05)
    sky_low = _hsv(_circ_lerp(env_h, hue, 0.6) - 0.02, vivid * 0.85, min(1.0, (1.5 + 0.5 * min(0.0, curv)) * tv + 0.1))
    if "warm" in light:
        light_c = _hsv(_circ_lerp(hue, 0.12, 0.5), 0.55 + 0.3 * chroma, 1.0)
    elif "cold" in light:
        light_c = _hsv(0.58, 0.25, 1.0)
    elif dom < -0.2:  # eerie, sickly light for fear-like (submissive) states
        light_c = _hsv(0.47, 0.45, 0.95)
    else:
        light_c = _hsv(hue, 0.4 * chroma, 1.0)
    glow_k = 1.0 if "bright" in light else 0.45 if "dim" in light else 0.7
    return _Colours(pal=pal, hue=hue, chroma=chroma, cold_w=cold_w, env_h=env_h, vivid=vivid, tv=tv,
                    sky_top=sky_top, sky_low=sky_low, light_c=light_c, glow_k=glow_k, diffuse="diffuse" in light)


def _layout(plan: ImagePlan, prompt: str, rng: np.random.Generator, fr: _Frame, col: _Colours) -> _Layout:
    """Realises the ``composition`` rule: horizon, tilt, light placement and size, water or land, varied by the
    seed and prompt hash."""
    h, w, energy = fr.h, fr.w, fr.energy
    comp = plan.composition.lower()
    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    xs = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    aspect = w / h
    diagonal = "diagonal" in comp
    still = "still" in comp
    tilt_dir = 1.0 if rng.random() < 0.5 else -1.0
    if diagonal:
        horizon0 = rng.uniform(0.45, 0.62)
        tilt = tilt_dir * math.radians(rng.uniform(6, 12) + 14 * energy)
        lx = 0.5 - tilt_dir * rng.uniform(0.22, 0.36)
        ly = rng.uniform(0.12, 0.28)
    elif still:
        horizon0 = rng.uniform(0.52, 0.7)
        tilt = 0.0
        lx = 0.5 + rng.uniform(-0.12, 0.12)
        ly = horizon0 - rng.uniform(0.08, 0.22)
    else:
        horizon0 = rng.uniform(0.45, 0.62)
        tilt = tilt_dir * math.radians(rng.uniform(0, 3))
        lx = 0.5 + rng.uniform(-0.25, 0.25)
        ly = rng.uniform(0.15, horizon0 - 0.12)
    slope = math.tan(tilt) * aspect
    horizon = horizon0 + slope * (xs - 0.5)  # (1, w)
    # a water word in the prompt always gives a lake; otherwise the seed decides (the draw only happens then)
    water = any(k in prompt.lower() for k in ("lake", "sea", "ocean", "river", "water", "pond", "shore", "beach")) \
        or rng.random() < 0.4
    dx = (xs - lx) * aspect
    r_light = rng.uniform(0.05, 0.09) * (0.7 + 0.6 * col.glow_k)
    d2 = dx * dx + (ys - ly) ** 2
    below = (ys > horizon)
    depth = np.clip((ys - horizon) / np.maximum(1 - horizon, 0.05), 0, 1)[..., None]
    return _Layout(ys=ys, xs=xs, aspect=aspect, diagonal=diagonal, still=still, tilt_dir=tilt_dir, horizon=horizon,
                   lx=lx, ly=ly, water=water, r_light=r_light, dx=dx, d2=d2, below=below, depth=depth)


def _sky(fr: _Frame, col: _Colours, lay: _Layout) -> tuple[np.ndarray, np.ndarray]:
    """Realises the palette and ``lighting`` in the sky: a gradient toward a light-tinted horizon plus the light's
    glow; also starts the chroma map (where colour may stay vivid under a tight saturation budget)."""
    ys, horizon, d2, r_light, glow_k = lay.ys, lay.horizon, lay.d2, lay.r_light, col.glow_k
    t = np.clip(ys / np.maximum(horizon, 0.05), 0, 1)[..., None] ** 0.9
    img = _lerp(col.sky_top, col.sky_low, t)
    glow = glow_k * (0.55 * np.exp(-d2 / (2 * (3.5 * r_light) ** 2)) + (0.0 if col.diffuse else 0.9) *
                     np.clip((r_light - np.sqrt(d2)) / (0.08 * r_light), 0, 1))
    img += glow[..., None] * (col.light_c - 0.5 * img)
    # vivid around the light and along the horizon
    band = np.exp(-np.abs(ys - horizon) / 0.35)
    near_light = np.exp(-d2 / (2 * 0.3 ** 2))
    cm = np.where(ys > horizon, (0.4 + 0.3 * max(0.0, fr.curv)) * band,
                  0.8 + 0.2 * np.maximum(band, near_light)).astype(np.float32)
    return img, cm


def _ground(fr: _Frame, col: _Colours, lay: _Layout, img: np.ndarray, cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Realises the ground under the horizon: a lake reflecting sky and light (stiller and brighter when calm and
    pleasant), or land tinted by the palette."""
    ys, horizon, depth, curv = lay.ys, lay.horizon, lay.depth, fr.curv
    sky_low, sky_top, light_c = col.sky_low, col.sky_top, col.light_c
    if lay.water:
        refl = _lerp(sky_low, sky_top, np.clip(depth * 1.2, 0, 1)) * (0.35 + 0.45 * max(0.0, curv) + 0.3 * fr.calm)
        yr = 2 * horizon - ys  # mirrored light: a path of light on the water, stretched vertically
        d2r = (lay.dx / 0.8) ** 2 + ((yr - lay.ly) / 3.0) ** 2
        path = np.exp(-d2r / (2 * (2.5 * lay.r_light) ** 2))
        refl = refl + (0.45 * col.glow_k * path)[..., None] * (light_c - 0.5 * refl)
        cm = np.where(ys > horizon, np.maximum(cm, path), cm)
        ground = refl
    else:
        land = _hsv(_circ_lerp(col.env_h, 0.25, 0.3 * max(0.0, curv)), 0.5 * col.vivid, (0.55 + 0.35 * curv) * col.tv)
        ground = _lerp(land * 1.2, land * 0.55, depth)
    img = np.where(lay.below[..., None], ground, img)
    return img, cm


def _ridges(fr: _Frame, col: _Colours, lay: _Layout, rng: np.random.Generator, img: np.ndarray,
            cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Realises curvature on the horizon: a far (hazy) and a near (dark silhouette) ridge, rolling when pleasant,
    jagged when not, mirrored in water."""
    ys, xs, horizon, h, curv, tv = lay.ys, lay.xs, lay.horizon, fr.h, fr.curv, col.tv
    px = xs[0]
    for k, hgt in enumerate((rng.uniform(0.10, 0.2), rng.uniform(0.05, 0.13))):
        prof = _ridge(rng, px, curv, hgt * (1.0 + 0.5 * max(0.0, -curv)))
        top = horizon[0] - prof + (0.0 if k == 0 else rng.uniform(0.0, 0.03))
        edge = 1.5 / h + 0.02 * max(0.0, curv) + 0.012 * fr.calm
        m = np.clip((ys - top[None, :]) / edge, 0, 1) * (ys <= horizon + 1.5 / h)
        if k == 0:  # hazy: the sky's colour, darker and paler (aerial perspective)
            far = 0.5 * (col.sky_top + col.sky_low)
            sil = (far.mean() + 0.5 * (far - far.mean())) * 0.72
        else:
            sil = _hsv(col.env_h, 0.12, (0.35 + 0.3 * min(0.0, curv)) * tv)
        img = _lerp(img, sil, m[..., None])
        cm = cm * (1 - m * (0.3 if k == 0 else 0.9))
        if lay.water:  # its reflection
            m2 = np.clip(((2 * horizon - ys) - top[None, :]) / edge, 0, 1) * (ys > horizon)
            img = _lerp(img, sil * 0.8, 0.6 * m2[..., None])
            cm = cm * (1 - 0.5 * m2 * (0.3 if k == 0 else 0.9))
    return img, cm


def _ripples(fr: _Frame, col: _Colours, lay: _Layout, rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Realises arousal on water: ripples whose frequency and amplitude rise with it (glassy when calm)."""
    if lay.water:
        ys, energy = lay.ys, fr.energy
        ph = rng.uniform(0, 2 * math.pi)
        rf = 20 + 90 * energy
        rip = np.sin(rf * (ys - lay.horizon) / (0.2 + lay.depth[..., 0]) + ph + 1.5 * np.sin(9 * lay.xs + ph))
        img += ((0.015 + 0.12 * energy) * rip * lay.below)[..., None] * (col.light_c * 0.6 + 0.2)
    return img


def _foreground(fr: _Frame, col: _Colours, lay: _Layout, rng: np.random.Generator, img: np.ndarray,
                cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Realises arousal, curvature and the composition rule in the foreground forms: count and size from arousal,
    outline from curvature, placement from the rule; dark silhouettes or lit palette accents."""
    h, w, side, energy, curv, tv = fr.h, fr.w, fr.side, fr.energy, fr.curv, col.tv
    pal, env_h, lx, ly = col.pal, col.env_h, lay.lx, lay.ly
    n_shapes = int(round(2 + 8 * energy + (1.5 if fr.calm == 0 else 0) + rng.uniform(0, 2)))
    stretch = 1.0 + 1.6 * max(0.0, -curv)
    accents = sorted(pal, key=lambda c: -float(c.max() - c.min()))
    x0d = rng.uniform(0.05, 0.2)
    for i in range(n_shapes):
        radius = side * rng.uniform(0.06, 0.14) * (1.35 - 0.6 * energy)
        if lay.diagonal:
            u = (i + rng.uniform(0, 1)) / n_shapes
            fx = x0d + u * (1 - 2 * x0d)
            fx = fx if lay.tilt_dir < 0 else 1 - fx
            fy = 0.95 - 0.45 * u + rng.normal(0, 0.05)
        elif lay.still:
            fx = rng.choice([rng.uniform(0.0, 0.25), rng.uniform(0.75, 1.0)])
            fy = rng.uniform(0.82, 1.02)
        else:
            fx = 0.5 + (1 if i % 2 else -1) * rng.uniform(0.05, 0.35)
            fy = rng.uniform(0.72, 0.98)
        cy, cx = fy * h, fx * w
        ext = int(radius * 1.45 * stretch) + 2
        y0, y1 = max(0, int(cy) - ext), min(h, int(cy) + ext)
        x0, x1 = max(0, int(cx) - ext), min(w, int(cx) + ext)
        if y1 <= y0 or x1 <= x0:
            continue
        yy = np.arange(y0, y1, dtype=np.float32)[:, None] - cy
        xx = np.arange(x0, x1, dtype=np.float32)[None, :] - cx
        alpha = _shape_alpha(yy, xx, radius, curv, rng, stretch)[..., None]
        silhouette = rng.random() < 0.2 + 0.9 * max(0.0, -curv)
        if silhouette:  # a dark, colourless silhouette (mostly when unpleasant)
            if curv > 0.15:  # pleasant scenes: a deep shade of the palette instead of a black hole
                colour = min(pal, key=lambda c: float(c.max())) * 0.55
            else:
                colour = _hsv(env_h, 0.08, (0.45 + 0.4 * min(0.0, curv)) * tv)
        else:  # a vivid palette accent, lit from the light's side
            c = accents[int(rng.integers(min(3, len(accents))))]
            ch, cs, cv = colorsys.rgb_to_hsv(*map(float, c))
            colour = _hsv(_circ_lerp(ch, 0.67, 0.7 * col.cold_w), min(1.0, cs * 1.5 + 0.1 * energy),
                          min(1.0, cv * (1.0 + 0.3 * curv)))
            shade = np.clip(0.75 + 0.5 * ((xx * (lx - fx) + yy * (ly - fy)) / (radius * 1.5)), 0.4, 1.2)
            colour = colour * shade[..., None]
        img[y0:y1, x0:x1] = (1 - alpha) * img[y0:y1, x0:x1] + alpha * colour
        cm[y0:y1, x0:x1] = (1 - alpha[..., 0]) * cm[y0:y1, x0:x1] + alpha[..., 0] * ((0.5 if curv > 0.15 else 0.0) if silhouette else 0.7)
    return img, cm


def _texture(fr: _Frame, lay: _Layout, rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Realises arousal as texture energy: zig-zag hatching (angular) or rings from the light (rounded), amplitude
    and frequency rising with arousal; none when calm."""
    tex_e, h, w, ys, xs, aspect = fr.tex_e, fr.h, fr.w, lay.ys, lay.xs, lay.aspect
    if tex_e > 0.02:
        freq = 2 * math.pi * (10 + 50 * tex_e)
        warp = _smooth_noise(rng, h, w, 5) * (0.02 + 0.02 * tex_e)
        w_ang = float(np.clip((0.15 - fr.curv) / 0.6, 0.0, 1.0))
        tex = np.zeros((h, w), np.float32)
        if w_ang > 0:  # thin zig-zag strokes, crossing at a different angle below the horizon
            zf = 6 + 14 * tex_e
            strokes = []
            for th in (rng.uniform(0.3, 1.2) * lay.tilt_dir, -rng.uniform(0.2, 0.9) * lay.tilt_dir):
                u = xs * aspect * math.cos(th) + ys * math.sin(th)
                vv = -xs * aspect * math.sin(th) + ys * math.cos(th)
                zz = np.abs(((vv * zf) % 1.0) * 2 - 1) * 0.04  # zig-zag displacement of the strokes
                strokes.append(np.sin(freq * (u + zz + warp)) > 0.45)
            line = np.where(lay.below, strokes[1], strokes[0])
            tex += w_ang * (line * 1.6 - 0.5)
        if w_ang < 1:
            rr = np.sqrt(lay.dx * lay.dx + (ys - lay.ly) ** 2)
            tex += (1 - w_ang) * np.tanh(2.5 * np.sin(freq * 0.8 * (rr + warp)))  # crisp-edged ripples
        amp = 0.24 * tex_e ** 0.6 * np.clip(0.75 + 0.5 * _smooth_noise(rng, h, w, 3), 0.3, 1.3)
        img = img * (1 + amp * tex)[..., None] + (0.06 * amp * tex)[..., None]
    return img


def _finish(plan: ImagePlan, fr: _Frame, col: _Colours, lay: _Layout, rng: np.random.Generator, img: np.ndarray,
            cm: np.ndarray) -> np.ndarray:
    """Realises the brightness, saturation and contrast deltas and calm's softness: vignette, blur, grain, chroma
    concentration and the tone fit, then the output size as uint8."""
    import cv2

    xs, ys, calm = lay.xs, lay.ys, fr.calm
    vig = 0.25 + 0.25 * max(0.0, -float(plan.brightness_delta)) * 4
    img *= (1 - vig * (((xs - 0.5) * 1.2) ** 2 + ((ys - 0.5) * 1.2) ** 2))[..., None]
    if calm > 0:
        sigma = 0.012 * fr.side * calm
        img = cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma)
    # film grain, from barely there when calm to coarse when aroused
    grain = 0.008 + 0.035 * ((fr.sf + 1.0) / 2.0) ** 2
    img += grain * rng.standard_normal((fr.h, fr.w, 1), dtype=np.float32)
    img = np.clip(img, 0, 1)
    img = _concentrate_chroma(img, NEUTRAL_SATURATION + float(plan.saturation_delta), cm)
    img = _grade_float(img, plan, absolute=True)
    # a target saturation at or near zero would leave plain grey: keep a faint tint of the scene's hue
    ts = NEUTRAL_SATURATION + float(plan.saturation_delta)
    if ts < 0.08 and plan.emotion_strength > 0:
        tint = _hsv(col.env_h if calm > 0 or fr.dom < 0 else col.hue, 0.2, 1.0)
        tint = tint / float(tint @ _LUMA)
        k = 0.5 * (0.08 - max(ts, 0.0)) / 0.08
        img = np.clip(img * (1 - k + k * tint), 0, 1)
    if (fr.h, fr.w) != (fr.H, fr.W):
        img = np.clip(cv2.resize(img, (fr.W, fr.H), interpolation=cv2.INTER_CUBIC), 0, 1)
    return (img * 255.0 + 0.5).astype(np.uint8)


def compose(plan: ImagePlan, prompt: str = "", seed: int = 0, width: int = 1024, height: int = 1024) -> np.ndarray:
    """A procedural landscape-like composition realising ``plan``: RGB uint8 of shape (height, width, 3).

    Layout (horizon height and tilt, light position, ridges, water or land, foreground forms) comes from the
    seed and the prompt hash within the rule the plan's ``composition`` names; colour from its palette and
    ``lighting``; outlines from curvature; texture amplitude and frequency from arousal (spatial frequency).
    The stages draw from one generator in a fixed order, so that order is part of what a seed reproduces."""
    fr = _frame(plan, width, height)
    rng = prompt_seed(prompt, seed)
    col = _colours(plan, fr)
    lay = _layout(plan, prompt, rng, fr, col)
    img, cm = _sky(fr, col, lay)
    img, cm = _ground(fr, col, lay, img, cm)
    img, cm = _ridges(fr, col, lay, rng, img, cm)
    img = _ripples(fr, col, lay, rng, img)
    img, cm = _foreground(fr, col, lay, rng, img, cm)
    img = _texture(fr, lay, rng, img)
    return _finish(plan, fr, col, lay, rng, img, cm)


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


class EmbeddedEngine:
    """Procedural compositions (no init image) or affective colour grading of an init image."""
    name = "embedded"
    medium = "image"
    OPTIONS = ("grade_amount",)

    def render(self, request, plan: ImagePlan, *, progress: bool = False):
        return self.render_batch([request], [plan], progress=progress)[0]

    def render_batch(self, requests, plans, *, progress: bool = False):
        from pipelines.image.result import ImageResult, check_options, init_image
        from studio.progress import bar

        out = []
        with bar(len(requests), "image", "img", enabled=progress) as b:
            for req, plan in zip(requests, plans):
                if "steps" in req.options:
                    raise StudioError("--steps applies to the diffusion engine only; the embedded engine renders in one pass")
                check_options(req.options, self.OPTIONS, self.name)
                src = init_image(req, req.width, req.height)
                if src is not None:
                    img = grade(src, plan, req.options.get("grade_amount", 1.0))
                else:
                    img = compose(plan, req.prompt, req.seed, req.width or 1024, req.height or 1024)
                out.append(ImageResult(image=img, plan=plan, seed=req.seed, engine=self.name, prompt=req.prompt,
                                       affect=req.affect.to_dict(), request=req,
                                       info={"init": src is not None, "mode": "grade" if src is not None else "compose"}))
                b.update(1)
        return out
