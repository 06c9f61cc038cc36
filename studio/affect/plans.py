"""Per-medium plans: the explicit, editable translation of an affect into what each renderer does.

Every numeric field is a deviation from neutral that is linear in intensity before it is clamped,
so neutral is the identity plan, deviations grow monotonically with intensity, mirrored VAD
mirrors them and a mixture's plan lies between its parts' (all property-tested).
"""
from __future__ import annotations

import colorsys
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Mapping

from studio.affect.core import Affect, nearest_labels

# ---- speech ---------------------------------------------------------------------------------
# Schröder (2004) rules as used by MaryTTS EmotionML, inputs in [-100, 100]; outputs in the units
# the renderer applies. Loudness and tilt in dB are the studio's mapping of Schröder's 0-100
# loudness scale (0.33A points -> 0.08A dB), documented in the README.

def _schroeder(v: float, a: float, d: float) -> dict[str, float]:
    """Percent changes are applied as log-ratios (ln(1 + x) ≈ x): the rules stay linear in VAD, so
    intensity scaling, negation and mixtures compose exactly."""
    A, E, P = 100 * a, 100 * v, 100 * d
    st_per_log = 12 / math.log(2)
    return {
        "f0_shift_st": st_per_log * (0.3 * A + 0.1 * E - 0.1 * P) / 100,
        "log_f0_range": 0.04 * A / 4,  # range 4 + 0.04A semitones around a neutral 4
        "f0_slope_st": 0.12 * P / 4,  # Schröder's slope spread over a 4 s phrase: per-second rise/fall
        "log_rate": (0.5 * A + 0.2 * E) / 100,
        "log_pause": -0.2 * A / 100,
        "loudness_db": 0.08 * A,
        "tilt_db": 0.06 * A,
        "breathiness": -0.004 * A - 0.002 * P,
        "jitter": 0.0002 * (A - E),
    }


# Burkhardt's emofilt profiles (percent of neutral) in the same units. "rate 70" = 70 % durations.
_EMOFILT: dict[str, dict[str, float]] = {
    "anger": {"f0_shift_st": 12 * math.log2(1.5), "log_f0_range": math.log(2.0), "log_rate": -math.log(0.7),
              "loudness_db": 6.0, "tilt_db": 6.0, "jitter": 0.02},
    "joy": {"f0_shift_st": 12 * math.log2(1.5), "log_f0_range": math.log(2.0), "log_rate": -math.log(0.85),
            "loudness_db": 4.0, "tilt_db": 3.0, "f0_slope_st": 0.5},
    "sadness": {"f0_shift_st": -1.0, "log_f0_range": math.log(0.8), "log_rate": -math.log(1.4),
                "loudness_db": -5.0, "tilt_db": -4.0, "jitter": 0.01, "breathiness": 0.3, "log_pause": math.log(1.5)},
    "fear": {"f0_shift_st": 12 * math.log2(2.0), "log_f0_range": math.log(1.6), "log_rate": -math.log(0.7),
             "log_pause": math.log(2.1), "jitter": 0.02, "breathiness": 0.2},
}

_PROSODY_BOUNDS = {
    "f0_shift_st": (-12.0, 14.0), "log_f0_range": (math.log(0.2), math.log(3.0)), "f0_slope_st": (-3.0, 3.0),
    "log_rate": (math.log(0.5), math.log(2.0)), "log_pause": (math.log(0.3), math.log(3.0)),
    "loudness_db": (-12.0, 10.0), "tilt_db": (-10.0, 10.0), "breathiness": (0.0, 0.8), "jitter": (0.0, 0.05),
}


