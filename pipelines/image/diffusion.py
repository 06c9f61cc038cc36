"""The diffusion image engine: Stable Diffusion 1.x/2.x/SDXL with the affect injected into the prompt embeddings.

Per item: encode the prompt with the pipeline's own text encoder, add
``emotion_scale × W·(V, A, D)`` (training-free ridge directions, see directions.py) and, when a
trained mapper is loaded, the mapper's residual; then run the unchanged diffusers pipeline on those
embeddings. Neutral items add nothing, so their latents and pixels equal plain diffusers with the
same seed (tested). A batch may mix affects: residuals are stacked per item.
"""
from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from studio.affect.plans import ImagePlan
from studio.errors import StudioError

from pipelines.image import loading
from pipelines.image.directions import EmotionDirections, fit_directions

_DIRECTIONS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # text encoder → directions


class PromptTruncated(UserWarning):
    pass


@dataclass
class DiffusionOptions:
    steps: int = 30
    guidance: float | None = None    # None: the pipeline's own default (7.5 for SD 1.x/2.x, 5.0 for SDXL)
    negative_prompt: str | None = None
    emotion_scale: float = 1.0       # gain on the ridge residual (1 = the anchors' own scale)
    descriptors: bool = False        # weave the plan's descriptor terms and lighting into the prompt
    strength: float = 0.6            # img2img denoising strength with --init
    batch_size: int = 8
    extra: dict = field(default_factory=dict)


def is_xl(pipe) -> bool:
    return getattr(pipe, "text_encoder_2", None) is not None


def woven_prompt(prompt: str, plan: ImagePlan, descriptors: bool) -> str:
    if not descriptors or plan.emotion_strength == 0:
        return prompt
    extra = [t for t in plan.descriptor_terms[:3] if t.lower() not in prompt.lower()] + [plan.lighting]
    return ", ".join([prompt] + extra)


RUN_OPTIONS = ("steps", "guidance", "negative_prompt", "emotion_scale", "descriptors", "strength", "batch_size")


