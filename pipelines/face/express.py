"""Still expressions: a portrait, neutralised, showing one affect's action units."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pipelines.face import analysis
from pipelines.face.portrait import Portrait, prepare
from studio.affect import ActionUnitPlan, Affect, Trajectory, action_unit_plan
from studio.errors import StudioError


@dataclass
class ExpressResult:
    image: np.ndarray
    plan: ActionUnitPlan
    affect: Affect
    blendshapes_before: dict[str, float]
    blendshapes_after: dict[str, float]
    blendshapes_neutral: dict[str, float] = field(default_factory=dict)
    neutralised_aus: dict[int, float] = field(default_factory=dict)
    seed: int = 0

    def save(self, path: str | Path) -> Path:
        from studio.media import save_png

        meta = {"affect": self.affect.to_dict(), "plan": asdict(self.plan), "seed": self.seed,
                "engine": "face/embedded", "blendshapes_after": {k: round(v, 4) for k, v in self.blendshapes_after.items()}}
        return save_png(path, self.image, meta)


def expression_image(p: Portrait, plan: ActionUnitPlan) -> np.ndarray:
    return p.render(p.fields.displacement(p.fields.weights(plan.aus, plan.unilateral)), aus=plan.aus)


def express(portrait, affect: Affect | None = None, *, seed: int = 0, face_index: int = 0, size: int = 512,
            prepared: Portrait | None = None) -> ExpressResult:
    """The portrait (a path, an RGB array, or None for the astronaut) showing ``affect``.

    Intensity 0 gives the neutralised portrait exactly (not the untouched photo): the studio's
    neutral is the face at rest. The stills are deterministic; ``seed`` is kept for the manifest.
    """
    if isinstance(affect, Trajectory):
        raise StudioError("a still takes one affect, not a trajectory; give text to render a video")
    affect = affect or Affect.neutral()
    p = prepared or prepare(portrait, face_index=face_index, size=size)
    plan = action_unit_plan(affect)
    img = expression_image(p, plan)
    after = analysis.blendshapes_of(img, near=p.face.points[:, :2].mean(0))
    return ExpressResult(img, plan, affect, p.blendshapes_before, after, p.blendshapes_neutral, p.neutral_aus, seed)
