"""Speech benchmark: realisation of the prosody plan, intensity ranking, speed and arousal CCC.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/speech.py [--texts 3] [--repeats 5] [--speed-only]

Prints Markdown tables (copied into benchmarks/README.md). Everything is measured from rendered
audio by evals.speech.AcousticRecognizer, which never reads the plan, and the F0 rows also by Praat
(parselmouth's autocorrelation pitch, Boersma 1993), a tracker independent of both the renderer and
the recognizer.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

from evals.metrics import ccc, spearman  # noqa: E402
from studio.affect.tracks import plan_for  # noqa: E402
from evals.speech import AcousticRecognizer, FULL_AROUSAL, measure  # noqa: E402
from studio import engines  # noqa: E402
from studio.affect import Affect, prosody_plan  # noqa: E402

TEXTS = [
    "I can't believe you did that. We agreed on everything last week, and now the whole plan is gone.",
    "The train leaves at seven in the morning, so pack your bag tonight and set two alarms.",
    "She opened the letter slowly, read it twice, and then looked out of the window for a long time.",
]
EMOTIONS = ["neutral", "anger", "disgust", "fear", "joy", "sadness", "surprise", "contempt"]
LEVELS = [0.0, 0.25, 0.5, 0.75, 1.0]
# quantity: (planned size from the plan, measured size from two measure() dicts, unit scale for the projection)
QUANTITIES = {
    "F0 level (st)": (lambda p: p.f0_shift_st, lambda m, b: m["f0_median_st"] - b["f0_median_st"], FULL_AROUSAL["f0_median_st"]),
    "F0 range (log ×)": (lambda p: math.log(p.f0_range_scale), lambda m, b: math.log(m["f0_range_st"] / b["f0_range_st"]), math.log(2)),
    "rate (log ×)": (lambda p: math.log(p.rate_scale), lambda m, b: math.log(b["speech_s"] / m["speech_s"]), FULL_AROUSAL["log_rate"]),
    "loudness (dB)": (lambda p: p.loudness_db, lambda m, b: m["rms_db"] - b["rms_db"], FULL_AROUSAL["rms_db"]),
    "tilt (dB)": (lambda p: p.tilt_db, lambda m, b: m["tilt_db"] - b["tilt_db"], FULL_AROUSAL["tilt_db"]),
}


def praat_f0(x: np.ndarray, sr: int) -> tuple[float, float]:
    """Praat's F0 median (st re 100 Hz) and 5-95 % range (st): To Pitch (ac), 10 ms, 50-500 Hz."""
    import parselmouth

    p = parselmouth.Sound(np.asarray(x, np.float64), sampling_frequency=sr).to_pitch_ac(
        time_step=0.01, pitch_floor=50.0, pitch_ceiling=500.0)
    f = p.selected_array["frequency"]
    st = 12 * np.log2(f[f > 0] / 100.0)
    return float(np.median(st)), float(np.percentile(st, 95) - np.percentile(st, 5))


PRAAT = {"F0 level (st)": lambda m, b: m[0] - b[0], "F0 range (log ×)": lambda m, b: math.log(m[1] / b[1])}


def affect(label: str, k: float) -> Affect:
    return Affect.neutral() if label == "neutral" else Affect.of(label, k)


