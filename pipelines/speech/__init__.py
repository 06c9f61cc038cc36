"""Emotional speech: text + affect → audio with word / phone timings, via a named engine."""
from __future__ import annotations

from studio.affect import Affect, Trajectory
from studio.errors import StudioError

from pipelines.speech.result import SpeechResult
from pipelines.speech import engine as _embedded  # noqa: F401  (registers the "embedded" engine)

__all__ = ["SpeechResult", "synthesize"]


def synthesize(text: str, affect: Affect | Trajectory, *, seed: int = 0, engine: str = "embedded", **opts) -> SpeechResult:
    """Speak ``text`` with ``affect``; deterministic given ``seed``. ``progress=True`` shows a tqdm bar."""
    from studio import engines

    if not isinstance(affect, (Affect, Trajectory)):
        raise StudioError(f"affect must be an Affect or a Trajectory, got {type(affect).__name__}; use Affect.of('joy', 0.8)")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise StudioError(f"seed must be an integer, got {seed!r}")
    return engines.get("speech", engine).render(text, affect, seed=seed, **opts)
