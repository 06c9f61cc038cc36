"""``studio train image-mapper DATA_DIR``: fit the emotion mapping network on (image, prompt, V, A) records.

Data: a folder with ``metadata.jsonl`` (one JSON object a line) or ``metadata.csv``; each record has
``file_name`` (image path relative to the folder), ``prompt`` (or ``text``), ``valence`` and
``arousal`` on the studio's [-1, 1] scale (EmotiCrafter's EmoEditSet uses [-3, 3]: divide by 3).

Loss: the diffusion denoising loss through the frozen UNet, with the prompt embeddings replaced by
``emb + W·(V, A, 0) + mapper(emb, V, A)``. Why this loss rather than regressing embeddings: the
records pair an image with its rated VA, not with a "correct" embedding, and the denoising loss is
the one signal that says which conditioning reproduces that image; it is also what EmotiCrafter
optimises. Only the mapper learns (UNet, VAE and text encoder are frozen, no gradients kept for
them). SD 1.x/2.x pipelines; SDXL's extra conditioning is not wired into training.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.errors import StudioError


@dataclass
class Record:
    image: Path
    prompt: str
    valence: float
    arousal: float


def read_records(data_dir: str | Path) -> list[Record]:
    root = Path(data_dir)
    if not root.is_dir():
        raise StudioError(f"training data {root} is not a folder; give a folder with metadata.jsonl or metadata.csv and images")
    rows: list[tuple[int, dict]] = []
    if (root / "metadata.jsonl").exists():
        for i, line in enumerate((root / "metadata.jsonl").read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rows.append((i, json.loads(line)))
                except json.JSONDecodeError:
                    raise StudioError(f"metadata.jsonl line {i} is not valid JSON") from None
    elif (root / "metadata.csv").exists():
        with open(root / "metadata.csv", newline="", encoding="utf-8") as f:
            rows = [(i, r) for i, r in enumerate(csv.DictReader(f), 2)]
    else:
        raise StudioError(f"{root} has no metadata.jsonl or metadata.csv; write one record per image "
                          "(file_name, prompt, valence, arousal)")
    out = []
    for i, r in rows:
        name = r.get("file_name") or r.get("image") or r.get("file")
        prompt = r.get("prompt") if r.get("prompt") is not None else r.get("text")
        if not name or prompt is None or r.get("valence") in (None, "") or r.get("arousal") in (None, ""):
            raise StudioError(f"metadata record {i} needs file_name, prompt, valence and arousal")
        try:
            v, a = float(r["valence"]), float(r["arousal"])
        except (TypeError, ValueError):
            raise StudioError(f"metadata record {i}: valence/arousal must be numbers") from None
        if not (-1 <= v <= 1 and -1 <= a <= 1):
            raise StudioError(f"metadata record {i}: valence/arousal must be in [-1, 1] (got {v}, {a}); rescale e.g. [-3, 3] by 1/3")
        path = root / name
        if not path.is_file():
            raise StudioError(f"metadata record {i}: image {path} does not exist")
        out.append(Record(path, str(prompt), v, a))
    if not out:
        raise StudioError(f"{root} metadata lists no records")
    return out


class RecordDataset:
    """Images centre-cropped and resized to ``size``, scaled to [-1, 1] (what the VAE encoder expects)."""

    def __init__(self, records: list[Record], size: int):
        self.records, self.size = records, size

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int):
        import torch
        from PIL import Image

        from studio.media import load_image

        r = self.records[i]
        img = load_image(r.image)
        h, w = img.shape[:2]
        s = min(h, w)
        y0, x0 = (h - s) // 2, (w - s) // 2
        im = Image.fromarray(img[y0:y0 + s, x0:x0 + s]).resize((self.size, self.size), Image.BICUBIC)
        x = torch.from_numpy(np.asarray(im, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)
        return {"pixels": x, "prompt": r.prompt, "va": torch.tensor([r.valence, r.arousal], dtype=torch.float32)}


def _collate(items):
    import torch

    return {"pixels": torch.stack([x["pixels"] for x in items]), "prompt": [x["prompt"] for x in items],
            "va": torch.stack([x["va"] for x in items])}


def train_mapper(data_dir: str | Path, out: str | Path, *, weights=None, pipe=None, epochs: int = 1, batch_size: int = 4,
                 lr: float = 1e-4, resolution: int | None = None, seed: int = 0, resume: str | Path | None = None,
                 hidden: int = 256, layers: int = 2, heads: int = 4, device: str | None = None, progress: bool = False,
                 workers: int = 0) -> dict:
    """Train (or resume) and write a safetensors checkpoint after every epoch. Returns the loss history."""
    import torch
    from diffusers import DDPMScheduler
    from tqdm import tqdm

    from pipelines.image import loading
    from pipelines.image.directions import fit_directions
    from pipelines.image.mapper import EmotionMapper, MapperConfig, load_checkpoint, save_checkpoint

    if not isinstance(epochs, int) or epochs < 1:
        raise StudioError(f"epochs must be a positive integer, got {epochs!r}")
    out = Path(out)
    if out.suffix != ".safetensors":
        raise StudioError(f"--out {out} must end in .safetensors")
    records = read_records(data_dir)
    if pipe is None:
        dev = loading.pick_device(device)
        pipe = loading.load_pipeline(weights, dev, torch.float32)  # fp32: training through fp16 weights underflows
    if getattr(pipe, "text_encoder_2", None) is not None:
        raise StudioError("training the image mapper supports SD 1.x/2.x pipelines; SDXL's added conditioning is not wired in")
    dev = pipe.device
    for m in (pipe.unet, pipe.vae, pipe.text_encoder):
        m.requires_grad_(False)
        m.eval()
    size = resolution or pipe.unet.config.sample_size * pipe.vae_scale_factor
    dim = pipe.text_encoder.config.hidden_size

    start_epoch, history = 0, []
    opt_state = None
    if resume:
        mapper, state, opt_state = load_checkpoint(resume, str(dev))
        if mapper.cfg.dim != dim:
            raise StudioError(f"checkpoint {resume} is for a {mapper.cfg.dim}-wide text encoder; this pipeline's is {dim}")
        start_epoch, history = int(state.get("epoch", 0)), list(state.get("history", []))
        seed = int(state.get("seed", seed))
    else:
        torch.manual_seed(seed)
        mapper = EmotionMapper(MapperConfig(dim=dim, hidden=hidden, heads=heads, layers=layers)).to(dev)
    mapper.train()
    opt = torch.optim.AdamW(mapper.parameters(), lr=lr, weight_decay=0.0)
    if opt_state is not None:
        opt.load_state_dict(opt_state)

    def enc(prompts):
        pe, _ = pipe.encode_prompt(prompts, dev, 1, False)
        return pe, None

    def eos_of(prompts):
        limit = pipe.tokenizer.model_max_length
        return [min(len(pipe.tokenizer(p, truncation=False, verbose=False).input_ids), limit) - 1 for p in prompts]

    dirs = fit_directions(enc, eos_of)
    noise_sched = DDPMScheduler.from_config(pipe.scheduler.config)
    target_kind = noise_sched.config.prediction_type
    ds = RecordDataset(records, size)
    step = 0
    for epoch in range(start_epoch, start_epoch + epochs):
        # each epoch's order and noise come from (seed, epoch): a resumed run repeats the uninterrupted one
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, generator=g, collate_fn=_collate,
                                             num_workers=workers)
        total, count = 0.0, 0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}", disable=not progress, leave=False)
        for batch in bar:
            px = batch["pixels"].to(dev)
            va = batch["va"].to(dev)
            with torch.no_grad():
                lat = pipe.vae.encode(px).latent_dist.sample(generator=g) * pipe.vae.config.scaling_factor
                emb, _ = enc(batch["prompt"])
                eos = eos_of(batch["prompt"])
                res = [dirs.residual((float(v), float(a), 0.0), e, emb.shape[1], emb.dtype, dev)[0]
                       for (v, a), e in zip(va.tolist(), eos)]
                emb = emb + torch.stack(res)
            noise = torch.randn(lat.shape, generator=g).to(dev)
            t = torch.randint(0, noise_sched.config.num_train_timesteps, (lat.shape[0],), generator=g).to(dev)
            noisy = noise_sched.add_noise(lat, noise, t)
            cond = emb + mapper(emb, va)
            pred = pipe.unet(noisy, t, encoder_hidden_states=cond).sample
            target = noise_sched.get_velocity(lat, noise, t) if target_kind == "v_prediction" else noise
            loss = torch.nn.functional.mse_loss(pred.float(), target.float())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(mapper.parameters(), 1.0)
            opt.step()
            val = loss.item()
            total += val * lat.shape[0]
            count += lat.shape[0]
            step += 1
            bar.set_postfix(loss=f"{val:.4f}")
        mean = total / max(1, count)
        if not math.isfinite(mean):
            raise StudioError(f"training diverged at epoch {epoch + 1} (loss {mean}); lower --lr")
        history.append(mean)
        save_checkpoint(out, mapper, opt, epoch=epoch + 1, history=history, seed=seed, records=len(records),
                        resolution=size, weights=str(weights) if weights else None)
    mapper.eval()
    return {"history": history, "epochs": len(history), "checkpoint": str(out), "records": len(records)}
