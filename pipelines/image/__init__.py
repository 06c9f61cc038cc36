"""Affective image generation: an ImagePlan from the affect, rendered by an engine, returned as ImageResults.

Engines (``studio.engines`` medium "image"):
- ``embedded``: procedural compositions / colour grading with NumPy, no weights (embedded.py);
- ``diffusion``: Stable Diffusion 1.x/2.x/SDXL from a local diffusers folder or the HF cache, with
  the affect added to the prompt embeddings (diffusion.py).
``engine="auto"`` picks diffusion when weights are given (or $STUDIO_IMAGE_WEIGHTS is set), else embedded.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from studio import engines
from studio.affect import Affect, ImagePlan, image_plan
from studio.errors import StudioError

from pipelines.image.loading import ENV_WEIGHTS

__all__ = ["ImageResult", "generate", "generate_batch", "EmbeddedEngine", "ENGINE_OPTIONS"]

# options that configure a loaded diffusion engine (one shared instance per combination)
ENGINE_OPTIONS = ("device", "dtype", "attention", "attention_slicing", "vae_slicing", "mapper", "progress")
DIFFUSION_RUN_OPTIONS = ("guidance", "negative_prompt", "emotion_scale", "descriptors", "strength", "batch_size")
EMBEDDED_RUN_OPTIONS = ("grade_amount",)


@dataclass
class ImageResult:
    image: np.ndarray            # RGB uint8, (H, W, 3)
    plan: ImagePlan
    seed: int
    engine: str
    prompt: str
    affect: dict
    info: dict = field(default_factory=dict)  # steps, weights, attention, init … whatever made the pixels

    def save(self, path: str | Path) -> Path:
        from studio.media import save_png

        meta = {"affect": self.affect, "plan": asdict(self.plan), "seed": str(self.seed), "engine": self.engine,
                "prompt": self.prompt, "studio": {"medium": "image", **self.info}}
        return save_png(path, self.image, meta)


class EmbeddedEngine:
    name = "embedded"

    def generate_batch(self, prompts, plans, seeds, *, width=None, height=None, init=None, grade_amount: float = 1.0,
                       progress=None, **_):
        from pipelines.image.embedded import compose, grade

        out = []
        for i, (prompt, plan, seed) in enumerate(zip(prompts, plans, seeds)):
            if init is not None:
                src = init[i]
                if width or height:
                    from PIL import Image

                    h0, w0 = src.shape[:2]  # one side given: keep the aspect ratio
                    w = width or max(1, round(w0 * height / h0))
                    h = height or max(1, round(h0 * width / w0))
                    src = np.asarray(Image.fromarray(src).resize((w, h), Image.LANCZOS))
                out.append(grade(src, plan, grade_amount))
            else:
                out.append(compose(plan, prompt, seed, width or 1024, height or 1024))
            if progress is not None:
                progress.update(1)
        return out




def _as_affect(a: Any) -> Affect:
    if isinstance(a, Affect):
        return a
    if a is None:
        return Affect.neutral()
    from studio.affect import Trajectory

    if isinstance(a, Trajectory):
        raise StudioError("an image takes one affect, not a trajectory; give one keyframe (e.g. --emotion joy)")
    if isinstance(a, str):
        return Affect.from_spec(a)
    raise StudioError(f"cannot read an affect from {type(a).__name__}; give an Affect or a label")


def _load_init(init: Any, n: int) -> list[np.ndarray] | None:
    if init is None:
        return None
    from studio.media import load_image

    items = list(init) if isinstance(init, (list, tuple)) else [init]
    imgs = [load_image(x) for x in items]
    if len(imgs) == 1:
        imgs = imgs * n
    if len(imgs) != n:
        raise StudioError(f"give one init image or one per item ({n}); got {len(imgs)}")
    return imgs


def _pick_engine(engine: str, weights: Any) -> tuple[str, Any]:
    weights = weights or os.environ.get(ENV_WEIGHTS) or None
    if engine == "auto":
        engine = "diffusion" if weights else "embedded"
    if engine == "diffusion" and not weights:
        raise StudioError(f"the diffusion engine needs --weights (a diffusers folder or a cached repo id) or ${ENV_WEIGHTS}; "
                          "or use --engine embedded")
    if engine == "diffusion":  # fail on bad weights before torch and diffusers are imported
        from pipelines.image import loading

        loading.check_folder(loading.resolve(weights))
    return engine, weights


def generate_batch(prompts: Sequence[str], affects: Sequence[Any], seeds: Sequence[int], *, width: int | None = None,
                   height: int | None = None, engine: str = "auto", weights: Any = None, init: Any = None,
                   steps: int | None = None, progress=None, **opts: Any) -> list[ImageResult]:
    """One image per (prompt, affect, seed), rendered in as few engine calls as the engine allows."""
    if isinstance(prompts, str):
        raise StudioError("generate_batch takes a list of prompts; use generate() for one prompt")
    prompts, affects, seeds = list(prompts), [_as_affect(a) for a in affects], [int(s) for s in seeds]
    if not (len(prompts) == len(affects) == len(seeds)) or not prompts:
        raise StudioError(f"give as many prompts, affects and seeds (at least one); got {len(prompts)}, {len(affects)}, {len(seeds)}")
    for p in prompts:
        if not isinstance(p, str):
            raise StudioError(f"prompt must be text, got {type(p).__name__}")
    name, weights = _pick_engine(engine, weights)
    plans = [image_plan(a) for a in affects]
    init_imgs = _load_init(init, len(prompts))
    unknown = set(opts) - set(ENGINE_OPTIONS) - set(DIFFUSION_RUN_OPTIONS) - set(EMBEDDED_RUN_OPTIONS)
    if unknown:
        raise StudioError(f"unknown image option(s) {', '.join(sorted(unknown))}; known: "
                          f"{', '.join(ENGINE_OPTIONS + DIFFUSION_RUN_OPTIONS + EMBEDDED_RUN_OPTIONS)}")
    info: dict[str, Any] = {}
    if name == "diffusion":
        from pipelines.image.diffusion import DiffusionOptions

        eng = engines.get("image", "diffusion", weights=str(weights), **{k: opts[k] for k in ENGINE_OPTIONS if k in opts})
        run = DiffusionOptions(**{k: opts[k] for k in DIFFUSION_RUN_OPTIONS if k in opts})
        if steps is not None:
            run.steps = steps
        native = eng.pipe.unet.config.sample_size * eng.pipe.vae_scale_factor
        if init_imgs is not None and width is None and height is None:
            h0, w0 = init_imgs[0].shape[:2]
            s = native / max(h0, w0)
            width, height = max(64, round(w0 * s / 8) * 8), max(64, round(h0 * s / 8) * 8)
        width, height = width or native, height or native
        images = eng.generate_batch(prompts, plans, seeds, width=width, height=height, init=init_imgs, opts=run,
                                    progress=progress)
        info = {"weights": str(weights), "steps": run.steps, "guidance": eng.default_guidance() if run.guidance is None else run.guidance, "attention": eng.attention,
                "emotion_scale": run.emotion_scale, "descriptors": run.descriptors, "mapper": opts.get("mapper"),
                "init": init is not None, "strength": run.strength if init is not None else None}
    else:
        if steps is not None:
            raise StudioError("--steps applies to the diffusion engine only; the embedded engine renders in one pass")
        eng = engines.get("image", name)
        images = eng.generate_batch(prompts, plans, seeds, width=width, height=height, init=init_imgs,
                                    progress=progress, **{k: opts[k] for k in EMBEDDED_RUN_OPTIONS if k in opts})
        info = {"init": init is not None, "mode": "grade" if init is not None else "compose"}
    return [ImageResult(image=im, plan=pl, seed=s, engine=name, prompt=p, affect=a.to_dict(), info=dict(info))
            for im, pl, s, p, a in zip(images, plans, seeds, prompts, affects)]


def generate(prompt: str, affect: Any = None, *, seed: int = 0, n: int = 1, width: int | None = None,
             height: int | None = None, engine: str = "auto", weights: Any = None, init: Any = None,
             steps: int | None = None, **opts: Any) -> list[ImageResult]:
    """``n`` images of ``prompt`` under ``affect`` with seeds seed, seed+1, …; a list of affects gives n per affect.

    width/height: None means 1024 for the embedded engine, the model's native size for diffusion
    (the init image's own size when grading)."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise StudioError("prompt is empty: describe the image, e.g. 'a lake house at dawn'")
    if not isinstance(n, int) or n < 1 or n > 256:
        raise StudioError(f"n must be an integer in [1, 256], got {n!r}")
    affects = list(affect) if isinstance(affect, (list, tuple)) and not (len(affect) == 3 and all(
        isinstance(x, (int, float)) for x in affect)) else [affect]
    affects = [Affect.from_vad(*a) if isinstance(a, (list, tuple)) else a for a in affects]
    items = [(a, seed + i) for a in affects for i in range(n)]
    return generate_batch([prompt] * len(items), [a for a, _ in items], [s for _, s in items], width=width, height=height,
                          engine=engine, weights=weights, init=init, steps=steps, **opts)
