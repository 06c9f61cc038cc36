"""Milliseconds per item for every recognizer, with tiny and with full-size random weights; prints Markdown.

    python benchmarks/recognizers.py [--repeats 5] [--full-repeats 2] [--no-full] [--device cpu]

The neural models are built by ``evals.tiny`` (tiny, and ``full=True``: the published architectures
with random weights: wav2vec2-base for speech-er, wav2vec2-large-robust-12 for speech-msp-dim,
EfficientNet-B0 for hsemotion, ViT-B/16 for face-vit and image-emotion, CLIP ViT-B/32 for clip-va),
saved in the published layouts and loaded through ``evals.registry.get(NAME, PATH)`` like a user's
download. Items are real renders: one embedded-engine utterance, one embedded still expression, one
embedded image. Random weights time the computation only: accuracy rows need the real weights.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BASELINES = ("acoustic-prosody", "fer2013", "mediapipe-blendshapes", "image-stats")


def _timed_ms(fn: Callable[[], object], repeats: int) -> str:
    """'median (min)' ms: the cores are shared with other jobs, and the minimum is the least disturbed call."""
    fn()  # warm-up: first calls allocate, build kernels and caches
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return f"{1000 * float(np.median(times)):.1f} ({1000 * min(times):.1f})"


def _count(n: int) -> str:
    return f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n / 1e3:.1f} k"


def _params(rec) -> str:
    model = getattr(rec, "model", None)
    if model is not None and hasattr(model, "parameters"):
        return _count(sum(p.numel() for p in model.parameters()))
    session = getattr(rec, "file", None)
    if session is not None:
        import onnx

        m = onnx.load(str(session))
        return _count(sum(int(np.prod(t.dims)) for t in m.graph.initializer))
    return "–"


def _items():
    from studio import Studio

    s = Studio()
    speech = s.speak("I can't believe you did that. We agreed on it last week.", "anger", seed=0).media()
    face = s.express(None, "joy", seed=0).media()
    image = s.image("a lake house at dawn", "joy", seed=0, engine="embedded")[0].media()
    return {"speech": speech, "face": face, "image": image}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="timed calls per tiny/baseline row (median)")
    ap.add_argument("--full-repeats", type=int, default=2, help="timed calls per full-size row (median)")
    ap.add_argument("--no-full", action="store_true", help="skip the full-size random models")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)

    from transformers.utils import logging as tlog

    tlog.disable_progress_bar()
    tlog.set_verbosity_error()
    from evals import registry
    from evals.face_crop import crop_rgb
    from evals.tiny import BUILDERS

    items = _items()
    medium_item = {"speech": "speech", "face": "face", "image": "image"}
    secs = len(items["speech"].audio) / items["speech"].sample_rate
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in ("tiny", "full") if not args.no_full else ("tiny",):
            repeats = args.repeats if size == "tiny" else args.full_repeats
            for name, build in BUILDERS.items():
                t = time.perf_counter()
                folder = build(Path(tmp) / size / name, size == "full")
                built = time.perf_counter() - t
                e = registry.entry(name)
                t = time.perf_counter()
                cls = registry._class(e)
                rec = cls(path=str(folder), device=args.device) if args.device != "cpu" else registry.get(name, str(folder))
                loaded = time.perf_counter() - t
                item = items[medium_item[e.medium]]
                ms = _timed_ms(lambda: rec.recognize(item), repeats)
                rows.append((name, size, _params(rec), f"{built:.1f}", f"{loaded:.2f}", ms, repeats))
                del rec
                registry._INSTANCES.clear()
        for name in BASELINES:
            try:
                rec = registry.get(name)
                item = items[medium_item[registry.entry(name).medium]]
                ms = _timed_ms(lambda: rec.recognize(item), args.repeats)
            except Exception as err:  # a baseline that is not converted or not pulled: say so, keep going
                rows.append((name, "registry", "–", "–", "–", f"n/a ({type(err).__name__})", 0))
                continue
            rows.append((name, "registry", _params(rec), "–", "–", ms, args.repeats))
        ms = _timed_ms(lambda: crop_rgb(items["face"].image), args.repeats)
        rows.append(("(face crop: MediaPipe mesh + warp)", "–", "–", "–", "–", ms, args.repeats))

    print(f"Items: speech {secs:.2f} s at {items['speech'].sample_rate} Hz; face still "
          f"{items['face'].image.shape[1]}x{items['face'].image.shape[0]}; image "
          f"{items['image'].image.shape[1]}x{items['image'].image.shape[0]}. Device: {args.device}, "
          f"{os.cpu_count()} CPU(s). Face rows include the MediaPipe crop (last row).\n")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"1-min load average at the end: {load:.2f} (other jobs share these cores).\n")
    print("| recognizer | weights | parameters | build s | load s | ms / item, median (min) | calls |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(x) for x in r) + " |")


if __name__ == "__main__":
    main()
