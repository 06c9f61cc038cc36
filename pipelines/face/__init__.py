"""Talking faces (embedded engine): MediaPipe face mesh → neutralised → FACS action-unit and viseme
deformation → piecewise-affine warp per frame → MP4 with the emotional speech.

    from pipelines.face import express, talk
    still = express("me.jpg", Affect.of("sadness", 1.0)); still.save("sad.png")
    video = talk(None, "We won the final!", Affect.of("joy", 0.9)); video.save("out.mp4")
"""
from __future__ import annotations

from studio import engines
from pipelines.face.express import ExpressResult, express
from pipelines.face.talk import TalkResult, talk

__all__ = ["express", "talk", "ExpressResult", "TalkResult", "EmbeddedFaceEngine"]


class EmbeddedFaceEngine:
    """The engine object behind studio.engines.get("face", "embedded")."""

    name = "embedded"

    def express(self, portrait, affect, **opts) -> ExpressResult:
        return express(portrait, affect, **opts)

    def talk(self, portrait, text, affect, **opts) -> TalkResult:
        return talk(portrait, text, affect, **opts)

    def render(self, request: dict):
        """``{"portrait", "affect", "text"?, ...}`` → a TalkResult when there is text, else an ExpressResult."""
        req = dict(request)
        portrait, affect, text = req.pop("portrait", None), req.pop("affect", None), req.pop("text", None)
        return self.talk(portrait, text, affect, **req) if text else self.express(portrait, affect, **req)

