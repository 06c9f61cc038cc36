"""Random-weight Stable Diffusion and CLIP models built in code, for tests and CPU benchmarks.

Nothing here touches a network: the CLIP tokenizer is built from a byte-level vocabulary written
to disk (every byte, its end-of-word form and a few hundred merges learnt from a word list), so
the pipelines it makes load back through the same ``from_pretrained(local_files_only=True)``
path a user's real weights take.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

_WORDS = (
    "a photo of lake house at dawn the an image picture that feels full with very pleasant unpleasant calm exciting "
    "happy sad joy anger fear disgust surprise contempt neutral dark bright warm cold mountain city forest sea sky "
    "storm light portrait still life painting of in on and scene mood emotion feeling"
).split()


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte → printable-unicode map (a published scheme, rewritten here)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


def write_clip_tokenizer(folder: str | Path, n_merges: int = 200, max_length: int = 77) -> Path:
    """A tiny but real CLIP BPE tokenizer (vocab.json + merges.txt) learnt from ``_WORDS``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    chars = list(_bytes_to_unicode().values())
    vocab: list[str] = chars + [c + "</w>" for c in chars]
    words = Counter(tuple(w[:-1]) + (w[-1] + "</w>",) for w in _WORDS)
    merges: list[tuple[str, str]] = []
    for _ in range(n_merges):  # plain BPE training on the word list
        pairs: Counter = Counter()
        for w, c in words.items():
            for p in zip(w, w[1:]):
                pairs[p] += c
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])
        merges.append(best)
        vocab.append("".join(best))
        new: Counter = Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] += c
        words = new
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(dict.fromkeys(vocab))}), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n", encoding="utf-8")
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"), model_max_length=max_length)
    tok.save_pretrained(folder)
    return folder


def load_tokenizer(folder: str | Path):
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(str(folder), local_files_only=True)


def build_tiny_sd(folder: str | Path, *, channels: tuple[int, ...] = (16, 32), text_dim: int = 32, text_layers: int = 2,
                  layers_per_block: int = 1, seed: int = 0, save: bool = True, vae_channels: tuple[int, ...] | None = None):
    """A random-weight StableDiffusionPipeline (UNet, VAE, CLIP text encoder, DDIM scheduler), saved to ``folder``.

    ``vae_channels`` sets the VAE's blocks (default ``channels[:2]``: a 2× VAE; four blocks give SD's 8×)."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    import tempfile

    folder = Path(folder)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = load_tokenizer(write_clip_tokenizer(tmp))
    torch.manual_seed(seed)
    groups = min(8, channels[0])
    n = len(channels)
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=layers_per_block, block_out_channels=channels,
        down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (n - 1),
        up_block_types=("CrossAttnUpBlock2D",) * (n - 1) + ("UpBlock2D",),
        cross_attention_dim=text_dim, norm_num_groups=groups, attention_head_dim=max(2, channels[-1] // 8),
    )
    vae_ch = list(vae_channels or channels[:2])
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=vae_ch,
        down_block_types=["DownEncoderBlock2D"] * len(vae_ch), up_block_types=["UpDecoderBlock2D"] * len(vae_ch),
        norm_num_groups=min(groups, vae_ch[0]), sample_size=32,
    )
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=text_dim, intermediate_size=2 * text_dim, num_attention_heads=4,
        num_hidden_layers=text_layers, max_position_embeddings=77, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, projection_dim=text_dim,
    ))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    if save:
        pipe.save_pretrained(folder, safe_serialization=True)
    return pipe


def build_tiny_clip(folder: str | Path, *, dim: int = 32, image_size: int = 32, seed: int = 0) -> Path:
    """A random-weight CLIPModel + CLIPProcessor saved to ``folder`` (for the CLIP VA recognizer's tests)."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    import tempfile

    folder = Path(folder)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = load_tokenizer(write_clip_tokenizer(tmp))
    torch.manual_seed(seed)
    cfg = CLIPConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=dim, intermediate_size=2 * dim, num_attention_heads=4,
                         num_hidden_layers=2, max_position_embeddings=77, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id),
        vision_config=dict(hidden_size=dim, intermediate_size=2 * dim, num_attention_heads=4, num_hidden_layers=2,
                           image_size=image_size, patch_size=8),
        projection_dim=dim,
    )
    model = CLIPModel(cfg)
    model.save_pretrained(folder, safe_serialization=True)
    proc = CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": image_size},
                                                            crop_size={"height": image_size, "width": image_size}),
                         tokenizer=tokenizer)
    proc.save_pretrained(folder)
    return folder


def build_tiny_sdxl(folder: str | Path, *, channels: tuple[int, ...] = (16, 32), text_dim: int = 32, seed: int = 0,
                    save: bool = True):
    """A random-weight StableDiffusionXLPipeline: two CLIP text encoders (the second with a projection, giving the
    pooled embedding) and a UNet with SDXL's text-time added conditioning."""
    import tempfile

    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    folder = Path(folder)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = load_tokenizer(write_clip_tokenizer(tmp))
        tokenizer_2 = load_tokenizer(tmp)
    torch.manual_seed(seed)
    groups = min(8, channels[0])
    time_dim = 8

    def text_cfg():
        return CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=text_dim, intermediate_size=2 * text_dim,
                              num_attention_heads=4, num_hidden_layers=2, max_position_embeddings=77,
                              bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                              pad_token_id=tokenizer.pad_token_id, projection_dim=text_dim)

    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=channels,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=2 * text_dim, norm_num_groups=groups, attention_head_dim=(2, 4),
        use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=time_dim,
        transformer_layers_per_block=(1, 1), projection_class_embeddings_input_dim=6 * time_dim + text_dim,
    )
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=list(channels[:2]),
                        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                        norm_num_groups=groups, sample_size=32)
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading")
    pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=CLIPTextModel(text_cfg()),
                                     text_encoder_2=CLIPTextModelWithProjection(text_cfg()), tokenizer=tokenizer,
                                     tokenizer_2=tokenizer_2, unet=unet, scheduler=scheduler)
    pipe.set_progress_bar_config(disable=True)
    if save:
        pipe.save_pretrained(folder, safe_serialization=True)
    return pipe
