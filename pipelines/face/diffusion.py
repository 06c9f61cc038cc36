"""The diffusion face engine: the warp engine's mesh track, re-rendered by Stable Diffusion + a face-mesh ControlNet.

Per frame: the warp engine's frame (the neutralised portrait moved by the same AUs, visemes, blinks and head
motion; pipelines/face/track.py) is the img2img init image, so identity, hair and background come from the
portrait; the frame's target mesh drawn as a MediaPipe face annotation (condition.py) is the ControlNet
condition, so the diffusion model paints what the warp cannot (folds, teeth, eye whites) where the mesh says;
the prompt carries the ImagePlan's descriptor terms for the affect (a trajectory's prompt embeddings morph
between its keyframes). Frames run batched through diffusers' StableDiffusionControlNetImg2ImgPipeline.

Temporal methods (``options["temporal"]``): "none" (one noise per frame), "shared-noise" (one initial noise
for the whole clip; the default), "blend" (shared noise, and each frame's final latent blended with the
previous frame's, warped along the mesh motion, outside the mouth and eyes so speech and blinks keep their
timing). Shared noise is the default because it is what the benchmark can show helps (flicker 39.6 → 0.37 on
tiny weights, the warp frames' own 0.38); blending's gain needs real weights to show. With a
diffusers MotionAdapter (``motion_adapter=``) the clip runs through AnimateDiff's video-to-video ControlNet
pipeline in windows of ``window`` frames with the clip's shared noise.

What neutral guarantees: intensity 0 renders the neutral mesh (the neutralised portrait's landmarks) through
the same diffusion, so the output is not the input; the same request and seed give the same frames.
"""
from __future__ import annotations

import hashlib
import logging
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from pipelines.face import condition
from pipelines.face import topology as T
from pipelines.face.track import FaceTrack, mesh, still_disp, talk_track
from pipelines.image import loading
from studio.affect import ActionUnitPlan, Affect, Trajectory, image_plan
from studio.errors import StudioError

log = logging.getLogger(__name__)

TEMPORAL = ("none", "shared-noise", "blend")
PORTRAIT_CACHE = 4
DEFAULT_PROMPT = "a close-up portrait photo of a person's face, natural skin, detailed eyes and teeth"
DEFAULT_NEGATIVE = "blurry, deformed face, distorted features, asymmetric eyes, extra teeth, watermark"


