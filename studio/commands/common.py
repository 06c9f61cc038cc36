"""Options every rendering command shares, and what they turn into."""
from __future__ import annotations

import argparse
import re

from studio.errors import StudioError

# A value that starts with '-' but is a number list ('-0.8,0.8,0'), not an option.
NEGATIVE_VALUE = re.compile(r"^-[\d.][\w.+\-]*(,\s*[-+]?[\w.+\-]+)*$")
VALUE_FLAGS = ("--vad", "--emotion", "-e", "--intensity", "-i", "--seed")


def join_negative_values(argv: list[str]) -> list[str]:
    """``--vad -0.8,0.8,0`` → ``--vad=-0.8,0.8,0``: argparse would read the value as an unknown option.
    A bare VAD point (``studio plan -0.8,0.8,0``) becomes ``--emotion=...``."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in VALUE_FLAGS and i + 1 < len(argv) and NEGATIVE_VALUE.match(argv[i + 1]):
            out.append(f"{a}={argv[i + 1]}")
            i += 2
            continue
        if NEGATIVE_VALUE.match(a) and "," in a:
            out.append(f"--emotion={a}")
        else:
            out.append(a)
        i += 1
    return out


def common_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("affect")
    g.add_argument("--emotion", "-e", default=None,
                   help="a label ('anger'), a mixture ('joy:0.6,surprise:0.4'), a trajectory ('neutral > joy > sadness') or quoted free text")
    g.add_argument("--vad", default=None, help="valence,arousal,dominance in [-1, 1], e.g. --vad -0.5,0.2,0.1")
    g.add_argument("--intensity", "-i", type=float, default=None, help="0 = neutral, 1 = full, up to 1.5 exaggerated")
    g.add_argument("--plan", default=None, metavar="FILE",
                   help="render this (hand-edited) plan JSON instead of the affect's own (`studio plan --json`)")
    p.add_argument("--seed", default=0, help="every random choice flows from this seed (0 .. 2^63-1)")
    p.add_argument("-o", "--out", default=None, help="output file")
    return p


def affect_of(args: argparse.Namespace):
    """--emotion / --vad / --intensity → an Affect or a Trajectory (neutral when nothing is given)."""
    from studio.affect.coerce import from_args

    return from_args(args.emotion, args.vad, args.intensity)


def seed_of(args: argparse.Namespace) -> int:
    from studio.requests import check_seed

    return check_seed(args.seed, "--seed")


def render(studio, request, args: argparse.Namespace, *, progress: bool = False):
    """Render through the spine, with --plan when given."""
    if getattr(args, "plan", None):
        return studio.render_plan(request, args.plan, progress=progress)
    return studio.render_request(request, progress=progress)


def check_writable(path) -> None:
    """Fail before rendering, not after: the output folder must exist and take new files."""
    import os
    from pathlib import Path

    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise StudioError(f"cannot write {p}: {parent} is a file, not a folder")
    if not parent.is_dir():
        raise StudioError(f"output folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StudioError(f"output folder {parent} is not writable; choose another place with -o")
    import tempfile

    try:  # access() says yes to root everywhere (and /proc lies): try the real thing
        fd, probe = tempfile.mkstemp(prefix=".studio-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise StudioError(f"cannot write into {parent}: {e.strerror or e}; choose another place with -o") from None
