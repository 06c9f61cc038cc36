"""``Studio``: the Python API. One object, models loaded once, every medium behind one affect.

    from studio import Studio
    from studio.affect import Affect
    s = Studio()
    speech = s.speak("We won!", Affect.of("joy", 0.9))
"""
from __future__ import annotations

from typing import Any

from studio.affect import Affect, Trajectory
from studio.errors import StudioError


def as_affect(x: Any, intensity: float | None = None) -> Affect | Trajectory:
    """Accept an Affect, a Trajectory, or anything the CLI accepts as EMOTION (a string)."""
    if isinstance(x, (Affect, Trajectory)):
        return x.with_intensity(intensity) if (intensity is not None and isinstance(x, Affect)) else x
    if x is None:
        return Affect.neutral()
    if isinstance(x, str):
        return Trajectory.parse(x, intensity) if ">" in x else Affect.from_spec(x, intensity)
    if isinstance(x, (tuple, list)) and len(x) == 3:
        return Affect.from_vad(*x, intensity=1.0 if intensity is None else intensity)
    raise StudioError(f"cannot read an affect from {type(x).__name__}; give an Affect, a Trajectory, a label or a VAD triple")


class Studio:
    """Batch-friendly entry point; each method delegates to its medium's pipeline package."""

    def __init__(self, device: str | None = None):
        self.device = device

    def plan(self, affect: Any, intensity: float | None = None):
        from studio.affect import plan

        a = as_affect(affect, intensity)
        if isinstance(a, Trajectory):
            raise StudioError("plan() takes one affect, not a trajectory")
        return plan(a)

    def speak(self, text: str, affect: Any = None, *, seed: int = 0, engine: str = "embedded", **opts):
        from pipelines.speech import synthesize

        return synthesize(text, as_affect(affect), seed=seed, engine=engine, **opts)

    def talk(self, portrait: Any, text: str, affect: Any = None, *, seed: int = 0, **opts):
        from pipelines.face import talk

        return talk(portrait, text, as_affect(affect), seed=seed, **opts)

    def express(self, portrait: Any, affect: Any = None, *, seed: int = 0, **opts):
        from pipelines.face import express

        return express(portrait, as_affect(affect), seed=seed, **opts)

    def image(self, prompt: str, affect: Any = None, *, seed: int = 0, n: int = 1, **opts):
        from pipelines.image import generate

        return generate(prompt, as_affect(affect), seed=seed, n=n, **opts)

    def render(self, spec: Any, out_dir: Any, **opts):
        from studio.datasets import render

        return render(spec, out_dir, **opts)

    def evaluate(self, out_dir: Any, **opts):
        from studio.datasets import evaluate

        return evaluate(out_dir, **opts)

    def iter_render(self, spec: Any, out_dir: Any, **opts):
        """Yield each item's manifest row as it finishes (see ``studio.datasets.iter_render``)."""
        from studio.datasets import iter_render

        return iter_render(spec, out_dir, **opts)

    def iter_evaluate(self, out_dir: Any, **opts):
        """Yield each item's recognitions as it is judged (see ``studio.datasets.iter_evaluate``)."""
        from studio.datasets import iter_evaluate

        return iter_evaluate(out_dir, **opts)
