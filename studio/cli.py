"""``studio``: the command line. Pipelines add their own sub-commands through ``COMMAND_MODULES``."""
from __future__ import annotations

import argparse
import importlib
import json
import sys

from studio.errors import StudioError

# module paths that define add_commands(subparsers, common); a missing optional module is skipped
COMMAND_MODULES = [
    "studio.commands.say",
    "studio.commands.face",
    "studio.commands.image",
    "studio.datasets.cli",
    "ui.cli",
]


def _cmd_plan(args: argparse.Namespace) -> int:
    from studio.affect import plan
    from studio.affect.coerce import coerce_single, from_args

    if args.emotion_pos is not None and (args.emotion is not None or args.vad):
        raise StudioError("give the EMOTION once: as the argument, or with --emotion / --vad")
    emotion = args.emotion_pos if args.emotion_pos is not None else args.emotion
    affect = coerce_single(from_args(emotion, args.vad, args.intensity), None, "`studio plan`")
    plans = plan(affect)
    if args.json:
        print(json.dumps(plans.to_dict(), indent=2))
        return 0
    from studio.affect.report import describe

    print(describe(plans))
    return 0


def _cmd_engines(args: argparse.Namespace) -> int:
    from studio import engines

    for e in engines.entries():
        print(f"{e.medium:7s} {e.name:10s} {e.needs}" + (f"  [extra: {e.extra}]" if e.extra else ""))
    return 0


def _cmd_recognizers(args: argparse.Namespace) -> int:
    from evals import registry

    print(f"{'name':24s} {'medium':7s} {'kind':12s} {'weights':11s} outputs")
    for e in registry.entries():
        st = registry.status(e.name)
        lic = f"  licence: {e.license}" if e.license else ""
        print(f"{e.name:24s} {e.medium:7s} {e.kind:12s} {st:11s} {e.outputs}{lic}")
    return 0


def _cmd_weights(args: argparse.Namespace) -> int:
    from studio import weights

    if args.action == "list":
        print(f"store: {weights.store_dir()}  (hashes recorded at first pull: {weights.lock_path()})")
        for m in weights.models().values():
            flags = ("embedded " if m.embedded else "") + ("NON-COMMERCIAL " if m.noncommercial else "")
            print(f"{m.name:28s} {m.medium:7s} {weights.status(m.name):8s} {weights.pin_state(m.name):10s} {flags}{m.license}")
            print(f"{'':28s} {m.role}")
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


def version() -> str:
    from importlib.metadata import PackageNotFoundError, version as _v

    try:
        return _v("affect-studio")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    from studio.commands.common import common_parser

    parser = argparse.ArgumentParser(prog="studio", description="Affect Studio: one emotion, three media, checked by independent recognizers.")
    parser.add_argument("--verbose", "-v", action="store_true", help="show tracebacks and third-party library logs")
    parser.add_argument("--version", action="version", version=f"affect-studio {version()}")
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

    sub.add_parser("engines", help="every engine of every medium and what it needs").set_defaults(func=_cmd_engines)
    sub.add_parser("recognizers", help="every recognizer: medium, kind (perception / realisation), weights, outputs"
                   ).set_defaults(func=_cmd_recognizers)

    for mod in COMMAND_MODULES:
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name and (mod.startswith(e.name) or e.name.startswith(mod)):
                continue
            raise
        m.add_commands(sub, common)
    return parser


def _one_line_warnings() -> None:
    """The pipelines' own notices (characters dropped, a prompt truncated) as one line, without a source path."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"studio: warning: {message}", file=sys.stderr)

    warnings.showwarning = show


def main(argv: list[str] | None = None) -> int:
    from studio.commands.common import join_negative_values

    argv = join_negative_values(list(sys.argv[1:] if argv is None else argv))
    if not ({"-v", "--verbose"} & set(argv)):
        from studio import quiet

        quiet.install()
    _one_line_warnings()
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
