"""Face pipeline benchmark: expression fidelity, intensity, lip sync, stability and speed.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/face.py [--size 512] [--text "..."]

Everything is measured by recognizers that had no part in rendering (evals.fer, evals.blendshapes);
the renderer's own analysis is used only to place the stability probes. Prints Markdown tables.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from studio.affect import Affect  # noqa: E402
from studio.affect.tracks import plan_for  # noqa: E402

BASIC = ("anger", "disgust", "fear", "joy", "sadness", "surprise")
FER7 = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")
LEVELS = (0.2, 0.4, 0.6, 0.8, 1.0)
TEXT = "Hello! We won the final, and nobody expected it. Can you believe how lucky we were today?"


def table(header: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(f"{x:.3f}" if isinstance(x, float) else str(x) for x in r) + " |")
    return "\n".join(out)


def fidelity(p, fer, bsr) -> None:
    from evals.blendshapes import AU_BLENDSHAPES, au_from_blendshapes
    from evals.metrics import accuracy, confusion
    from pipelines.face.express import express

    labels = ("neutral",) + BASIC + ("contempt",)
    recs, ev = {}, {}
    for e in labels:
        img = express(None, plan_for("face", Affect.of(e, 1.0)), prepared=p).image
        recs[e] = fer.recognize(img)
        ev[e] = au_from_blendshapes({k: v for k, v in bsr.recognize(img).measures.items()})
    true = [e for e in labels if e in FER7]
    pred = [recs[e].top for e in true]
    print(f"\n### Expression fidelity (astronaut, intensity 1, size {p.image.shape[0]})\n")
    print(f"FER top-1 accuracy over the 7 FER classes: **{accuracy(true, pred) * 7:.0f}/7**; "
          f"contempt (no FER class) is recognized as **{recs['contempt'].top}**.\n")
    print(table(["target \\ FER"] + list(FER7) + ["top"],
                [[e] + [round(recs[e].probs[c], 3) for c in FER7] + [recs[e].top] for e in labels]))
    cm = confusion(true, pred, FER7)
    print("\nConfusion (rows: target, columns: FER top label)\n")
    print(table(["target"] + list(FER7), [[t] + [int(x) for x in row] for t, row in zip(FER7, cm)]))

    from studio.affect import action_unit_plan

    rows, hits, total = [], 0, 0
    for e in BASIC + ("contempt",):
        plan = action_unit_plan(Affect.of(e, 1.0))
        for au, v in sorted(plan.aus.items()):
            if au not in AU_BLENDSHAPES:
                rows.append([e, f"AU{au}", round(v, 2), "—", "—", "no blendshape"])
                continue
            d = ev[e][au] - ev["neutral"][au]
            ok = d > 0.02
            hits += ok
            total += 1
            rows.append([e, f"AU{au}", round(v, 2), " / ".join(AU_BLENDSHAPES[au]), round(d, 3), "yes" if ok else "NO"])
    print(f"\n### Planned AUs vs MediaPipe blendshape change from the neutral still ({hits}/{total} move the planned way)\n")
    print(table(["emotion", "AU", "planned", "blendshape(s)", "Δ evidence", "moves up"], rows))


def intensity(p, fer) -> None:
    from evals.metrics import spearman
    from pipelines.face.express import express

    print("\n### Intensity: FER probability of the target class over five intensities\n")
    rows = []
    for e in BASIC:
        probs = [fer.recognize(express(None, plan_for("face", Affect.of(e, k)), prepared=p).image).probs[e] for k in LEVELS]
        if max(probs) < 0.01:  # ties at ~0 make any rank correlation meaningless
            rows.append([e] + [round(x, 3) for x in probs] + ["n/a", "FER never picks it"])
            continue
        rho = spearman(LEVELS, probs)
        rows.append([e] + [round(x, 3) for x in probs] + [round(rho, 3), "ok" if round(rho, 3) >= 0.9 else "below 0.9"])
    print(table(["emotion"] + [f"i={k}" for k in LEVELS] + ["Spearman ρ", "goal ρ ≥ 0.9"], rows))


def video_checks(p, text: str, out_dir: Path) -> None:
    import cv2

    from evals.blendshapes import mouth_open
    from evals.metrics import pearson
    from pipelines.face.talk import talk
    from pipelines.face.video import read_frames
    from pipelines.face.visemes import frame_rms
    from studio import Studio

    affect = Affect.of("joy", 0.8)
    speech = Studio().speak(text, affect, seed=0)
    # speed: rendering only (speech synthesis excluded), after one warm-up frame
    rows = []
    for backend in ("numpy", "torch"):
        t = time.perf_counter()
        res = talk(None, text, plan_for("face", affect), speech, seed=0, prepared=p, backend=backend, size=p.image.shape[0])
        dt = time.perf_counter() - t
        rows.append([f"render ({backend}, CPU)", len(res.frames), round(dt, 2), round(len(res.frames) / dt, 1)])
    path = out_dir / "bench.mp4"
    t = time.perf_counter()
    res.save(path)
    dt = time.perf_counter() - t
    rows.append(["H.264 + AAC encode", len(res.frames), round(dt, 2), round(len(res.frames) / dt, 1)])
    size = p.image.shape[0]
    print(f"\n### Speed at {size}×{size} ({os.cpu_count()} CPU cores, speech synthesis excluded; goal ≥ 25 fps)\n")
    print(table(["stage", "frames", "seconds", "frames/s"], rows))

    frames = read_frames(path)
    opening = np.array([mouth_open(f) for f in frames])
    rms = frame_rms(speech.audio, speech.sample_rate, res.fps, len(frames))
    r0 = pearson(opening, rms)
    lags = {lag: pearson(opening[max(0, lag):len(opening) + min(0, lag)], rms[max(0, -lag):len(rms) - max(0, lag)])
            for lag in (-2, -1, 0, 1, 2)}
    print(f"\n### Lip sync ({len(frames)} frames, {speech.duration_s:.2f} s of speech)\n")
    print(table(["measure", "value"], [
        ["Pearson r, MediaPipe lip gap vs audio RMS per frame (goal ≥ 0.5)", round(r0, 3)],
        ["best r over lags −2..+2 frames (lag)", f"{max(lags.values()):.3f} ({max(lags, key=lags.get):+d})"],
        ["mouth open / closed frames (lip gap > 0.02)", f"{int((opening > 0.02).sum())} / {int((opening <= 0.02).sum())}"],
    ]))

    # stability: track corners in the background/shoulders (outside the anchor ring) and in the
    # hair/neck band between the face oval and the ring, frame to frame (Lucas-Kanade on the decoded video)
    from pipelines.face import topology as T

    h, w = frames.shape[1:3]
    ring = np.zeros((h, w), np.uint8)
    xy = p.face.points[:, :2]
    c = (xy.min(0) + xy.max(0)) / 2
    half = (xy.max(0) - xy.min(0)) / 2
    from pipelines.face.warp import RING_SCALE

    cv2.ellipse(ring, (int(c[0]), int(c[1])), (int(half[0] * RING_SCALE), int(half[1] * RING_SCALE)), 0, 0, 360, 255, -1)
    oval = np.zeros((h, w), np.uint8)
    cv2.fillPoly(oval, [np.round(xy[list(T.FACE_OVAL)]).astype(np.int32)], 255)
    oval = cv2.dilate(oval, np.ones((15, 15), np.uint8))
    band = cv2.bitwise_and(ring, 255 - oval)
    eye_y = int(p.face.eye_centres[0][1])
    hair, neck = band.copy(), band.copy()
    hair[eye_y:] = 0
    neck[:eye_y] = 0
    masks = {"background + shoulders (outside the anchor ring)": 255 - ring,
             "hair (between face outline and ring, above the eyes)": hair,
             "ears, jaw side, neck (same band, below the eyes)": neck}
    rows = []
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    for name, m in masks.items():
        pts0 = cv2.goodFeaturesToTrack(grey[0], 200, 0.01, 5, mask=m)
        if pts0 is None:
            rows.append([name, 0, "—", "—", "—", "—"])
            continue
        steps = []
        lost = 0
        for a, b in zip(grey, grey[1:]):
            nxt, st, _ = cv2.calcOpticalFlowPyrLK(a, b, pts0, None, winSize=(15, 15), maxLevel=2)
            back, st2, _ = cv2.calcOpticalFlowPyrLK(b, a, nxt, None, winSize=(15, 15), maxLevel=2)
            # forward-backward check: a point that does not track back to itself was lost, not moved
            good = (st[:, 0] == 1) & (st2[:, 0] == 1) & (np.linalg.norm((back - pts0)[:, 0], axis=1) < 0.3)
            lost += int((~good).sum())
            steps.append(np.linalg.norm((nxt - pts0)[good, 0], axis=1))
        s = np.concatenate(steps)
        rows.append([name, len(pts0), round(float(np.median(s)), 3), round(float(np.percentile(s, 95)), 3),
                     round(float(s.max()), 3), f"{100 * lost / (lost + len(s)):.1f} %"])
    print("\n### Stability: frame-to-frame motion of tracked points outside the face (px; goal < 0.5)\n")
    print(table(["region", "points", "median", "95th pct", "max", "lost (fwd-bwd > 0.3 px)"], rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--text", default=TEXT)
    ap.add_argument("--skip-video", action="store_true")
    args = ap.parse_args()

    from evals.blendshapes import BlendshapeRecognizer
    from evals.fer import FerRecognizer
    from pipelines.face.portrait import prepare

    t = time.perf_counter()
    p = prepare(None, size=args.size)
    print(f"## Face (embedded engine)\n\nportrait prepared in {time.perf_counter() - t:.2f} s; "
          f"neutralised AUs: { {k: round(v, 2) for k, v in p.neutral_aus.items()} }")
    fer, bsr = FerRecognizer(), BlendshapeRecognizer()
    fidelity(p, fer, bsr)
    intensity(p, fer)
    if not args.skip_video:
        with tempfile.TemporaryDirectory() as td:
            video_checks(p, args.text, Path(td))


if __name__ == "__main__":
    main()
