"""Dataset rendering throughput, resume cost and manifest size; prints Markdown tables.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/datasets.py            # all media, 1 and 2 workers
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/datasets.py --media image --items 8

"Steady" items per minute count the items finished between the first and the last one, so they leave out
loading models and starting processes; "whole call" divides by the wall time of the entire `render` call;
"first item" is the time until the first item was done (imports, model loading, worker start-up: spawned
workers each load their own models). Other work on the machine skews every figure:
say what else was running when you quote one.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from studio.datasets import iter_render, load_spec, render  # noqa: E402

EMOTIONS = ["neutral", "anger", "disgust", "fear", "joy", "sadness", "surprise", "contempt"]


def spec_for(medium: str, n: int) -> dict:
    """About ``n`` distinct items of one medium: emotions x intensities x seeds."""
    seeds = max(1, -(-n // (len(EMOTIONS) * 2)))
    grid = {"emotions": EMOTIONS, "intensities": [0.5, 1.0], "seeds": seeds}
    if medium == "speech":
        grid.update(medium="speech", texts=["I really did not expect to see you here today."])
    elif medium == "face":
        grid.update(medium="face", mode="express")
    elif medium == "video":
        grid.update(medium="face", mode="talk", texts=["What a wonderful day it has been."], size=256)
    else:
        grid.update(medium="image", prompts=["a house by a lake"], width=512, height=512)
    spec = load_spec({"dataset": {"name": f"bench-{medium}"}, "grid": [grid]})
    spec.items = spec.items[:n]
    return spec


def timed_render(spec, out: Path, workers: int, resume: bool = False) -> tuple[float, int]:
    t = time.perf_counter()
    s = render(spec, out, workers=workers, resume=resume)
    return time.perf_counter() - t, s.rendered


def timed_items(spec, out: Path, workers: int) -> dict:
    """Wall time of the whole call, time to the first finished item (model loading, process start) and the
    steady rate between the first and the last finished item."""
    t0 = time.perf_counter()
    stamps = [time.perf_counter() - t0 for _ in iter_render(spec, out, workers=workers)]
    wall = time.perf_counter() - t0
    steady = 60 * (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 2 and stamps[-1] > stamps[0] else float("nan")
    return {"wall": 60 * len(stamps) / wall, "first": stamps[0], "steady": steady}


def throughput(media: list[str], n: int, tmp: Path) -> list[dict]:
    rows = []
    for medium in media:
        spec = spec_for(medium, n)
        row = {"medium": medium, "items": len(spec.items)}
        for w in (1, 2):
            r = timed_items(spec, tmp / f"{medium}-w{w}", w)
            row.update({f"{k}{w}": v for k, v in r.items()})
        row["same"] = "yes" if _hashes(tmp / f"{medium}-w1") == _hashes(tmp / f"{medium}-w2") else "NO"
        row["scaling"] = row["steady2"] / row["steady1"]
        rows.append(row)
        print(f"  {medium}: {row}", file=sys.stderr)
    return rows


def _hashes(d: Path) -> list[tuple[str, str]]:
    import pandas as pd

    m = pd.read_parquet(d / "manifest.parquet")
    return list(zip(m["id"], m["sha256"]))


def resume_cost(tmp: Path, n: int) -> list[dict]:
    """A finished dataset resumed (verify every file, render nothing), and one stopped half-way."""
    spec = spec_for("image", n)
    out = tmp / "resume"
    full, _ = timed_render(spec, out, 1)
    noop, k = timed_render(spec, out, 1, resume=True)
    assert k == 0
    half = tmp / "resume-half"
    render(spec, half, limit=len(spec.items) // 2)
    rest, k2 = timed_render(spec, half, 1, resume=True)
    return [{"case": f"resume a finished {len(spec.items)}-item image dataset (hash check only)", "seconds": noop},
            {"case": f"resume after {len(spec.items) // 2} of {len(spec.items)} (renders {k2})", "seconds": rest},
            {"case": f"full render of the same {len(spec.items)} items", "seconds": full}]


def manifest_size(tmp: Path) -> list[dict]:
    """1,000 realistic rows: real rows of each medium, replicated with fresh ids, hashes and varied numbers."""
    import hashlib
    import random

    import pandas as pd

    from studio.datasets import manifest as mf

    src = tmp / "size-src"
    spec = load_spec({"grid": [
        {"medium": "speech", "texts": ["I really did not expect to see you here today."], "emotions": EMOTIONS},
        {"medium": "face", "emotions": EMOTIONS},
        {"medium": "image", "prompts": ["a house by a lake"], "emotions": EMOTIONS, "width": 64, "height": 64}]})
    render(spec, src)
    base = pd.read_parquet(src / "manifest.parquet").to_dict("records")
    rng = random.Random(0)
    rows = []
    for i in range(1000):
        r = dict(base[i % len(base)])
        r["index"] = i
        r["id"] = hashlib.sha256(f"id{i}".encode()).hexdigest()[:16]
        r["sha256"] = hashlib.sha256(f"file{i}".encode()).hexdigest()
        r["seed"] = rng.randrange(1 << 20)
        r["intensity"] = round(rng.uniform(0, 1.5), 3)
        r["file"] = r["file"].rsplit("-", 1)[0] + f"-{r['id']}." + r["file"].rsplit(".", 1)[1]
        rows.append(r)
    out = tmp / "size"
    out.mkdir()
    mf.write_parquet(out, rows)
    mf.rewrite_journal(out, rows)
    mf.write_folder_metadata(out, rows)
    meta = sum(p.stat().st_size for p in out.glob("*/metadata.csv"))
    return [{"file": "manifest.parquet (zstd)", "bytes": (out / mf.PARQUET).stat().st_size},
            {"file": "manifest.jsonl (journal)", "bytes": (out / mf.JOURNAL).stat().st_size},
            {"file": "metadata.csv (all folders)", "bytes": meta}]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--media", nargs="*", default=["speech", "face", "image", "video"])
    ap.add_argument("--items", type=int, default=16, help="items per medium")
    ap.add_argument("--skip-throughput", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-datasets-"))
    try:
        print(f"CPU cores: {os.cpu_count()}; load average at start: {os.getloadavg()[0]:.2f}")
        if not args.skip_throughput:
            rows = throughput(args.media, args.items, tmp)
            print("\n| medium | items | 1 worker: items/min steady | (whole call) | first item s | 2 workers: items/min steady | (whole call) | first item s | steady 2/1 | same files |")
            print("|---|---|---|---|---|---|---|---|---|---|")
            for r in rows:
                print(f"| {r['medium']} | {r['items']} | {r['steady1']:.1f} | {r['wall1']:.1f} | {r['first1']:.1f} | "
                      f"{r['steady2']:.1f} | {r['wall2']:.1f} | {r['first2']:.1f} | {r['scaling']:.2f} | {r['same']} |")
        print("\n| resume | seconds |\n|---|---|")
        for r in resume_cost(tmp, 32):
            print(f"| {r['case']} | {r['seconds']:.2f} |")
        print("\n| per 1,000 items | bytes | per item |\n|---|---|---|")
        for r in manifest_size(tmp):
            print(f"| {r['file']} | {r['bytes']:,} | {r['bytes'] / 1000:.0f} |")
        print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
