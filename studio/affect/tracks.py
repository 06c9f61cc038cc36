"""Per-medium plans for a request: one plan for a steady affect, a ``PlanTrack`` for a trajectory.

``plan_for(medium, affect)`` is what every entry point calls before an engine renders. A track derived
from a Trajectory plans the affect at each sampled time (the affect morphs, the plan follows exactly); a
track read from JSON (a hand-edited plan) interpolates its keyframe plans field by field.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from studio.affect.core import Affect
from studio.affect.plans import ActionUnitPlan, ImagePlan, ProsodyPlan, action_unit_plan, image_plan, plan_from_dict, prosody_plan
from studio.affect.trajectory import Trajectory
from studio.errors import StudioError

PLAN_TYPES: dict[str, type] = {"speech": ProsodyPlan, "face": ActionUnitPlan, "image": ImagePlan}
PLANNERS: dict[str, Callable[[Affect], Any]] = {"speech": prosody_plan, "face": action_unit_plan, "image": image_plan}
Plan = ProsodyPlan | ActionUnitPlan | ImagePlan


def _lerp(a: Any, b: Any, t: float) -> Any:
    if isinstance(a, bool) or isinstance(b, bool):
        return a if t < 0.5 else b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a + (b - a) * t
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _lerp(a.get(k, 0.0), b.get(k, 0.0), t) for k in sorted(set(a) | set(b))}
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return tuple(_lerp(x, y, t) for x, y in zip(a, b))
    return a if t < 0.5 else b  # words, palettes: the nearer keyframe's


def lerp_plan(p0: Plan, p1: Plan, t: float) -> Plan:
    """Field-by-field linear morph of two plans of one type (numbers and AU dicts; text from the nearer)."""
    if type(p0) is not type(p1):
        raise StudioError(f"cannot morph a {type(p0).__name__} into a {type(p1).__name__}")
    return type(p0)(**{f.name: _lerp(getattr(p0, f.name), getattr(p1, f.name), t) for f in fields(p0)})


@dataclass(frozen=True)
class PlanTrack:
    medium: str
    keys: tuple[tuple[float, Plan], ...]              # (time: a 0..1 fraction when relative, else seconds, plan)
    relative: bool = True
    source: Trajectory | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise StudioError("a plan track needs at least one keyframe plan")
        want = PLAN_TYPES[self.medium]
        for t, p in self.keys:
            if not isinstance(p, want):
                raise StudioError(f"a {self.medium} plan track holds {want.__name__}s, got {type(p).__name__}")
        object.__setattr__(self, "keys", tuple(sorted(self.keys, key=lambda kv: kv[0])))

    @classmethod
    def of(cls, medium: str, trajectory: Trajectory) -> "PlanTrack":
        fn = PLANNERS[medium]
        return cls(medium, tuple((t, fn(a)) for t, a in trajectory.keys), trajectory.relative, trajectory)

    @property
    def first(self) -> Plan:
        return self.keys[0][1]

    def key_times(self, duration: float) -> list[float]:
        """Keyframe times in seconds for a clip of ``duration``."""
        return [t * duration if self.relative else min(t, duration) for t, _ in self.keys]

    def at(self, t: float, duration: float = 1.0) -> Plan:
        """The plan at ``t`` seconds into a clip of ``duration`` seconds."""
        if self.source is not None:
            return PLANNERS[self.medium](self.source.at(t, duration))
        x = t / duration if self.relative and duration > 0 else t
        keys = self.keys
        if x <= keys[0][0]:
            return keys[0][1]
        for (t0, p0), (t1, p1) in zip(keys, keys[1:]):
            if t0 <= x <= t1:
                return lerp_plan(p0, p1, 0.0 if t1 == t0 else (x - t0) / (t1 - t0))
        return keys[-1][1]

    def to_dict(self) -> dict:
        return {"medium": self.medium, "relative": self.relative, "keys": [[t, asdict(p)] for t, p in self.keys]}

    __json__ = to_dict


def plan_for(medium: str, affect: Affect | Trajectory) -> Plan | PlanTrack:
    """The editable plan an engine of ``medium`` renders for ``affect``."""
    if medium not in PLANNERS:
        raise StudioError(f"unknown medium {medium!r}; use speech, face or image")
    if isinstance(affect, Trajectory):
        if medium == "image":
            raise StudioError("an image takes one affect, not a trajectory; give one emotion (e.g. --emotion joy)")
        return PlanTrack.of(medium, affect)
    if not isinstance(affect, Affect):
        raise StudioError(f"affect must be an Affect or a Trajectory, got {type(affect).__name__}")
    return PLANNERS[medium](affect)


def plan_to_dict(plan: Plan | PlanTrack) -> dict:
    if isinstance(plan, PlanTrack):
        return plan.to_dict()
    if is_dataclass(plan):
        return {"medium": next(m for m, c in PLAN_TYPES.items() if isinstance(plan, c)), "plan": asdict(plan)}
    raise StudioError(f"not a plan: {type(plan).__name__}")


def plan_from_json(data: Mapping | str | Path, medium: str | None = None) -> Plan | PlanTrack:
    """A plan written by ``plan_to_dict`` / ``studio plan --json`` (possibly edited by hand) → a plan object.

    Accepts ``{"medium", "plan": {...}}``, ``{"medium", "keys": [[t, {...}], ...]}``, or the three-medium
    form of ``studio plan --json`` (``{"prosody", "face", "image"}``) with ``medium`` picking one."""
    if isinstance(data, (str, Path)):
        p = Path(data)
        if not p.is_file():
            raise StudioError(f"plan file {p} does not exist; write one with `studio plan EMOTION --json > plan.json`")
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise StudioError(f"plan file {p} is not valid JSON ({e}); fix it or write a new one with `studio plan --json`") from None
    if not isinstance(data, Mapping):
        raise StudioError("a plan is a JSON object; write one with `studio plan EMOTION --json`")
    if {"prosody", "face", "image"} <= set(data):
        if medium is None:
            raise StudioError("this plan file holds all three media; say which one to render")
        data = {"medium": medium, "plan": data[{"speech": "prosody", "face": "face", "image": "image"}[medium]]}
    m = data.get("medium", medium)
    if m not in PLAN_TYPES:
        raise StudioError(f"plan has no valid 'medium' (speech, face or image), got {m!r}")
    if medium is not None and m != medium:
        raise StudioError(f"this is a {m} plan; a {medium} engine cannot render it")
    cls = PLAN_TYPES[m]
    try:
        if "keys" in data:
            keys = tuple((float(t), plan_from_dict(cls, p)) for t, p in data["keys"])
            return PlanTrack(m, keys, bool(data.get("relative", True)))
        if "plan" in data:
            return plan_from_dict(cls, data["plan"])
    except (TypeError, ValueError) as e:
        raise StudioError(f"{m} plan has a field of the wrong type ({e}); compare with `studio plan --json`") from None
    raise StudioError("a plan object needs 'plan' (one plan) or 'keys' (a track of [time, plan] pairs)")