def realisation(engine, texts) -> tuple[str, dict]:
    rows = []
    cache = {}
    for ti, text in enumerate(texts):
        raw = engine.speak(text, plan_for("speech", Affect.neutral()), seed=ti)
        voc = engine.speak(text, plan_for("speech", Affect.neutral()), seed=ti, vocode=True)
        cache[(ti, "raw")] = measure(raw.audio, raw.sample_rate)
        cache[(ti, "voc")] = measure(voc.audio, voc.sample_rate)
        cache[(ti, "raw", "praat")] = praat_f0(raw.audio, raw.sample_rate)
        cache[(ti, "voc", "praat")] = praat_f0(voc.audio, voc.sample_rate)
    out = ["| emotion | quantity | planned | measured vs vocoded neutral | ratio | measured vs plain neutral | Praat vs plain neutral | direction | within 20 % |",
           "|---|---|---|---|---|---|---|---|---|"]
    # the vocoder's own change: WORLD round trip with an identity plan vs plain piper
    for q, (_, meas, _) in QUANTITIES.items():
        d = np.mean([meas(cache[(ti, "voc")], cache[(ti, "raw")]) for ti in range(len(texts))])
        pr = (f"{np.mean([PRAAT[q](cache[(ti, 'voc', 'praat')], cache[(ti, 'raw', 'praat')]) for ti in range(len(texts))]):+.2f}"
              if q in PRAAT else "—")
        out.append(f"| (vocoder only) | {q} | 0 | — | — | {d:+.2f} | {pr} | — | — |")
    stats = {"n": 0, "ok": 0, "dir": 0}
    for label in EMOTIONS[1:]:
        plan = prosody_plan(affect(label, 1.0))
        ms, ps = [], []
        for ti, text in enumerate(texts):
            r = engine.speak(text, plan_for("speech", affect(label, 1.0)), seed=ti)
            ms.append(measure(r.audio, r.sample_rate))
            ps.append(praat_f0(r.audio, r.sample_rate))
        for q, (planned, meas, scale) in QUANTITIES.items():
            p = planned(plan)
            if abs(p) < 0.05 * scale:  # the plan does not move this quantity noticeably
                continue
            dv = float(np.mean([meas(m, cache[(ti, "voc")]) for ti, m in enumerate(ms)]))
            dr = float(np.mean([meas(m, cache[(ti, "raw")]) for ti, m in enumerate(ms)]))
            ratio = dv / p
            ok_dir = np.sign(dv) == np.sign(p)
            ok = 0.8 <= ratio <= 1.2
            stats["n"] += 1
            stats["ok"] += bool(ok)
            stats["dir"] += bool(ok_dir)
            rows.append((label, q, ratio))
            pr = f"{np.mean([PRAAT[q](m, cache[(ti, 'raw', 'praat')]) for ti, m in enumerate(ps)]):+.2f}" if q in PRAAT else "—"
            out.append(f"| {label} | {q} | {p:+.2f} | {dv:+.2f} | {ratio:.2f} | {dr:+.2f} | {pr} | {'yes' if ok_dir else 'NO'} | {'yes' if ok else 'no'} |")
    out.append("")
    out.append(f"{stats['dir']}/{stats['n']} planned changes move the right way; {stats['ok']}/{stats['n']} within 20 % of the planned size "
               f"(measured against the vocoded neutral).")
    return "\n".join(out), cache


def rendered_f0(engine, texts) -> str:
    """Diagnostic that reads the engine's own synthesis F0 (not the audio): separates what the
    renderer did from what the recognizer's tracker can see."""
    def st(f):
        return 12 * np.log2(f[f > 0] / 100)
    rows = {}
    for ti, text in enumerate(texts):
        v = st(engine.speak(text, plan_for("speech", Affect.neutral()), seed=ti, vocode=True).meta["world_f0"])
        for label in EMOTIONS[1:]:
            f = st(engine.speak(text, plan_for("speech", affect(label, 1.0)), seed=ti).meta["world_f0"])
            rows.setdefault(label, []).append((np.median(f) - np.median(v),
                                               math.log(np.ptp(np.percentile(f, [5, 95])) / np.ptp(np.percentile(v, [5, 95])))))
    out = ["| emotion | planned F0 level (st) | synthesised F0 level | planned F0 range (log ×) | synthesised F0 range |", "|---|---|---|---|---|"]
    for label, r in rows.items():
        p = prosody_plan(affect(label, 1.0))
        a = np.mean(r, axis=0)
        out.append(f"| {label} | {p.f0_shift_st:+.2f} | {a[0]:+.2f} | {math.log(p.f0_range_scale):+.2f} | {a[1]:+.2f} |")
    return "\n".join(out)


