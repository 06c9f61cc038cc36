"""Speed and agreement of the face recognizers; prints a Markdown table.

    python benchmarks/face_recognizers.py [--repeats 20]

Rows: face landmarking, FER crop, the NumPy mini-Xception (single and batched), the TFLite
copy for comparison, per-frame video measurement, and the NumPy-vs-TFLite agreement on the 100
LFW faces bundled with scikit-image.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: first calls build caches and XNNPACK plans
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def _tflite_runner():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    from evals.fer import preprocess
    from studio import weights

    it = Interpreter(str(weights.path("fer2013-mini-xception", "emotion_model_quantized.tflite")))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]

    def run(crops):
        res = []
        for c in crops:
            it.set_tensor(inp, preprocess(c)[None].astype(np.float32))
            it.invoke()
            res.append(it.get_tensor(out)[0].copy())
        return np.array(res)

    return run


def main(argv: list[str] | None = None) -> None:
    import cv2
    from skimage import data

    from evals.blendshapes import measure_video
    from evals.face_crop import crop_face, detect_face
    from evals.fer import fer_probs
    from studio.media import default_portrait

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args(argv)

    img = default_portrait()
    crop = crop_face(img)
    lfw = [(f * 255).astype(np.uint8) for f in data.lfw_subset()[:100]]
    batch = [crop] * 64
    rows: list[tuple[str, str, str]] = []
    rows.append(("face landmarks + blendshapes, 512x512", f"{_median_ms(lambda: detect_face(img), args.repeats):.1f} ms", "per image"))
    rows.append(("FER crop (landmarks, align, 64x64 gray)", f"{_median_ms(lambda: crop_face(img), args.repeats):.1f} ms", "per image"))
    rows.append(("mini-Xception NumPy, 1 crop", f"{_median_ms(lambda: fer_probs([crop]), args.repeats):.2f} ms", "per crop"))
    rows.append(("mini-Xception NumPy, batch 64", f"{_median_ms(lambda: fer_probs(batch), max(3, args.repeats // 4)) / 64:.2f} ms", "per crop"))
    tfl = _tflite_runner()
    if tfl is not None:
        rows.append(("mini-Xception TFLite (quantized), 1 crop", f"{_median_ms(lambda: tfl([crop]), args.repeats):.2f} ms", "per crop"))
        ours, ref = fer_probs(lfw), tfl(lfw)
        rows.append(("NumPy vs TFLite argmax agreement, LFW 100", f"{np.mean(ours.argmax(1) == ref.argmax(1)):.1%}", "faces"))
        rows.append(("NumPy vs TFLite max / mean |Δp|, LFW 100", f"{np.abs(ours - ref).max():.4f} / {np.abs(ours - ref).mean():.4f}", "probability"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        small = cv2.resize(img, (256, 256), interpolation=cv2.INTER_AREA)
        vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (256, 256))
        for _ in range(50):
            vw.write(np.ascontiguousarray(small[..., ::-1]))
        vw.release()
        for tracking in (False, True):
            t = time.perf_counter()
            n = len(measure_video(path, tracking=tracking))
            ms = 1000 * (time.perf_counter() - t) / n
            rows.append((f"measure_video 256x256, {'VIDEO (tracking)' if tracking else 'IMAGE'} mode", f"{ms:.1f} ms", "per frame, incl. decode"))
    w = max(len(r[0]) for r in rows)
    print(f"| {'measure'.ljust(w)} | value | unit |")
    print(f"|{'-' * (w + 2)}|-------|------|")
    for name, value, unit in rows:
        print(f"| {name.ljust(w)} | {value} | {unit} |")


if __name__ == "__main__":
    main()
