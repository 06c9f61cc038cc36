"""`studio image PROMPT`: affective images (embedded procedural, or Stable Diffusion from local weights)."""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from studio.commands.common import affect_of, check_writable, seed_of
from studio.errors import StudioError


def numbered(out: Path, n: int) -> list[Path]:
    """out.png → [out.png] for one image, [out-0.png, out-1.png, …] for several."""
    if n == 1:
        return [out]
    return [out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(n)]


def _cmd_image(args: argparse.Namespace) -> int:
    from studio.affect.coerce import coerce_single
    from studio.api import Studio
    from studio.media import check_output

    affect = coerce_single(affect_of(args), None, "an image")
    out = Path(args.out or "image.png")
    paths = numbered(out, args.n)
    for p in paths:
        check_output(p, {".png"})
    check_writable(out)
    s = Studio()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        if args.plan:
            if args.n != 1:
                raise StudioError("--plan renders one image; leave out -n")
            from studio.requests import ImageRequest

            req = ImageRequest(prompt=args.prompt, affect=affect, seed=seed_of(args), width=args.width,
                               height=args.height, init=args.init, engine=args.engine,
                               engine_options={"weights": args.weights})
            results = [s.render_plan(req, args.plan)]
        else:
            results = s.image(args.prompt, affect, seed=seed_of(args), n=args.n, width=args.width, height=args.height,
                              engine=args.engine, weights=args.weights, init=args.init, steps=args.steps,
                              guidance=args.guidance, negative_prompt=args.negative, emotion_scale=args.emotion_scale,
                              descriptors=args.descriptors or None, strength=args.strength,
                              grade_amount=args.grade_amount, device=args.device, dtype=args.dtype,
                              attention=args.attention, attention_slicing=args.attention_slicing or None,
                              vae_slicing=args.vae_slicing or None, mapper=args.mapper,
                              progress=not (args.n == 1 and args.engine != "diffusion"))
    for w in caught:  # the pipeline's own notices (prompt truncated, xformers unavailable), one line each
        if issubclass(w.category, UserWarning) and not issubclass(w.category, DeprecationWarning):
            print(f"studio: warning: {w.message}", file=sys.stderr)
    for r, p in zip(results, paths):
        r.save(p)
        print(p)
    return 0


def _cmd_train_mapper(args: argparse.Namespace) -> int:
    import os

    from pipelines.image.train import train_mapper

    weights = args.weights or os.environ.get("STUDIO_IMAGE_WEIGHTS")
    if not weights:
        raise StudioError("training needs --weights: the diffusers Stable Diffusion folder (or cached repo id) to train against")
    res = train_mapper(args.data_dir, args.out, weights=weights, epochs=args.epochs, batch_size=args.batch_size,
                       lr=args.lr, resolution=args.resolution, seed=args.seed, resume=args.resume, device=args.device,
                       progress=True)
    for i, loss in enumerate(res["history"], 1):
        print(f"epoch {i}: denoising loss {loss:.5f}")
    print(res["checkpoint"])
    return 0


def train_subparsers(sub):
    """The shared `studio train WHAT` group: created once, reused by every trainer."""
    if "train" in sub.choices:
        for action in sub.choices["train"]._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action
        raise StudioError("a `train` command exists without sub-commands")
    t = sub.add_parser("train", help="train learnable parts of the pipelines")
    return t.add_subparsers(dest="train_what", metavar="WHAT", required=True)


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("image", parents=[common], help="generate affective images (embedded procedural or Stable Diffusion)",
                       description="Render PROMPT under the affect. -n N with -o out.png writes out-0.png, out-1.png, …")
    p.add_argument("prompt", metavar="PROMPT", help="what to depict, e.g. 'a lake house at dawn'")
    p.add_argument("--engine", default="auto", choices=["auto", "embedded", "diffusion"],
                   help="auto: diffusion when --weights or $STUDIO_IMAGE_WEIGHTS is set, else embedded")
    p.add_argument("--weights", default=None, help="diffusers Stable Diffusion folder or a repo id already in the HF cache")
    p.add_argument("--init", default=None, metavar="IMG", help="grade (embedded) or re-render (diffusion img2img) this image")
    p.add_argument("-n", type=int, default=1, help="images per affect, seeds seed, seed+1, …")
    p.add_argument("--width", type=int, default=None, help="default 1024 (embedded) or the model's native size")
    p.add_argument("--height", type=int, default=None)
    p.add_argument("--steps", type=int, default=None, help="diffusion steps (default 30)")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale (default: the pipeline's, 7.5 SD / 5 SDXL)")
    p.add_argument("--negative", default=None, help="negative prompt")
    p.add_argument("--emotion-scale", type=float, default=None, help="gain on the embedding residual (default 1)")
    p.add_argument("--descriptors", action="store_true", help="append the plan's descriptor terms and lighting to the prompt")
    p.add_argument("--mapper", default=None, help="trained mapping network (.safetensors) from `studio train image-mapper`")
    p.add_argument("--strength", type=float, default=None, help="img2img strength with --init (diffusion, default 0.6)")
    p.add_argument("--grade-amount", type=float, default=None, help="how far grading moves toward the plan (embedded, default 1)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1 …")
    p.add_argument("--dtype", default=None, help="auto (fp16 on CUDA), fp16, bf16, fp32")
    p.add_argument("--attention", default=None, choices=["auto", "xformers", "sdpa"])
    p.add_argument("--attention-slicing", action="store_true", help="lower memory, slower")
    p.add_argument("--vae-slicing", action="store_true", help="decode a batch one image at a time")
    p.set_defaults(func=_cmd_image)

    tsub = train_subparsers(sub)
    m = tsub.add_parser("image-mapper", help="fit the emotion mapping network on (image, prompt, valence, arousal) records")
    m.add_argument("data_dir", metavar="DATA_DIR", help="folder with metadata.jsonl/csv (file_name, prompt, valence, arousal) + images")
    m.add_argument("--out", default="image-mapper.safetensors", help="checkpoint written after every epoch")
    m.add_argument("--epochs", type=int, default=1)
    m.add_argument("--weights", default=None, help="the Stable Diffusion pipeline to train against")
    m.add_argument("--resume", default=None, help="continue from this checkpoint (weights, optimizer, epoch)")
    m.add_argument("--batch-size", type=int, default=4)
    m.add_argument("--lr", type=float, default=1e-4)
    m.add_argument("--resolution", type=int, default=None, help="training image side (default: the model's native size)")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--device", default=None)
    m.set_defaults(func=_cmd_train_mapper)
