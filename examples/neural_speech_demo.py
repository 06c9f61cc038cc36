"""The issue-12 demo: a tiny random SpeechT5 through the render spine, intensity 0 = neutral sample for sample.

    python -m pipelines.speech.tiny /tmp/tts                 # writes the model, its vocoder and fitted directions
    HF_HUB_OFFLINE=1 .venv/bin/python examples/neural_speech_demo.py /tmp/tts out/neural

Once the CLI is wired, the same is
    studio say "Hello there." --engine neural --weights /tmp/tts --emotion anger --intensity 0 -o a0.wav
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from studio.affect import Affect
from studio.requests import SpeechRequest
from studio.spine import render


def main(weights: str, out: str) -> int:
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    opts = {"weights": weights}
    results = {}
    for name, affect in (("neutral", Affect.neutral()), ("anger0", Affect.of("anger", 0.0)), ("anger1", Affect.of("anger", 1.0))):
        r = render(SpeechRequest(text="Hello there.", affect=affect, engine="neural", engine_options=opts))
        r.save(outdir / f"{name}.wav")
        results[name] = r
    same = bool(np.array_equal(results["anger0"].audio, results["neutral"].audio))
    differs = not np.array_equal(results["anger1"].audio, results["neutral"].audio)
    print(json.dumps({"intensity0_equals_neutral": same, "intensity1_differs": differs,
                      "samples": len(results["neutral"].audio), "sample_rate": results["neutral"].sample_rate,
                      "anger1_offset_norm": float(np.linalg.norm(results["anger1"].meta["embedding_offset"])),
                      "words": results["anger1"].words, "wavs": sorted(str(p) for p in outdir.glob("*.wav"))}))
    return 0 if same and differs else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/tts", sys.argv[2] if len(sys.argv) > 2 else "out/neural"))
