"""``studio render SPEC -o DIR`` and ``studio eval DIR``."""
from __future__ import annotations

import argparse
import sys


def _cmd_render(args: argparse.Namespace) -> int:
    from studio.datasets import load_spec, render

    spec = load_spec(args.spec)
    total = len(spec)  # counted from the grids, nothing is expanded
    n = total if args.limit is None else min(args.limit, total)
    counts = ", ".join(f"{k} {v:,}" for k, v in spec.counts().items())
    print(f"{spec.name}: {total:,} items ({counts}){f'; rendering the first {n:,}' if n < total else ''}", file=sys.stderr)
    s = render(spec, args.out, workers=args.workers, resume=args.resume, limit=args.limit, eval=args.eval,
               progress=True, ray=args.ray, yes=args.yes, recognizers=args.recognizer)
    retried = f", {s.retried} retried after a lost worker" if s.retried else ""
    where = f" ({s.cluster})" if s.rendered else ""
    print(f"{s.out_dir}: {s.rendered} rendered, {s.skipped} already done{retried}{where}; manifest {s.manifest}, card {s.card}")
    if s.report:
        _print_summary(getattr(s, "eval_summary", None))
        print(f"report: {s.report}")
    return 0


def _print_summary(summary) -> None:
    if summary is None or not len(summary):
        return
    cols = ["folder", "recognizer", "n", "accuracy", "macro_f1", "v_mae", "a_mae", "v_ccc", "a_ccc", "rho", "plan_r"]
    print(summary[[c for c in cols if c in summary.columns]].to_string(index=False, float_format=lambda x: f"{x:.3f}", na_rep="-"))


def _cmd_eval(args: argparse.Namespace) -> int:
    from studio.datasets import evaluate

    s = evaluate(args.dir, progress=True, recognizers=args.recognizer)
    _print_summary(s.summary)
    print(f"{s.items} items, {s.recognitions} recognitions → {s.eval_path}; report {s.report}")
    if s.errors:
        print(f"{len(s.errors)} item(s) could not be judged by every recognizer (listed in the report)", file=sys.stderr)
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    # `common` gives per-item affect options; a dataset takes its affects from the spec, so it is not a parent here
    p = sub.add_parser("render", help="render a dataset from a TOML spec (grids and items over speech, face and image)")
    p.add_argument("spec", help="spec file (.toml); see examples/demo.toml")
    p.add_argument("-o", "--out", required=True, help="output folder (created if missing)")
    p.add_argument("--workers", "-j", type=int, default=None,
                   help="worker processes (default 1), or with --ray Ray actors (default: one per CPU of the cluster); each loads its models once")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run: finished items are kept")
    p.add_argument("--eval", action="store_true", help="back-classify every item afterwards (like `studio eval DIR`)")
    p.add_argument("--limit", type=int, default=None, metavar="K", help="render only the first K items of the spec")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="local|ADDRESS",
                   help="render on Ray: 'local' (the default) starts Ray on this machine, an address (HOST:PORT, auto, "
                        "ray://HOST:PORT) joins a cluster; needs the ray extra (pip install 'affect-studio[ray]')")
    p.add_argument("--yes", "-y", action="store_true", help="render a spec of more than 100,000 items without --limit")
    p.add_argument("--recognizer", action="append", default=None, metavar="NAME[=PATH]",
                   help="with --eval: judge with this recognizer (repeatable; PATH overrides its weights); default all available")
    p.set_defaults(func=_cmd_render)

    e = sub.add_parser("eval", help="back-classify a rendered dataset → eval.parquet, report.md and plots")
    e.add_argument("dir", help="folder written by `studio render`")
    e.add_argument("--recognizer", action="append", default=None, metavar="NAME[=PATH]",
                   help="judge with this recognizer (repeatable; PATH = a local folder or file in its published layout); "
                        "default: every available recognizer (`studio recognizers`)")
    e.set_defaults(func=_cmd_eval)
