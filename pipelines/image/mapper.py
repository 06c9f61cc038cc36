"""The learnable emotion mapping network (after EmotiCrafter, He et al. 2025) and its checkpoints.

``EmotionMapper(emb, va)`` reads the prompt's token embeddings together with a valence-arousal
token through a small transformer and predicts a per-token residual. It is evaluated as
``g(emb, va) − g(emb, 0)``, so a neutral affect adds exactly zero whatever the weights are (the
studio's no-op rule survives training), and its output layer starts at zero, so an untrained
mapper is the identity and training starts from the training-free ridge directions.

Checkpoints are safetensors: mapper weights, Adam state and a JSON header (architecture, epoch,
step, text-encoder width). Nothing is pickled.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from studio.errors import StudioError

FORMAT = "affect-studio/image-mapper/1"


@dataclass
class MapperConfig:
    dim: int                 # text-encoder hidden width (768 for SD 1.x, 1024 for SD 2.x)
    hidden: int = 256
    heads: int = 4
    layers: int = 2
    n_freq: int = 8          # Fourier features of (V, A): lets a small net bend the VA response


class EmotionMapper(nn.Module):
    def __init__(self, cfg: MapperConfig):
        super().__init__()
        if cfg.hidden % cfg.heads:
            raise StudioError(f"mapper hidden size {cfg.hidden} must be divisible by its {cfg.heads} heads")
        self.cfg = cfg
        self.register_buffer("freqs", (2.0 ** torch.arange(cfg.n_freq, dtype=torch.float32)) * math.pi / 2, persistent=False)
        self.va_proj = nn.Sequential(nn.Linear(2 + 4 * cfg.n_freq, cfg.hidden), nn.SiLU(), nn.Linear(cfg.hidden, cfg.hidden))
        self.in_proj = nn.Linear(cfg.dim, cfg.hidden)
        layer = nn.TransformerEncoderLayer(cfg.hidden, cfg.heads, 2 * cfg.hidden, dropout=0.0, batch_first=True, norm_first=True)
        self.body = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.out = nn.Linear(cfg.hidden, cfg.dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def _va_features(self, va: torch.Tensor) -> torch.Tensor:
        x = va[..., None] * self.freqs  # (B, 2, F)
        return torch.cat([va, torch.sin(x).flatten(1), torch.cos(x).flatten(1)], dim=-1)

    def _g(self, emb: torch.Tensor, va: torch.Tensor) -> torch.Tensor:
        cond = self.va_proj(self._va_features(va))[:, None]
        h = torch.cat([cond, self.in_proj(emb) + cond], dim=1)
        return self.out(self.body(h)[:, 1:])

    def forward(self, emb: torch.Tensor, va: torch.Tensor) -> torch.Tensor:
        """emb (B, T, dim), va (B, 2) in [-1, 1] → residual (B, T, dim); exactly zero where va == 0."""
        dtype = emb.dtype
        emb = emb.float()
        va = va.float().to(emb.device)
        res = self._g(emb, va) - self._g(emb, torch.zeros_like(va))
        return res.to(dtype)


def save_checkpoint(path: str | Path, mapper: EmotionMapper, optimizer: torch.optim.Optimizer | None = None,
                    **state) -> Path:
    from safetensors.torch import save_file

    from studio.media import atomic_path

    p = Path(path)
    if p.suffix != ".safetensors":
        raise StudioError(f"mapper checkpoint {p} must end in .safetensors")
    if not p.parent.exists():
        raise StudioError(f"output folder {p.parent} does not exist; create it first")
    tensors = {f"mapper.{k}": v.detach().contiguous().cpu() for k, v in mapper.state_dict().items()}
    header = {"format": FORMAT, "config": json.dumps(asdict(mapper.cfg)), "state": json.dumps(state)}
    if optimizer is not None:
        sd = optimizer.state_dict()
        for idx, st in sd["state"].items():
            for key, val in st.items():
                t = val if torch.is_tensor(val) else torch.tensor(val)
                tensors[f"opt.{idx}.{key}"] = t.detach().contiguous().cpu()
        header["param_groups"] = json.dumps(sd["param_groups"])
    with atomic_path(p) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    return p


def load_checkpoint(path: str | Path, device: str = "cpu") -> tuple[EmotionMapper, dict, dict | None]:
    """→ (mapper in eval mode, training state, optimizer state dict or None)."""
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise StudioError(f"mapper checkpoint {p} does not exist; train one with `studio train image-mapper DATA_DIR`")
    try:
        with safe_open(str(p), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:
        raise StudioError(f"{p} is not a readable safetensors file ({type(e).__name__}); retrain or re-copy it") from None
    if meta.get("format") != FORMAT:
        raise StudioError(f"{p} is not an image-mapper checkpoint (format {meta.get('format')!r})")
    mapper = EmotionMapper(MapperConfig(**json.loads(meta["config"])))
    mapper.load_state_dict({k[len("mapper."):]: v for k, v in tensors.items() if k.startswith("mapper.")})
    mapper.to(device).eval()
    opt_state = None
    if "param_groups" in meta:
        state: dict[int, dict] = {}
        for k, v in tensors.items():
            if k.startswith("opt."):
                _, idx, key = k.split(".", 2)
                state.setdefault(int(idx), {})[key] = v
        opt_state = {"state": state, "param_groups": json.loads(meta["param_groups"])}
    return mapper, json.loads(meta.get("state", "{}")), opt_state
