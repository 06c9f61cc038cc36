"""``Trajectory``: keyframed affects over time, sampled per video frame or per phone."""
from __future__ import annotations

import math
from dataclasses import dataclass
from studio.affect.core import Affect
from studio.affect.spec import from_spec
from studio.errors import StudioError


@dataclass(frozen=True)
class Trajectory:
    keys: tuple[tuple[float, Affect], ...]  # (time in seconds or as a 0..1 fraction, affect), sorted by time
    relative: bool = True  # times are fractions of the clip's duration

    def __post_init__(self) -> None:
        if not self.keys:
            raise StudioError("a trajectory needs at least one keyframe: give (time, affect) pairs")
        times = [t for t, _ in self.keys]
        if any(not math.isfinite(t) or t < 0 for t in times):
            raise StudioError("trajectory keyframe times must be finite and >= 0")
        if self.relative and max(times) > 1:
            raise StudioError("relative trajectory times must lie in [0, 1]; set relative=False for seconds")
        object.__setattr__(self, "keys", tuple(sorted(self.keys, key=lambda kv: kv[0])))

    @classmethod
    def of(cls, *pairs: tuple[float, Affect], relative: bool = True) -> "Trajectory":
        return cls(tuple(pairs), relative)

    @classmethod
    def constant(cls, affect: Affect) -> "Trajectory":
        return cls(((0.0, affect),))

    @classmethod
    def parse(cls, spec: str, intensity: float | None = None) -> "Trajectory":
        """``"neutral@0 > joy@0.5 > sadness@1"``: affects joined by '>' with optional '@time'."""
        parts = [p.strip() for p in spec.split(">") if p.strip()]
        if not parts:
            raise StudioError("empty trajectory: write e.g. 'neutral@0 > joy@0.5 > sadness@1'")
        pairs = []
        for i, part in enumerate(parts):
            name, _, t = part.rpartition("@") if "@" in part else (part, "", "")
            time = float(t) if t else (i / max(1, len(parts) - 1))
            pairs.append((time, from_spec(name, intensity)))
        return cls(tuple(pairs))

    def at(self, t: float, duration: float = 1.0) -> Affect:
        """The affect at time ``t`` (seconds); linear morph between the neighbouring keyframes."""
        x = t / duration if self.relative and duration > 0 else t
        keys = self.keys
        if x <= keys[0][0]:
            return keys[0][1]
        if x >= keys[-1][0]:
            return keys[-1][1]
        for (t0, a0), (t1, a1) in zip(keys, keys[1:]):
            if t0 <= x <= t1:
                return a0.lerp(a1, 0.0 if t1 == t0 else (x - t0) / (t1 - t0))
        return keys[-1][1]

    def sample(self, fps: float, duration: float) -> list[Affect]:
        if fps <= 0 or duration < 0:
            raise StudioError("sampling needs fps > 0 and duration >= 0")
        n = max(1, int(round(fps * duration)))
        return [self.at(i / fps, duration) for i in range(n)]

    def to_dict(self) -> dict:
        return {"relative": self.relative, "keys": [[t, a.to_dict()] for t, a in self.keys]}
