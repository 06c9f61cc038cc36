"""Neural speech engine benchmark: real-time factor of SpeechT5 (tiny and full-size random weights) beside the
embedded engine on the same texts.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/speech_neural.py [--texts 3] [--repeats 2] [--batch 8] [--threads N]

Random weights never predict the stop token, so their renders run to the length cap; the cap is set to a
natural speaking rate (``--maxlenratio 4.5``: 4.5 decoder frames per token ≈ 14 characters per second) so each
text yields about as much audio as a real voice would. RTF = wall-clock seconds / seconds of audio produced.
The full-size model is built from the published configs (pipelines/speech/tiny.py: PUBLISHED_TTS, PUBLISHED_VOCODER)
and its parameter bytes are checked against the published model.safetensors size. Intensity ρ and recognizer
accuracy need real weights (microsoft/speecht5_tts + speecht5_hifigan + a real x-vector): with ``--weights`` the
script also prints those rows; with random weights they would measure noise, so they are not printed.
"""
from __future__ import annotations

import argparse
import inspect
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

from studio.affect import Affect, prosody_plan  # noqa: E402
from studio.requests import SpeechRequest  # noqa: E402

TEXTS = [  # benchmarks/speech.py's texts, so the embedded rows compare with its README table
    "I can't believe you did that. We agreed on everything last week, and now the whole plan is gone.",
    "The train leaves at seven in the morning, so pack your bag tonight and set two alarms.",
    "She opened the letter slowly, read it twice, and then looked out of the window for a long time.",
]
PUBLISHED_TTS_BYTES = 577_789_320   # microsoft/speecht5_tts model.safetensors (float32), as listed on the hub
EMOTIONS = ["anger", "disgust", "fear", "joy", "sadness", "surprise", "contempt"]


