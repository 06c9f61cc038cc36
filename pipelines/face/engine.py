"""The embedded face engine: MediaPipe mesh → neutralised → AU + viseme deformation → warp per frame."""
from __future__ import annotations

from typing import Any

from pipelines.face.express import ExpressResult, express
from pipelines.face.talk import TalkResult, talk
from studio.errors import StudioError
from studio.requests import FaceRequest, SpeechRequest


class EmbeddedFaceEngine:
    name = "embedded"
    medium = "face"

    def __init__(self, backend: str = "numpy"):
        if backend not in ("numpy", "torch"):
            raise StudioError(f"unknown warp backend {backend!r}; use 'numpy' or 'torch'")
        self.backend = backend

    def speech_for(self, request: FaceRequest, *, progress: bool = False):
        """The talking head's voice: the same affect and seed through the speech spine."""
        from studio import spine

        return spine.render(SpeechRequest(text=request.text, affect=request.affect, seed=request.seed,
                                          voice=request.voice), progress=progress)

    def render(self, request: FaceRequest, plan: Any, *, progress: bool = False) -> ExpressResult | TalkResult:
        if not isinstance(request, FaceRequest):
            raise StudioError(f"the face engine renders a FaceRequest, got {type(request).__name__}")
        if request.text is None:
            res = express(request.portrait, plan, seed=request.seed, face_index=request.face_index, size=request.size)
        else:
            from pipelines.face.talk import _check_text

            _check_text(request.text)  # before the speech is rendered, not after
            speech = self.speech_for(request, progress=progress)
            res = talk(request.portrait, request.text, plan, speech, seed=request.seed, fps=request.fps,
                       size=request.size, face_index=request.face_index, progress=progress, backend=self.backend)
        res.request, res.affect = request, request.affect.to_dict()
        return res
