"""The one place where anything a user can type or pass becomes an ``Affect`` or a ``Trajectory``.

Every entry point (the API, the CLI, dataset specs, the web demo) calls ``coerce``; nothing else parses
emotion strings. Accepted: an Affect, a Trajectory, None (neutral), a [v, a, d] sequence, or EMOTION text:
a label, a mixture ``joy:0.6,surprise:0.4``, a VAD point ``0.5,-0.2,0.1`` (any float notation), free
text, or a trajectory ``neutral > joy@0.4 > sadness``.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from studio.affect.core import Affect, numbers
from studio.affect.spec import from_spec
from studio.affect.trajectory import Trajectory
from studio.errors import StudioError

AffectLike = Affect | Trajectory


def parse_vad(text: Any) -> tuple[float, float, float]:
    """Exactly three finite numbers 'v,a,d' (or a sequence of three), each in [-1, 1]."""
    if isinstance(text, str):
        vals = numbers(text)
        if vals is None or len(vals) != 3:
            raise StudioError(f"VAD {text!r} is not three numbers: write valence,arousal,dominance, e.g. --vad -0.8,0.8,0")
    elif isinstance(text, Sequence) and not isinstance(text, (bytes, bytearray)):
        if len(text) != 3 or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in text):
            raise StudioError(f"VAD {list(text)!r} is not three numbers: give [valence, arousal, dominance]")
        vals = [float(v) for v in text]
    else:
        raise StudioError(f"VAD must be three numbers, got {type(text).__name__}")
    for name, v in zip(("valence", "arousal", "dominance"), vals):
        if not math.isfinite(v) or not -1.0 <= v <= 1.0:
            raise StudioError(f"{name} must be a finite number in [-1, 1], got {v!r}")
    return vals[0], vals[1], vals[2]


def vad_text(vad: Sequence[float]) -> str:
    """A VAD point as EMOTION text that ``coerce`` reads back to the same floats."""
    return ",".join(f"{float(v):g}" if float(f"{float(v):g}") == float(v) else repr(float(v)) for v in vad)


def from_text(spec: str, intensity: float | None = None) -> AffectLike:
    """EMOTION text → Affect, or Trajectory when it holds '>'."""
    if not isinstance(spec, str) or not spec.strip():
        raise StudioError("emotion is empty: give a label ('joy'), a mixture ('joy:0.6,surprise:0.4'), "
                          "a VAD triple ('0.5,-0.2,0.1') or free text")
    if ">" in spec:
        return Trajectory.parse(spec, intensity)
    return from_spec(spec, intensity)


def coerce(x: Any, intensity: float | None = None) -> AffectLike:
    """Anything an entry point accepts as an emotion → an Affect or a Trajectory.

    ``intensity`` overrides an Affect's own (a Trajectory's keyframes keep theirs unless parsed from text)."""
    if isinstance(x, Affect):
        return x if intensity is None else x.with_intensity(intensity)
    if isinstance(x, Trajectory):
        return x
    if x is None:
        return Affect.neutral()
    if isinstance(x, str):
        return from_text(x, intensity)
    if isinstance(x, (list, tuple)) and len(x) == 3 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in x):
        return Affect.from_vad(*parse_vad(x), intensity=1.0 if intensity is None else intensity)
    if isinstance(x, dict) and "keys" in x:
        return Trajectory(tuple((float(t), Affect.from_dict(a)) for t, a in x["keys"]), bool(x.get("relative", True)))
    if isinstance(x, dict) and "vad" in x:
        a = Affect.from_dict(x)
        return a if intensity is None else a.with_intensity(intensity)
    raise StudioError(f"cannot read an emotion from {type(x).__name__}; give an Affect, a Trajectory, a label, "
                      "a [v, a, d] triple or EMOTION text")


def coerce_single(x: Any, intensity: float | None = None, what: str = "this medium") -> Affect:
    """Like ``coerce`` but refuses a trajectory (a still image has no time to move through)."""
    a = coerce(x, intensity)
    if isinstance(a, Trajectory):
        raise StudioError(f"{what} takes one affect, not a trajectory; give one emotion (e.g. --emotion joy)")
    return a


def from_args(emotion: str | None = None, vad: str | None = None, intensity: float | None = None) -> AffectLike:
    """The CLI's --emotion / --vad / --intensity (and the web demo's fields) → an Affect or a Trajectory."""
    if vad is not None and emotion is not None:
        raise StudioError("give either --emotion or --vad, not both")
    if vad is not None:
        return Affect.from_vad(*parse_vad(vad), intensity=1.0 if intensity is None else intensity)
    return coerce(emotion, intensity)


def summary(a: AffectLike) -> dict:
    """Requested label and VAD point; a trajectory reports its time-average and its final label."""
    if isinstance(a, Affect):
        return {"label": a.top_label, "point": list(a.point), "trajectory": False, "affect": a.to_dict()}
    pts = [a.at(i / 20, 1.0).point for i in range(21)]
    mean = [sum(p[i] for p in pts) / len(pts) for i in range(3)]
    return {"label": a.keys[-1][1].top_label, "point": mean, "trajectory": True, "affect": a.to_dict()}