def _best(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def embedded_render(engine, text: str, affect: Affect, seed: int):
    """EmbeddedEngine.render as it is on this branch: (text, affect, seed=) before the spine, (request, plan) after."""
    first = next(iter(inspect.signature(engine.render).parameters))
    if first == "request":
        req = SpeechRequest(text=text, affect=affect, seed=seed)
        return engine.render(req, prosody_plan(affect))
    return engine.render(text, affect, seed=seed)


def neural_rows(label: str, eng, texts, repeats: int, opts: dict, batch: int) -> list[str]:
    rows = []
    tot_a = tot_w = 0.0
    for ti, text in enumerate(texts):
        for aff_name, aff in (("neutral", Affect.neutral()), ("anger 1.0", Affect.of("anger", 1.0))):
            if aff_name != "neutral" and eng.directions is None:
                continue
            req = SpeechRequest(text=text, affect=aff, seed=ti, engine="neural", options=opts)
            w, r = _best(lambda: eng.render(req, prosody_plan(aff)), repeats)
            dur = len(r.audio) / r.sample_rate
            rows.append(f"| {label} | {ti + 1} | {aff_name} | 1 | {dur:.2f} | {w / dur:.3f} |")
            if aff_name == "neutral":
                tot_a, tot_w = tot_a + dur, tot_w + w
    if batch > 1:
        reqs = [SpeechRequest(text=texts[i % len(texts)], affect=Affect.neutral(), seed=i, engine="neural", options=opts)
                for i in range(batch)]
        w, rs = _best(lambda: eng.render_batch(reqs, [prosody_plan(r.affect) for r in reqs]), 1)
        dur = sum(len(r.audio) / r.sample_rate for r in rs)
        rows.append(f"| {label} | {batch} requests | neutral | {batch} | {dur:.2f} | {w / dur:.3f} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=len(TEXTS))
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8, help="also time render_batch of this many requests (1: skip)")
    ap.add_argument("--maxlenratio", type=float, default=4.5)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--device", default=None, help="cpu, cuda … for the neural rows (a GPU run: --device cuda --dtype fp16)")
    ap.add_argument("--dtype", default=None, help="auto (fp16 on CUDA), fp16, bf16, fp32")
    ap.add_argument("--no-embedded", action="store_true", help="skip the embedded rows (e.g. on a GPU machine)")
    ap.add_argument("--no-full", action="store_true", help="skip the full-size random model (about 630 MB on disk)")
    ap.add_argument("--weights", default=None, help="real SpeechT5 weights: adds intensity and recognizer rows")
    ap.add_argument("--speaker", default=None, help="x-vector for --weights")
    ap.add_argument("--directions", default=None, help="directions for --weights")
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    texts = TEXTS[: args.texts]
    opts = {"maxlenratio": args.maxlenratio}
    from pipelines.speech.neural import NeuralSpeechEngine
    from pipelines.speech.tiny import build

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}; texts {len(texts)}, best of {args.repeats}")
    rows = ["| engine | text | affect | batch | audio s | RTF |", "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        tiny = build(Path(tmp) / "tiny", directions=True)
        dev = {"device": args.device, "dtype": args.dtype}
        eng = NeuralSpeechEngine(tiny["weights"], **dev)
        eng.render(SpeechRequest(text="Warm up.", engine="neural", options=opts), prosody_plan(Affect.neutral()))
        rows += neural_rows("neural, tiny random", eng, texts, args.repeats, opts, args.batch)
        del eng
        if not args.no_full:
            full = build(Path(tmp) / "full", full=True, directions=False)
            size = (Path(full["weights"]) / "model.safetensors").stat().st_size
            import json as _json

            cfg = _json.loads((Path(full["weights"]) / "config.json").read_text())
            extra = (cfg["vocab_size"] - 81) * cfg["hidden_size"] * 4
            print(f"full-size random SpeechT5: model.safetensors {size:,} B, published {PUBLISHED_TTS_BYTES:,} B; difference "
                  f"{size - PUBLISHED_TTS_BYTES:+,} B, of which {extra:,} B are the {cfg['vocab_size'] - 81} extra character rows "
                  f"of the studio's tokenizer ({cfg['vocab_size']} vs 81 tokens)")
            eng = NeuralSpeechEngine(full["weights"], **dev)
            n_params = sum(p.numel() for p in eng.voice.model.parameters()) + sum(p.numel() for p in eng.voice.vocoder.parameters())
            print(f"full-size parameters: TTS {sum(p.numel() for p in eng.voice.model.parameters()) / 1e6:.1f} M, "
                  f"vocoder {sum(p.numel() for p in eng.voice.vocoder.parameters()) / 1e6:.1f} M, total {n_params / 1e6:.1f} M")
            eng.render(SpeechRequest(text="Warm up.", engine="neural", options=opts), prosody_plan(Affect.neutral()))
            rows += neural_rows("neural, full-size random", eng, texts, args.repeats, opts, args.batch)
            del eng
    print(f"device {args.device or 'auto'}, dtype {args.dtype or 'auto'}; maxlenratio {args.maxlenratio}")
    if not args.no_embedded:
        rows += embedded_rows(texts, args.repeats)
    print("\n".join(rows))
    if args.weights:
        print(real_weight_rows(args, texts, opts))


def embedded_rows(texts, repeats: int) -> list[str]:
    from pipelines.speech.engine import EmbeddedEngine

    rows = []
    emb = EmbeddedEngine()
    embedded_render(emb, "Warm up.", Affect.neutral(), 0)
    for ti, text in enumerate(texts):
        for aff_name, aff in (("neutral", Affect.neutral()), ("anger 1.0", Affect.of("anger", 1.0))):
            w, r = _best(lambda: (emb.cache.clear(), embedded_render(emb, text, aff, ti))[1], repeats)
            dur = len(r.audio) / r.sample_rate
            rows.append(f"| embedded (piper + WORLD), cold | {ti + 1} | {aff_name} | 1 | {dur:.2f} | {w / dur:.3f} |")
    return rows


def real_weight_rows(args, texts, opts) -> str:
    """Intensity ρ (Spearman of intensity vs the deviation projected on the emotion's plan) per emotion, from
    measured audio; only meaningful on real weights with fitted directions."""
    from evals.metrics import spearman
    from pipelines.speech.directions import FEATURES, SCALES, deviation, measure, plan_target
    from pipelines.speech.neural import NeuralSpeechEngine
    from studio.errors import StudioError

    eng = NeuralSpeechEngine(args.weights, speaker=args.speaker, directions=args.directions, device=args.device,
                             dtype=args.dtype)
    levels = [0.0, 0.25, 0.5, 0.75, 1.0]
    out = ["| emotion | ρ(intensity, projected deviation) | recognizer top-1 (acoustic) |", "|---|---|---|"]
    try:
        from evals.speech import AcousticRecognizer

        rec = AcousticRecognizer()
    except Exception:  # noqa: BLE001  (recognizers are optional here)
        rec = None
    neutral = {ti: eng.render(SpeechRequest(text=t, seed=ti, engine="neural"), prosody_plan(Affect.neutral()))
               for ti, t in enumerate(texts)}
    ref = {ti: measure(r.audio, r.sample_rate) for ti, r in neutral.items()}
    for lab in EMOTIONS:
        t = plan_target(prosody_plan(Affect.of(lab, 1.0)))
        unit = np.array([t[k] / SCALES[k] for k in FEATURES])
        xs, ys, hits, tried = [], [], 0, 0
        for ti, text in enumerate(texts):
            for k in levels:
                r = eng.render(SpeechRequest(text=text, affect=Affect.of(lab, k), seed=ti, engine="neural"),
                               prosody_plan(Affect.of(lab, k)))
                d = deviation(measure(r.audio, r.sample_rate), ref[ti])
                v = np.array([np.nan_to_num(d[f]) / SCALES[f] for f in FEATURES])
                xs.append(k)
                ys.append(float(v @ unit / (np.linalg.norm(unit) + 1e-12)))
                if rec is not None and k == 1.0:
                    try:
                        cal = rec.calibrate(neutral[ti].audio, neutral[ti].sample_rate, same_text=True)
                        try:
                            probs = cal.recognize(r.media()).probs
                        except (AttributeError, TypeError):  # before the spine: recognize(audio, sample_rate)
                            probs = cal.recognize(r.audio, r.sample_rate).probs
                        hits += int(max(probs, key=probs.get) == lab)
                        tried += 1
                    except StudioError:  # no voiced speech (random weights): nothing to recognize
                        pass
        acc = f"{hits}/{tried}" if rec is not None and tried else "n/a"
        out.append(f"| {lab} | {spearman(xs, ys):.2f} | {acc} |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
