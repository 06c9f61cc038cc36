"""Image benchmarks: conditioning overhead vs plain diffusers, embedded engine speed and V/A fidelity, GPU it/s.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/image.py [--repeats 5] [--skip-overhead]

Prints Markdown tables. Random-weight models only: nothing is downloaded.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def _params(m) -> float:
    return sum(p.numel() for p in m.parameters()) / 1e6


def overhead(repeats: int, size: int, steps: int) -> None:
    import torch

    from pipelines.image.diffusion import DiffusionEngine, DiffusionOptions
    from pipelines.image.tiny import build_tiny_sd
    from studio.affect import Affect, image_plan

    torch.set_num_threads(1)  # one thread + CPU time: other jobs on a shared machine disturb the comparison least
    with tempfile.TemporaryDirectory() as tmp:
        pipe = build_tiny_sd(tmp, channels=(64, 128, 256), text_dim=256, text_layers=4, layers_per_block=2, save=False)
    eng = DiffusionEngine(pipe=pipe)
    prompt = "a lake house at dawn"
    plan = image_plan(Affect.of("awe", 1.0))
    t0 = time.perf_counter()
    eng.directions()
    fit_s = time.perf_counter() - t0

    def plain():
        g = [torch.Generator().manual_seed(0)]
        pipe(prompt=[prompt], num_inference_steps=steps, height=size, width=size, generator=g, output_type="np")

    def ours():
        eng.generate_batch([prompt], [plan], [0], width=size, height=size, opts=DiffusionOptions(steps=steps))

    plain(), ours()  # warm-up
    tp, to = [], []
    clock = time.process_time
    for _ in range(repeats):  # interleaved so drift in machine load hits both sides alike
        t = clock(); plain(); tp.append(clock() - t)
        t = clock(); ours(); to.append(clock() - t)
    mp, mo = statistics.median(tp), statistics.median(to)
    # the work the studio adds, timed on its own: prompt-length check + residual (the encode itself replaces the pipe's)
    pe, _, _, _ = eng.encode([prompt], cfg=True)
    n = 200
    t = clock()
    for _ in range(n):
        eng.check_prompt(prompt)
        eng.condition(pe, None, [plan], [prompt])
    added = (clock() - t) / n
    print(f"\n### Conditioning overhead vs plain diffusers (CPU, 1 thread, CPU seconds, same process, {repeats} interleaved runs, median)\n")
    print(f"model: random SD-layout UNet {_params(pipe.unet):.1f} M params (channels 64/128/256, 2 layers/block), "
          f"CLIP text encoder {_params(pipe.text_encoder):.1f} M (width 256, 4 layers), VAE {_params(pipe.vae):.1f} M; "
          f"{size}x{size} px, {steps} DDIM steps, CFG 7.5, batch 1\n")
    print("| path | s / image | overhead |")
    print("|---|---|---|")
    print(f"| plain diffusers `pipe(prompt=…)` | {mp:.3f} | — |")
    print(f"| studio: encode + VAD residual + `pipe(prompt_embeds=…)` | {mo:.3f} | {100 * (mo - mp) / mp:+.2f} % |")
    print(f"| added work alone (prompt check + residual), {n} runs | {added:.5f} | {100 * added / mp:+.3f} % |")
    print(f"| one-off: fit emotion directions ({eng.directions().n_anchors} anchors, cached per text encoder) | {fit_s:.3f} | — |")


def embedded(side: int, n_speed: int) -> None:
    from evals.image import ImageStatsRecognizer
    from evals.metrics import spearman
    from pipelines.image.embedded import compose, grade
    from studio.affect import Affect, image_plan
    from studio.media import default_portrait

    plan = image_plan(Affect.of("joy", 1.0))
    compose(plan, "warm-up", 0, side, side)
    t = time.perf_counter()
    for i in range(n_speed):
        compose(image_plan(Affect.from_vad(np.cos(i), np.sin(i), 0, 1.0)), "a lake house at dawn", i, side, side)
    comp = n_speed / (time.perf_counter() - t)
    from PIL import Image

    src = np.asarray(Image.fromarray(default_portrait()).resize((side, side)))
    t = time.perf_counter()
    for i in range(n_speed):
        grade(src, image_plan(Affect.from_vad(np.cos(i), np.sin(i), 0, 1.0)))
    grd = n_speed / (time.perf_counter() - t)

    rec = ImageStatsRecognizer()
    vals = np.linspace(-0.8, 0.8, 5)
    req_v, req_a, got_v, got_a = [], [], [], []
    for v in vals:
        for a in vals:
            r = rec.recognize(compose(image_plan(Affect.from_vad(float(v), float(a), 0.0, 1.0)), "a lake house", 0, side, side))
            req_v.append(v), req_a.append(a), got_v.append(r.valence), got_a.append(r.arousal)
    # grading a real photograph: the same grid, measured as change from the input
    base = rec.recognize(src)
    gv, ga = [], []
    for v in vals:
        for a in vals:
            r = rec.recognize(grade(src, image_plan(Affect.from_vad(float(v), float(a), 0.0, 1.0))))
            gv.append(r.valence - base.valence), ga.append(r.arousal - base.arousal)
    print(f"\n### Embedded engine ({side}x{side}, CPU, {os.cpu_count()} cores)\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| compose: images / s | {comp:.2f} |")
    print(f"| grade (--init): images / s | {grd:.2f} |")
    print(f"| compose: Spearman ρ requested vs measured valence, 5x5 VA grid | {spearman(req_v, got_v):.3f} |")
    print(f"| compose: Spearman ρ requested vs measured arousal, 5x5 VA grid | {spearman(req_a, got_a):.3f} |")
    print(f"| grade astronaut photo: Spearman ρ valence (change from input) | {spearman(req_v, gv):.3f} |")
    print(f"| grade astronaut photo: Spearman ρ arousal (change from input) | {spearman(req_a, ga):.3f} |")
    print("\nCaveat: measured with ImageStatsRecognizer, which shares the Valdez–Mehrabian colour science and neutral "
          "reference with the embedded engine; these ρ show the engine realises its plan, not that viewers feel it.")


def train_curve(epochs: int) -> None:
    """Mapper training on a synthetic set: does the denoising loss fall when only the mapper learns?"""
    import json

    from PIL import Image

    from pipelines.image.tiny import build_tiny_sd
    from pipelines.image.train import train_mapper

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        rng = np.random.default_rng(0)
        lines = []
        for i in range(16):  # warm bright images rated pleasant, dark cold ones unpleasant
            v = 0.8 if i % 2 == 0 else -0.8
            base = np.array([230, 180, 60] if v > 0 else [30, 40, 90], np.float32)
            Image.fromarray(np.clip(base + rng.normal(0, 20, (32, 32, 3)), 0, 255).astype(np.uint8)).save(d / f"{i}.png")
            lines.append(json.dumps({"file_name": f"{i}.png", "prompt": "a lake house", "valence": v,
                                     "arousal": float(rng.uniform(-1, 1))}))
        (d / "metadata.jsonl").write_text("\n".join(lines))
        pipe = build_tiny_sd(d / "sd", save=False)
        t = time.perf_counter()
        res = train_mapper(d, d / "m.safetensors", pipe=pipe, epochs=epochs, batch_size=8, lr=3e-3, resolution=32,
                           hidden=64, layers=1)
        dt = time.perf_counter() - t
    h = res["history"]
    print(f"\n### Mapper training (tiny random SD, 16 synthetic 32 px records, batch 8, AdamW 3e-3, {dt:.1f} s)\n")
    print("| epochs | mean denoising loss over the epoch |")
    print("|---|---|")
    for e in sorted({1, 5, 10, 20, epochs}):
        if e <= len(h):
            print(f"| {e} | {h[e - 1]:.4f} |")
    print(f"\nfirst five epochs mean {np.mean(h[:5]):.4f} → last five {np.mean(h[-5:]):.4f} (only the mapper is trained)")


def gpu(repeats: int) -> None:
    import torch

    print("\n### GPU: SD1.5-sized UNet, random weights, fp16, UNet it/s (CFG doubles the batch)\n")
    if not torch.cuda.is_available():
        print("skipped: no CUDA device in this process (run on a GPU machine to fill this table)")
        return
    from diffusers import UNet2DConditionModel

    from pipelines.image.loading import apply_attention, choose_attention

    unet = UNet2DConditionModel(  # SD 1.5's published UNet layout (860 M params)
        sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, cross_attention_dim=768, attention_head_dim=8,
    ).to("cuda", torch.float16).eval()

    class _P:  # apply_attention works on anything with a .unet
        pass

    holder = _P()
    holder.unet = unet
    kinds = ["sdpa"] + (["xformers"] if choose_attention("cuda") == "xformers" else [])
    print(f"{torch.cuda.get_device_name()}; {_params(unet):.0f} M params; 512x512 (64x64 latents)\n")
    print("| attention | batch | UNet it/s | images·it/s |")
    print("|---|---|---|---|")
    for kind in kinds:
        if kind == "xformers":
            unet.enable_xformers_memory_efficient_attention()
        else:
            apply_attention(holder, "sdpa")
        for b in (1, 8):
            x = torch.randn(2 * b, 4, 64, 64, device="cuda", dtype=torch.float16)
            ctx = torch.randn(2 * b, 77, 768, device="cuda", dtype=torch.float16)
            t = torch.tensor(500, device="cuda")
            with torch.no_grad():
                for _ in range(3):
                    unet(x, t, encoder_hidden_states=ctx)
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                for _ in range(repeats * 4):
                    unet(x, t, encoder_hidden_states=ctx)
                torch.cuda.synchronize()
            its = repeats * 4 / (time.perf_counter() - t0)
            print(f"| {kind} | {b} | {its:.2f} | {its * b:.2f} |")
    if "xformers" not in kinds:
        print("\nxformers not installed: only the SDPA rows are measured")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--size", type=int, default=64, help="overhead benchmark image side")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--side", type=int, default=1024, help="embedded engine image side")
    ap.add_argument("--skip-overhead", action="store_true")
    ap.add_argument("--skip-embedded", action="store_true")
    ap.add_argument("--train-epochs", type=int, default=30, help="mapper training curve; 0 skips it")
    args = ap.parse_args()
    if not args.skip_embedded:
        embedded(args.side, args.repeats * 2)
    if not args.skip_overhead:
        overhead(args.repeats, args.size, args.steps)
    if args.train_epochs:
        train_curve(args.train_epochs)
    gpu(args.repeats)


if __name__ == "__main__":
    main()