@dataclass
class FaceDiffusionOptions:
    strength: float = 0.5          # img2img denoising strength: how far from the warp frame the model may go
    control_scale: float = 1.0     # ControlNet conditioning scale
    steps: int = 20                # scheduler steps (img2img runs steps × strength of them)
    guidance: float = 7.5          # classifier-free guidance; <= 1 turns it off
    temporal: str = "shared-noise" # none | shared-noise | blend (benchmarks/README.md: the measured default)
    blend: float = 0.5             # share of the previous (motion-warped) frame's latent, "blend" only
    batch: int | None = None       # frames per UNet batch (None: 8 on CUDA, 4 on the CPU)
    prompt: str = DEFAULT_PROMPT
    negative_prompt: str = DEFAULT_NEGATIVE
    window: int = 16               # frames per AnimateDiff window (motion adapter only)

    @classmethod
    def of(cls, options: dict | None) -> "FaceDiffusionOptions":
        options = dict(options or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise StudioError(f"the diffusion face engine has no option(s) {', '.join(unknown)}; "
                              f"valid: {', '.join(sorted(known))}")
        o = cls(**options)
        o.check()
        return o

    def check(self) -> None:
        def num(name: str, lo: float, hi: float, lo_open: bool = False) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (lo < v if lo_open else lo <= v) or v > hi:
                raise StudioError(f"option {name} must be a number in {'(' if lo_open else '['}{lo}, {hi}], got {v!r}")

        num("strength", 0.0, 1.0, lo_open=True)
        num("control_scale", 0.0, 5.0)
        num("guidance", 0.0, 30.0)
        num("blend", 0.0, 0.95)
        for name, hi in (("steps", 1000), ("window", 64)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi:
                raise StudioError(f"option {name} must be a whole number in [1, {hi}], got {v!r}")
        if self.batch is not None and (isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 1):
            raise StudioError(f"option batch must be a whole number >= 1, got {self.batch!r}")
        if self.temporal not in TEMPORAL:
            raise StudioError(f"option temporal must be one of {', '.join(TEMPORAL)}, got {self.temporal!r}")
        if int(self.steps * self.strength) < 1:
            raise StudioError(f"steps × strength = {self.steps} × {self.strength} runs no denoising step; raise steps or strength")


def prompt_for(affect: Affect, base: str) -> str:
    """The face prompt: the base description plus the ImagePlan's descriptor terms (none at intensity 0)."""
    plan = image_plan(affect)
    terms = [t for t in plan.descriptor_terms[:4] if t.lower() not in base.lower()]
    return ", ".join([base] + terms)


def prompt_keys(affect: Affect | Trajectory, duration: float, base: str) -> list[tuple[float, str]]:
    """(time_s, prompt) per keyframe; a steady affect has one."""
    if isinstance(affect, Trajectory):
        scale = duration if affect.relative else 1.0
        return [(t * scale, prompt_for(a, base)) for t, a in affect.keys]
    return [(0.0, prompt_for(affect, base))]


def key_weights(key_times: list[float], times: np.ndarray) -> np.ndarray:
    """(T, K) linear-interpolation weights of each keyframe at each time (hat functions; rows sum to 1)."""
    k = len(key_times)
    out = np.zeros((len(times), k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = 1.0
        out[:, j] = np.interp(times, key_times, e) if k > 1 else 1.0
    return out


def frame_seed(seed: int, i: int) -> int:
    return int(np.random.SeedSequence([seed, i]).generate_state(1, dtype=np.uint64)[0] % (2**63))


def speak(request, *, progress: bool = False):
    """The clip's speech through the speech spine: the same voice, affect and seed as the warp engine's."""
    from studio import spine
    from studio.requests import SpeechRequest

    return spine.render(SpeechRequest(text=request.text, affect=request.affect, seed=request.seed, voice=request.voice),
                        progress=progress)


class DiffusionFaceEngine:
    """Talking heads and stills re-rendered by Stable Diffusion + a MediaPipe-face ControlNet."""

    name = "diffusion"
    medium = "face"

    def __init__(self, weights: str, controlnet: str, device: str | None = None, dtype: str | None = None,
                 attention: str | None = None, motion_adapter: str | None = None, attention_slicing: bool = False,
                 vae_slicing: bool = False):
        import torch
        from diffusers import StableDiffusionControlNetImg2ImgPipeline

        self.device = loading.pick_device(device)
        self.dtype = loading.pick_dtype(self.device, dtype or "auto")
        if controlnet is None or not str(controlnet).strip():
            raise StudioError("the diffusion face engine needs --controlnet: a face-mesh ControlNet in diffusers layout, "
                              "e.g. CrucibleAI/ControlNetMediaPipeFace (a local folder or a cached repo id)")
        base = loading.load_pipeline(weights, "cpu", self.dtype)
        if getattr(base, "text_encoder_2", None) is not None or not hasattr(base, "unet"):
            raise StudioError(f"{weights} is a {type(base).__name__}; the face ControlNet (ControlNetMediaPipeFace) "
                              "pairs with Stable Diffusion 1.5 or 2.1 weights")
        width = int(base.unet.config.cross_attention_dim)
        cn = loading.load_controlnet(controlnet, self.dtype, width)
        self.pipe = StableDiffusionControlNetImg2ImgPipeline(
            vae=base.vae, text_encoder=base.text_encoder, tokenizer=base.tokenizer, unet=base.unet, controlnet=cn,
            scheduler=base.scheduler, safety_checker=getattr(base, "safety_checker", None),
            feature_extractor=getattr(base, "feature_extractor", None), requires_safety_checker=False)
        self.motion = None
        if motion_adapter:
            self.motion = self._motion_pipe(motion_adapter, base, cn)
        if self.device != "cpu":
            self.pipe.to(self.device)
            if self.motion is not None:
                self.motion.to(self.device)
        self.attention = loading.choose_attention(self.device.split(":")[0], attention or "auto")
        for pipe in filter(None, (self.pipe, self.motion)):
            loading.apply_attention(pipe, self.attention)
            if attention_slicing:
                pipe.enable_attention_slicing()
            if vae_slicing:
                pipe.vae.enable_slicing()
            pipe.set_progress_bar_config(disable=True)
        self.weights, self.controlnet = str(weights), str(controlnet)
        self._portraits: OrderedDict = OrderedDict()
        self.vae_factor = 2 ** (len(self.pipe.vae.config.block_out_channels) - 1)
        self._torch = torch

    def _motion_pipe(self, folder, base, cn):
        from diffusers import AnimateDiffVideoToVideoControlNetPipeline, MotionAdapter

        p = loading.resolve(folder, flag="--motion-adapter", what="a diffusers MotionAdapter folder (config.json + safetensors)")
        cfg = p / "config.json"
        if not cfg.is_file() or '"MotionAdapter"' not in cfg.read_text(encoding="utf-8", errors="replace"):
            raise StudioError(f"{p} is not a diffusers MotionAdapter (its config.json must name MotionAdapter), "
                              "e.g. guoyww/animatediff-motion-adapter-v1-5-3")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                ma = MotionAdapter.from_pretrained(p, local_files_only=True, use_safetensors=True, torch_dtype=self.dtype)
            return AnimateDiffVideoToVideoControlNetPipeline(
                vae=base.vae, text_encoder=base.text_encoder, tokenizer=base.tokenizer, unet=base.unet,
                motion_adapter=ma, controlnet=cn, scheduler=base.scheduler)
        except (OSError, ValueError, RuntimeError, EnvironmentError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise StudioError(f"cannot use the motion adapter in {p} with these SD weights: {first[:300]}") from None

    # ---- the protocol ----------------------------------------------------------------------
    def render(self, request, plan, *, progress: bool = False):
        o = FaceDiffusionOptions.of(request.options)
        size = request.size
        if size % 8:
            raise StudioError(f"size {size} must be a multiple of 8 for the diffusion engine (512 is the default)")
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        p = self.portrait(request.portrait, size, request.face_index)
        timings["prepare_s"] = time.perf_counter() - t0
        if request.text is None:
            return self._still(request, plan, p, o, timings)
        return self._clip(request, plan, p, o, timings, progress)

    def portrait(self, portrait, size: int, face_index: int):
        """The prepared (framed, analysed, neutralised) portrait, kept for the last few portraits: a dataset
        grid renders one portrait in many affects and seeds, and preparing it is most of a small render."""
        from pipelines.face.portrait import prepare

        if portrait is None:
            ident: tuple = ("default",)
        elif isinstance(portrait, (str, Path)) and Path(portrait).is_file():
            st = Path(portrait).stat()
            ident = ("file", str(Path(portrait).resolve()), st.st_mtime_ns, st.st_size)
        elif isinstance(portrait, np.ndarray):
            ident = ("array", portrait.shape, str(portrait.dtype), hashlib.sha1(np.ascontiguousarray(portrait).tobytes()).hexdigest())
        else:
            return prepare(portrait, face_index=face_index, size=size)
        key = (ident, size, face_index)
        if key in self._portraits:
            self._portraits.move_to_end(key)
            return self._portraits[key]
        p = prepare(portrait, face_index=face_index, size=size)
        self._portraits[key] = p
        while len(self._portraits) > PORTRAIT_CACHE:
            self._portraits.popitem(last=False)
        return p

    def _still(self, request, plan, p, o: FaceDiffusionOptions, timings: dict):
        from pipelines.face import analysis
        from pipelines.face.express import ExpressResult

        pl = plan if isinstance(plan, ActionUnitPlan) else plan.first
        d = still_disp(p, pl)
        t0 = time.perf_counter()
        init = p.render(d, aus=pl.aus)[None]
        meshes = mesh(p, d)[None]
        timings["warp_s"] = time.perf_counter() - t0
        embeds = self._embeds(prompt_keys(request.affect, 0.0, o.prompt), np.zeros(1), o)
        t0 = time.perf_counter()
        img = self.diffuse(init, meshes, embeds, o, request.seed, p=p)[0]
        timings["diffusion_s"] = time.perf_counter() - t0
        after = analysis.blendshapes_of(img, near=p.face.points[:, :2].mean(0))
        return ExpressResult(image=img, plan=pl, affect=request.affect.to_dict(), blendshapes_before=p.blendshapes_before,
                             blendshapes_after=after, blendshapes_neutral=p.blendshapes_neutral,
                             neutralised_aus=p.neutral_aus, seed=request.seed, request=request, engine="diffusion",
                             timings=timings, meta=self._meta(o, request))

    def _clip(self, request, plan, p, o: FaceDiffusionOptions, timings: dict, progress: bool):
        from pipelines.face.talk import MAX_CHARS, MAX_SECONDS, TalkResult

        if len(request.text) > MAX_CHARS:
            raise StudioError(f"the text has {len(request.text)} characters; one clip takes at most {MAX_CHARS} "
                              f"(about {MAX_SECONDS:.0f} s of speech): split it into several clips")
        if not 1 <= request.fps <= 60:
            raise StudioError(f"--fps {request.fps} is out of range; use 1..60 (25 is the default)")
        t0 = time.perf_counter()
        speech = speak(request, progress=progress)
        timings["speech_s"] = time.perf_counter() - t0
        if speech.duration_s > MAX_SECONDS:
            raise StudioError(f"the speech lasts {speech.duration_s:.0f} s; one clip takes at most {MAX_SECONDS:.0f} s: "
                              "split the text into several clips")
        t0 = time.perf_counter()
        tr = talk_track(p, speech, plan, request.fps, request.seed)
        init = np.stack([p.render(tr.disp[i], aus=tr.aus[i]) for i in range(len(tr))])
        timings["warp_s"] = time.perf_counter() - t0
        times = np.arange(len(tr)) / request.fps
        embeds = self._embeds(prompt_keys(request.affect, speech.duration_s, o.prompt), times, o)
        t0 = time.perf_counter()
        frames = self.diffuse(init, tr.meshes(p), embeds, o, request.seed, p=p, track=tr, progress=progress)
        timings["diffusion_s"] = time.perf_counter() - t0
        if isinstance(plan, ActionUnitPlan):
            keys = [(0.0, plan)]
        else:
            keys = list(zip(plan.key_times(speech.duration_s), [k for _, k in plan.keys]))
        return TalkResult(frames=frames, fps=float(request.fps), speech=speech, plan=plan, plans=keys,
                          affect=request.affect.to_dict(), seed=request.seed, tracks=tr.tracks, request=request,
                          engine="diffusion", timings=timings, meta=self._meta(o, request))

    def _meta(self, o: FaceDiffusionOptions, request) -> dict:
        from dataclasses import asdict

        return {"options": asdict(o), "weights": self.weights, "controlnet": self.controlnet, "device": self.device,
                "dtype": str(self.dtype).replace("torch.", ""), "attention": self.attention,
                "motion_adapter": self.motion is not None}

    # ---- text ------------------------------------------------------------------------------
    def _embeds(self, keys: list[tuple[float, str]], times: np.ndarray, o: FaceDiffusionOptions):
        """Per-frame (positive, negative or None) prompt embeddings, morphed between the keyframe prompts."""
        torch = self._torch
        cfg = o.guidance > 1.0
        prompts = [k[1] for k in keys]
        with torch.no_grad():
            pe, npe = self.pipe.encode_prompt(prompts, self.pipe.device, 1, cfg,
                                              negative_prompt=[o.negative_prompt] * len(prompts) if cfg else None)
        w = torch.as_tensor(key_weights([k[0] for k in keys], times), dtype=pe.dtype, device=pe.device)
        pos = torch.einsum("tk,kld->tld", w, pe)
        neg = npe[:1].expand(len(times), -1, -1) if cfg else None
        return pos, neg

    # ---- the diffusion ---------------------------------------------------------------------
    def diffuse(self, init: np.ndarray, meshes: np.ndarray, embeds, o: FaceDiffusionOptions, seed: int, *,
                p=None, track: FaceTrack | None = None, progress: bool = False) -> np.ndarray:
        """(T, H, W, 3) uint8 init frames + (T, 478, 2) meshes → (T, H, W, 3) uint8 rendered frames."""
        n, h, w = init.shape[:3]
        cond = condition.draw_many(meshes, (h, w))
        bar = _bar(progress, n)
        try:
            if self.motion is not None and n > 1:
                return self._diffuse_motion(init, cond, embeds, o, seed, bar)
            return self._diffuse_frames(init, cond, meshes, embeds, o, seed, p, track, bar)
        finally:
            bar.close()

    def _generators(self, idx: range, o: FaceDiffusionOptions, seed: int) -> list:
        torch = self._torch
        seeds = [seed if o.temporal != "none" else frame_seed(seed, i) for i in idx]
        return [torch.Generator(device="cpu").manual_seed(s) for s in seeds]

    def _diffuse_frames(self, init, cond, meshes, embeds, o, seed, p, track, bar) -> np.ndarray:
        from PIL import Image

        torch = self._torch
        n, h, w = init.shape[:3]
        batch = o.batch or (8 if self.device.startswith("cuda") else 4)
        pos, neg = embeds
        out = np.empty_like(init)
        prev = None
        for start in range(0, n, batch):
            idx = range(start, min(n, start + batch))
            kw = dict(image=[Image.fromarray(init[i]) for i in idx], control_image=[Image.fromarray(cond[i]) for i in idx],
                      height=h, width=w, strength=o.strength, num_inference_steps=o.steps, guidance_scale=o.guidance,
                      controlnet_conditioning_scale=o.control_scale, prompt_embeds=pos[idx.start:idx.stop],
                      generator=self._generators(idx, o, seed), output_type="latent")
            if neg is not None:
                kw["negative_prompt_embeds"] = neg[idx.start:idx.stop]
            with torch.no_grad():
                lat = self.pipe(**kw).images
            if o.temporal == "blend" and n > 1 and p is not None:
                lat = lat.clone()
                for j, i in enumerate(idx):
                    if prev is not None:
                        lat[j] = blend_latent(lat[j], prev, p, meshes[i - 1], meshes[i], track, i, o.blend, self.vae_factor)
                    prev = lat[j]
            out[idx.start:idx.stop] = self._decode(lat)
            bar.update(len(idx))
        return out

    def _decode(self, lat) -> np.ndarray:
        torch = self._torch
        pipe = self.pipe
        with torch.no_grad():
            img = pipe.vae.decode(lat / pipe.vae.config.scaling_factor, return_dict=False)[0]
            img, nsfw = pipe.run_safety_checker(img, img.device, img.dtype)
        denorm = [True] * img.shape[0] if nsfw is None else [not x for x in nsfw]
        arr = pipe.image_processor.postprocess(img, output_type="np", do_denormalize=denorm)
        return (np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)

    def _diffuse_motion(self, init, cond, embeds, o, seed, bar) -> np.ndarray:
        from PIL import Image

        torch = self._torch
        n, h, w = init.shape[:3]
        pos, neg = embeds
        out = np.empty_like(init)
        for start in range(0, n, o.window):
            idx = range(start, min(n, start + o.window))
            mid = (idx.start + idx.stop - 1) // 2  # one prompt per window: the window's middle frame's
            kw = dict(video=[Image.fromarray(init[i]) for i in idx], conditioning_frames=[Image.fromarray(cond[i]) for i in idx],
                      height=h, width=w, strength=o.strength, num_inference_steps=o.steps, guidance_scale=o.guidance,
                      controlnet_conditioning_scale=o.control_scale, prompt_embeds=pos[mid:mid + 1],
                      generator=torch.Generator(device="cpu").manual_seed(seed), output_type="np")
            if neg is not None:
                kw["negative_prompt_embeds"] = neg[mid:mid + 1]
            with torch.no_grad():
                frames = self.motion(**kw).frames[0]
            out[idx.start:idx.stop] = (np.clip(np.asarray(frames), 0, 1) * 255 + 0.5).astype(np.uint8)
            bar.update(len(idx))
        return out


def motion_flow(p, prev_mesh_disp: np.ndarray, cur_mesh_disp: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Backward flow (h, w, 2) in latent pixels: where each latent pixel of the current frame was in the previous one.

    The warp maps output pixel x to portrait pixel M(x); the previous frame shows the same portrait point at
    y with M_prev(y) = M_cur(x), and to first order y = x + M_cur(x) − M_prev(x)."""
    import cv2

    d = p.warp.source_map(p.neutral_disp + cur_mesh_disp) - p.warp.source_map(p.neutral_disp + prev_mesh_disp)
    h, w = shape
    factor = d.shape[1] / w
    return cv2.resize(d, (w, h), interpolation=cv2.INTER_AREA) / factor


def keep_mask(m0: np.ndarray, m1: np.ndarray, size: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """(h, w) in [0, 1]: 0 over the mouth and eyes of either frame (they follow the speech and blinks), 1 elsewhere."""
    import cv2

    H, W = size
    mask = np.zeros((H, W), np.uint8)
    iod = float(np.linalg.norm(m1[list(T.LEFT_EYE)].mean(0) - m1[list(T.RIGHT_EYE)].mean(0)))
    mouth = list(T.LIPS_OUTER_UPPER) + list(T.LIPS_OUTER_LOWER)[::-1]
    for m in (m0, m1):
        for ring in (mouth, list(T.RIGHT_EYE_UPPER) + list(T.RIGHT_EYE_LOWER)[::-1],
                     list(T.LEFT_EYE_UPPER) + list(T.LEFT_EYE_LOWER)[::-1]):
            cv2.fillPoly(mask, [np.round(m[ring]).astype(np.int32)], 255)
    k = max(3, int(0.25 * iod) | 1)
    mask = cv2.dilate(mask, np.ones((k, k), np.uint8))
    h, w = shape
    return 1.0 - cv2.resize(mask.astype(np.float32) / 255.0, (w, h), interpolation=cv2.INTER_AREA)


def blend_latent(cur, prev, p, m_prev: np.ndarray, m_cur: np.ndarray, track: FaceTrack | None, i: int, share: float,
                 factor: int):
    """``cur`` with ``share`` of ``prev`` warped along the mesh motion, outside the mouth and eyes."""
    import torch
    import torch.nn.functional as F

    c, h, w = cur.shape
    if track is not None:
        flow = motion_flow(p, track.disp[i - 1], track.disp[i], (h, w))
    else:
        flow = np.zeros((h, w, 2), np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    gx = (xs + flow[..., 0] + 0.5) / w * 2 - 1
    gy = (ys + flow[..., 1] + 0.5) / h * 2 - 1
    grid = torch.as_tensor(np.stack([gx, gy], -1)[None], dtype=cur.dtype, device=cur.device)
    warped = F.grid_sample(prev[None], grid, mode="bilinear", padding_mode="border", align_corners=False)[0]
    keep = keep_mask(m_prev, m_cur, (h * factor, w * factor), (h, w))
    wgt = torch.as_tensor(share * keep, dtype=cur.dtype, device=cur.device)[None]
    return (1 - wgt) * cur + wgt * warped


def _bar(progress: bool, total: int):
    from studio.progress import open_bar

    return open_bar(progress, total, "diffusion", "frame")
