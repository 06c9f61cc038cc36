"""Dataset rendering throughput (one process, 2 worker processes, Ray with 1 and 2 actors), Ray's overhead
per item, the driver's write rate, resume cost and manifest size; prints Markdown tables.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/datasets.py            # all media
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/datasets.py --media image --items 8
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/datasets.py --no-ray   # without the ray extra

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


def spec_for(medium: str, n: int):
    """A spec of at least ``n`` distinct items of one medium (emotions x intensities x seeds); render the
    first ``n`` with ``limit=n``."""
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
    return load_spec({"dataset": {"name": f"bench-{medium}"}, "grid": [grid]})


def timed_render(spec, out: Path, workers: int, resume: bool = False, limit: int | None = None) -> tuple[float, int]:
    t = time.perf_counter()
    s = render(spec, out, workers=workers, resume=resume, limit=limit)
    return time.perf_counter() - t, s.rendered


def timed_items(spec, out: Path, workers: int, limit: int, ray: str | None = None) -> dict:
    """Wall time of the whole call, time to the first finished item (model loading, process or actor start)
    and the steady rate between the first and the last finished item."""
    t0 = time.perf_counter()
    stamps = [time.perf_counter() - t0 for _ in iter_render(spec, out, workers=workers, limit=limit, ray=ray)]
    wall = time.perf_counter() - t0
    steady = 60 * (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 2 and stamps[-1] > stamps[0] else float("nan")
    return {"wall": 60 * len(stamps) / wall, "first": stamps[0], "steady": steady}


# (label, workers, ray) for each column group of the throughput table
CONFIGS = [("1 process", 1, None), ("2 workers", 2, None), ("ray 1 actor", 1, "local"), ("ray 2 actors", 2, "local")]


def throughput(media: list[str], n: int, tmp: Path, configs: list) -> list[dict]:
    rows = []
    for medium in media:
        spec = spec_for(medium, n)
        row: dict = {"medium": medium, "items": min(n, len(spec))}
        for label, w, ray in configs:
            row[label] = timed_items(spec, tmp / f"{medium}-{label}", w, n, ray)
        ref = _hashes(tmp / f"{medium}-1 process")
        row["same"] = "yes" if all(_hashes(tmp / f"{medium}-{c[0]}") == ref for c in configs) else "NO"
        m = pd_read(tmp / f"{medium}-1 process")
        row["bytes"] = float(m["bytes"].mean())
        row["row_bytes"] = float(sum(len(json.dumps(r, sort_keys=True)) for r in m.to_dict("records")) / len(m))
        rows.append(row)
        print(f"  {medium}: {row}", file=sys.stderr)
    return rows


def pd_read(d: Path):
    import pandas as pd

    return pd.read_parquet(d / "manifest.parquet")


def ray_overhead(sizes: dict[str, float], n: int = 200) -> list[dict]:
    """What Ray adds per item, apart from rendering: one actor call that returns an item-sized (row, bytes)
    pair, measured sequentially (latency) and with PER_ACTOR calls in flight (what the backend does)."""
    import ray

    from studio.datasets.ray_backend import PER_ACTOR

    @ray.remote(num_cpus=1)
    class Echo:
        def item(self, size: int) -> tuple[dict, bytes]:
            return {"id": "x" * 16, "plan": "p" * 2000}, os.urandom(size)

    a = Echo.remote()
    ray.get(a.item.remote(1))
    out = []
    for medium, size in sizes.items():
        size = int(size)
        t = time.perf_counter()
        for _ in range(n):
            ray.get(a.item.remote(size))
        seq = (time.perf_counter() - t) / n
        t = time.perf_counter()
        refs = [a.item.remote(size) for _ in range(PER_ACTOR)]
        for _ in range(n - PER_ACTOR):
            done, refs = ray.wait(refs, num_returns=1)
            ray.get(done[0])
            refs.append(a.item.remote(size))
        ray.get(refs)
        piped = (time.perf_counter() - t) / n
        out.append({"medium": medium, "bytes": size, "seq_ms": 1e3 * seq, "piped_ms": 1e3 * piped})
    ray.kill(a)
    return out


def driver_rate(sizes: dict[str, float], tmp: Path, n: int = 300) -> list[dict]:
    """The single writer's work per item: sha256 of the bytes, atomic write into the folder, one fsync'ed
    journal row (~2 KB): the ceiling on items/s whatever the cluster's size."""
    import hashlib

    from studio.datasets import manifest as mf
    from studio.media import atomic_path

    out = []
    for medium, size in sizes.items():
        d = tmp / f"driver-{medium}"
        (d / "f").mkdir(parents=True)
        data = os.urandom(int(size))
        row = {"id": "0" * 16, "plan": "p" * 2000, "sha256": hashlib.sha256(data).hexdigest()}
        j = mf.Journal(d)
        t = time.perf_counter()
        for i in range(n):
            assert hashlib.sha256(data).hexdigest() == row["sha256"]
            with atomic_path(d / "f" / f"{i}.bin") as p:
                p.write_bytes(data)
            j.append({**row, "index": i})
        dt = (time.perf_counter() - t) / n
        j.close()
        out.append({"medium": medium, "bytes": int(size), "ms": 1e3 * dt, "per_s": 1 / dt,
                    "mb_s": size / dt / 1e6})
        shutil.rmtree(d)
    return out


