"""all-MiniLM-L6-v2 sentence embeddings in NumPy: a BERT encoder + mean pooling + L2 norm.

NumPy keeps ``studio.affect`` free of torch; the weights come from the registry as safetensors
and are checked against the torch reference implementation in the tests.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Sequence

import numpy as np

MODEL = "minilm-l6-v2"


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


class SentenceEmbedder:
    def __init__(self, weights: dict[str, np.ndarray], config: dict, tokenizer) -> None:
        self.w = weights
        self.cfg = config
        self.tok = tokenizer
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.eps = config["layer_norm_eps"]

    @classmethod
    def load(cls) -> "SentenceEmbedder":
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        from studio import weights

        w = load_file(str(weights.path(MODEL, "model.safetensors")))
        cfg = json.loads(weights.path(MODEL, "config.json").read_text())
        tok = Tokenizer.from_file(str(weights.path(MODEL, "tokenizer.json")))
        tok.enable_truncation(128)  # the model was trained on sequences of at most 128 word pieces
        tok.enable_padding(pad_id=0, pad_token="[PAD]")
        return cls(w, cfg, tok)

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        # one 2-D GEMM: NumPy runs (n, t, d) @ (d, k) as n small products, 30x slower for short texts
        w = self.w[name + ".weight"]
        return (x.reshape(-1, x.shape[-1]) @ w.T + self.w[name + ".bias"]).reshape(*x.shape[:-1], w.shape[0])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length 384-d embeddings, one row per text."""
        enc = self.tok.encode_batch(list(texts))
        ids = np.array([e.ids for e in enc])
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        n, t = ids.shape
        w = self.w
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t][None] \
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        h, d = self.heads, x.shape[-1] // self.heads
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q, k, v = (self._linear(x, p + f"attention.self.{m}").reshape(n, t, h, d).transpose(0, 2, 1, 3)
                       for m in ("query", "key", "value"))
            s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(n, t, h * d)
            x = _layer_norm(x + self._linear(ctx, p + "attention.output.dense"),
                            w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], self.eps)
            ff = self._linear(_gelu(self._linear(x, p + "intermediate.dense")), p + "output.dense")
            x = _layer_norm(x + ff, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(np.float32)


@lru_cache(maxsize=1)
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder.load()