def tracker_check(engine, texts) -> str:
    """Diagnostic: the recognizer's F0 tracker and pyworld's Harvest and DIO on the same rendered audio,
    each scored against the F0 the synthesiser was given (meta["world_f0"], 5 ms frames): voicing recall
    (synthesised-voiced frames the tracker voices), gross pitch error (GPE: jointly voiced frames more
    than 20 % off, the usual definition) and the median absolute error of the rest, in semitones."""
    from evals.speech import track_f0
    from pipelines.speech.prosody import pyworld

    pw = pyworld()
    trackers = {
        "recognizer (YIN + Viterbi)": lambda x, sr: track_f0(x, sr),
        "pyworld Harvest": lambda x, sr: pw.harvest(x, sr, f0_floor=55.0, f0_ceil=600.0, frame_period=10.0),
        "pyworld DIO + StoneMask": lambda x, sr: (lambda f, t: (pw.stonemask(x, f, t, sr), t))(*pw.dio(x, sr, f0_floor=55.0, f0_ceil=600.0, frame_period=10.0)),
    }
    acc: dict[tuple[str, str], list] = {}
    for ti, text in enumerate(texts):
        for label in ["neutral"] + EMOTIONS[1:]:
            r = engine.speak(text, plan_for("speech", affect(label, 1.0)), seed=ti, vocode=True)
            x = r.audio.astype(np.float64)
            wf = r.meta["world_f0"]
            wt = np.arange(len(wf)) * 0.005
            for name, fn in trackers.items():
                f0, t = fn(x, r.sample_rate)
                ref = np.interp(t, wt, wf)
                ref_v = np.interp(t, wt, (wf > 0).astype(float)) >= 1.0
                both = ref_v & (f0 > 0)
                err = np.abs(12 * np.log2(f0[both] / ref[both]))
                gross = err > 12 * math.log2(1.2)
                grp = "wide (anger, joy, surprise, fear)" if label in ("anger", "joy", "surprise", "fear") else "others (neutral, disgust, sadness, contempt)"
                acc.setdefault((grp, name), []).append((both.sum() / max(ref_v.sum(), 1), gross.mean(), np.median(err[~gross])))
    out = ["| renders | tracker | voicing recall | GPE (> 20 %) | median error, other frames (st) |", "|---|---|---|---|---|"]
    for (grp, name), v in acc.items():
        a = np.mean(v, axis=0)
        out.append(f"| {grp} | {name} | {a[0]:.2f} | {a[1]:.3f} | {a[2]:.2f} |")
    return "\n".join(out)


def intensity_and_ccc(engine, texts, cache) -> str:
    req_a, est_a, req_v, est_v = [], [], [], []
    lines = ["| emotion | moves F0/loudness | ρ(intensity, projected deviation) | ρ F0 level (signed) | ρ loudness (signed) | projected deviation at 0 / .25 / .5 / .75 / 1 |",
             "|---|---|---|---|---|---|"]
    for label in EMOTIONS[1:]:
        full = prosody_plan(affect(label, 1.0))
        dirv = {q: planned(full) / scale for q, (planned, _, scale) in QUANTITIES.items()}
        norm = math.sqrt(sum(v * v for v in dirv.values())) or 1.0
        proj, f0d, loud = [], [], []
        for k in LEVELS:
            pv, fv, lv = [], [], []
            for ti, text in enumerate(texts):
                base = cache[(ti, "raw")]
                r = engine.speak(text, plan_for("speech", affect(label, k)), seed=ti)
                m = measure(r.audio, r.sample_rate)
                dev = {q: meas(m, base) / scale for q, (_, meas, scale) in QUANTITIES.items()}
                pv.append(sum(dev[q] * dirv[q] for q in dev) / norm)
                fv.append(m["f0_median_st"] - base["f0_median_st"])
                lv.append(m["rms_db"] - base["rms_db"])
                cal = AcousticRecognizer(baseline=base, same_text=True)
                g = cal.measure_audio(r.audio, r.sample_rate)
                a = affect(label, k)
                req_a.append(a.vad[1] * a.intensity)
                req_v.append(a.vad[0] * a.intensity)
                est_a.append(g.arousal)
                est_v.append(g.valence)
            proj.append(np.mean(pv))
            f0d.append(np.mean(fv))
            loud.append(np.mean(lv))
        moves = abs(full.f0_shift_st) > 0.2 or abs(full.loudness_db) > 0.5
        rho = spearman(LEVELS, proj)
        # per-cue ρ on the deviation signed by the plan's direction (a falling F0 plan should fall)
        rf = spearman(LEVELS, [np.sign(full.f0_shift_st) * x for x in f0d])
        rl = spearman(LEVELS, [np.sign(full.loudness_db) * x for x in loud])
        lines.append(f"| {label} | {'yes' if moves else 'no'} | {rho:.2f} | {rf:.2f} | {rl:.2f} | "
                     + " / ".join(f"{x:+.2f}" for x in proj) + " |")
    lines.append("")
    lines.append(f"Arousal: Lin's CCC(requested, estimated) = {ccc(req_a, est_a):.3f} over {len(req_a)} renders "
                 f"({len(EMOTIONS) - 1} emotions × {len(LEVELS)} intensities × {len(texts)} texts); "
                 f"valence CCC = {ccc(req_v, est_v):.3f}.")
    return "\n".join(lines)


