"""A tiny random Stable Diffusion + ControlNet pair (and motion adapter) in diffusers layout, for tests and CPU benchmarks.

    python -m pipelines.face.tiny DIR      # writes DIR/sd, DIR/controlnet, DIR/motion_adapter; prints their paths as JSON

The SD pipeline is pipelines/image/tiny.py's; the ControlNet is built from its UNet the way diffusers
initialises a new ControlNet, except that the zero convolutions get small random weights: a
zero-initialised ControlNet adds nothing, and tests must see the condition act.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def _randomise_zero_convs(controlnet, seed: int, scale: float = 0.3) -> None:
    import torch

    g = torch.Generator().manual_seed(seed)
    convs = list(controlnet.controlnet_down_blocks) + [controlnet.controlnet_mid_block,
                                                        controlnet.controlnet_cond_embedding.conv_out]
    with torch.no_grad():
        for conv in convs:
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * scale / conv.weight[0].numel() ** 0.5)
            conv.bias.copy_(torch.randn(conv.bias.shape, generator=g) * 0.01)


def build_tiny_controlnet(unet, vae_blocks: int, folder: str | Path | None = None, seed: int = 0):
    """A ControlNetModel matching ``unet``; its condition embedding downsamples by the VAE's factor (2^(blocks-1))."""
    from diffusers import ControlNetModel

    chans = tuple([8] * (vae_blocks - 1) + [16])  # one stride-2 conv per entry after the first
    cn = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=chans)
    _randomise_zero_convs(cn, seed)
    if folder is not None:
        cn.save_pretrained(folder, safe_serialization=True)
    return cn


def build_tiny_motion_adapter(unet, folder: str | Path | None = None, seed: int = 0):
    """A random MotionAdapter whose blocks match ``unet`` (AnimateDiff's temporal layers)."""
    import torch
    from diffusers import MotionAdapter

    torch.manual_seed(seed)
    chans = tuple(unet.config.block_out_channels)
    ma = MotionAdapter(block_out_channels=chans, motion_layers_per_block=unet.config.layers_per_block,
                       motion_num_attention_heads=2, motion_norm_num_groups=min(8, chans[0]), motion_max_seq_length=32)
    if folder is not None:
        ma.save_pretrained(folder, safe_serialization=True)
    return ma


def build(folder: str | Path, seed: int = 0, motion_adapter: bool = True) -> dict[str, str]:
    from pipelines.image.tiny import build_tiny_sd

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    pipe = build_tiny_sd(root / "sd", seed=seed, vae_channels=(4, 8, 8, 8))  # SD's 8× latent factor
    out = {"sd": str(root / "sd"), "controlnet": str(root / "controlnet")}
    build_tiny_controlnet(pipe.unet, len(pipe.vae.config.block_out_channels), root / "controlnet", seed=seed + 1)
    if motion_adapter:
        build_tiny_motion_adapter(pipe.unet, root / "motion_adapter", seed=seed + 2)
        out["motion_adapter"] = str(root / "motion_adapter")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipelines.face.tiny", description=__doc__.splitlines()[0])
    ap.add_argument("dir", help="folder to write sd/, controlnet/ and motion_adapter/ into")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-motion-adapter", action="store_true")
    a = ap.parse_args(argv)
    paths = build(a.dir, a.seed, not a.no_motion_adapter)
    sys.stdout.write(json.dumps(paths) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