@dataclass
class ProsodyPlan:
    f0_shift_st: float = 0.0       # F0 level change, semitones
    f0_range_scale: float = 1.0    # excursions around the utterance mean, ×
    f0_slope_st: float = 0.0       # added rise (+) or fall (-) per second, semitones
    rate_scale: float = 1.0        # speaking rate, × (>1 faster)
    pause_scale: float = 1.0       # pause durations, ×
    loudness_db: float = 0.0       # level change, dB
    tilt_db: float = 0.0           # vocal effort: high-band (>1 kHz) emphasis, dB
    breathiness: float = 0.0       # aperiodicity added, 0..1
    jitter: float = 0.0            # cycle-to-cycle F0 perturbation, fraction

    def deviations(self) -> dict[str, float]:
        """Signed distance of each field from neutral, in a domain where intensity acts linearly."""
        return {
            "f0_shift_st": self.f0_shift_st, "f0_range": math.log(self.f0_range_scale), "f0_slope_st": self.f0_slope_st,
            "rate": math.log(self.rate_scale), "pause": math.log(self.pause_scale), "loudness_db": self.loudness_db,
            "tilt_db": self.tilt_db, "breathiness": self.breathiness, "jitter": self.jitter,
        }


def _weights(affect: Affect) -> dict[str, float]:
    """Categorical weights; a pure VAD point borrows them from its nearest core anchors."""
    if affect.mixture:
        return dict(affect.mixture)
    if all(x == 0 for x in affect.vad):
        return {}
    return dict(nearest_labels(affect.vad, 3))


def prosody_plan(affect: Affect) -> ProsodyPlan:
    from studio.affect.taxonomy import anchor

    k = affect.intensity
    if k == 0:
        return ProsodyPlan()
    base = _schroeder(*affect.vad)
    for label, w in affect.mixture:  # labelled emotions move from Schröder's rule to emofilt's profile
        prof = _EMOFILT.get(label)
        if prof:
            rule = _schroeder(*anchor(label))
            for key, val in prof.items():
                base[key] += w * (val - rule[key])
    out = {}
    for key, val in base.items():
        lo, hi = _PROSODY_BOUNDS[key]
        out[key] = min(hi, max(lo, k * val))
    return ProsodyPlan(
        f0_shift_st=out["f0_shift_st"], f0_range_scale=math.exp(out["log_f0_range"]), f0_slope_st=out["f0_slope_st"],
        rate_scale=math.exp(out["log_rate"]), pause_scale=math.exp(out["log_pause"]), loudness_db=out["loudness_db"],
        tilt_db=out["tilt_db"], breathiness=out["breathiness"], jitter=out["jitter"],
    )


# ---- face -----------------------------------------------------------------------------------
# EMFACS prototypes (Friesen & Ekman 1983; Ekman, Friesen & Hager 2002), intensities at apex.
EMFACS: dict[str, dict[int, float]] = {
    "joy": {6: 0.8, 12: 1.0, 25: 0.3},
    "sadness": {1: 0.9, 4: 0.6, 15: 0.9, 17: 0.3},
    "surprise": {1: 1.0, 2: 1.0, 5: 0.5, 26: 0.9},
    "fear": {1: 0.9, 2: 0.7, 4: 0.6, 5: 0.9, 7: 0.4, 20: 0.9, 26: 0.5},
    "anger": {4: 1.0, 5: 0.6, 7: 0.8, 23: 0.9},
    "disgust": {9: 1.0, 10: 0.5, 15: 0.5, 16: 0.5},
    "contempt": {12: 0.6, 14: 0.8},
}
UNILATERAL: dict[str, tuple[int, ...]] = {"contempt": (12, 14)}
AU_NAMES: dict[int, str] = {
    1: "inner brow raiser", 2: "outer brow raiser", 4: "brow lowerer", 5: "upper lid raiser", 6: "cheek raiser",
    7: "lid tightener", 9: "nose wrinkler", 10: "upper lip raiser", 12: "lip corner puller", 14: "dimpler",
    15: "lip corner depressor", 16: "lower lip depressor", 17: "chin raiser", 20: "lip stretcher",
    23: "lip tightener", 24: "lip pressor", 25: "lips part", 26: "jaw drop", 45: "blink",
}
BLINKS_PER_MIN = 17.0  # resting spontaneous blink rate (Bentivoglio et al. 1997)


@dataclass
class ActionUnitPlan:
    aus: dict[int, float] = field(default_factory=dict)   # AU number -> intensity 0..1.5
    unilateral: dict[int, float] = field(default_factory=dict)  # AU -> share applied to one side (right) only
    blink_rate_per_min: float = BLINKS_PER_MIN
    head_motion: float = 1.0                                # head-motion energy relative to neutral speech

    def deviations(self) -> dict[str, float]:
        d = {f"AU{n}": v for n, v in sorted(self.aus.items())}
        d["blink_rate"] = self.blink_rate_per_min - BLINKS_PER_MIN
        d["head_motion"] = math.log(self.head_motion)
        return d