class DiffusionEngine:
    name = "diffusion"
    medium = "image"

    def __init__(self, weights=None, pipe=None, device: str | None = None, dtype: str | None = "auto",
                 attention: str = "auto", attention_slicing: bool = False, vae_slicing: bool = False,
                 mapper: str | None = None, progress: bool = False):
        if pipe is None:
            import os

            weights = weights or os.environ.get(loading.ENV_WEIGHTS) or None
            if not weights:
                raise StudioError(f"the diffusion engine needs --weights (a diffusers folder or a cached repo id) or "
                                  f"${loading.ENV_WEIGHTS}; or use --engine embedded")
            loading.check_folder(loading.resolve(weights))
            self.device = loading.pick_device(device)
            pipe = loading.load_pipeline(weights, self.device, loading.pick_dtype(self.device, dtype))
        else:
            self.device = str(pipe.device)
        self.pipe = pipe
        self.mapper_path = mapper
        self.weights = str(weights) if weights is not None else None
        self.attention = loading.apply_attention(pipe, loading.choose_attention(self.device.split(":")[0], attention))
        if attention_slicing:
            pipe.enable_attention_slicing()
        if vae_slicing:
            pipe.vae.enable_slicing()
        pipe.set_progress_bar_config(disable=not progress, leave=False)
        self.mapper = None
        if mapper:
            from pipelines.image.mapper import load_checkpoint

            self.mapper, _, _ = load_checkpoint(mapper, self.device)
            width = pipe.text_encoder.config.hidden_size
            if self.mapper.cfg.dim != width:
                raise StudioError(f"mapper {mapper} was trained for a {self.mapper.cfg.dim}-wide text encoder; this pipeline's is {width}")

    # ---- text side -------------------------------------------------------------------------
    def check_prompt(self, prompt: str) -> None:
        tok = self.pipe.tokenizer
        n = len(tok(prompt, truncation=False, verbose=False).input_ids)
        limit = tok.model_max_length
        if n > limit:
            warnings.warn(f"prompt is {n} tokens; the text encoder reads {limit} (CLIP's limit, start/end tokens included), "
                          "the rest is dropped", PromptTruncated, stacklevel=3)

    def encode(self, prompts: list[str], cfg: bool, negative: str | None = None):
        """→ (embeds, negative embeds or None, pooled or None, negative pooled or None), exactly as the pipeline would."""
        import torch

        neg = None if negative is None else [negative] * len(prompts)
        with torch.no_grad():
            if is_xl(self.pipe):
                pe, npe, pooled, npooled = self.pipe.encode_prompt(
                    prompt=prompts, device=self.pipe.device, num_images_per_prompt=1, do_classifier_free_guidance=cfg,
                    negative_prompt=neg)
                return pe, npe, pooled, npooled
            pe, npe = self.pipe.encode_prompt(prompts, self.pipe.device, 1, cfg, negative_prompt=neg)
            return pe, npe, None, None

    def eos_positions(self, prompts: Sequence[str]) -> list[int]:
        """Index of each prompt's end-of-text token after the pipeline's truncation."""
        tok = self.pipe.tokenizer
        limit = tok.model_max_length
        return [min(len(tok(p, truncation=False, verbose=False).input_ids), limit) - 1 for p in prompts]

    def directions(self) -> EmotionDirections:
        """Fitted once per text encoder per process (weakly keyed, so freed with the pipeline)."""
        key = self.pipe.text_encoder
        if key not in _DIRECTIONS:
            def enc(phrases: list[str]):
                pe, _, pooled, _ = self.encode(phrases, cfg=False)
                return pe, pooled
            _DIRECTIONS[key] = fit_directions(enc, self.eos_positions)
        return _DIRECTIONS[key]

    def condition(self, embeds, pooled, plans: Sequence[ImagePlan], prompts: Sequence[str], emotion_scale: float = 1.0):
        """Add each item's affect residual from its prompt's end-of-text token on (the prompts that were encoded
        give those positions). Content tokens and neutral items stay bit-identical."""
        import torch

        if emotion_scale < 0:
            raise StudioError(f"emotion scale must be >= 0, got {emotion_scale}")
        active = [i for i, p in enumerate(plans) if p.emotion_strength != 0 and any(p.direction)]
        if not active or emotion_scale == 0:
            return embeds, pooled
        dirs = self.directions()
        if len(prompts) != len(plans):
            raise StudioError(f"condition needs one prompt per plan; got {len(prompts)} and {len(plans)}")
        eos = self.eos_positions(prompts)
        embeds = embeds.clone()
        pooled = None if pooled is None else pooled.clone()
        for i in active:
            tok, pool = dirs.residual(plans[i].direction, eos[i], embeds.shape[1], embeds.dtype, embeds.device)
            embeds[i] = embeds[i] + emotion_scale * tok
            if pooled is not None and pool is not None:
                pooled[i] = pooled[i] + emotion_scale * pool
        if self.mapper is not None:
            idx = torch.tensor(active, device=embeds.device)
            va = torch.tensor([[plans[i].direction[0], plans[i].direction[1]] for i in active], dtype=torch.float32)
            with torch.no_grad():
                embeds[idx] = embeds[idx] + self.mapper(embeds[idx], va.to(embeds.device))
        return embeds, pooled

    # ---- generation ------------------------------------------------------------------------
    def default_guidance(self) -> float:
        import inspect

        param = inspect.signature(type(self.pipe).__call__).parameters.get("guidance_scale")
        return float(param.default) if param is not None and param.default is not inspect.Parameter.empty else 7.5

    def generate_batch(self, prompts: Sequence[str], plans: Sequence[ImagePlan], seeds: Sequence[int], *,
                       width: int = 512, height: int = 512, init: Sequence[np.ndarray] | None = None,
                       opts: DiffusionOptions | None = None, output_type: str = "np", progress=None):
        """One image per (prompt, plan, seed); mixed affects share one UNet batch (chunked by batch_size)."""
        import torch

        o = opts or DiffusionOptions()
        if not (len(prompts) == len(plans) == len(seeds)):
            raise StudioError(f"batch needs as many prompts, affects and seeds; got {len(prompts)}, {len(plans)}, {len(seeds)}")
        for name, side in (("width", width), ("height", height)):
            if not isinstance(side, int) or side < 32 or side > 4096 or side % 8:
                raise StudioError(f"{name} must be a multiple of 8 between 32 and 4096, got {side!r}")
        if not isinstance(o.steps, int) or o.steps < 1 or o.steps > 1000:
            raise StudioError(f"steps must be an integer in [1, 1000], got {o.steps!r}")
        if not isinstance(o.batch_size, int) or o.batch_size < 1:
            raise StudioError(f"batch size must be a positive integer, got {o.batch_size!r}")
        if init is not None and not 0 < o.strength <= 1:
            raise StudioError(f"img2img strength must be in (0, 1], got {o.strength}")
        texts = [woven_prompt(p, pl, o.descriptors) for p, pl in zip(prompts, plans)]
        for t in dict.fromkeys(texts):
            self.check_prompt(t)
        guidance = self.default_guidance() if o.guidance is None else float(o.guidance)
        cfg = guidance > 1.0
        pipe = self.pipe
        if init is not None:
            from diffusers import AutoPipelineForImage2Image

            pipe = AutoPipelineForImage2Image.from_pipe(self.pipe)
            pipe.set_progress_bar_config(disable=True)
        out = []
        for start in range(0, len(texts), o.batch_size):
            sl = slice(start, start + o.batch_size)
            pe, npe, pooled, npooled = self.encode(list(texts[sl]), cfg, o.negative_prompt)
            pe, pooled = self.condition(pe, pooled, plans[sl], texts[sl], o.emotion_scale)
            gens = [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds[sl]]
            kw = dict(prompt_embeds=pe, num_inference_steps=o.steps, guidance_scale=guidance, generator=gens,
                      output_type=output_type)
            if cfg:
                kw["negative_prompt_embeds"] = npe
            if pooled is not None:
                kw["pooled_prompt_embeds"] = pooled
                if cfg:
                    kw["negative_pooled_prompt_embeds"] = npooled
            if init is None:
                kw.update(width=width, height=height)
            else:
                from PIL import Image

                kw.update(image=[Image.fromarray(im).resize((width, height), Image.LANCZOS) for im in init[sl]],
                          strength=o.strength)
            kw.update(o.extra)
            with torch.no_grad():
                res = pipe(**kw)
            imgs = res.images
            if output_type == "np":
                out.extend((np.clip(np.asarray(imgs), 0, 1) * 255 + 0.5).astype(np.uint8))
            else:
                out.extend(imgs)
            if progress is not None:
                progress.update(len(texts[sl]))
        return out

    # ---- the engine protocol ----------------------------------------------------------------
    @property
    def native_size(self) -> int:
        return int(self.pipe.unet.config.sample_size * self.pipe.vae_scale_factor)

    def _size(self, request, init: np.ndarray | None) -> tuple[int, int]:
        width, height = request.width, request.height
        if init is not None and width is None and height is None:
            h0, w0 = init.shape[:2]
            s = self.native_size / max(h0, w0)
            return max(64, round(w0 * s / 8) * 8), max(64, round(h0 * s / 8) * 8)
        return width or self.native_size, height or self.native_size

    def render(self, request, plan: ImagePlan, *, progress: bool = False):
        return self.render_batch([request], [plan], progress=progress)[0]

    def render_batch(self, requests, plans, *, progress: bool = False):
        """Requests that share size, options and init-ness run as one batch; results keep request order."""
        import json

        from pipelines.image.result import ImageResult, check_options, init_image
        from studio.progress import bar

        groups: dict[str, list[int]] = {}
        inits = []
        for i, req in enumerate(requests):
            check_options(req.options, RUN_OPTIONS, self.name)
            inits.append(init_image(req, None, None))
            key = json.dumps([self._size(req, inits[-1]), sorted(req.options.items()), inits[-1] is None], default=str)
            groups.setdefault(key, []).append(i)
        out: list = [None] * len(requests)
        with bar(len(requests), "image", "img", enabled=progress) as b:
            for idx in groups.values():
                first = requests[idx[0]]
                width, height = self._size(first, inits[idx[0]])
                run = DiffusionOptions(**first.options)
                init = None if inits[idx[0]] is None else [inits[i] for i in idx]
                images = self.generate_batch([requests[i].prompt for i in idx], [plans[i] for i in idx],
                                             [requests[i].seed for i in idx], width=width, height=height, init=init,
                                             opts=run, progress=b)
                info = {"weights": self.weights, "steps": run.steps,
                        "guidance": self.default_guidance() if run.guidance is None else run.guidance,
                        "attention": self.attention, "emotion_scale": run.emotion_scale, "descriptors": run.descriptors,
                        "mapper": self.mapper_path, "init": init is not None,
                        "strength": run.strength if init is not None else None}
                for i, img in zip(idx, images):
                    r = requests[i]
                    out[i] = ImageResult(image=img, plan=plans[i], seed=r.seed, engine=self.name, prompt=r.prompt,
                                         affect=r.affect.to_dict(), request=r, info=dict(info))
        return out
