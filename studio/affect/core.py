"""``Affect``: one emotion as a value — a VAD direction, a categorical mixture and an intensity.

The algebra follows Daisy-TTS (Cho et al. 2024): scaling is intensity, negation is polarity,
a weighted sum gives secondary emotions and linear interpolation gives morphs. ``vad`` is the
emotion's direction at full intensity; ``point`` is what a renderer should realise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping, Sequence

from studio.errors import StudioError
from studio.affect import taxonomy

MAX_INTENSITY = 1.5  # exaggeration is allowed but bounded; beyond this the plans saturate visibly


def _check_intensity(x: float) -> float:
    x = float(x)
    if not math.isfinite(x) or x < 0 or x > MAX_INTENSITY:
        raise StudioError(f"intensity must be a finite number in [0, {MAX_INTENSITY}], got {x!r}")
    return x


def _check_vad(vad: Sequence[float]) -> tuple[float, float, float]:
    if len(vad) != 3:
        raise StudioError(f"VAD needs three numbers (valence, arousal, dominance), got {len(vad)}")
    out = tuple(float(v) for v in vad)
    for name, v in zip(("valence", "arousal", "dominance"), out):
        if not math.isfinite(v) or not -1.0 <= v <= 1.0:
            raise StudioError(f"{name} must be a finite number in [-1, 1], got {v!r}")
    return out  # type: ignore[return-value]


def numbers(text: str) -> list[float] | None:
    """'0.5,-0.2,1e-5' → [0.5, -0.2, 1e-05] (any float notation); None when any part is not a number."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) < 2 or any(not p for p in parts):
        return None
    try:
        return [float(p) for p in parts]
    except ValueError:
        return None


def _clip(x: float) -> float:
    return max(-1.0, min(1.0, x))