def action_unit_plan(affect: Affect) -> ActionUnitPlan:
    k = affect.intensity
    if k == 0:
        return ActionUnitPlan()
    aus: dict[int, float] = {}
    uni: dict[int, float] = {}
    for label, w in _weights(affect).items():
        for au, val in EMFACS.get(label, {}).items():
            aus[au] = aus.get(au, 0.0) + w * val
            if au in UNILATERAL.get(label, ()):
                uni[au] = uni.get(au, 0.0) + w * val
    uni_share = {au: min(1.0, uni[au] / aus[au]) for au in uni if aus.get(au, 0) > 0}
    aus = {au: min(1.5, k * v) for au, v in aus.items() if v > 0}
    arousal = affect.vad[1]
    return ActionUnitPlan(
        aus=aus, unilateral=uni_share,
        blink_rate_per_min=max(4.0, BLINKS_PER_MIN * (1 + 0.6 * k * arousal)),
        head_motion=math.exp(max(-1.5, min(1.5, 0.8 * k * arousal))),
    )


# ---- image ----------------------------------------------------------------------------------
_VM_DET = 0.69 * 0.60 + 0.22 * 0.31  # Valdez & Mehrabian (1994) pleasure/arousal from B and S, inverted
_DESCRIPTORS: dict[str, tuple[str, ...]] = {
    "joy": ("joyful", "radiant", "warm sunlight", "cheerful"),
    "sadness": ("melancholic", "lonely", "muted", "rainy"),
    "anger": ("furious", "fiery", "harsh", "stormy"),
    "fear": ("eerie", "ominous", "dark shadows", "tense"),
    "surprise": ("astonishing", "vivid", "dramatic", "sudden burst"),
    "disgust": ("grimy", "decaying", "sickly", "murky"),
    "contempt": ("cold", "aloof", "stark", "sneering"),
}


@dataclass
class ImagePlan:
    direction: tuple[float, float, float] = (0.0, 0.0, 0.0)  # realised VAD point for the text-encoder direction
    emotion_strength: float = 0.0
    brightness_delta: float = 0.0   # HSV value change, Valdez–Mehrabian inverted
    saturation_delta: float = 0.0   # HSV saturation change
    contrast_delta: float = 0.0     # arousal → contrast
    warmth: float = 0.0             # +warm (red/orange) … −cool (blue)
    curvature: float = 0.0          # +rounded … −angular (Bar & Neta 2006)
    spatial_frequency: float = 0.0  # +fine, busy texture … −smooth
    descriptor_terms: list[str] = field(default_factory=list)
    palette: list[str] = field(default_factory=list)
    lighting: str = "neutral even light"
    composition: str = "balanced, centred"

    def deviations(self) -> dict[str, float]:
        return {
            "brightness": self.brightness_delta, "saturation": self.saturation_delta, "contrast": self.contrast_delta,
            "warmth": self.warmth, "curvature": self.curvature, "spatial_frequency": self.spatial_frequency,
            "strength": self.emotion_strength,
        }


_HUE_WHEEL = ((0, 0.20), (35, 0.12), (90, 0.05), (135, 0.0), (180, -0.25), (220, -0.38), (270, -0.45), (315, -0.60), (360, -0.80))


def _hue(v: float, a: float) -> float:
    """Hue from the valence-arousal angle: pleasant-active yellow/orange, unpleasant-active red,
    unpleasant-calm blue, pleasant-calm green (the circumplex colour associations of Valdez & Mehrabian 1994
    and Jonauskaite et al. 2020)."""
    ang = math.degrees(math.atan2(a, v)) % 360
    for (a0, h0), (a1, h1) in zip(_HUE_WHEEL, _HUE_WHEEL[1:]):
        if a0 <= ang <= a1:
            return (h0 + (h1 - h0) * (ang - a0) / (a1 - a0)) % 1.0
    return 0.2


