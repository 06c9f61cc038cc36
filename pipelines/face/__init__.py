"""Talking faces. The embedded engine (engine.py): MediaPipe face mesh → neutralised → FACS action-unit and
viseme deformation → piecewise-affine warp per frame → MP4 with the emotional speech.
Render through ``studio.spine.render(FaceRequest(...))`` or ``Studio().talk / express``."""
from pipelines.face.express import ExpressResult
from pipelines.face.talk import TalkResult

__all__ = ["ExpressResult", "TalkResult"]