def speed(engine, texts, repeats: int) -> str:
    """Plain piper (intensity 0), cold (the engine's cache emptied first, so piper and the whole WORLD
    analysis run) and warm (the same text and seed in another emotion right after, as the web demo
    re-renders a line or a dataset grid speaks one text in every emotion) are timed interleaved, one
    after the other in each repeat, so load from other jobs on the machine hits all three alike; medians.
    The ratios are wall time on the same text."""
    lines = ["| text | plain audio s | plain piper s | cold: anger 1.0 s | cold / plain | warm: joy 1.0 after anger s | warm / plain | "
             "plain RTF | cold RTF (own output) | warm RTF |", "|---|---|---|---|---|---|---|---|---|---|"]
    tot = np.zeros(4)
    for ti, text in enumerate(texts):
        tp, te, tw = [], [], []
        for _ in range(repeats):
            engine.cache.clear()
            t0 = time.perf_counter()
            raw = engine.speak(text, plan_for("speech", Affect.neutral()), seed=ti)
            tp.append(time.perf_counter() - t0)
            engine.cache.clear()
            t0 = time.perf_counter()
            emo = engine.speak(text, plan_for("speech", Affect.of("anger", 1.0)), seed=ti)
            te.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            warm = engine.speak(text, plan_for("speech", Affect.of("joy", 1.0)), seed=ti)
            tw.append(time.perf_counter() - t0)
        p, e, w = float(np.median(tp)), float(np.median(te)), float(np.median(tw))
        tot += [raw.duration_s, p, e, w]
        lines.append(f"| {ti + 1} | {raw.duration_s:.2f} | {p:.3f} | {e:.3f} | {e / p:.2f}× | {w:.3f} | {w / p:.2f}× | "
                     f"{p / raw.duration_s:.3f} | {e / emo.duration_s:.3f} | {w / warm.duration_s:.3f} |")
    a, p, e, w = tot
    lines.append(f"| all | {a:.2f} | {p:.3f} | {e:.3f} | {e / p:.2f}× | {w:.3f} | {w / p:.2f}× | {p / a:.3f} | | |")
    return "\n".join(lines)


def onset(engine, texts) -> str:
    """Intensity 0 is plain piper and any other intensity goes through WORLD: with a transparent round
    trip, 0.05 lands next to 0 (F0 median and tilt, recognizer and Praat)."""
    out = ["| emotion | F0 median 0.05 − 0 (st), recognizer | same, Praat | tilt 0.05 − 0 (dB) | planned F0 shift at 0.05 (st) |",
           "|---|---|---|---|---|"]
    base = {}
    for ti, text in enumerate(texts):
        r = engine.speak(text, plan_for("speech", Affect.neutral()), seed=ti)
        base[ti] = (measure(r.audio, r.sample_rate), praat_f0(r.audio, r.sample_rate))
    for label in EMOTIONS[1:]:
        d = []
        for ti, text in enumerate(texts):
            r = engine.speak(text, plan_for("speech", affect(label, 0.05)), seed=ti)
            m, pr = measure(r.audio, r.sample_rate), praat_f0(r.audio, r.sample_rate)
            d.append((m["f0_median_st"] - base[ti][0]["f0_median_st"], pr[0] - base[ti][1][0], m["tilt_db"] - base[ti][0]["tilt_db"]))
        a = np.mean(d, axis=0)
        out.append(f"| {label} | {a[0]:+.2f} | {a[1]:+.2f} | {a[2]:+.2f} | {prosody_plan(affect(label, 0.05)).f0_shift_st:+.2f} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=len(TEXTS))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--speed-only", action="store_true", help="only the speed table (about 1 min)")
    args = ap.parse_args()
    texts = TEXTS[: args.texts]
    engine = engines.get("speech", "embedded")
    engine.speak("Warm up.", plan_for("speech", Affect.neutral()))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
          f"python {platform.python_version()}; other engineers' jobs shared the CPU during the run")
    print(f"\n### Speed (median of {args.repeats} interleaved repeats, wall clock)\n")
    print(speed(engine, texts, args.repeats))
    if args.speed_only:
        return
    print("\n### Realisation at intensity 1 (mean over texts)\n")
    table, cache = realisation(engine, texts)
    print(table)
    print("\n### Diagnostic: the F0 the engine synthesised (its own track, vs its vocoded neutral)\n")
    print(rendered_f0(engine, texts))
    print("\n### Diagnostic: F0 trackers against the F0 the synthesiser was given (intensity 1)\n")
    print(tracker_check(engine, texts))
    print("\n### Onset: intensity 0.05 against 0 (plain piper), mean over texts\n")
    print(onset(engine, texts))
    print("\n### Intensity ranking and arousal estimate\n")
    print(intensity_and_ccc(engine, texts, cache))


if __name__ == "__main__":
    main()
