"""Cold emotional render against plain piper, this tree's renderer beside another version's, in one process.

    git show main:pipelines/speech/prosody.py > /tmp/prosody_ref.py
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/speech_side_by_side.py /tmp/prosody_ref.py [--repeats 9]

On a shared machine one run of benchmarks/speech.py compares a renderer against the load of that moment;
interleaving plain piper, the reference renderer and this one (order alternating per repeat) puts all three
under the same load. Prints medians and the fastest of the repeats (the closest to an uncontended run).
The reference file must take the same Analysis inputs as engine.py calls it with (pipelines/speech/prosody.py
of any commit since the issue 15 analysis does).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

import pipelines.speech.engine as engine_mod  # noqa: E402
import pipelines.speech.prosody as this  # noqa: E402
from benchmarks.speech import TEXTS  # noqa: E402
from studio import engines  # noqa: E402
from studio.affect import Affect  # noqa: E402
from studio.affect.tracks import plan_for  # noqa: E402


def load(path: str):
    spec = importlib.util.spec_from_file_location("prosody_ref", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["prosody_ref"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reference", help="a pipelines/speech/prosody.py from another commit")
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    ref = load(args.reference)
    e = engines.get("speech", "embedded")
    e.speak("Warm up.", plan_for("speech", Affect.neutral()))
    t = {k: np.zeros((args.repeats, len(TEXTS))) for k in ("plain", "ref", "this")}
    for r in range(args.repeats):
        for ti, text in enumerate(TEXTS):
            e.cache.clear()
            t0 = time.perf_counter()
            e.speak(text, plan_for("speech", Affect.neutral()), seed=ti)
            t["plain"][r, ti] = time.perf_counter() - t0
            order = (("ref", ref), ("this", this)) if r % 2 == 0 else (("this", this), ("ref", ref))
            for name, mod in order:
                engine_mod.prosody = mod
                e.cache.clear()
                t0 = time.perf_counter()
                e.speak(text, plan_for("speech", Affect.of("anger", 1.0)), seed=ti)
                t[name][r, ti] = time.perf_counter() - t0
            engine_mod.prosody = this
    print("| statistic | plain piper s | cold, reference s | cold / plain | cold, this tree s | cold / plain |")
    print("|---|---|---|---|---|---|")
    for label, f in (("median", np.median), ("fastest", np.min)):
        p, a, b = (f(t[k], axis=0).sum() for k in ("plain", "ref", "this"))
        print(f"| {label} of {args.repeats}, all texts | {p:.3f} | {a:.3f} | {a / p:.2f}× | {b:.3f} | {b / p:.2f}× |")


if __name__ == "__main__":
    main()
