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


def resolve_folder(weights: str | Path | None, *, engine: str, layout: str, file_hint: str | None = None) -> Path:
    """Any engine's model folder: a local folder, a repo id's snapshot in the HF cache, or a registry model."""
    return resolve(weights, what=layout, engine=engine, file_hint=file_hint)


def resolve(weights: str | Path, *, flag: str = "--weights", what: str = "a diffusers pipeline folder",
            engine: str = "diffusion", file_hint: str | None = None) -> Path:
    """A diffusers folder: the path itself, or a repo id's snapshot in the local HF cache."""
    if weights is None or not str(weights).strip():
        raise StudioError(f"the {engine} engine needs {flag}: {what} or a cached repo id")
    p = Path(str(weights)).expanduser()
    if p.exists():
        if not p.is_dir():
            raise StudioError(f"{p} is a file; give {file_hint or what + ' (with its config JSON), not a single checkpoint'}")
        return p
    if re.fullmatch(r"[\w.-]+/[\w.-]+", str(weights)):
        from studio.weights import hf_cache_dir, hf_cached_snapshot

        snap = hf_cached_snapshot(str(weights))
        if snap is None:
            raise StudioError(f"{weights} is not in the Hugging Face cache ({hf_cache_dir()}) and the studio never downloads "
                              f"at run time; fetch it once with `hf download {weights}` or give {what}")
        return snap
    store = _registry_folder(str(weights))
    if store is not None:
        return store
    noun = flag.lstrip("-")
    raise StudioError(f"{noun} {weights} {'do' if noun.endswith('s') else 'does'} not exist: give {what} or a cached repo id (owner/name)")


def _registry_folder(name: str) -> Path | None:
    """A model of the weights registry (e.g. ``sd15``), every file verified against its pinned or first-pull sha256."""
    from studio import weights as W

    if name not in W.models():
        return None
    for wf in W.model(name).files:
        W.path(name, wf.path)  # raises MissingWeights naming `studio weights pull NAME`, or refuses a changed file
    return W.store_dir() / name


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

    for name in ("unet", "vae", "controlnet"):
        module = getattr(pipe, name, None)
        if module is not None and hasattr(module, "set_attn_processor"):
            module.set_attn_processor(AttnProcessor2_0())
    return "sdpa"


CONTROLNET_FILE = "diffusion_pytorch_model.safetensors"


def _controlnet_dims(folder: Path) -> int | None:
    try:
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if cfg.get("_class_name") != "ControlNetModel":
        return None
    return int(cfg.get("cross_attention_dim", 0)) or None


def controlnet_folder(controlnet: str | Path, cross_attention_dim: int | None = None) -> Path:
    """The ControlNetModel folder to load: the path (or cached repo) itself, or the subfolder whose text width
    matches the UNet's (CrucibleAI/ControlNetMediaPipeFace keeps its SD 2.1 model at the root, SD 1.5 in diffusion_sd15/)."""
    root = resolve(controlnet, flag="--controlnet", what="a ControlNet folder in diffusers layout (config.json + diffusion_pytorch_model.safetensors)")
    candidates = [root] + sorted(d for d in root.iterdir() if d.is_dir() and (d / "config.json").is_file())
    found = [(d, _controlnet_dims(d)) for d in candidates]
    found = [(d, dim) for d, dim in found if dim is not None]
    if not found:
        if (root / "model_index.json").is_file():
            raise StudioError(f"{root} is a whole diffusion pipeline, not a ControlNet; give it as --weights and the ControlNet "
                              "folder (e.g. CrucibleAI/ControlNetMediaPipeFace) as --controlnet")
        raise StudioError(f"{root} holds no ControlNetModel config.json; give a ControlNet folder in diffusers layout "
                          "(config.json + diffusion_pytorch_model.safetensors), e.g. CrucibleAI/ControlNetMediaPipeFace")
    pick = next((d for d, dim in found if cross_attention_dim is None or dim == cross_attention_dim), None)
    if pick is None:
        have = ", ".join(f"{d.name or d}: {dim}" for d, dim in found)
        raise StudioError(f"the ControlNet in {root} was trained for a {found[0][1]}-wide text encoder ({have}) but the "
                          f"Stable Diffusion weights use {cross_attention_dim}; pair SD 1.5 with a SD 1.5 ControlNet, SD 2.x with a SD 2.x one")
    if not (pick / CONTROLNET_FILE).is_file():
        raise StudioError(f"{pick} has no {CONTROLNET_FILE}; the studio loads safetensors only (no .bin/.ckpt/.pth): "
                          "fetch the safetensors file of the ControlNet")
    return pick


def load_controlnet(controlnet: str | Path, dtype=None, cross_attention_dim: int | None = None):
    import torch
    from diffusers import ControlNetModel

    p = controlnet_folder(controlnet, cross_attention_dim)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return ControlNetModel.from_pretrained(p, local_files_only=True, use_safetensors=True,
                                                   torch_dtype=dtype or torch.float32)
    except (OSError, ValueError, EnvironmentError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise StudioError(f"cannot load the ControlNet in {p}: {first[:300]}") from None
