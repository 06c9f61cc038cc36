"""Still expressions: a portrait, neutralised, showing one affect's action units."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from pipelines.face import analysis
from pipelines.face.portrait import Portrait, prepare
from studio.affect import ActionUnitPlan
from studio.errors import StudioError
from studio.results import Result


@dataclass(kw_only=True)
class ExpressResult(Result):
    medium: ClassVar[str] = "face"
    image: np.ndarray
    blendshapes_before: dict[str, float] = field(default_factory=dict)
    blendshapes_after: dict[str, float] = field(default_factory=dict)
    blendshapes_neutral: dict[str, float] = field(default_factory=dict)
    neutralised_aus: dict[int, float] = field(default_factory=dict)

    def png_metadata(self) -> dict:
        return {"affect": self.affect, "plan": asdict(self.plan), "seed": self.seed, "engine": f"face/{self.engine}",
                "blendshapes_after": {k: round(v, 4) for k, v in self.blendshapes_after.items()}}

    def media(self):
        from studio.media import Media

        return Media.of_image(self.image)

    def _write(self, path: Path, progress: bool) -> Path:
        from studio.media import save_png

        return save_png(path, self.image, self.png_metadata())


def expression_image(p: Portrait, plan: ActionUnitPlan) -> np.ndarray:
    return p.render(p.fields.displacement(p.fields.weights(plan.aus, plan.unilateral)), aus=plan.aus)


def express(portrait, plan: ActionUnitPlan, *, seed: int = 0, face_index: int = 0, size: int = 512,
            prepared: Portrait | None = None) -> ExpressResult:
    """The portrait (a path, an RGB array, or None for the astronaut) showing ``plan``'s action units.

    A neutral plan gives the neutralised portrait exactly (not the untouched photo): the studio's
    neutral is the face at rest. The stills are deterministic; ``seed`` is kept for the manifest.
    """
    if not isinstance(plan, ActionUnitPlan):
        raise StudioError("a still takes one ActionUnitPlan, not a trajectory; give text to render a video")
    p = prepared or prepare(portrait, face_index=face_index, size=size)
    img = expression_image(p, plan)
    after = analysis.blendshapes_of(img, near=p.face.points[:, :2].mean(0))
    return ExpressResult(image=img, plan=plan, blendshapes_before=p.blendshapes_before, blendshapes_after=after,
                         blendshapes_neutral=p.blendshapes_neutral, neutralised_aus=p.neutral_aus, seed=seed,
                         engine="embedded")
