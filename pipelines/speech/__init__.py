"""Emotional speech: text + plan → audio with word / phone timings. Engines are listed in ``studio.engines``;
render through ``studio.spine.render(SpeechRequest(...))`` or ``Studio().speak(...)``."""
from pipelines.speech.result import SpeechResult

__all__ = ["SpeechResult"]
