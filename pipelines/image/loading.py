"""Finding and loading a Stable Diffusion pipeline from a local folder or the Hugging Face cache.

Always ``local_files_only=True`` and ``use_safetensors=True``: no downloads at run time, no unpickling.
Every way the weights can be wrong ends in one StudioError line that says what to do.
"""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

from studio.errors import StudioError

REQUIRED = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
ENV_WEIGHTS = "STUDIO_IMAGE_WEIGHTS"


def resolve(weights: str | Path) -> Path:
    """A diffusers pipeline folder: the path itself, or a repo id's snapshot in the local HF cache."""
    return resolve_folder(weights, engine="diffusion", layout="a diffusers pipeline folder",
                          file_hint="a diffusers pipeline folder (with model_index.json), not a single checkpoint")


def resolve_folder(weights: str | Path | None, *, engine: str, layout: str, file_hint: str | None = None) -> Path:
    """``weights`` as a local folder, or an ``owner/name`` repo id's snapshot in the local HF cache; any
    engine's loader calls this (``layout`` names what the folder must hold, for the error lines)."""
    if weights is None or not str(weights).strip():
        raise StudioError(f"the {engine} engine needs --weights: {layout} or a cached repo id")
    p = Path(str(weights)).expanduser()
    if p.exists():
        if not p.is_dir():
            raise StudioError(f"{p} is a file; give {file_hint or layout}")
        return p
    if re.fullmatch(r"[\w.-]+/[\w.-]+", str(weights)):
        from studio.weights import hf_cache_dir, hf_cached_snapshot

        snap = hf_cached_snapshot(str(weights))
        if snap is None:
            raise StudioError(f"{weights} is not in the Hugging Face cache ({hf_cache_dir()}) and the studio never downloads "
                              f"at run time; fetch it once with `hf download {weights}` or give {layout}")
        return snap
    raise StudioError(f"weights {weights} do not exist: give {layout} or a cached repo id (owner/name)")


def check_folder(p: Path) -> dict:
    index_file = p / "model_index.json"
    if not index_file.exists():
        raise StudioError(f"{p} is not a diffusers pipeline (no model_index.json); give the folder that `save_pretrained` "
                          "wrote or a Hugging Face repo in diffusers format")
    try:
        index = json.loads(index_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise StudioError(f"{index_file} is not valid JSON; re-download the pipeline") from None
    cls = str(index.get("_class_name", ""))
    if "StableDiffusion" not in cls:
        raise StudioError(f"{p} holds a {cls or 'unknown'} pipeline; the diffusion engine runs Stable Diffusion 1.x/2.x and SDXL")
    absent = [c for c in REQUIRED if not isinstance(index.get(c), list) or index[c][0] is None]
    if absent:
        raise StudioError(f"{p} has no {', '.join(absent)} in model_index.json; it is not a complete Stable Diffusion pipeline")
    missing = [name for name, spec in index.items()
               if not name.startswith("_") and isinstance(spec, list) and spec[0] is not None and not (p / name).is_dir()]
    if missing:
        raise StudioError(f"{p} is missing component folder(s) {', '.join(sorted(missing))}; the download is incomplete, fetch it again")
    return index


def pick_device(device: str | None = None) -> str:
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise StudioError(f"device {device} requested but CUDA is not available; use --device cpu")
    return device


def pick_dtype(device: str, dtype: str | None = "auto"):
    import torch

    table = {"fp16": torch.float16, "float16": torch.float16, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
             "fp32": torch.float32, "float32": torch.float32}
    if dtype in (None, "auto"):
        return torch.float16 if device.startswith("cuda") else torch.float32
    if dtype not in table:
        raise StudioError(f"dtype {dtype!r} unknown; use auto, fp16, bf16 or fp32")
    return table[dtype]


def load_pipeline(weights: str | Path, device: str = "cpu", dtype=None):
    import torch
    from diffusers import DiffusionPipeline

    p = resolve(weights)
    check_folder(p)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            pipe = DiffusionPipeline.from_pretrained(p, local_files_only=True, use_safetensors=True,
                                                     torch_dtype=dtype or torch.float32)
    except (OSError, ValueError, EnvironmentError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise StudioError(f"cannot load the pipeline in {p}: {first[:300]} (it needs .safetensors weights for every component)") from None
    if not hasattr(pipe, "encode_prompt"):
        raise StudioError(f"{p} loaded as {type(pipe).__name__}, which has no text encoder prompt path; use a Stable Diffusion pipeline")
    return pipe if device == "cpu" else pipe.to(device)  # from_pretrained already loads on the CPU


def choose_attention(device_type: str, requested: str = "auto") -> str:
    """xformers on CUDA when importable, PyTorch scaled-dot-product attention everywhere else."""
    if requested not in ("auto", "xformers", "sdpa"):
        raise StudioError(f"attention {requested!r} unknown; use auto, xformers or sdpa")
    if requested == "sdpa":
        return "sdpa"
    if device_type == "cuda":
        try:
            import xformers  # noqa: F401
            import xformers.ops  # noqa: F401

            return "xformers"
        except ImportError:
            pass
    if requested == "xformers":
        warnings.warn("xformers is not usable here (needs CUDA and the xformers package); using PyTorch SDPA", stacklevel=2)
    return "sdpa"


def apply_attention(pipe, kind: str) -> str:
    if kind == "xformers":
        pipe.enable_xformers_memory_efficient_attention()
        return kind
    from diffusers.models.attention_processor import AttnProcessor2_0

    for name in ("unet", "vae"):
        module = getattr(pipe, name, None)
        if module is not None and hasattr(module, "set_attn_processor"):
            module.set_attn_processor(AttnProcessor2_0())
    return "sdpa"
