"""``studio``: the command line. Pipelines add their own sub-commands through ``COMMAND_MODULES``."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

from studio.errors import StudioError

# module paths that define add_commands(subparsers, common); a missing optional module is skipped
COMMAND_MODULES = [
    "pipelines.speech.cli",
    "pipelines.face.cli",
    "pipelines.image.cli",
    "studio.datasets.cli",
    "ui.cli",
]


def common_parser() -> argparse.ArgumentParser:
    """Options every rendering command takes."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("affect")
    g.add_argument("--emotion", "-e", default=None,
                   help="a label ('anger'), a mixture ('joy:0.6,surprise:0.4'), a trajectory ('neutral > joy > sadness') or quoted free text")
    g.add_argument("--vad", default=None, help="valence,arousal,dominance in [-1, 1], e.g. 0.5,-0.2,0.1")
    g.add_argument("--intensity", "-i", type=float, default=None, help="0 = neutral, 1 = full, up to 1.5 exaggerated")
    p.add_argument("--seed", type=int, default=0, help="every random choice flows from this seed")
    p.add_argument("-o", "--out", default=None, help="output file")
    return p


def affect_from_args(args: argparse.Namespace):
    """--emotion / --vad / --intensity → an Affect or a Trajectory (neutral when nothing is given)."""
    from studio.affect import Affect, Trajectory

    if args.vad and args.emotion:
        raise StudioError("give either --emotion or --vad, not both")
    if args.vad:
        return Affect.from_spec(args.vad, 1.0 if args.intensity is None else args.intensity)
    if args.emotion is None:
        return Affect.neutral()
    if ">" in args.emotion:
        return Trajectory.parse(args.emotion, args.intensity)
    return Affect.from_spec(args.emotion, args.intensity)


def _cmd_plan(args: argparse.Namespace) -> int:
    from studio.affect import plan

    emotion = args.emotion_pos if args.emotion_pos is not None else args.emotion
    if args.emotion_pos is not None and args.vad:
        raise StudioError("give either an EMOTION or --vad, not both")
    args.emotion = emotion
    affect = affect_from_args(args)
    if not hasattr(affect, "vad"):
        raise StudioError("`studio plan` takes one affect, not a trajectory")
    plans = plan(affect)
    if args.json:
        print(json.dumps(plans.to_dict(), indent=2))
        return 0
    from studio.affect.report import describe

    print(describe(plans))
    return 0


def _cmd_weights(args: argparse.Namespace) -> int:
    from studio import weights

    if args.action == "list":
        print(f"store: {weights.store_dir()}")
        for m in weights.models().values():
            print(f"{m.name:24s} {m.medium:7s} {weights.status(m.name):8s} {'embedded ' if m.embedded else ''}{m.license}")
            print(f"{'':24s} {m.role}")
        return 0
    if args.action == "pull":
        names = [m.name for m in weights.models().values() if m.embedded] if args.embedded else args.names
        if not names:
            raise StudioError("name the models to pull, or use --embedded; `studio weights list` shows them")
        for n in names:
            weights.pull(n)
        return 0
    if args.action == "verify":
        bad = 0
        names = args.names or [m.name for m in weights.models().values() if m.embedded]
        for n in names:
            st = weights.status(n)
            print(f"{n:24s} {st}")
            bad += st != "ok"
        if bad:
            raise StudioError(f"{bad} model(s) missing or corrupt: run `studio weights pull --embedded` (corrupt files are replaced)")
        return 0
    raise StudioError(f"unknown weights action {args.action}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="studio", description="Affect Studio: one emotion, three media, checked by independent recognizers.")
    parser.add_argument("--verbose", "-v", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = common_parser()

    p = sub.add_parser("plan", parents=[common], help="print an affect and its speech, face and image plans")
    p.add_argument("emotion_pos", nargs="?", metavar="EMOTION", help="label, mixture, VAD triple or free text")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_plan)

    w = sub.add_parser("weights", help="list, pull and verify model files from weights/registry.toml")
    w.add_argument("action", choices=["list", "pull", "verify"])
    w.add_argument("names", nargs="*")
    w.add_argument("--embedded", action="store_true", help="all models the embedded engines need")
    w.set_defaults(func=_cmd_weights)

    for mod in COMMAND_MODULES:
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name and (mod.startswith(e.name) or e.name.startswith(mod)):
                continue
            raise
        m.add_commands(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except StudioError as e:
        if args.verbose:
            raise
        print(f"studio: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("studio: interrupted; finished files are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