def _normalise(mix: Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    total = sum(w for w in mix.values() if w > 0)
    if total <= 0:
        return ()
    return tuple(sorted((k, w / total) for k, w in mix.items() if w > 0))


@dataclass(frozen=True)
class Affect:
    vad: tuple[float, float, float] = (0.0, 0.0, 0.0)
    mixture: tuple[tuple[str, float], ...] = ()
    intensity: float = 0.0
    label: str = "neutral"
    why: tuple[tuple[str, float], ...] = field(default=(), compare=False)
    note: str = field(default="", compare=False)  # where the VAD came from when a user must know (a licence)

    def __post_init__(self) -> None:
        object.__setattr__(self, "vad", _check_vad(self.vad))
        object.__setattr__(self, "intensity", _check_intensity(self.intensity))
        for name, _ in self.mixture:
            if name not in taxonomy.CORE_LABELS:
                raise StudioError(f"mixture label {name!r} is not a core label; use one of {', '.join(taxonomy.CORE_LABELS)}")

    # ---- constructors -------------------------------------------------------------------
    @classmethod
    def neutral(cls) -> "Affect":
        return cls()

    @classmethod
    def of(cls, label: str, intensity: float | None = None) -> "Affect":
        """A label or synonym from the taxonomy; intensity defaults to the term's own (furious > annoyed)."""
        if not isinstance(label, str) or not label.strip():
            raise StudioError("emotion label is empty: give a label such as 'joy', a mixture, a VAD triple or free text")
        term = taxonomy.resolve(label)
        inten = term.intensity if intensity is None else intensity
        if term.name == "neutral":
            return cls(intensity=_check_intensity(inten) * 0.0, label="neutral")
        return cls(vad=term.vad, mixture=_normalise(dict(term.mixture)), intensity=inten, label=term.name)

    @classmethod
    def from_mixture(cls, mix: Mapping[str, float] | str, intensity: float = 1.0) -> "Affect":
        """Weights over labels (any taxonomy term); each term is expanded to its core mixture and VAD."""
        weights = taxonomy.parse_mixture(mix) if isinstance(mix, str) else dict(mix)
        if not weights or sum(weights.values()) <= 0:
            raise StudioError("mixture is empty or all weights are zero: give e.g. 'joy:0.6,surprise:0.4'")
        parts = [cls.of(name, 1.0) for name in weights]
        mixed = cls.mix(parts, list(weights.values()))
        label = "+".join(f"{p.label}:{w / sum(weights.values()):.2f}" for p, w in zip(parts, weights.values()))
        return replace(mixed, intensity=_check_intensity(intensity), label=label)

    @classmethod
    def from_vad(cls, v: float, a: float, d: float = 0.0, intensity: float = 1.0) -> "Affect":
        """A raw point; the mixture stays empty so plans use the dimensional rules only."""
        return cls(vad=(v, a, d), intensity=intensity, label=f"vad({v:+.2f},{a:+.2f},{d:+.2f})")

    # ---- algebra ------------------------------------------------------------------------
    @property
    def point(self) -> tuple[float, float, float]:
        """The VAD point a renderer realises: direction × intensity, kept inside the cube."""
        return tuple(_clip(x * self.intensity) for x in self.vad)  # type: ignore[return-value]

    @property
    def is_neutral(self) -> bool:
        return self.intensity == 0 or (all(x == 0 for x in self.vad) and all(n == "neutral" for n, _ in self.mixture))

    def scaled(self, k: float) -> "Affect":
        return replace(self, intensity=_check_intensity(self.intensity * k))

    def with_intensity(self, x: float) -> "Affect":
        return replace(self, intensity=_check_intensity(x))

    def negated(self) -> "Affect":
        """Polarity flip: VAD mirrored through neutral; labels swapped for their taxonomy opposites."""
        mix: dict[str, float] = {}
        for name, w in self.mixture:
            opp = taxonomy.terms()[name].opposite or name
            mix[opp] = mix.get(opp, 0.0) + w
        return replace(self, vad=tuple(-x for x in self.vad), mixture=_normalise(mix), label=f"-{self.label}")

    def __neg__(self) -> "Affect":
        return self.negated()

    @staticmethod
    def mix(parts: Sequence["Affect"], weights: Iterable[float] | None = None) -> "Affect":
        """Weighted sum: realised points add; the mixture is weighted by each part's realised share."""
        ws = [1.0] * len(parts) if weights is None else [float(w) for w in weights]
        if not parts or len(ws) != len(parts) or any(not math.isfinite(w) or w < 0 for w in ws) or sum(ws) <= 0:
            raise StudioError("mix needs at least one affect and as many finite weights >= 0, not all zero")
        total = sum(ws)
        ws = [w / total for w in ws]
        inten = sum(w * p.intensity for w, p in zip(ws, parts))
        if inten == 0:
            return Affect()
        vad = [sum(w * p.intensity * p.vad[i] for w, p in zip(ws, parts)) / inten for i in range(3)]
        mixd: dict[str, float] = {}
        for w, p in zip(ws, parts):
            for name, m in p.mixture:
                mixd[name] = mixd.get(name, 0.0) + w * p.intensity * m
        label = "+".join(f"{p.label}*{w:.2f}" for w, p in zip(ws, parts))
        return Affect(vad=tuple(_clip(x) for x in vad), mixture=_normalise(mixd), intensity=min(inten, MAX_INTENSITY), label=label)

    def lerp(self, other: "Affect", t: float) -> "Affect":
        t = float(t)
        if not 0.0 <= t <= 1.0:
            raise StudioError(f"lerp position must be in [0, 1], got {t}")
        if t == 0:
            return self
        if t == 1:
            return other
        return Affect.mix([self, other], [1 - t, t])

    # ---- views --------------------------------------------------------------------------
    @property
    def top_label(self) -> str:
        if self.is_neutral:
            return "neutral"
        if self.mixture:
            return max(self.mixture, key=lambda kv: kv[1])[0]
        return nearest_labels(self.vad, 1)[0][0]

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "top_label": self.top_label,
            "intensity": self.intensity,
            "vad": list(self.vad),
            "point": list(self.point),
            "mixture": dict(self.mixture),
            "why": [[n, s] for n, s in self.why],
            **({"note": self.note} if self.note else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> "Affect":
        return cls(vad=tuple(d["vad"]), mixture=_normalise(d.get("mixture", {})), intensity=d["intensity"], label=d.get("label", ""))

    def __str__(self) -> str:
        v, a, d = self.point
        return f"{self.label} (intensity {self.intensity:.2f}; V {v:+.2f} A {a:+.2f} D {d:+.2f})"


def nearest_labels(vad: Sequence[float], n: int = 3) -> list[tuple[str, float]]:
    """Core labels by closeness to a VAD direction, with softmax weights (temperature 0.25)."""
    dists = []
    for name in taxonomy.EMOTIONS:
        av = taxonomy.anchor(name)
        dists.append((name, math.dist(av, vad)))
    dists.sort(key=lambda x: x[1])
    ex = [math.exp(-d / 0.25) for _, d in dists]
    z = sum(ex)
    return [(name, e / z) for (name, _), e in zip(dists, ex)][:n]