def _palette(v: float, a: float, sat: float, bright: float, n: int = 5) -> list[str]:
    strength = min(1.0, math.hypot(v, a) / 0.6)  # near neutral the palette fades to grey
    hue = _hue(v, a)
    out = []
    for i in range(n):
        h = (hue + (i - n // 2) * 0.03) % 1.0
        s = min(1.0, max(0.0, strength * (0.45 + sat) + 0.06 * (i % 2)))
        val = min(1.0, max(0.05, 0.6 + bright + 0.1 * (i - n // 2) / n))
        r, g, b = colorsys.hsv_to_rgb(h, s, val)
        out.append(f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}")
    return out


def image_plan(affect: Affect) -> ImagePlan:
    k = affect.intensity
    if k == 0:
        return ImagePlan(palette=_palette(0.0, 0.0, 0.0, 0.0))
    v, a, d = (k * x for x in affect.vad)
    bright = 0.25 * (0.60 * v - 0.22 * a) / _VM_DET
    sat = 0.25 * (0.31 * v + 0.69 * a) / _VM_DET
    warmth = max(-1.0, min(1.0, 0.6 * a + 0.3 * v))
    terms: list[str] = []
    for label, w in sorted(_weights(affect).items(), key=lambda kv: -kv[1]):
        if w >= 0.2:
            terms.extend(_DESCRIPTORS.get(label, ())[: 2 if w < 0.5 else 4])
    if affect.label and affect.label.isalpha() and affect.label not in terms:
        terms.insert(0, affect.label)
    lighting = ("bright " if bright > 0.1 else "dim " if bright < -0.1 else "") + (
        "warm golden light" if warmth > 0.2 else "cold bluish light" if warmth < -0.2 else "soft diffuse light")
    composition = ("rounded, flowing forms" if v > 0.15 else "sharp, angular forms" if v < -0.15 else "balanced forms") + (
        ", dynamic diagonal composition" if a > 0.2 else ", still, open composition" if a < -0.2 else ", centred")
    return ImagePlan(
        direction=(v, a, d), emotion_strength=k, brightness_delta=bright, saturation_delta=sat,
        contrast_delta=0.3 * a, warmth=warmth, curvature=max(-1.0, min(1.0, 0.8 * v)),
        spatial_frequency=max(-1.0, min(1.0, 0.8 * a)), descriptor_terms=terms,
        palette=_palette(v, a, sat, bright), lighting=lighting, composition=composition,
    )


# ---- all together ---------------------------------------------------------------------------
@dataclass
class Plans:
    affect: Affect
    prosody: ProsodyPlan
    face: ActionUnitPlan
    image: ImagePlan

    def to_dict(self) -> dict:
        return {"affect": self.affect.to_dict(), "prosody": asdict(self.prosody),
                "face": asdict(self.face), "image": asdict(self.image)}


def plan(affect: Affect) -> Plans:
    return Plans(affect, prosody_plan(affect), action_unit_plan(affect), image_plan(affect))


def plan_from_dict(cls, d: Mapping):
    """Rebuild a plan dataclass from its JSON form (hand-edited plans included); unknown keys are refused."""
    from studio.errors import StudioError

    names = {f.name for f in fields(cls)}
    extra = set(d) - names
    if extra:
        raise StudioError(f"{cls.__name__} has no field(s) {', '.join(sorted(extra))}; valid: {', '.join(sorted(names))}")
    kw = dict(d)
    for f in fields(cls):  # dataclasses do not check types: a hand-edited "high" must fail here, not in an engine
        if f.name in kw and isinstance(f.default, (int, float)) and not isinstance(f.default, bool):
            v = kw[f.name]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise StudioError(f"{cls.__name__}.{f.name} must be a number, got {v!r}")
            kw[f.name] = float(v)
    if cls is ActionUnitPlan:
        kw["aus"] = {int(k): float(v) for k, v in kw.get("aus", {}).items()}
        kw["unilateral"] = {int(k): float(v) for k, v in kw.get("unilateral", {}).items()}
    if cls is ImagePlan and "direction" in kw:
        kw["direction"] = tuple(kw["direction"])
    return cls(**kw)
