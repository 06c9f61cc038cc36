"""``studio face``: a talking-head MP4 (with --text) or a still expression PNG (without)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from studio.errors import StudioError


def _cmd_face(args: argparse.Namespace) -> int:
    from studio.cli import affect_from_args

    affect = affect_from_args(args)
    out = Path(args.out or ("face.mp4" if args.text else "face.png"))
    suffix = out.suffix.lower()
    if suffix not in (".mp4", ".png"):
        raise StudioError(f"output {out} must end in .mp4 (talking head, with --text) or .png (still, without --text)")
    if suffix == ".png" and args.text:
        raise StudioError("a .png output is a still expression; leave out --text, or write a .mp4 to hear it spoken")
    if suffix == ".mp4" and not args.text:
        raise StudioError("a video needs something to say: add --text \"...\", or write a .png for a still expression")
    from studio.media import check_output

    check_output(out, {".mp4", ".png"})
    if suffix == ".png":
        from pipelines.face import express

        res = express(args.portrait, affect, seed=args.seed, face_index=args.face_index, size=args.size)
        res.save(out)
        print(json.dumps({"out": str(out), "plan_aus": res.plan.aus,
                          "blendshapes_after": {k: round(v, 3) for k, v in res.blendshapes_after.items() if v > 0.1}}))
        return 0
    from pipelines.face import talk

    res = talk(args.portrait, args.text, affect, seed=args.seed, fps=args.fps, size=args.size,
               face_index=args.face_index, progress=True)
    res.save(out, progress=True)
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
    p.set_defaults(func=_cmd_face)
