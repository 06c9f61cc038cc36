"""``studio face``: a talking-head MP4 (with --text) or a still expression PNG (without)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from studio.commands.common import affect_of, check_writable, render, seed_of
from studio.errors import StudioError


def _cmd_face(args: argparse.Namespace) -> int:
    from studio.api import Studio
    from studio.media import check_output
    from studio.requests import FaceRequest

    out = Path(args.out or ("face.mp4" if args.text else "face.png"))
    suffix = out.suffix.lower()
    if suffix not in (".mp4", ".png"):
        raise StudioError(f"output {out} must end in .mp4 (talking head, with --text) or .png (still, without --text)")
    if suffix == ".png" and args.text:
        raise StudioError("a .png output is a still expression; leave out --text, or write a .mp4 to hear it spoken")
    if suffix == ".mp4" and not args.text:
        raise StudioError("a video needs something to say: add --text \"...\", or write a .png for a still expression")
    check_output(out, {".mp4", ".png"})
    check_writable(out)
    engine_options = {k: v for k, v in {"weights": args.weights, "controlnet": args.controlnet, "device": args.device,
                                        "dtype": args.dtype, "attention": args.attention,
                                        "motion_adapter": args.motion_adapter}.items() if v is not None}
    options = {k: v for k, v in {"strength": args.strength, "control_scale": args.control_scale, "steps": args.steps,
                                 "guidance": args.guidance, "temporal": args.temporal, "blend": args.blend,
                                 "batch": args.batch, "prompt": args.prompt, "negative_prompt": args.negative_prompt,
                                 "window": args.window}.items() if v is not None}
    req = FaceRequest(portrait=args.portrait, text=args.text, affect=affect_of(args), seed=seed_of(args),
                      fps=args.fps, size=args.size, face_index=args.face_index, voice=args.voice, engine=args.engine,
                      engine_options=engine_options, options=options)
    res = render(Studio(), req, args, progress=bool(args.text))
    res.save(out, progress=bool(args.text))
    if suffix == ".png":
        info = {"out": str(out), "plan_aus": res.plan.aus}
        if getattr(res, "blendshapes_after", None):
            info["blendshapes_after"] = {k: round(v, 3) for k, v in res.blendshapes_after.items() if v > 0.1}
        print(json.dumps(info))
        return 0
    print(json.dumps({"out": str(out), "frames": len(res.frames), "fps": res.fps,
                      "duration_s": round(res.speech.duration_s, 3)}))
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("face", parents=[common],
                       help="a portrait speaking with an emotion (MP4), or showing it (PNG)",
                       description="Without --portrait the scikit-image astronaut is used. -o out.mp4 with --text "
                                   "renders a talking head; -o out.png without --text renders a still expression.")
    p.add_argument("--portrait", "-p", default=None, help="a photo with a face (PNG/JPEG)")
    p.add_argument("--text", "-t", default=None, help="what the face says (a video); leave out for a still")
    p.add_argument("--face-index", type=int, default=0, help="which face, counted from the left (default 0)")
    p.add_argument("--fps", type=float, default=25.0, help="video frame rate (default 25)")
    p.add_argument("--size", type=int, default=512, help="output side in pixels, square head-and-shoulders framing")
    p.add_argument("--voice", default=None, help="the talking head's voice (see `studio say --voice`)")
    p.add_argument("--engine", default="embedded", help="face engine (`studio engines` lists them; default embedded)")
    g = p.add_argument_group("diffusion engine")
    g.add_argument("--weights", default=None, help="a Stable Diffusion folder in diffusers layout (or a cached repo id)")
    g.add_argument("--controlnet", default=None, help="a MediaPipe-face ControlNet folder in diffusers layout")
    g.add_argument("--device", default=None, help="auto, cpu, cuda …")
    g.add_argument("--strength", type=float, default=None, help="img2img strength over the warp frame")
    g.add_argument("--control-scale", type=float, default=None, help="ControlNet conditioning scale")
    g.add_argument("--steps", type=int, default=None, help="denoising steps")
    g.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale")
    g.add_argument("--temporal", default=None, help="clip consistency: none, shared-noise (default), blend")
    g.add_argument("--blend", type=float, default=None, help="with --temporal blend: weight of the previous frame (0.5)")
    g.add_argument("--batch", type=int, default=None, help="frames per UNet batch (8 on CUDA, 4 on CPU)")
    g.add_argument("--prompt", default=None, help="base description of the face (the plan's descriptor terms are added)")
    g.add_argument("--negative-prompt", default=None, help="negative prompt")
    g.add_argument("--window", type=int, default=None, help="with --motion-adapter: frames per AnimateDiff window (16)")
    g.add_argument("--motion-adapter", default=None, help="a diffusers MotionAdapter folder (AnimateDiff) for clips")
    g.add_argument("--dtype", default=None, help="auto (fp16 on CUDA), fp16, bf16, fp32")
    g.add_argument("--attention", default=None, choices=["auto", "xformers", "sdpa"])
    p.set_defaults(func=_cmd_face)
