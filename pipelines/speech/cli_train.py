"""`studio train speech-directions`: fit emotion directions for a neural voice (wired by studio/cli.py)."""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from studio.errors import StudioError


def _cmd_train_directions(args: argparse.Namespace) -> int:
    from pipelines.speech.directions import fit_directions

    texts = None
    if args.texts:
        p = Path(args.texts)
        if not p.is_file():
            raise StudioError(f"texts file {p} does not exist; give a UTF-8 file with one sentence per line")
        texts = [line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not texts:
            raise StudioError(f"texts file {p} has no sentences; give one sentence per line")
    labels = [x.strip() for x in args.labels.split(",") if x.strip()] if args.labels else None
    options = {k: v for k, v in {"maxlenratio": args.maxlenratio}.items() if v is not None}
    reports = fit_directions(args.weights, args.out, vocoder=args.vocoder, speaker=args.speaker, reference=args.reference,
                             texts=texts, labels=labels, basis=args.basis, iters=args.iters, population=args.population,
                             step=args.step, seed=args.seed, device=args.device, dtype=args.dtype, options=options or None)
    for lab, r in reports.items():
        dev = ", ".join(f"{k} {v:+.2f}" for k, v in r.deviation.items() if math.isfinite(v))
        print(f"{lab}: objective {r.objective_start:.3f} -> {r.objective_end:.3f} (|d| {r.norm:.3f}; measured {dev})")
    print(json.dumps({"directions": str(args.out)}))
    return 0


def add_train_command(train_subparsers) -> argparse.ArgumentParser:
    """Add `speech-directions` to the shared `studio train WHAT` sub-parsers."""
    p = train_subparsers.add_parser(
        "speech-directions", help="fit one speaker-embedding direction per core emotion for a neural (SpeechT5) voice",
        description="Renders texts with the voice, measures F0 level/range, rate, loudness and tilt, and fits each "
                    "emotion's direction so the speech moves the way its ProsodyPlan asks (difference-of-means start "
                    "from --reference x-vectors when given).")
    p.add_argument("--weights", required=True, help="SpeechT5 TTS folder or a repo id in the HF cache (microsoft/speecht5_tts)")
    p.add_argument("--vocoder", default=None, help="HiFi-GAN folder or cached repo id (default: WEIGHTS/vocoder, else microsoft/speecht5_hifigan)")
    p.add_argument("--out", required=True, help="directions file to write (.safetensors); WEIGHTS/emotion_directions.safetensors is found automatically")
    p.add_argument("--speaker", default=None, help="the voice: a 512-d x-vector (.safetensors or .npy)")
    p.add_argument("--reference", default=None,
                   help="x-vectors of emotional and neutral clips: safetensors with 'neutral': (N, 512), 'anger': (M, 512) …")
    p.add_argument("--texts", default=None, help="file of sentences to render while fitting (one per line)")
    p.add_argument("--labels", default=None, help="comma-separated core emotions (default: all seven)")
    p.add_argument("--basis", type=int, default=16, help="random search subspace size")
    p.add_argument("--iters", type=int, default=8, help="evolution-strategy iterations per emotion")
    p.add_argument("--population", type=int, default=4, help="candidates per iteration")
    p.add_argument("--step", type=float, default=0.3, help="probe size relative to the speaker embedding's norm")
    p.add_argument("--maxlenratio", type=float, default=None, help="cap on decoder frames per input token (default 20)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="auto, cpu, cuda …")
    p.add_argument("--dtype", default=None, help="auto (fp16 on CUDA), fp16, bf16, fp32")
    p.set_defaults(func=_cmd_train_directions)
    return p