def _hashes(d: Path) -> list[tuple[str, str]]:
    import pandas as pd

    m = pd.read_parquet(d / "manifest.parquet")
    return list(zip(m["id"], m["sha256"]))


def resume_cost(tmp: Path, n: int) -> list[dict]:
    """A finished dataset resumed (verify every file, render nothing), and one stopped half-way."""
    spec = spec_for("image", n)
    n = min(n, len(spec))  # neutral collapses to one item per seed
    out = tmp / "resume"
    full, _ = timed_render(spec, out, 1, limit=n)
    noop, k = timed_render(spec, out, 1, resume=True, limit=n)
    assert k == 0
    half = tmp / "resume-half"
    render(spec, half, limit=n // 2)
    rest, k2 = timed_render(spec, half, 1, resume=True, limit=n)
    return [{"case": f"resume a finished {n}-item image dataset (hash check only)", "seconds": noop},
            {"case": f"resume after {n // 2} of {n} (renders {k2})", "seconds": rest},
            {"case": f"full render of the same {n} items", "seconds": full}]


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
    ap.add_argument("--no-ray", action="store_true", help="leave out the Ray columns (no ray extra installed)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-datasets-"))
    configs = CONFIGS[:2] if args.no_ray else CONFIGS
    started_ray = False
    try:
        print(f"CPU cores: {os.cpu_count()}; load average at start: {os.getloadavg()[0]:.2f}")
        if not args.no_ray:
            import ray

            t = time.perf_counter()
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, namespace="affect-studio",
                     logging_level="warning")
            started_ray = True
            print(f"Ray {ray.__version__} start-up (local, {os.cpu_count()} CPUs): {time.perf_counter() - t:.1f} s, "
                  "paid once per `studio render --ray local`; each actor then loads its models (first item column)")
        sizes: dict[str, float] = {}
        if not args.skip_throughput:
            rows = throughput(args.media, args.items, tmp, configs)
            head = " | ".join(f"{c[0]}: steady | (whole call) | first s" for c in configs)
            print(f"\n| medium | items | {head} | same files |")
            print("|---|---|" + "---|---|---|" * len(configs) + "---|")
            for r in rows:
                cells = " | ".join(f"{r[c[0]]['steady']:.1f} | {r[c[0]]['wall']:.1f} | {r[c[0]]['first']:.1f}" for c in configs)
                print(f"| {r['medium']} | {r['items']} | {cells} | {r['same']} |")
            print("\n| medium | file bytes per item (mean) | manifest row bytes (JSON) |\n|---|---|---|")
            for r in rows:
                print(f"| {r['medium']} | {r['bytes']:,.0f} | {r['row_bytes']:,.0f} |")
                sizes[r["medium"]] = r["bytes"] + r["row_bytes"]
        if not sizes:
            sizes = {"speech": 150_000, "face": 400_000, "image": 450_000, "video": 250_000}
        if not args.no_ray:
            print("\n| Ray round trip, item-sized reply | bytes | sequential ms/item | 2 in flight ms/item |\n|---|---|---|---|")
            for r in ray_overhead(sizes):
                print(f"| {r['medium']} | {r['bytes']:,} | {r['seq_ms']:.2f} | {r['piped_ms']:.2f} |")
        print("\n| driver (single writer) per item | bytes | ms | items/s | MB/s |\n|---|---|---|---|---|")
        for r in driver_rate(sizes, tmp):
            print(f"| {r['medium']} | {r['bytes']:,} | {r['ms']:.2f} | {r['per_s']:.0f} | {r['mb_s']:.0f} |")
        print("\n| resume | seconds |\n|---|---|")
        for r in resume_cost(tmp, 32):
            print(f"| {r['case']} | {r['seconds']:.2f} |")
        print("\n| per 1,000 items | bytes | per item |\n|---|---|---|")
        for r in manifest_size(tmp):
            print(f"| {r['file']} | {r['bytes']:,} | {r['bytes'] / 1000:.0f} |")
        print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    finally:
        if started_ray:
            import ray

            ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
