"""Diffusion face engine benchmark: seconds per frame, flicker with and without the temporal methods, GPU sizes.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/face_diffusion.py            # CPU: tiny random SD + ControlNet
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/face_diffusion.py --gpu      # CUDA: SD-1.5-sized random UNet +
                                                                               # ControlNet at 512², fp16, SDPA vs xformers

Tiny weights are random (pipelines/face/tiny.py): their seconds per frame measure the engine's overhead and
scaling on this machine, and their flicker compares the temporal methods on the same noise-like output, not the
look of real SD 1.5 frames (those rows need real weights). Flicker is the mean absolute difference (0..255)
between consecutive frames outside the mouth (outer-lip polygon of both frames, dilated by a quarter of the
inter-ocular distance), so speech is not counted as flicker. Prints Markdown tables.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from studio.affect import Affect  # noqa: E402

TEXT = "Hello! We won the final, and nobody expected it."


def table(header: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(f"{x:.3f}" if isinstance(x, float) else str(x) for x in r) + " |")
    return "\n".join(out)


def mouth_mask(m0: np.ndarray, m1: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import cv2

    from pipelines.face import topology as T

    mask = np.zeros(shape, np.uint8)
    ring = list(T.LIPS_OUTER_UPPER) + list(T.LIPS_OUTER_LOWER)[::-1]
    for m in (m0, m1):
        cv2.fillPoly(mask, [np.round(m[ring]).astype(np.int32)], 255)
    iod = float(np.linalg.norm(m1[list(T.LEFT_EYE)].mean(0) - m1[list(T.RIGHT_EYE)].mean(0)))
    k = max(3, int(0.25 * iod) | 1)
    return cv2.dilate(mask, np.ones((k, k), np.uint8)) > 0


def flicker(frames: np.ndarray, meshes: np.ndarray) -> float:
    """Mean |frame_t − frame_{t−1}| outside the mouth, over the clip."""
    vals = []
    for t in range(1, len(frames)):
        keep = ~mouth_mask(meshes[t - 1], meshes[t], frames.shape[1:3])
        d = np.abs(frames[t].astype(np.float32) - frames[t - 1].astype(np.float32)).mean(-1)
        vals.append(float(d[keep].mean()))
    return float(np.mean(vals)) if vals else 0.0


def request(text: str | None, size: int, fps: float, options: dict, seed: int = 0):
    from studio.requests import FaceRequest

    return FaceRequest(text=text, affect=Affect.of("joy", 0.9), seed=seed, size=size, fps=fps, engine="diffusion",
                       options=options)


def cpu(args) -> None:
    import torch

    from pipelines.face import tiny
    from pipelines.face.diffusion import DiffusionFaceEngine
    from pipelines.face.track import talk_track
    from studio.affect.tracks import plan_for

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    with tempfile.TemporaryDirectory() as td:
        paths = tiny.build(td, motion_adapter=False)
        eng = DiffusionFaceEngine(weights=paths["sd"], controlnet=paths["controlnet"])
        print(f"CPU: {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads; tiny random "
              f"SD (UNet 16/32 ch, 8× VAE 4/8/8/8 ch) + ControlNet, {eng.attention}, fp32\n")
        rows = []
        for size in args.sizes:
            for batch in (1, 4):
                opts = {"steps": args.steps, "strength": 0.5, "batch": batch, "temporal": "shared-noise"}
                req = request(TEXT, size, args.fps, opts)
                eng.render(req, plan_for("face", req.affect))  # warm: portrait, speech cache, kernels
                best = None
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    r = eng.render(req, plan_for("face", req.affect))
                    wall = time.perf_counter() - t0
                    best = wall if best is None else min(best, wall)
                n = len(r.frames)
                rows.append([f"{size}²", batch, args.steps, n, best / n, n / best])
        print(f"### Seconds per frame (min of {args.repeats}, warm; {args.steps} steps × strength 0.5, "
              "whole render incl. warp frames, condition and VAE)\n")
        print(table(["size", "batch", "steps", "frames", "s / frame", "fps"], rows))

        size = args.sizes[0]
        req = request(TEXT, size, args.fps, {})
        plan = plan_for("face", req.affect)
        from pipelines.face.diffusion import speak  # the engine's own speech

        p = eng.portrait(None, size, 0)
        tr = talk_track(p, speak(req), plan, args.fps, req.seed)
        meshes = tr.meshes(p)
        warp = np.stack([p.render(tr.disp[i], aus=tr.aus[i]) for i in range(len(tr))])
        rows = [["warp engine frames (the init images)", "-", flicker(warp, meshes)]]
        for name, opts in (("none", {"temporal": "none"}), ("shared-noise", {"temporal": "shared-noise"}),
                           ("blend 0.5", {"temporal": "blend", "blend": 0.5}),
                           ("blend 0.8", {"temporal": "blend", "blend": 0.8})):
            for strength in (0.5, 0.8):
                o = {"steps": args.steps, "strength": strength, **opts}
                r = eng.render(request(TEXT, size, args.fps, o), plan)
                rows.append([name, strength, flicker(r.frames, meshes)])
        print(f"\n### Flicker outside the mouth ({size}², {len(tr)} frames at {args.fps:g} fps, tiny random weights)\n")
        print(table(["temporal", "strength", "mean |Δ| per frame (0..255)"], rows))


def gpu(args) -> None:
    """SD-1.5-sized random UNet + ControlNet (+ SD VAE and a CLIP-L-sized text encoder), 512², fp16."""
    import torch
    from diffusers import AutoencoderKL, ControlNetModel, DDIMScheduler, StableDiffusionControlNetImg2ImgPipeline
    from diffusers import UNet2DConditionModel
    from PIL import Image
    from transformers import CLIPTextConfig, CLIPTextModel

    from pipelines.image import loading
    from pipelines.image.tiny import load_tokenizer, write_clip_tokenizer

    dev = args.device
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--gpu needs CUDA (or --device cpu for a slow check of this script at a small --size)")
    dt = torch.float16 if dev.startswith("cuda") else torch.float32
    side = args.size
    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8, layers_per_block=2,
                                block_out_channels=(320, 640, 1280, 1280))  # SD 1.5's unet/config.json
    cn = ControlNetModel.from_unet(unet)
    vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
                        down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                        sample_size=512)
    with tempfile.TemporaryDirectory() as td:
        tok = load_tokenizer(write_clip_tokenizer(td))
    te = CLIPTextModel(CLIPTextConfig(vocab_size=len(tok), hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                                      num_hidden_layers=12, max_position_embeddings=77, bos_token_id=tok.bos_token_id,
                                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id))
    sched = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                          set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionControlNetImg2ImgPipeline(vae=vae, text_encoder=te, tokenizer=tok, unet=unet, controlnet=cn,
                                                    scheduler=sched, safety_checker=None, feature_extractor=None,
                                                    requires_safety_checker=False).to(dev, dt)
    pipe.set_progress_bar_config(disable=True)
    rng = np.random.default_rng(0)
    rows = []
    for attn in ("sdpa", "xformers"):
        try:
            if attn == "xformers":
                import xformers.ops  # noqa: F401
            loading.apply_attention(pipe, attn)
        except Exception as e:  # xformers absent or unusable on this build: say so in the table
            rows.append([attn, "-", "-", f"unavailable ({type(e).__name__})", "-"])
            continue
        for batch in args.batches:
            imgs = [Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)) for _ in range(batch)]
            kw = dict(prompt=["a portrait photo of a face"] * batch, image=imgs, control_image=imgs, height=side, width=side,
                      strength=0.5, num_inference_steps=args.steps, guidance_scale=7.5, output_type="np",
                      generator=[torch.Generator("cpu").manual_seed(0) for _ in range(batch)])
            sync = torch.cuda.synchronize if dev.startswith("cuda") else (lambda: None)
            with torch.no_grad():
                pipe(**kw)
                sync()
                t0 = time.perf_counter()
                for _ in range(args.repeats):
                    pipe(**kw)
                sync()
            per = (time.perf_counter() - t0) / args.repeats / batch
            rows.append([attn, batch, args.steps, per, 1 / per])
    name = torch.cuda.get_device_name() if dev.startswith("cuda") else "CPU"
    print(f"{name}: SD-1.5-sized random UNet + ControlNet, {side}², {str(dt).replace('torch.', '')}, "
          f"{args.steps} steps × strength 0.5, CFG on\n")
    print(table(["attention", "batch", "steps", "s / frame", "frames / s"], rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpu", action="store_true", help="the SD-1.5-sized GPU table instead of the CPU tables")
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    ap.add_argument("--steps", type=int, default=4, help="scheduler steps (use 20 with --gpu for the real-use setting)")
    ap.add_argument("--fps", type=float, default=12)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", default="cuda", help="--gpu only: cuda (default) or cpu for a slow check of the script")
    ap.add_argument("--size", type=int, default=512, help="--gpu only: frame side (512 = SD 1.5's native size)")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8], help="--gpu only: frames per UNet batch")
    args = ap.parse_args()
    if args.gpu:
        gpu(args)
    else:
        cpu(args)


if __name__ == "__main__":
    main()
