"""Long-text speech: peak memory and real-time factor of streamed rendering (studio.speech_stream).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/long_text.py                 # 2,000 and 20,000 characters
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/long_text.py --quick         # 2,000 characters only
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/long_text.py --chars 5000 --mode memory   # the old in-memory path

Each row runs in a fresh process (peak RSS, ``resource.getrusage``, only grows): engine load and one warm-up
sentence, then the text (plain English sentences built from a fixed vocabulary, seeded) rendered into a WAV
the way ``studio say`` does, recognizers excluded. Prints a Markdown table (copied into benchmarks/README.md).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
warnings.filterwarnings("ignore")

SUBJECTS = ["The old keeper", "My sister", "A quiet man from the village", "The children", "Our neighbour",
            "The captain", "Everyone in the room", "The young doctor", "A stranger", "The teacher"]
VERBS = ["walked slowly to", "looked out over", "spoke warmly about", "waited patiently beside", "thought about",
         "painted a picture of", "wrote a long letter about", "carried a basket to", "laughed at", "remembered"]
OBJECTS = ["the harbour", "the grey stone bridge", "the garden behind the house", "the small train station",
           "the river in the morning", "an empty market square", "the lighthouse", "the autumn fields",
           "the long road home"]
TAILS = ["before the rain began", "as the sun went down", "without saying a word", "while the bells were ringing",
         "and then sat down for a while", "because it felt like the right thing to do", "on a cold and windy day", ""]


def english(n: int, seed: int = 0) -> str:
    """About ``n`` characters of plain English sentences."""
    r = random.Random(seed)
    out, size = [], 0
    while size < n:
        tail = r.choice(TAILS)
        s = f"{r.choice(SUBJECTS)} {r.choice(VERBS)} {r.choice(OBJECTS)}" + (f" {tail}." if tail else ".")
        out.append(s)
        size += len(s) + 1
    return " ".join(out)[:n].rsplit(" ", 1)[0].rstrip(",.") + "."


def one(chars: int, mode: str, emotion: str, segment_chars: int) -> dict:
    """One measurement, in this process."""
    import resource

    from studio import spine
    from studio.affect.coerce import from_args
    from studio.requests import SpeechRequest
    from studio.speech_stream import render_to_file

    def rss_mb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    affect = from_args(emotion, None, None)
    spine.render(SpeechRequest(text="Hello there.", affect=affect))
    warm = rss_mb()
    text = english(chars)
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "long.wav"
        t0 = time.perf_counter()
        req = SpeechRequest(text=text, affect=affect)
        if mode == "stream":
            res = render_to_file(req, out, segment_chars=segment_chars)
            segments = len(getattr(res, "segments", None) or [1])
        else:
            res = spine.render(req)
            res.save(out)
            segments = 1
        wall = time.perf_counter() - t0
    return {"chars": len(text), "mode": mode, "segments": segments, "audio_s": res.duration_s, "wall_s": wall,
            "rtf": wall / res.duration_s, "warm_rss_mb": warm, "peak_rss_mb": rss_mb()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chars", type=int, nargs="*", default=None, help="text lengths (default 2000 20000)")
    ap.add_argument("--quick", action="store_true", help="2,000 characters only")
    ap.add_argument("--mode", choices=["stream", "memory"], default="stream",
                    help="stream: studio.speech_stream (what `studio say` does); memory: one in-memory render")
    ap.add_argument("--emotion", default="joy", help="the affect (default joy)")
    ap.add_argument("--segment-chars", type=int, default=None, help="segment size (default studio.speech_stream's)")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # the child process
    a = ap.parse_args()
    from studio.speech_stream import SEGMENT_CHARS

    seg = a.segment_chars or SEGMENT_CHARS
    if a.one:
        print(json.dumps(one(a.chars[0], a.mode, a.emotion, seg)))
        return
    sizes = a.chars or ([2000] if a.quick else [2000, 20000])
    print("| characters | mode | segments | audio s | wall s | RTF | RSS after warm-up MB | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        cmd = [sys.executable, __file__, "--one", "--chars", str(n), "--mode", a.mode, "--emotion", a.emotion,
               "--segment-chars", str(seg)]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        print(f"| {r['chars']:,} | {r['mode']} | {r['segments']} | {r['audio_s']:.1f} | {r['wall_s']:.1f} | "
              f"{r['rtf']:.3f} | {r['warm_rss_mb']:.0f} | {r['peak_rss_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
