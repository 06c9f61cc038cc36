"""What every image engine returns."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from studio.results import Result


@dataclass(kw_only=True)
class ImageResult(Result):
    medium: ClassVar[str] = "image"
    image: np.ndarray            # RGB uint8, (H, W, 3)
    prompt: str = ""
    info: dict = field(default_factory=dict)  # steps, weights, attention, init … whatever made the pixels

    def png_metadata(self) -> dict[str, Any]:
        return {"affect": self.affect, "plan": asdict(self.plan), "seed": str(self.seed), "engine": self.engine,
                "prompt": self.prompt, "studio": {"medium": "image", **self.info}}

    def media(self):
        from studio.media import Media

        return Media.of_image(self.image)

    def _write(self, path: Path, progress: bool) -> Path:
        from studio.media import save_png

        return save_png(path, self.image, self.png_metadata())


def init_image(request, width: int | None, height: int | None) -> np.ndarray | None:
    """The request's init image as RGB, resized when one side is given (the aspect ratio kept)."""
    if request.init is None:
        return None
    from studio.media import load_image

    src = load_image(request.init)
    if width or height:
        from PIL import Image

        h0, w0 = src.shape[:2]
        w = width or max(1, round(w0 * height / h0))
        h = height or max(1, round(h0 * width / w0))
        src = np.asarray(Image.fromarray(src).resize((w, h), Image.LANCZOS))
    return src


def check_options(options: dict, known: tuple[str, ...], engine: str) -> None:
    from studio.errors import StudioError

    unknown = set(options) - set(known)
    if unknown:
        raise StudioError(f"unknown option(s) {', '.join(sorted(unknown))} for the {engine} image engine; "
                          f"known: {', '.join(known) or 'none'}")
